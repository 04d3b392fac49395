package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

type reportCmd struct {
	studyRef
	Out string `help:"Where to write the page (default: optuna_studies/<study>/report.html)." placeholder:"FILE"`
}

func (c *reportCmd) Run(ctx context.Context, g *globals) error {
	rep, trials, err := c.read(ctx, g)
	if err != nil {
		return err
	}
	path, err := writeHTMLReport(rep, trials, c.Out)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.io.Stdout, path)
	return nil
}

// htmlReportPath is where a study's HTML report goes by default: beside
// its config, in the study's own directory.
func htmlReportPath(name string) string {
	return filepath.Join(tune.StudiesDir, name, "report.html")
}

// writeHTMLReport writes the HTML report of a study (rep, built from
// trials) to path (default: htmlReportPath) and returns the path written.
// The page is written beside and renamed into place, so a reader never sees
// half of it.
func writeHTMLReport(rep *report.Model, trials []study.Trial, path string) (string, error) {
	if path == "" {
		path = htmlReportPath(rep.Study)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("write the HTML report: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return "", fmt.Errorf("write the HTML report: %w", err)
	}
	defer os.Remove(tmp.Name()) // once renamed, there is nothing to remove
	err = rep.HTML(tmp, trials, report.HTMLOptions{Generated: time.Now(), Importance: rep.ImportanceOf(trials)})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("write the HTML report %s: %w", path, err)
	}
	return path, nil
}
