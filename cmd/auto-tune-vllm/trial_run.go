package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	rayb "github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

type trialCmd struct {
	Run trialRunCmd `cmd:"" help:"Run one trial from its spec: what each Ray job of a study runs; also handy to replay a trial by hand."`
}

type trialRunCmd struct {
	Spec   string `help:"The trial spec: a JSON file, - for standard input, or ray-kv://NAMESPACE/ID (inside a Ray job: read from, and answered through, the cluster's GCS)." required:"" placeholder:"SPEC"`
	LogDir string `help:"Where a trial from a file logs (<dir>/trial_<n>)." default:"logs" placeholder:"DIR"`
}

func (c *trialRunCmd) Run(ctx context.Context, g *globals) error {
	if ns, id, ok := rayb.ParseSpecRef(c.Spec); ok {
		return rayb.RunJob(ctx, ns, id, rayb.JobOptions{
			Getenv: g.io.Getenv, Environ: g.io.Environ, Home: g.io.Home, Self: g.io.Executable,
			Stdout: g.io.Stdout, Logger: g.log,
		})
	}
	if strings.HasPrefix(c.Spec, rayb.KVScheme) {
		return fmt.Errorf("--spec %s: want %sNAMESPACE/ID", c.Spec, rayb.KVScheme)
	}
	var raw []byte
	var err error
	if c.Spec == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(c.Spec)
	}
	if err != nil {
		return fmt.Errorf("read trial spec: %w", err)
	}
	s, err := trial.DecodeSpec(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Spec, err)
	}
	trial.Self(s.Server, g.io.Executable)
	trial.Self(s.BenchCommand, g.io.Executable)
	s.LogDir = filepath.Join(c.LogDir, fmt.Sprintf("trial_%d", s.Number))
	s.BaseEnv, s.Logger = g.io.Environ, g.log
	res, runErr := trial.Run(ctx, s)
	out, err := trial.EncodeResult(res, runErr)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.io.Stdout, "%s\n", out)
	return runErr
}
