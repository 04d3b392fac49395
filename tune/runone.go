package tune

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// runOne runs an asked trial (a baseline at a concurrency level above 0,
// or a search trial) and tells the study how it went. The error stops the
// study; a trial that failed is a result, not an error.
func (r *runner) runOne(ctx context.Context, a *study.Asked, flags, env []trial.Flag, concurrency int) error {
	// Told even after Ctrl-C: a trial is never left RUNNING.
	tctx := context.WithoutCancel(ctx)
	constraints := paramConstraints(r.o.Config, flags)
	if a.Kind == study.Search && violated(constraints) {
		// Known infeasible before anything starts: told, not run.
		r.log.Info(fmt.Sprintf("Trial %d violates a constraint; not run", a.Number), "constraints", constraints)
		err := r.tell(tctx, a, study.Result{State: study.Pruned, Constraints: constraints,
			UserAttrs: map[string]any{study.AttrErrorType: "constraint", study.AttrErrorMessage: "violates a configured constraint"}})
		r.finished(tctx, RunEnd{ID: RunID{Number: a.Number}, Phase: PhaseSearch, Outcome: Skipped, Message: "violates a configured constraint"})
		return err
	}
	s := spec(r.o.Config, r.defaults, a.Number, flags, env, concurrency)
	s.Logger = r.log
	s.Observe = r.observe(tctx, a)
	r.started(a, concurrency)
	start := time.Now()
	res, err := r.o.Backend.Run(ctx, s)
	if err != nil {
		cause := error(nil)
		if ctx.Err() != nil {
			cause = context.Cause(ctx)
		}
		r.o.Study.Tell(tctx, a, interruptedResult(err, cause))
		end := RunEnd{ID: RunID{Number: a.Number}, Phase: phaseOf(a), Outcome: Interrupted, Duration: time.Since(start)}
		if cause == nil {
			end.Outcome, end.Message = Failed, err.Error()
		}
		r.finished(tctx, end)
		if cause != nil {
			return nil
		}
		return err
	}
	result, v := outcome(r.o.Config, res, constraints)
	switch v {
	case failed:
		class, _ := result.UserAttrs[study.AttrErrorType].(string)
		logFile := "server.log"
		if class == trial.BenchmarkFailed {
			logFile = "benchmark.log"
		}
		r.log.Warn(fmt.Sprintf("Trial %d failed: %v", a.Number, result.UserAttrs[study.AttrErrorMessage]), "class", class, "log", filepath.Join(res.LogDir, logFile))
		r.failed()
	case stopped:
		r.log.Info(fmt.Sprintf("Trial %d stopped early (pruned)", a.Number))
	case succeeded:
		r.succeeded()
		r.log.Info(fmt.Sprintf("Trial %d finished", a.Number), r.summary(result)...)
	}
	err = r.tell(tctx, a, result)
	r.finished(tctx, r.runEnd(a, result, v, res.Metrics, time.Since(start)))
	return err
}

// summary is the log attributes of a measured trial: its objectives, and
// whether it met the constraints.
func (r *runner) summary(res study.Result) []any {
	var out []any
	for i, o := range r.o.Config.Objectives {
		out = append(out, o.Key(), round2(res.Values[i]))
	}
	if violated(res.Constraints) {
		out = append(out, "feasible", false)
	}
	return out
}
