package tune

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// search asks the sampler for trials and runs up to Concurrency at once
// until n_trials have completed, the space is exhausted, a trial's error
// stops the study, or ctx ends. Trials in flight are waited for on every
// path.
func (r *runner) search(ctx context.Context) error {
	cfg := r.o.Config
	// Only this loop counts trials in flight; workers report on finished.
	finished := make(chan struct{}, r.o.Concurrency)
	inFlight := 0
	var mu sync.Mutex
	var stopErr error
	stop := func(err error) {
		mu.Lock()
		if stopErr == nil {
			stopErr = err
		}
		mu.Unlock()
	}
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return stopErr != nil || ctx.Err() != nil
	}
	// settle waits for one running trial to finish; false when none runs.
	settle := func() bool {
		if inFlight == 0 {
			return false
		}
		<-finished
		inFlight--
		return true
	}
	if trials, err := r.o.Study.Trials(ctx); err == nil && study.Completed(trials) < cfg.NTrials {
		r.phase(PhaseSearch, cfg.NTrials, study.Completed(trials))
	}
	for {
		if stopped() {
			if !settle() {
				break
			}
			continue
		}
		trials, err := r.o.Study.Trials(ctx)
		if err != nil {
			stop(err)
			continue
		}
		if cfg.NTrials-study.Completed(trials)-inFlight <= 0 || inFlight >= r.o.Concurrency {
			if !settle() {
				break
			}
			continue
		}
		a, err := r.o.Study.Ask(ctx)
		if err != nil {
			if errors.Is(err, sampler.ErrExhausted) {
				r.log.Info("Every configuration of the search space has been tried")
			}
			stop(err)
			continue
		}
		if a.Duplicate != nil {
			r.log.Info("Configuration already tried; reusing its result", "trial", a.Number, "same_as", a.Duplicate.Number)
			if err := r.o.Study.TellDuplicate(ctx, a); err != nil {
				stop(err)
				continue
			}
			r.finished(ctx, RunEnd{ID: RunID{Number: a.Number}, Phase: PhaseSearch, Outcome: Duplicate, Feasible: a.Duplicate.Feasible(),
				Values: r.paired(a.Duplicate.Values), Message: fmt.Sprintf("same configuration as trial %d", a.Duplicate.Number)})
			continue
		}
		inFlight++
		go func() {
			defer func() { finished <- struct{}{} }()
			flags, env := Flags(cfg, a.External)
			if err := r.runOne(ctx, a, flags, env, 0); err != nil {
				stop(err)
			}
		}()
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if errors.Is(stopErr, sampler.ErrExhausted) {
		return nil
	}
	return stopErr
}
