package tune

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// pruner is Optuna's median pruner over a running trial's intermediate
// values: at each step (a second of measurement) past the warm-up, once
// enough completed trials reported that step, a trial that will end worse
// than their median is stopped, and stored PRUNED.
//
// Unlike Optuna's, it allows for the noise of a short measurement, and
// learns how large that is from the study itself: each completed trial
// shows how far its place against the median at this step was from its
// place against the median at the end. The trial is stopped only when its
// place now, moved up by one standard deviation of those moves (a
// prediction band: it would end below the median five times in six), is
// still below the median. Not a 95 % bound: what a pruned trial loses is
// the chance to be the best, which sits far above the median. The standard
// deviation is the robust one, from the moves' median absolute size: the
// moves are heavy-tailed (at second 2 the median move is 0.5 %, the RMS
// 1.3 %, set by a few configurations that admit their queue in large
// prefills and then catch up), and the RMS let those few widen the band for
// every trial (replayed on 11 recorded studies of 20 trials as 30 s
// benchmarks: 31 % of benchmark time saved against 29 %, the best kept in
// all either way; run, 10 seeds: 21 % against 19 %).
// Steps count seconds of measurement from the steady state, so step k is
// the same k seconds in every trial; the first is left out by default
// (n_warmup_steps 1): a configuration that admits its queue in large
// prefills can measure a tenth of its rate there and then catch up.
type pruner struct {
	cfg      config.Pruner
	key      string // the objective's stored key
	maximize bool
	rate     int // the search trials' load (benchmark.rate)
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
	return &pruner{cfg: cfg.Pruner, key: o.Key(), maximize: o.Direction == "maximize", rate: cfg.Benchmark.Rate, trials: trials}
}

// judges says whether t is one of the completed trials a running trial is
// held against: a search trial, or the baseline run at the search trials'
// load. vLLM's defaults are a configuration like any other, measured the
// same way, and Optuna's median pruner counts every completed trial (the
// Python tool's baseline is its trial 0), so with a baseline the pruner may
// judge one search trial sooner. A baseline at another concurrency level
// measured another load.
func (p *pruner) judges(t study.Trial) bool {
	switch t.Kind() {
	case study.Search:
		return true
	case study.Baseline:
		return t.BaselineConcurrency() == p.rate
	}
	return false
}

// verdict says whether the trial at this event should stop, and why.
func (p *pruner) verdict(ctx context.Context, number int, e trial.Event) (bool, string) {
	if !e.Intermediate() || e.Step <= p.cfg.Warmup {
		return false, ""
	}
	v, ok := e.Metrics[p.key]
	if !ok || !finite(v) {
		return false, ""
	}
	trials, err := p.trials(ctx)
	if err != nil {
		return false, ""
	}
	var at, final []float64
	for _, t := range trials {
		if t.Number == number || t.State != study.Complete || !p.judges(t) || len(t.Values) != 1 {
			continue
		}
		if x, ok := t.Intermediate[e.Step]; ok && finite(x) && finite(t.Values[0]) {
			at, final = append(at, x), append(final, t.Values[0])
		}
	}
	n := len(at)
	if n < max(p.cfg.Startup, 2) {
		return false, ""
	}
	// Places on a log scale (relative: a throughput's noise grows with
	// it) where every value is positive, else as differences.
	logScale := v > 0 && slices.Min(at) > 0 && slices.Min(final) > 0
	place := func(x, median float64) float64 {
		if logScale {
			return math.Log(x / median)
		}
		return x - median
	}
	medAt, medFinal := stats.Median(at), stats.Median(final)
	moves := make([]float64, n)
	for i := range at {
		moves[i] = math.Abs(place(at[i], medAt) - place(final[i], medFinal))
	}
	// The moves centre on 0, so 1.4826 times their median size estimates a
	// normal standard deviation; √(1+1/n) widens it for a new trial, as the
	// median it is held against is itself estimated from n.
	margin := 1.4826 * stats.Median(moves) * math.Sqrt(1+1/float64(n))
	behind := -place(v, medAt) // how far it trails the median
	if !p.maximize {
		behind = -behind
	}
	if behind <= margin {
		return false, ""
	}
	how := func(x float64) string {
		if logScale {
			return fmt.Sprintf("%.1f %%", 100*(1-math.Exp(-x)))
		}
		return fmt.Sprintf("%.4g", x)
	}
	return true, fmt.Sprintf("after %d s its %s (%.4g) trails the median of %d completed trials at that point (%.4g) by %s, "+
		"more than completed trials moved from there to their end (one robust standard deviation: %s)", e.Step, p.key, v, n, medAt, how(behind), how(margin))
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// first says, once per study, that trials get pruned and how to stop it:
// the Python tool never pruned.
func (p *pruner) first(log func(string)) {
	p.once.Do(func() {
		log("Trials that measure worse than the median of earlier trials at the same point are stopped early (pruned) and can be confirmed later; optimization.pruner: none turns this off")
	})
}
