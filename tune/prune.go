package tune

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// pruner is Optuna's median pruner over a running trial's intermediate
// values: at each step (a second of measurement) past the warm-up, once
// enough completed trials reported that step, a trial whose value is worse
// than their median is stopped, and stored PRUNED. Unlike Optuna's, it
// judges the trial by the far edge of its own 95 % interval (a throughput's
// per-second spread), so a noisy start is not taken for a losing one.
type pruner struct {
	cfg      config.Pruner
	key      string // the objective's stored key
	ci       string // its 95 % interval's far edge, "" when it has none
	maximize bool
	trials   func(context.Context) ([]study.Trial, error)
	once     sync.Once
}

// newPruner is the study's pruner, nil when it has none: off in the config,
// or several objectives (Optuna's pruners, and its intermediate values, are
// for one).
func newPruner(cfg *config.Study, trials func(context.Context) ([]study.Trial, error)) *pruner {
	if !cfg.Pruner.Median || len(cfg.Objectives) != 1 {
		return nil
	}
	o := cfg.Objectives[0]
	p := &pruner{cfg: cfg.Pruner, key: o.Key(), maximize: o.Direction == "maximize", trials: trials}
	// Only throughputs carry an interval (from their per-second rates).
	edge := metric.CI95Low
	if p.maximize {
		edge = metric.CI95High
	}
	if strings.Contains(o.Metric, "per_second") {
		p.ci = metric.Stat(o.Metric, edge)
	}
	return p
}

// verdict says whether the trial at this event should stop, and why.
func (p *pruner) verdict(ctx context.Context, number int, e trial.Event) (bool, string) {
	if !e.Intermediate() || e.Step <= p.cfg.Warmup {
		return false, ""
	}
	v, ok := e.Metrics[p.key]
	if !ok {
		return false, ""
	}
	best := v // the value the trial could still have, at 95 %
	if x, ok := e.Metrics[p.ci]; ok && p.ci != "" {
		best = x
	}
	trials, err := p.trials(ctx)
	if err != nil {
		return false, ""
	}
	var at []float64
	for _, t := range trials {
		if t.Number == number || t.State != study.Complete || t.Kind() != study.Search {
			continue
		}
		if x, ok := t.Intermediate[e.Step]; ok {
			at = append(at, x)
		}
	}
	if len(at) < p.cfg.Startup {
		return false, ""
	}
	sort.Float64s(at)
	median := at[len(at)/2]
	if len(at)%2 == 0 {
		median = (at[len(at)/2-1] + at[len(at)/2]) / 2
	}
	worse := best < median
	if !p.maximize {
		worse = best > median
	}
	if !worse {
		return false, ""
	}
	bound := "at most"
	if !p.maximize {
		bound = "at least"
	}
	return true, fmt.Sprintf("after %d s its %s is %s %.4g (95 %%), worse than the median of %d completed trials at that point (%.4g)", e.Step, p.key, bound, best, len(at), median)
}

// first says, once per study, that trials get pruned and how to stop it:
// the Python tool never pruned.
func (p *pruner) first(log func(string)) {
	p.once.Do(func() {
		log("Trials that measure worse than the median of earlier trials at the same point are stopped early (pruned) and can be confirmed later; optimization.pruner: none turns this off")
	})
}
