package tune

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// fakeBackend answers trials without processes: throughput = max_num_seqs,
// OOM above 48.
type fakeBackend struct{ runs atomic.Int32 }

func (f *fakeBackend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	f.runs.Add(1)
	seqs := maxNumSeqs(s.Flags, 0)
	if seqs > 48 {
		return &trial.Result{Failure: &trial.Failure{Class: trial.OOM, Message: "CUDA out of memory"}}, nil
	}
	return &trial.Result{Metrics: map[string]float64{"output_tokens_per_second_mean": float64(seqs), "request_latency": 1}}, nil
}

// maxNumSeqs is the max_num_seqs flag's value, else def.
func maxNumSeqs(flags []trial.Flag, def int64) int64 {
	for _, fl := range flags {
		if fl.Name == "max_num_seqs" {
			return fl.Value.(int64)
		}
	}
	return def
}

func (f *fakeBackend) Slots(context.Context) (int, error) { return 2, nil }
func (f *fakeBackend) Close(context.Context) error        { return nil }

// openStudy parses src as s.yaml and opens its study in the working
// directory, closed when the test ends.
func openStudy(t *testing.T, src string) (*config.Study, *Opened) {
	t.Helper()
	cfg, err := config.Parse("s.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(context.Background(), cfg, []byte(src), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return cfg, o
}

func TestRunLoop(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	src := `
study: {name: loop}
optimization: {preset: high_throughput, n_trials: 6, n_startup_trials: 3, max_concurrent_trials: 2, confirm: false}
benchmark: {model: m}
baseline: {concurrency_levels: [4, 8]}
parameters:
  max_num_seqs: {min: 8, max: 64, step: 8}
constraints: ["max_num_seqs - 56"]
`
	cfg, o := openStudy(t, src)
	ctx := context.Background()
	fb := &fakeBackend{}
	if err := Run(ctx, RunOptions{Config: cfg, Study: o.Study, Backend: fb, MaxConsecutiveFailures: 50}); err != nil {
		t.Fatal(err)
	}
	trials, _ := o.Study.Trials(ctx)
	if study.Completed(trials) != 6 {
		t.Errorf("%d completed", study.Completed(trials))
	}
	baselines, skipped, oom, dups := 0, 0, 0, 0
	for _, tr := range trials {
		switch {
		case tr.UserAttrs[study.AttrDuplicateOf] != nil:
			dups++
		case tr.UserAttrs[study.AttrIsBaseline] == true:
			baselines++
		case tr.UserAttrs[study.AttrErrorType] == "constraint":
			skipped++
			if tr.State != study.Pruned || tr.Feasible() {
				t.Errorf("constraint trial %d: %s feasible=%v", tr.Number, tr.State, tr.Feasible())
			}
		case tr.UserAttrs[study.AttrErrorType] == trial.OOM:
			oom++
			if tr.State != study.Pruned || tr.Feasible() {
				t.Errorf("OOM trial %d: %s feasible=%v", tr.Number, tr.State, tr.Feasible())
			}
		}
	}
	if baselines != 2 {
		t.Errorf("%d baselines", baselines)
	}
	if int(fb.runs.Load()) != len(trials)-skipped-dups {
		t.Errorf("%d runs for %d trials (%d skipped by constraint, %d duplicates)", fb.runs.Load(), len(trials), skipped, dups)
	}
	// Resume: nothing more to do, baselines not re-run.
	before := fb.runs.Load()
	if err := Run(ctx, RunOptions{Config: cfg, Study: o.Study, Backend: fb}); err != nil || fb.runs.Load() != before {
		t.Errorf("second run: %v, %d new runs", err, fb.runs.Load()-before)
	}
	t.Logf("%d trials: %d baselines, %d skipped by constraint, %d OOM, %d duplicates", len(trials), baselines, skipped, oom, dups)
}

// promptsBackend records the dataset a trial was given.
type promptsBackend struct {
	fakeBackend
	prompts atomic.Value
}

func (p *promptsBackend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	p.prompts.Store(s.Bench.Prompts)
	return p.fakeBackend.Run(ctx, s)
}

func TestRunDataset(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	for _, tc := range []struct{ name, data, err string }{
		{"good", "{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"output_tokens\": 3}\n", ""},
		{"bad line", "{\"prompt\": \"a\"}\n{\"prompt\": 1}\n", "s.yaml: benchmark.dataset: data.jsonl:2:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile("data.jsonl", []byte(tc.data), 0o644)
			src := "study: {name: ds-" + tc.name[:3] + "}\noptimization: {preset: high_throughput, n_trials: 1, confirm: false}\n" +
				"benchmark: {model: m, dataset: data.jsonl}\nbaseline: {enabled: false}\nparameters:\n  max_num_seqs: {min: 8, max: 16, step: 8}\n"
			cfg, o := openStudy(t, src)
			ctx := context.Background()
			pb := &promptsBackend{}
			err := Run(ctx, RunOptions{Config: cfg, Study: o.Study, Backend: pb})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := pb.prompts.Load().([]string); strings.Join(got, ",") != "a,b" {
				t.Errorf("prompts %q", got)
			}
		})
	}
}
