// Package local runs trials as processes on this machine.
package local

import (
	"context"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/gpu"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// Backend runs each trial's server as a child process here.
type Backend struct {
	// Concurrency is how many trials may run at once.
	Concurrency int
	// GPUs, if set, gives each trial its own GPUs (CUDA_VISIBLE_DEVICES),
	// as many as tensor × pipeline × data parallel size.
	GPUs *gpu.Allocator
}

// Run runs the trial in this process, on GPUs of its own.
func (b *Backend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	if b.GPUs == nil {
		return trial.Run(ctx, s)
	}
	need := Need(s.Flags)
	ids, err := b.GPUs.Acquire(ctx, need)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// More GPUs than the machine has: the configuration cannot run here.
		return &trial.Result{Failure: &trial.Failure{Class: trial.InvalidCombination, Message: err.Error()}}, nil
	}
	defer b.GPUs.Release(ids)
	s.EnvVars = append(append([]trial.Flag{}, s.EnvVars...), trial.Flag{Name: "CUDA_VISIBLE_DEVICES", Value: gpu.VisibleDevices(ids)})
	return trial.Run(ctx, s)
}

// Need is the number of GPUs a trial's flags ask for.
func Need(flags []trial.Flag) int {
	size := map[string]int{"tensor_parallel_size": 1, "pipeline_parallel_size": 1, "data_parallel_size": 1}
	for _, f := range flags {
		name := strings.ReplaceAll(f.Name, "-", "_")
		if _, ok := size[name]; ok {
			switch v := f.Value.(type) {
			case int64:
				size[name] = int(v)
			case float64:
				size[name] = int(v)
			}
		}
	}
	return max(size["tensor_parallel_size"]*size["pipeline_parallel_size"]*size["data_parallel_size"], 1)
}

// Slots is the configured concurrency, at most one trial per GPU.
func (b *Backend) Slots(context.Context) (int, error) {
	n := max(b.Concurrency, 1)
	if b.GPUs != nil && b.GPUs.Total() < n {
		n = b.GPUs.Total()
	}
	return n, nil
}

// Close has nothing to release: every trial stops its own server.
func (b *Backend) Close(context.Context) error { return nil }
