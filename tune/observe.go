package tune

import (
	"context"
	"fmt"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// observe is the study's ear on a running trial: the objective measured so
// far is stored as the trial's intermediate value at each step (Optuna's
// trial.report, so optuna-dashboard draws the curves; single-objective
// studies only, as in Optuna), and the configured Observer, if any, hears
// every event and may stop the trial; Progress hears every event too.
func (r *runner) observe(ctx context.Context, a *study.Asked) trial.Observer {
	objs := r.o.Config.Objectives
	return func(e trial.Event) bool {
		r.o.Progress.Event(RunID{Number: a.Number}, e)
		if e.Intermediate() && len(objs) == 1 {
			if v, ok := e.Metrics[objs[0].Key()]; ok {
				if err := r.o.Study.Report(ctx, a, e.Step, v); err != nil {
					r.log.Debug("could not store an intermediate value", "trial", a.Number, "step", e.Step, "error", err)
				}
			}
		}
		if r.o.Observer != nil && r.o.Observer(a.Number, e) {
			return true
		}
		if r.pruner != nil && a.Kind == study.Search {
			if stop, why := r.pruner.verdict(ctx, a.Number, e); stop {
				r.pruner.first(func(msg string) { r.log.Info(msg) })
				r.log.Info(fmt.Sprintf("Pruning trial %d: %s", a.Number, why))
				return true
			}
		}
		return false
	}
}
