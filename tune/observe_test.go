package tune

import (
	"context"
	"os"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// talkingBackend reports five steps of metrics through the spec's observer,
// as the built-in benchmark does, and stops early when told to.
type talkingBackend struct{ fakeBackend }

func (b *talkingBackend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	s.Observe(trial.Event{Phase: trial.Starting})
	s.Observe(trial.Event{Phase: trial.Benchmarking})
	m := map[string]float64{}
	for step := 1; step <= 5; step++ {
		m = map[string]float64{"output_tokens_per_second_mean": float64(10 * step), "request_latency": 1}
		if s.Observe(trial.Event{Phase: trial.Benchmarking, Step: step, Metrics: m}) {
			return &trial.Result{Metrics: m, Stopped: true}, nil
		}
	}
	return &trial.Result{Metrics: m}, nil
}

func TestObserverPath(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	cfg, o := openStudy(t, `
study: {name: observed}
optimization: {preset: high_throughput, n_trials: 3, max_concurrent_trials: 1, confirm: false}
benchmark: {model: m}
parameters:
  max_num_seqs: {min: 8, max: 4096}
`)
	phases := map[trial.Phase]int{}
	err := Run(context.Background(), RunOptions{Config: cfg, Study: o.Study, Backend: &talkingBackend{}, LogDir: dir,
		Observer: func(number int, e trial.Event) bool {
			phases[e.Phase]++
			return number == 1 && e.Step == 3 // the pruner's call, for trial 1
		}})
	if err != nil {
		t.Fatal(err)
	}
	trials, _ := o.Study.Trials(context.Background())
	if phases[trial.Starting] != len(trials) || phases[trial.Benchmarking] == 0 {
		t.Errorf("phases heard: %v", phases)
	}
	for _, tr := range trials {
		steps := 5
		want := study.Complete
		if tr.Number == 1 {
			steps, want = 3, study.Pruned
		}
		if tr.State != want || len(tr.Intermediate) != steps || tr.Intermediate[steps] != float64(10*steps) {
			t.Errorf("trial %d: %s, intermediate values %v (want %s, %d steps)", tr.Number, tr.State, tr.Intermediate, want, steps)
		}
	}
	if study.Completed(trials) != 3 || len(trials) != 4 { // the baseline, one pruned, two complete
		t.Errorf("%d trials, %d counted: a pruned trial counts towards n_trials, as in Optuna", len(trials), study.Completed(trials))
	}
}
