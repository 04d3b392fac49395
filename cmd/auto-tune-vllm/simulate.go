package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sim"
)

type simulateCmd struct {
	Args []string `arg:"" optional:"" passthrough:"all" help:"vllm serve arguments: [MODEL] --max-num-seqs N --max-num-batched-tokens N --gpu-memory-utilization F --block-size N --[no-]enable-chunked-prefill --max-model-len N --kv-cache-dtype auto|fp8 --port N --host H; simulated machine: --sim-gpus N --sim-gpu-memory-gib F --sim-weights-gib F --sim-speedup F --sim-startup-seconds F."`
}

func (c *simulateCmd) Help() string {
	return "A simulated vLLM server (OpenAI streaming API, /health, /metrics) whose speed and memory respond to vLLM's main flags, for dry runs without a GPU. It accepts exactly the options of vllm serve " + sim.VLLMVersion() + " (those it does not model have no effect) and rejects any other as vLLM does (exit 2); invalid or infeasible configurations fail at start-up with vLLM's messages (exit 1)."
}

func (c *simulateCmd) Run(ctx context.Context, g *globals) error {
	args := c.Args
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	cfg, err := sim.ParseArgs(args)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("simulate: %w", err)}
	}
	if _, err := sim.Start(ctx, cfg, g.io.Stdout); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return &exitError{code: exitFailure, err: err}
	}
	<-ctx.Done()
	fmt.Fprintln(g.io.Stdout, "INFO Shutting down "+strings.TrimPrefix(fmt.Sprint(context.Cause(ctx)), "interrupted "))
	return nil
}
