package main

import (
	"context"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
)

type bestCmd struct {
	studyRef
	Format string `help:"cmd: the vllm serve line; yaml: the flags as YAML; json: both, with how the answer was reached." enum:"cmd,yaml,json" default:"cmd"`
	JSON   bool   `help:"Print JSON: the same as --format json." name:"json"`
}

func (c *bestCmd) Run(ctx context.Context, g *globals) error {
	if c.JSON {
		if c.Format == "yaml" {
			return &exitError{code: exitUsage, err: errors.New("--json and --format yaml can't be used together")}
		}
		c.Format = "json"
	}
	rep, _, err := c.read(ctx, g)
	if err != nil {
		return err
	}
	name := rep.Study
	answers, why := rep.Answers()
	if len(answers) == 0 {
		return fmt.Errorf("study %s: %s", name, why)
	}
	switch c.Format {
	case "json":
		return printJSON(g.io, struct {
			Study   string          `json:"study"`
			Why     string          `json:"why"`
			Answers []report.Answer `json:"answers"`
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
