package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

type deleteStudyCmd struct {
	Study string `help:"Name of the study to delete." required:"" placeholder:"NAME" aliases:"study-name" short:"s"`
	storageFlags
	Yes bool `help:"Delete without asking (required when stdin is not a terminal)." short:"y" aliases:"force"`
}

func (c *deleteStudyCmd) Help() string {
	return "Removes the study and all its trials from the storage, and its directory under optuna_studies/ (saved config, default study.db) when that directory is the study's alone: named after it and holding no other study. Trial logs (logs/<study>/) are left.\n\n" + exitCodesHelp
}

func (c *deleteStudyCmd) Run(ctx context.Context, g *globals) error {
	where, err := c.where(g, c.Study)
	if err != nil {
		return err
	}
	if !c.Yes {
		if !g.io.StdinTerminal {
			return &exitError{code: exitUsage, err: fmt.Errorf("delete study %s: stdin is not a terminal to confirm on: give --yes", c.Study)}
		}
		fmt.Fprintf(g.io.Stderr, "Delete study %s and all its trials from %s? [y/N] ", c.Study, study.Redact(where))
		answer, _ := bufio.NewReader(g.io.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("not deleted")
		}
	}
	d, err := tune.DeleteStudy(ctx, where, c.Study)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.io.Stdout, "Deleted study %s (%d trials) from %s\n", c.Study, d.Trials, study.Redact(where))
	if d.Dir != "" {
		fmt.Fprintf(g.io.Stdout, "Removed %s\n", d.Dir)
	}
	if d.Kept != "" {
		fmt.Fprintf(g.io.Stdout, "Kept %s\n", d.Kept)
	}
	return nil
}
