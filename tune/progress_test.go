package tune

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// eventsBackend is fakeBackend with a trial's phase events.
type eventsBackend struct{ fakeBackend }

func (b *eventsBackend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	for _, p := range []trial.Phase{trial.Starting, trial.Benchmarking, trial.Stopping} {
		s.Observe(trial.Event{Phase: p})
	}
	return b.fakeBackend.Run(ctx, s)
}

// recorder writes down what Progress hears, one line a call.
type recorder struct {
	mu    sync.Mutex
	lines []string
	ends  []RunEnd
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *recorder) Phase(p PhaseInfo) { r.add("phase %s %d/%d", p.Phase, p.Done, p.Total) }
func (r *recorder) Started(s RunStart) {
	r.add("start %d.%d %s", s.ID.Number, s.ID.Round, s.Phase)
}
func (r *recorder) Event(id RunID, e trial.Event) {
	r.add("event %d.%d %s", id.Number, id.Round, e.Phase)
}
func (r *recorder) Finished(e RunEnd) {
	r.add("end %d.%d %s", e.ID.Number, e.ID.Round, e.Phase)
	r.mu.Lock()
	r.ends = append(r.ends, e)
	r.mu.Unlock()
}

// TestProgressOrder: every phase is announced before its runs, and every
// run that runs is started, goes through its phases and finishes, in that
// order; the counts add up.
func TestProgressOrder(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	src := `
study: {name: progress}
optimization: {preset: high_throughput, n_trials: 4, n_startup_trials: 4, max_concurrent_trials: 1, confirm: {top: 1, runs: 2}}
benchmark: {model: m}
baseline: {concurrency_levels: [4]}
parameters:
  max_num_seqs: {min: 8, max: 64, step: 8}
constraints: ["max_num_seqs - 56"]
`
	cfg, o := openStudy(t, src)
	rec := &recorder{}
	if err := Run(context.Background(), RunOptions{Config: cfg, Study: o.Study, Backend: &eventsBackend{}, MaxConsecutiveFailures: 50, Progress: rec}); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", strings.Join(rec.lines, "\n"))
	var phases []string
	phase := ""
	for i, l := range rec.lines {
		f := strings.Fields(l)
		if f[0] == "phase" {
			phases = append(phases, f[1]+" "+f[2])
			phase = f[1]
			continue
		}
		if f[len(f)-1] != phase && f[0] != "event" {
			t.Errorf("line %d %q outside its phase (%s)", i, l, phase)
		}
		if f[0] != "start" {
			continue
		}
		// One run at a time: its whole story follows.
		want := []string{"event " + f[1] + " starting_server", "event " + f[1] + " benchmarking", "event " + f[1] + " stopping", "end " + f[1] + " " + f[2]}
		if i+len(want) >= len(rec.lines) || strings.Join(rec.lines[i+1:i+1+len(want)], "|") != strings.Join(want, "|") {
			t.Errorf("run %s: after line %d, want %q", f[1], i, want)
		}
	}
	if got, want := strings.Join(phases, ", "), "baseline 0/1, search 0/4, confirmation 0/4"; got != want {
		t.Errorf("phases %s, want %s", got, want)
	}
	failures, bestSeen, search := 0, false, RunEnd{}
	for _, e := range rec.ends {
		if e.Outcome == Failed {
			failures++
		}
		if e.Failures != failures {
			t.Errorf("trial %d: %d failures so far, counted %d", e.ID.Number, e.Failures, failures)
		}
		if e.Phase != PhaseSearch {
			continue
		}
		if e.Outcome == Completed && !bestSeen && !e.Best {
			t.Errorf("the first complete trial (%d) is not the best so far", e.ID.Number)
		}
		bestSeen = bestSeen || e.Outcome == Completed
		if e.Outcome == Completed && (len(e.Values) != 1 || e.Values[0].Key != "output_tokens_per_second_mean") {
			t.Errorf("trial %d values %v", e.ID.Number, e.Values)
		}
		search = e
	}
	if search.Done != 4 {
		t.Errorf("the last search trial leaves %d done, want 4", search.Done)
	}
}
