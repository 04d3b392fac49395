package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	rayb "github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
)

// globals are available to every command.
type globals struct {
	LogLevel string `help:"Log level: debug, info, warn, error." default:"info" enum:"debug,info,warn,error" env:"ATV_LOG_LEVEL"`
	StateDir string `help:"Where records of Ray heads we start are kept (default: $XDG_STATE_HOME/auto-tune-vllm/ray-heads)." env:"ATV_STATE_DIR" placeholder:"DIR"`

	io  streams
	log *slog.Logger
}

type cli struct {
	globals
	Optimize    optimizeCmd    `cmd:"" help:"Tune vLLM flags for a study config."`
	Resume      resumeCmd      `cmd:"" help:"Continue a study until n_trials (or --trials) are complete."`
	Validate    validateCmd    `cmd:"" help:"Check a study config and print the resolved study."`
	Best        bestCmd        `cmd:"" help:"Print a study's answer: the vllm serve line to run (or its flags as YAML, or JSON)."`
	Report      reportCmd      `cmd:"" help:"Write a study's report as one HTML page that opens offline (charts, every trial, the command to run)."`
	Studies     studiesCmd     `cmd:"" help:"List the studies of a storage with their trial counts and best values."`
	Logs        logsCmd        `cmd:"" help:"Print a trial's logs (server, benchmark, Ray job), or follow them."`
	DeleteStudy deleteStudyCmd `cmd:"" name:"delete-study" aliases:"clear-study" help:"Delete a study and all its trials."`
	Simulate    simulateCmd    `cmd:"" help:"Run a simulated vLLM server (no GPU needed)."`
	Bench       benchCmd       `cmd:"" help:"Load an OpenAI-compatible server as a trial does and print what it measures."`
	GPUs        gpusCmd        `cmd:"" name:"gpus" help:"List this machine's NVIDIA GPUs."`
	CheckEnv    checkEnvCmd    `cmd:"" name:"check-env" help:"Check what trials need: vllm, guidellm, ray, python3, GPUs and the Ray cluster."`
	Ray         rayCmd         `cmd:"" help:"Inspect and clean up Ray clusters."`
	Completion  completionCmd  `cmd:"" help:"Print a shell completion script (bash, zsh or fish)."`
	Trial       trialCmd       `cmd:"" help:"Run a single trial."`
}

type rayCmd struct {
	Status  rayStatusCmd  `cmd:"" help:"Show a Ray cluster's nodes, resources, version and dashboard, read from its GCS."`
	Doctor  rayDoctorCmd  `cmd:"" help:"List every Ray process on this host, grouped by cluster."`
	Cleanup rayCleanupCmd `cmd:"" help:"Kill exactly one cluster's processes (--session), those of heads we started whose owner died (--stale), or the orphans 'ray doctor' lists (--orphans)."`
}

// run parses args, runs the command and returns the exit code.
func run(ctx context.Context, args []string, io streams) int {
	var c cli
	exitCode := -1
	parser, err := kong.New(&c,
		kong.Name("auto-tune-vllm"),
		kong.Description("Find the best vllm serve flags for a model on given hardware.\n\n"+exitCodesHelp),
		kong.Writers(io.Stdout, io.Stderr),
		kong.Exit(func(code int) { exitCode = code }),
		kong.UsageOnError(),
		kong.Bind(&c.globals),
	)
	if err != nil {
		fmt.Fprintln(io.Stderr, "internal error:", err)
		return exitFailure
	}
	kctx, err := parser.Parse(args)
	if exitCode >= 0 { // --help
		return exitCode
	}
	if err != nil {
		fmt.Fprintf(io.Stderr, "auto-tune-vllm: error: %v\n", err)
		return exitUsage
	}
	c.io = io
	if c.StateDir == "" {
		c.StateDir = io.defaultStateDir()
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	c.log = newLogger(io.Stderr, level)
	kctx.BindTo(ctx, (*context.Context)(nil))
	return reportError(ctx, io, kctx.Run(&c.globals))
}

// exitError carries a specific exit code (with an optional message).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// reportError prints err once, in one place, and maps it to an exit code.
func reportError(ctx context.Context, io streams, err error) int {
	if err == nil {
		return exitOK
	}
	var noCluster *rayb.NoClusterError
	var ee *exitError
	var hinted interface{ Hint() string }
	switch {
	case errors.Is(context.Cause(ctx), errInterrupted) || errors.Is(err, errInterrupted):
		fmt.Fprintf(io.Stderr, "ERROR: %v\n", context.Cause(ctx))
		return exitInterrupted
	case errors.As(err, &noCluster):
		// The spec's exact form: the message without "ERROR:", then the hint.
		fmt.Fprintf(io.Stderr, "%v\n%s\n", err, noCluster.Hint())
		return exitFailure
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(io.Stderr, "ERROR: %v\n", ee.err)
		}
		return ee.code
	}
	msg := err.Error()
	if errors.Is(err, gcs.ErrNoCluster) && !strings.HasPrefix(msg, "Failed to connect") {
		msg = "Failed to connect to Ray cluster: " + msg
	}
	fmt.Fprintf(io.Stderr, "ERROR: %s\n", msg)
	if errors.As(err, &hinted) {
		fmt.Fprintln(io.Stderr, hinted.Hint())
	}
	return exitFailure
}

func printJSON(io streams, v any) error {
	enc := json.NewEncoder(io.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
