package tune

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// entrant is a configuration the confirmation phase measures again: one of
// the best trials, or the baseline.
type entrant struct {
	trial       study.Trial
	flags, env  []trial.Flag
	params      map[string]any // a search trial's, for Progress
	concurrency int            // a baseline's level; 0 for a search trial
}

// confirm is the confirmation phase: the best trials (study.Candidates)
// and the baseline are started again and measured Runs times each, in
// rounds, so slow drift (thermals, other tenants) hits every entrant alike,
// and every entrant of a round measures the same requests. Each run is
// stored on its trial as a user attribute the moment it ends; on resume, the
// runs already stored are not run again.
func (r *runner) confirm(ctx context.Context) error {
	c := r.o.Config.Confirm
	if !c.On() {
		return nil
	}
	trials, err := r.o.Study.Trials(ctx)
	if err != nil {
		return err
	}
	var entrants []entrant
	if b := study.Reference(trials, r.o.Config.Benchmark.Rate); b != nil {
		flags, env := baselineFlags(r.o.Config)
		entrants = append(entrants, entrant{trial: *b, flags: flags, env: env, concurrency: b.BaselineConcurrency()})
	}
	best := study.Candidates(trials, r.o.Study.Directions(), c.Top)
	if len(best) == 0 {
		r.log.Info("Nothing to confirm: no feasible trial completed")
		return nil
	}
	for _, t := range best {
		params := map[string]any{}
		for name := range t.Dists {
			params[name] = t.External(name)
		}
		flags, env := Flags(r.o.Config, params)
		entrants = append(entrants, entrant{trial: t, flags: flags, env: env, params: params})
	}
	todo := 0
	for _, e := range entrants {
		for round := 1; round <= c.Runs; round++ {
			if !confirmed(e.trial, round) {
				todo++
			}
		}
	}
	if todo == 0 {
		return nil
	}
	r.phase(PhaseConfirm, len(entrants)*c.Runs, len(entrants)*c.Runs-todo)
	r.log.Info(fmt.Sprintf("Confirming %s: %d runs each, in rounds (%d to go)", entrantNames(entrants), c.Runs, todo))
	for round := 1; round <= c.Runs; round++ {
		// Who goes first rotates, so no entrant always meets a cold or a
		// warm machine.
		var jobs []entrant
		for i := range entrants {
			e := entrants[(i+round-1)%len(entrants)]
			if !confirmed(e.trial, round) {
				jobs = append(jobs, e)
			}
		}
		if err := r.confirmRound(ctx, jobs, round); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	return nil
}

// confirmRound runs one round's jobs, up to Concurrency at once, and waits
// for all of them.
func (r *runner) confirmRound(ctx context.Context, jobs []entrant, round int) error {
	sem := make(chan struct{}, r.o.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	for _, e := range jobs {
		if ctx.Err() != nil || failed() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.confirmOne(ctx, e, round); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// confirmOne runs an entrant once more and stores what it measured (or why
// its server or benchmark failed) on its trial. A run cut short by
// cancellation is not stored: resume runs it again.
func (r *runner) confirmOne(ctx context.Context, e entrant, round int) error {
	s := spec(r.o.Config, r.defaults, e.trial.Number, e.flags, e.env, e.concurrency)
	s.LogDir = filepath.Join(s.LogDir, fmt.Sprintf("confirm_%d", round))
	// Common random numbers: every entrant of a round gets the same
	// requests, so their paired difference is the configurations', not
	// the draws'.
	s.Bench.Seed = confirmSeed(round)
	s.Logger = r.log
	id := RunID{Number: e.trial.Number, Round: round}
	s.Observe = func(ev trial.Event) bool { r.o.Progress.Event(id, ev); return false }
	r.o.Progress.Started(RunStart{ID: id, Phase: PhaseConfirm, Params: e.params, Concurrency: e.concurrency})
	start := time.Now()
	res, err := r.o.Backend.Run(ctx, s)
	end := RunEnd{ID: id, Phase: PhaseConfirm, Duration: time.Since(start), Feasible: true}
	if ctx.Err() != nil {
		end.Outcome = Interrupted
		r.finished(ctx, end)
		return nil
	}
	if err != nil {
		end.Outcome, end.Message = Failed, err.Error()
		r.finished(ctx, end)
		// Ours, not the configuration's (no free port, the cluster gone):
		// not stored, so a resume runs it again; it stops the study.
		return fmt.Errorf("confirmation run %d of trial %d: %w", round, e.trial.Number, err)
	}
	rec := map[string]any{"round": round, "log_dir": s.LogDir}
	switch {
	case res.Failure != nil:
		rec["error"] = res.Failure.Class + ": " + res.Failure.Message
		end.Outcome, end.FailureClass, end.Message = Failed, res.Failure.Class, res.Failure.Message
	default:
		rec["values"] = measured(r.o.Config, res.Metrics)
		end.Outcome, end.Values = Completed, r.values(res.Metrics)
	}
	defer r.finished(ctx, end)
	if msg, failed := rec["error"]; failed {
		r.log.Warn(fmt.Sprintf("Confirmation run %d of trial %d failed: %v", round, e.trial.Number, msg), "log", s.LogDir)
	} else {
		r.log.Info(fmt.Sprintf("Confirmation run %d of trial %d finished", round, e.trial.Number), r.confirmSummary(rec["values"].(map[string]float64))...)
	}
	return r.o.Study.SetUserAttr(context.WithoutCancel(ctx), &e.trial, study.AttrConfirmPrefix+strconv.Itoa(round), rec)
}

func (r *runner) confirmSummary(values map[string]float64) []any {
	var out []any
	for _, o := range r.o.Config.Objectives {
		if v, ok := values[o.Key()]; ok {
			out = append(out, o.Key(), round2(v))
		}
	}
	return out
}

// entrantNames: "trials 4, 7 and the baseline".
func entrantNames(es []entrant) string {
	var nums []string
	base := false
	for _, e := range es {
		if e.concurrency > 0 {
			base = true
		} else {
			nums = append(nums, strconv.Itoa(e.trial.Number))
		}
	}
	out := "trial " + nums[0]
	if len(nums) > 1 {
		out = "trials " + strings.Join(nums[:len(nums)-1], ", ") + " and " + nums[len(nums)-1]
	}
	if base {
		out += " against the baseline"
	}
	return out
}

// confirmed reports whether the trial's run of that round is stored.
func confirmed(t study.Trial, round int) bool {
	_, ok := t.UserAttrs[study.AttrConfirmPrefix+strconv.Itoa(round)]
	return ok
}

// confirmSeed is round's request seed, apart from the search trials'.
func confirmSeed(round int) uint64 { return 1<<40 + uint64(round) }
