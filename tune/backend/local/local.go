// Package local runs trials as processes on this machine.
package local

import (
	"context"
	"log/slog"
	"sort"
	"time"

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
	// Inventory, if set, is read after each trial: its GPUs go back to the
	// pool only once the driver no longer lists a process that appeared on
	// them during the trial (a CUDA context can outlive the process exit by
	// seconds; the next server would then find its memory taken).
	Inventory func(context.Context) gpu.Inventory
	// ReleaseTimeout bounds that wait (default 60 s); then the GPUs are
	// released anyway with a warning.
	ReleaseTimeout time.Duration
	// Poll is the interval between inventory reads (default 250 ms).
	Poll   time.Duration
	Logger *slog.Logger
}

// Run runs the trial in this process, on GPUs of its own.
func (b *Backend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	if b.GPUs == nil {
		return trial.Run(ctx, s)
	}
	need := trial.GPUNeed(s.Flags)
	ids, err := b.GPUs.Acquire(ctx, need)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// More GPUs than the machine has: the configuration cannot run here.
		return &trial.Result{Failure: &trial.Failure{Class: trial.InvalidCombination, Message: err.Error()}}, nil
	}
	defer b.GPUs.Release(ids)
	var before map[int]bool
	if b.Inventory != nil {
		before = b.Inventory(ctx).PIDsOn(ids)
	}
	s.EnvVars = append(append([]trial.Flag{}, s.EnvVars...), trial.Flag{Name: "CUDA_VISIBLE_DEVICES", Value: gpu.VisibleDevices(ids)})
	res, err := trial.Run(ctx, s)
	if b.Inventory != nil {
		b.waitGone(context.WithoutCancel(ctx), s.Number, ids, before)
	}
	return res, err
}

// waitGone waits until the GPUs show no process that was not there before
// the trial.
func (b *Backend) waitGone(ctx context.Context, number int, ids []int, before map[int]bool) {
	timeout, poll := b.ReleaseTimeout, b.Poll
	if timeout <= 0 {
		timeout = time.Minute
	}
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for pid := range b.Inventory(ctx).PIDsOn(ids) {
			if !before[pid] {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			log := b.Logger
			if log == nil {
				log = slog.Default()
			}
			sort.Ints(left)
			log.Warn("GPU processes of a finished trial are still listed; releasing its GPUs anyway", "trial", number, "gpus", gpu.VisibleDevices(ids), "pids", left, "waited", timeout)
			return
		}
		time.Sleep(poll)
	}
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
