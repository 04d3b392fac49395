package tune

import (
	"context"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

func TestPrunerVerdict(t *testing.T) {
	t.Parallel()
	done := func(n int, at3, final float64) study.Trial {
		return study.Trial{Number: n, State: study.Complete, Values: []float64{final}, Intermediate: map[int]float64{3: at3}, UserAttrs: map[string]any{}}
	}
	// Measured without noise: every trial's value at step 3 is its final
	// one, so the bound is 0 and anything below the median goes, as in
	// Optuna's median pruner.
	steady := []study.Trial{done(1, 100, 100), done(2, 110, 110), done(3, 120, 120), done(4, 130, 130), done(5, 140, 140)}
	// Noisy, heavy-tailed: four places at step 3 within 2 % of their
	// final ones, trial 5 10 % behind its final one (a slow starter). Moves
	// on the log scale 0.0198, 0.0184, 0, 0.0229, 0.1054: robust standard
	// deviation 1.4826 · 0.0198 = 0.0294, band 0.0294·√1.2 = 0.0322, so
	// pruned below 116.2 or, minimised, above 123.9 (the RMS, 0.0497, which
	// the slow starter sets, would have spared everything down to 113.6).
	noisy := []study.Trial{done(1, 102, 100), done(2, 108, 110), done(3, 120, 120), done(4, 133, 130), done(5, 126, 140)}
	// vLLM's defaults, run as the baseline at a concurrency level: at the
	// search trials' load (128) it is a completed trial like the others.
	baseline := func(concurrency int) study.Trial {
		b := done(0, 100, 100)
		b.UserAttrs = map[string]any{study.AttrIsBaseline: true, study.AttrBaselineConcurrency: float64(concurrency)}
		return b
	}
	withBaseline := func(concurrency int) []study.Trial {
		return append([]study.Trial{baseline(concurrency)}, steady[1:]...)
	}
	tput := config.Objective{Metric: "output_tokens_per_second", Direction: "maximize", Percentile: "mean"}
	lat := config.Objective{Metric: "request_latency", Direction: "minimize", Percentile: "median"}
	tests := []struct {
		name   string
		obj    config.Objective
		trials []study.Trial
		e      trial.Event
		stop   bool
	}{
		{"steady: below the median", tput, steady, ev(3, "output_tokens_per_second_mean", 119), true},
		{"steady: at the median", tput, steady, ev(3, "output_tokens_per_second_mean", 120), false},
		{"noisy: below, within the moves", tput, noisy, ev(3, "output_tokens_per_second_mean", 117), false},
		{"noisy: below by more than the moves", tput, noisy, ev(3, "output_tokens_per_second_mean", 115), true},
		{"above the median", tput, steady, ev(3, "output_tokens_per_second_mean", 130), false},
		{"within the warm-up", tput, steady, ev(1, "output_tokens_per_second_mean", 10), false},
		{"too few trials at that step", tput, steady[:4], ev(3, "output_tokens_per_second_mean", 10), false},
		{"the baseline at the same load counts", tput, withBaseline(128), ev(3, "output_tokens_per_second_mean", 119), true},
		{"a baseline at another load does not", tput, withBaseline(64), ev(3, "output_tokens_per_second_mean", 10), false},
		{"no one else at that step", tput, steady, ev(4, "output_tokens_per_second_mean", 10), false},
		{"minimised: above the median", lat, steady, ev(3, "request_latency", 125), true},
		{"minimised: below", lat, steady, ev(3, "request_latency", 115), false},
		{"minimised, noisy: above by more than the moves", lat, noisy, ev(3, "request_latency", 125), true},
		{"minimised, noisy: above, within the moves", lat, noisy, ev(3, "request_latency", 123), false},
	}
	for _, tt := range tests {
		cfg := &config.Study{Objectives: []config.Objective{tt.obj}, Pruner: config.Pruner{Median: true, Startup: 5, Warmup: 1}, Benchmark: config.Benchmark{Rate: 128}}
		p := newPruner(cfg, func(context.Context) ([]study.Trial, error) { return tt.trials, nil })
		stop, why := p.verdict(context.Background(), 9, tt.e)
		if stop != tt.stop {
			t.Errorf("%s: stop %v (%s), want %v", tt.name, stop, why, tt.stop)
		}
		if stop && !strings.Contains(why, "the median of 5 completed trials at that point (120)") {
			t.Errorf("%s: why %q", tt.name, why)
		}
	}
	multi := &config.Study{Objectives: []config.Objective{tput, lat}, Pruner: config.Pruner{Median: true}}
	if newPruner(multi, nil) != nil {
		t.Error("a pruner for several objectives")
	}
}

// ev is an intermediate event at step with metrics given as key, value, …
func ev(step int, kv ...any) trial.Event {
	m := map[string]float64{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = float64(kv[i+1].(int))
	}
	return trial.Event{Phase: trial.Benchmarking, Step: step, Metrics: m}
}

// curveBackend reports throughput = max_num_seqs every second for 6 s,
// stopping when told; completed trials keep their curves.
type curveBackend struct{ fakeBackend }

func (b *curveBackend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	b.runs.Add(1)
	v := float64(maxNumSeqs(s.Flags, 20))
	m := map[string]float64{"output_tokens_per_second_mean": v, "output_tokens_per_second_ci95_high": v * 1.02}
	for step := 1; step <= 6; step++ {
		if s.Observe != nil && s.Observe(trial.Event{Phase: trial.Benchmarking, Step: step, Metrics: m}) {
			return &trial.Result{Metrics: m, Stopped: true}, nil
		}
	}
	return &trial.Result{Metrics: m}, nil
}

func TestRunPrunes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	src := `
study: {name: prune}
optimization: {preset: high_throughput, n_trials: 12, n_startup_trials: 12, sampler: random, seed: 3, confirm: false}
benchmark: {model: m}
baseline: {enabled: false}
parameters:
  max_num_seqs: {min: 1, max: 40}
`
	cfg, o := openStudy(t, src)
	if !cfg.Pruner.Median {
		t.Fatal("a 12-trial study has no pruner by default")
	}
	if err := Run(context.Background(), RunOptions{Config: cfg, Study: o.Study, Backend: &curveBackend{}, MaxConsecutiveFailures: 50}); err != nil {
		t.Fatal(err)
	}
	trials, _ := o.Study.Trials(context.Background())
	pruned := 0
	for _, tr := range trials {
		if tr.State == study.Pruned {
			pruned++
			if tr.UserAttrs["trial_status"] != "pruned" || len(tr.Intermediate) == 0 {
				t.Errorf("pruned trial %d: %v %v", tr.Number, tr.UserAttrs, tr.Intermediate)
			}
		}
	}
	if pruned == 0 || study.Completed(trials) != 12 || len(trials) != 12 { // pruned trials count, as in Optuna
		t.Errorf("%d pruned, %d completed of %d", pruned, study.Completed(trials), len(trials))
	}
}
