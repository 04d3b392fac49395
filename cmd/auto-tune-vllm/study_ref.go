package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// studyRef picks a stored study the same way for every command that reads
// one (best, report): by name, by config, or both.
type studyRef struct {
	Study  string `help:"Study name; its config is the one saved beside it (optuna_studies/<study>/study_config.yaml) unless --config is given." placeholder:"NAME"`
	Config string `help:"Study config (YAML): its storage and study (for a prefix, the newest study)." type:"existingfile" placeholder:"FILE"`
}

// read builds the report of the study the flags name, from its trials.
func (c *studyRef) read(ctx context.Context, g *globals) (*report.Model, []study.Trial, error) {
	cfg, err := c.config(g)
	if err != nil {
		return nil, nil, err
	}
	name, trials, err := tune.ReadTrials(ctx, cfg, c.Study)
	if err != nil {
		return nil, nil, err
	}
	return report.Build(trials, reportOptions(cfg, name, g.io.Executable)), trials, nil
}

// config is the study's config: --config, else the one saved with --study.
func (c *studyRef) config(g *globals) (*config.Study, error) {
	path := c.Config
	switch {
	case path == "" && c.Study == "":
		return nil, &exitError{code: exitUsage, err: errors.New("give --study NAME or --config FILE")}
	case path == "":
		path = savedConfig(c.Study)
		if !exists(path) {
			return nil, fmt.Errorf("study %s: no config saved at %s (run from the directory the study ran in, or give --config FILE)", c.Study, path)
		}
	}
	cfg, _, err := loadStudy(g, path, 0)
	return cfg, err
}

// savedConfig is where the config of study name was saved: beside it, or,
// for <prefix>_<n>, beside its prefix's studies, which share a directory.
func savedConfig(name string) string {
	path := filepath.Join(tune.StudiesDir, name, "study_config.yaml")
	if !exists(path) {
		if m := numbered.FindStringSubmatch(name); m != nil {
			if alt := filepath.Join(tune.StudiesDir, m[1], "study_config.yaml"); exists(alt) {
				return alt
			}
		}
	}
	return path
}

var numbered = regexp.MustCompile(`^(.+)_[0-9]+$`)

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
