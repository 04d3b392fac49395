package tune

import (
	"context"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// Backend runs trials somewhere: on this machine or on a Ray cluster.
type Backend interface {
	// Run runs one trial; server and benchmark failures are in the result.
	Run(ctx context.Context, s trial.Spec) (*trial.Result, error)
	// Slots is how many trials can run at once (e.g. by GPUs free).
	Slots(ctx context.Context) (int, error)
	Close(ctx context.Context) error
}
