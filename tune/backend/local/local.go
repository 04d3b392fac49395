// Package local runs trials as processes on this machine.
package local

import (
	"context"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// Backend runs each trial's server as a child process here.
type Backend struct {
	// Concurrency is how many trials may run at once.
	Concurrency int
}

// Run runs the trial in this process.
func (b *Backend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	return trial.Run(ctx, s)
}

// Slots is the configured concurrency (GPU-aware sizing comes with the GPU inventory).
func (b *Backend) Slots(context.Context) (int, error) { return max(b.Concurrency, 1), nil }

// Close has nothing to release: every trial stops its own server.
func (b *Backend) Close(context.Context) error { return nil }
