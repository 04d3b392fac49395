package tune

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// Progress hears how a study run goes, for a live display: each phase of
// the study as it begins, and each run (a trial, or a confirmation run of
// one) as it starts, moves through its phases and finishes. Runs go on at
// once, so calls come from several goroutines; they are made on the trials'
// own paths, so an implementation must be safe for that and quick.
type Progress interface {
	Phase(PhaseInfo)
	Started(RunStart)
	// Event is every event of a running trial: its phase changes, and once
	// a second while it benchmarks, what it measured so far.
	Event(id RunID, e trial.Event)
	Finished(RunEnd)
}

// NoProgress hears nothing: the default.
type NoProgress struct{}

func (NoProgress) Phase(PhaseInfo)          {}
func (NoProgress) Started(RunStart)         {}
func (NoProgress) Event(RunID, trial.Event) {}
func (NoProgress) Finished(RunEnd)          {}

var _ Progress = NoProgress{}

// StudyPhase is a part of a study run.
type StudyPhase string

const (
	PhaseBaseline StudyPhase = "baseline"
	PhaseSearch   StudyPhase = "search"
	PhaseConfirm  StudyPhase = "confirmation"
)

// PhaseInfo is a phase that has work to do, as it begins.
type PhaseInfo struct {
	Phase StudyPhase
	// Total is what the phase is to reach: baseline and confirmation runs,
	// or the search's completed trials (n_trials); Done, what a resumed
	// study already has of it.
	Total, Done int
	Concurrency int // runs at once
}

// RunID names a run: a trial's number, and for a confirmation run its
// round (0 otherwise); confirmation runs of one trial never overlap.
type RunID struct {
	Number int
	Round  int
}

// RunStart is a run about to start its server.
type RunStart struct {
	ID    RunID
	Phase StudyPhase
	// Params are the sampled parameters (search and confirmation runs of a
	// search trial); a baseline runs vLLM's defaults at Concurrency.
	Params      map[string]any
	Concurrency int
}

// Outcome is how a run ended.
type Outcome string

const (
	Completed   Outcome = "complete"
	Pruned      Outcome = "pruned"      // stopped early for measuring worse than the median
	Failed      Outcome = "failed"      // the server or the benchmark failed: Failure
	Skipped     Outcome = "skipped"     // violates a configured constraint: not run
	Duplicate   Outcome = "duplicate"   // an earlier trial's configuration: its result reused
	Interrupted Outcome = "interrupted" // cut short by cancellation (Ctrl-C)
)

// Value is an objective's value, in the config's order.
type Value struct {
	Key   string
	Value float64
}

// RunEnd is a run that finished, and where its phase stands after it.
type RunEnd struct {
	ID       RunID
	Phase    StudyPhase
	Outcome  Outcome
	Values   []Value // measured objectives (Completed, Pruned)
	Feasible bool    // met the constraints and SLOs (Completed)
	// FailureClass and Message say why a run failed, was skipped or is a
	// duplicate ("same as trial 3").
	FailureClass, Message string
	Duration              time.Duration // 0 when it did not run
	// Best: the trial is the best feasible one so far (one objective), or
	// on the Pareto front of those (several); search trials only.
	Best bool
	// Done is the phase's count after this run, as PhaseInfo's; Failures,
	// the runs of this study run that failed so far.
	Done, Failures int
}

// tally is what the progress reports count across a phase: runs done
// (baseline, confirmation: the search counts its trials in the study) and
// failures.
type tally struct {
	mu             sync.Mutex
	done, failures int
}

// phase says a phase begins, with total to reach and done already.
func (r *runner) phase(p StudyPhase, total, done int) {
	r.tally.mu.Lock()
	r.tally.done = done
	r.tally.mu.Unlock()
	conc := r.o.Concurrency
	if p == PhaseBaseline {
		conc = 1 // one level after the other
	}
	r.o.Progress.Phase(PhaseInfo{Phase: p, Total: total, Done: done, Concurrency: conc})
}

func phaseOf(a *study.Asked) StudyPhase {
	if a.Kind == study.Baseline {
		return PhaseBaseline
	}
	return PhaseSearch
}

// started says an asked trial's server is about to start.
func (r *runner) started(a *study.Asked, concurrency int) {
	r.o.Progress.Started(RunStart{ID: RunID{Number: a.Number}, Phase: phaseOf(a), Params: a.External, Concurrency: concurrency})
}

// finished says a run ended, with its phase's count after it: a search
// trial's read back from the study (as the loop counts), with whether it is
// the best so far.
func (r *runner) finished(ctx context.Context, e RunEnd) {
	r.tally.mu.Lock()
	if e.Outcome == Failed {
		r.tally.failures++
	}
	if e.Phase != PhaseSearch && e.Outcome != Interrupted {
		r.tally.done++
	}
	e.Done, e.Failures = r.tally.done, r.tally.failures
	r.tally.mu.Unlock()
	if e.Phase == PhaseSearch {
		if trials, err := r.o.Study.Trials(ctx); err == nil {
			e.Done = study.Completed(trials)
			e.Best = e.Outcome == Completed && best(trials, r.o.Study.Directions(), e.ID.Number)
		}
	}
	r.o.Progress.Finished(e)
}

// best reports whether trial number is the best feasible trial (one
// objective) or on the Pareto front of them (several).
func best(trials []study.Trial, dirs []study.Direction, number int) bool {
	top := 1
	if len(dirs) > 1 {
		top = len(trials)
	}
	for _, t := range study.Candidates(trials, dirs, top) {
		if t.Number == number {
			return true
		}
	}
	return false
}

// runEnd is the progress report of a trial that ran, from what the study
// is told of it.
func (r *runner) runEnd(a *study.Asked, res study.Result, v verdict, metrics map[string]float64, took time.Duration) RunEnd {
	e := RunEnd{ID: RunID{Number: a.Number}, Phase: phaseOf(a), Duration: took, Feasible: !violated(res.Constraints)}
	switch v {
	case succeeded:
		e.Outcome = Completed
	case stopped:
		e.Outcome = Pruned
	case failed:
		e.Outcome = Failed
		e.FailureClass, _ = res.UserAttrs[study.AttrErrorType].(string)
		e.Message = fmt.Sprint(res.UserAttrs[study.AttrErrorMessage])
		return e
	}
	e.Values = r.values(metrics)
	return e
}

// paired are stored values with their objectives.
func (r *runner) paired(vs []float64) []Value {
	var out []Value
	for i, o := range r.o.Config.Objectives {
		if i < len(vs) {
			out = append(out, Value{Key: o.Key(), Value: vs[i]})
		}
	}
	return out
}

// values are the objectives measured, in the config's order.
func (r *runner) values(metrics map[string]float64) []Value {
	var out []Value
	for _, o := range r.o.Config.Objectives {
		if v, ok := metrics[o.Key()]; ok {
			out = append(out, Value{Key: o.Key(), Value: v})
		}
	}
	return out
}
