package tune

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench/external"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// RunOptions configure a study run.
type RunOptions struct {
	Config  *config.Study
	Study   *study.Study
	Backend Backend
	// Concurrency caps trials at once (default: the config's max_concurrent_trials).
	Concurrency int
	// MaxConsecutiveFailures stops the study after that many failed or
	// infeasible trials in a row (default 10).
	MaxConsecutiveFailures int
	LogDir                 string   // default ./logs; trials log under <LogDir>/<study>/trial_<n>
	BaseEnv                []string // the servers' base environment
	// Remote: trials run on other machines (Ray), whose tools are not
	// this machine's; they detect them themselves.
	Remote bool
	Logger *slog.Logger
	// Observer, if set, hears every running trial's events (phases, metrics
	// so far); returning true stops that trial's benchmark, and the trial is
	// stored PRUNED with what it measured.
	Observer func(number int, e trial.Event) (stop bool)
	// Progress hears the study's phases and runs (default: nothing).
	Progress Progress
}

// ErrTooManyFailures stops a study whose trials keep failing.
var ErrTooManyFailures = errors.New("too many consecutive failed trials")

// Run is a study in phases: the baseline (vLLM's defaults, once per
// concurrency level, unless already measured); the search, until n_trials
// have completed, the space is exhausted, too many trials fail in a row, or
// ctx ends; then the confirmation of the best trials against the baseline.
// Each phase skips what a resumed study already did.
func Run(ctx context.Context, o RunOptions) error {
	r, err := newRunner(ctx, o)
	if err != nil {
		return err
	}
	if err := r.baseline(ctx); err != nil {
		return err
	}
	if err := r.search(ctx); err != nil {
		return err
	}
	return r.confirm(ctx)
}

type runner struct {
	o        RunOptions
	log      *slog.Logger
	defaults specDefaults // what every trial spec shares
	pruner   *pruner      // nil: trials run to the end
	tally    tally        // for Progress

	mu          sync.Mutex
	consecutive int // failed trials in a row
}

// newRunner fills in RunOptions' defaults, fits the concurrency to the
// backend, and reads what every trial shares once.
func newRunner(ctx context.Context, o RunOptions) (*runner, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = NoProgress{}
	}
	if o.LogDir == "" {
		o.LogDir = "logs"
	}
	if o.MaxConsecutiveFailures <= 0 {
		o.MaxConsecutiveFailures = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = max(o.Config.MaxConcurrent, 1)
	}
	slots, err := o.Backend.Slots(ctx)
	if err != nil {
		return nil, err
	}
	if slots < o.Concurrency {
		o.Logger.Warn(fmt.Sprintf("%d trials at once were asked for, but only %d fit; running %d at a time", o.Concurrency, slots, slots))
		o.Concurrency = slots
	}
	r := &runner{o: o, log: o.Logger, defaults: specDefaults{LogDir: filepath.Join(o.LogDir, o.Study.Name()), BaseEnv: o.BaseEnv}}
	r.pruner = newPruner(o.Config, o.Study.Trials)
	b := o.Config.Benchmark
	if b.Dataset != "" && b.Type == "builtin" {
		d, err := bench.LoadDataset(b.Dataset)
		if err != nil {
			return nil, fmt.Errorf("%s: benchmark.dataset: %w", o.Config.File, err)
		}
		r.defaults.Dataset = d
	}
	if b.Type == external.GuideLLM && !o.Remote {
		// The installed GuideLLM does not change during a study: ask once.
		// On failure every trial asks again and fails with the reason.
		if cli, f := trial.DetectGuideLLM(ctx, b.Executable, o.BaseEnv); f == nil {
			r.defaults.GuideLLMCLI = &cli
		}
	}
	return r, nil
}

// tell stores a trial's result; the error stops the study (storage gone,
// or too many failures in a row).
func (r *runner) tell(ctx context.Context, a *study.Asked, res study.Result) error {
	if err := r.o.Study.Tell(ctx, a, res); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.consecutive >= r.o.MaxConsecutiveFailures {
		return fmt.Errorf("%w: the last %d trials failed; see the logs under %s", ErrTooManyFailures, r.consecutive, r.defaults.LogDir)
	}
	return nil
}

func (r *runner) failed() {
	r.mu.Lock()
	r.consecutive++
	r.mu.Unlock()
}

func (r *runner) succeeded() {
	r.mu.Lock()
	r.consecutive = 0
	r.mu.Unlock()
}
