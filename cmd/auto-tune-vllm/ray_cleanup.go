package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
)

type rayCleanupCmd struct {
	Session string        `help:"The cluster to clean: a Ray session name (as 'ray doctor' shows), session dir, temp dir, or the ID of a head we started." placeholder:"ID" xor:"what"`
	Stale   bool          `help:"Clean every head we started whose owner process is gone." xor:"what"`
	Orphans bool          `help:"Kill the Ray processes of no cluster that 'ray doctor' lists as orphans (e.g. agents left by a head killed by hand, holding Ray's default ports)." xor:"what"`
	DryRun  bool          `help:"Only show what would be killed and removed."`
	Grace   time.Duration `help:"Time processes get to exit after SIGTERM before SIGKILL." default:"10s"`
	JSON    bool          `help:"Print JSON." name:"json"`
}

func (c *rayCleanupCmd) Run(ctx context.Context, g *globals) error {
	if c.Session == "" && !c.Stale && !c.Orphans {
		return &exitError{code: exitUsage, err: errors.New("ray cleanup: give --session ID (see 'auto-tune-vllm ray doctor'), --stale or --orphans")}
	}
	token, _ := gcs.LoadToken(g.io.Getenv, g.io.Home)
	res, err := head.Cleanup(ctx, head.CleanupOptions{
		StateDir: g.StateDir, Session: c.Session, Stale: c.Stale, Orphans: c.Orphans, DryRun: c.DryRun,
		Grace: c.Grace, Token: token.Value, Logger: g.log,
	})
	if res != nil {
		if c.JSON {
			if jerr := printJSON(g.io, res); jerr != nil {
				return jerr
			}
		} else {
			c.print(g, res)
		}
	}
	return err
}

func (c *rayCleanupCmd) print(g *globals, res *head.CleanupResult) {
	out := g.io.Stdout
	if len(res.Targets) == 0 {
		fmt.Fprintln(out, "Nothing to clean up.")
		return
	}
	verb := "Cleaned"
	if res.DryRun {
		verb = "Would clean"
	}
	for _, t := range res.Targets {
		name := t.Session
		if t.Orphans {
			name = "orphans"
		}
		fmt.Fprintf(out, "%s %s (%d processes", verb, name, len(t.Processes))
		if t.Ours && t.TempDir != "" {
			fmt.Fprintf(out, ", temp dir %s", t.TempDir)
		}
		fmt.Fprintln(out, ")")
		if res.DryRun || t.Orphans {
			procTable(out, t.Processes, "  ")
		}
		if t.Error != "" {
			fmt.Fprintf(out, "  failed: %s\n", t.Error)
		}
	}
}
