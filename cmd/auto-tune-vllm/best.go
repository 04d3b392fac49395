package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
)

type bestCmd struct {
	Study  string `help:"Study name; its config is the one saved beside it (optuna_studies/<study>/study_config.yaml) unless --config is given." placeholder:"NAME"`
	Config string `help:"Study config (YAML): its storage and study (for a prefix, the newest study)." type:"existingfile" placeholder:"FILE"`
	Format string `help:"cmd: the vllm serve line; yaml: the flags as YAML; json: both, with how the answer was reached." enum:"cmd,yaml,json" default:"cmd"`
	JSON   bool   `help:"Print JSON: the same as --format json." name:"json"`
}

// answer is one configuration to run: a trial, or vLLM's defaults.
type answer struct {
	Trial    int            `json:"trial"`
	Defaults bool           `json:"defaults,omitempty"` // no trial beat vLLM's defaults: run them
	Params   map[string]any `json:"params"`
	Changed  []string       `json:"changed_flags"`
	Command  string         `json:"command"`
}

func (c *bestCmd) Run(ctx context.Context, g *globals) error {
	if c.JSON {
		if c.Format == "yaml" {
			return &exitError{code: exitUsage, err: errors.New("--json and --format yaml can't be used together")}
		}
		c.Format = "json"
	}
	cfg, err := c.config(g)
	if err != nil {
		return err
	}
	name, trials, err := tune.ReadTrials(ctx, cfg, c.Study)
	if err != nil {
		return err
	}
	rep := report.Build(trials, reportOptions(cfg, name, g.io.Executable))
	answers, why := best(rep)
	if len(answers) == 0 {
		return fmt.Errorf("study %s: %s", name, why)
	}
	switch c.Format {
	case "json":
		return printJSON(g.io, struct {
			Study   string   `json:"study"`
			Why     string   `json:"why"`
			Answers []answer `json:"answers"`
		}{name, why, answers})
	case "yaml":
		fmt.Fprintf(g.io.Stdout, "# %s: %s\n", name, why)
		for _, a := range answers {
			if len(answers) > 1 {
				fmt.Fprintf(g.io.Stdout, "# trial %d\n", a.Trial)
			}
			if len(a.Params) == 0 {
				fmt.Fprintln(g.io.Stdout, "{}")
				continue
			}
			b, err := yaml.Marshal(a.Params)
			if err != nil {
				return err
			}
			g.io.Stdout.Write(b)
		}
	default:
		fmt.Fprintf(g.io.Stdout, "# %s: %s\n", name, why)
		for _, a := range answers {
			if len(answers) > 1 {
				fmt.Fprintf(g.io.Stdout, "# trial %d\n", a.Trial)
			}
			fmt.Fprintln(g.io.Stdout, a.Command)
		}
	}
	return nil
}

// config is the study's config: --config, else the one saved with --study.
func (c *bestCmd) config(g *globals) (*config.Study, error) {
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

// best is what to run, and why: the confirmed recommendation when the study
// confirmed its best trials, else the search's best (or Pareto set); vLLM's
// defaults when nothing beat them.
func best(rep *report.Model) ([]answer, string) {
	defaults := func(why string) ([]answer, string) {
		if rep.BaselineCommand == "" {
			return nil, why + ", and the study has no baseline command"
		}
		return []answer{{Trial: rep.Baseline.Number, Defaults: true, Params: map[string]any{}, Command: rep.BaselineCommand}}, why
	}
	confirmed := func(t report.Confirmed) answer {
		return answer{Trial: t.Number, Params: t.Params, Changed: t.Changed, Command: t.Command}
	}
	if c := rep.Confirmation; c != nil {
		switch {
		case c.Recommended != nil:
			return []answer{confirmed(*c.Trial(*c.Recommended))}, fmt.Sprintf("trial %d, recommended by the confirmation runs", *c.Recommended)
		case c.Verdict == "slo_missed" && rep.Baseline != nil:
			return defaults("every confirmed trial missed an SLO over its confirmation runs")
		case c.Verdict == "worse" && rep.Baseline != nil:
			return defaults("vLLM's defaults beat the confirmed trials")
		case c.Verdict == "indistinguishable" && rep.Baseline != nil:
			return defaults("no confirmed trial is distinguishable from vLLM's defaults")
		case c.Verdict == "better":
			var out []answer
			for _, t := range c.Trials {
				if t.Wins(rep.Objectives) {
					out = append(out, confirmed(t))
				}
			}
			return out, "confirmed better than vLLM's defaults in an objective and worse in none"
		case len(c.Trials) > 0:
			var out []answer
			for _, t := range c.Trials {
				out = append(out, confirmed(t))
			}
			return out, "the confirmed trials, best first (no baseline to compare with)"
		}
	}
	if rep.BaselineWins && rep.Baseline != nil {
		return defaults("no trial beat vLLM's defaults")
	}
	if len(rep.Best) == 0 {
		return nil, "no feasible trial completed"
	}
	var out []answer
	for _, e := range rep.Best {
		out = append(out, answer{Trial: e.Number, Params: e.Params, Changed: e.Changed, Command: e.Command})
	}
	why := fmt.Sprintf("trial %d, the best of the search (not confirmed: one run each)", out[0].Trial)
	if len(out) > 1 {
		why = "the Pareto-optimal trials of the search (not confirmed: one run each)"
	}
	return out, why
}
