package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sim"
)

type simulateCmd struct {
	Args []string `arg:"" optional:"" passthrough:"all" help:"vllm serve arguments (vLLM 0.33.0's: any of its options is accepted; modelled: --max-num-seqs --max-num-batched-tokens --gpu-memory-utilization --block-size --[no-]enable-chunked-prefill --max-model-len --kv-cache-dtype --tensor-parallel-size --performance-mode --port --host); simulated machine: --sim-gpu H100|H200|A100|A100-40GB|L40S|L4 --sim-gpus N --sim-model Llama-3.1-8B|Qwen2.5-7B|Llama-3.1-70B --sim-model-config config.json --sim-gpu-memory-gib F --sim-weights-gib F --sim-speedup F --sim-startup-seconds F."`
}

func (c *simulateCmd) Help() string {
	return "A simulated vLLM server (OpenAI streaming API, /health, /metrics) for dry runs without a GPU: step times from a roofline of the model on the GPU, KV capacity from the memory left after the weights, vLLM " + sim.VLLMVersion() + "'s defaults. It accepts exactly the options of vllm serve " + sim.VLLMVersion() + " (those it does not model have no effect) and rejects any other as vLLM does (exit 2); invalid or infeasible configurations fail at start-up with vLLM's messages (exit 1)."
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
