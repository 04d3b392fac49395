package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

func TestETA(t *testing.T) {
	t.Parallel()
	s := time.Second
	for _, tc := range []struct {
		name        string
		busy        time.Duration
		done, left  int
		elapsed     []time.Duration
		concurrency int
		want        time.Duration
		known       bool
	}{
		{"nothing done yet", 0, 0, 10, nil, 2, 0, false},
		{"all done", 120 * s, 2, 0, nil, 2, 0, false},
		{"two slots, none running", 120 * s, 2, 8, nil, 2, 240 * s, true},
		{"a failure makes each done run dearer", 150 * s, 2, 8, nil, 2, 300 * s, true},
		{"runs in flight have spent some", 120 * s, 2, 2, []time.Duration{30 * s, 30 * s}, 2, 30 * s, true},
		{"a run past the mean counts as nearly done", 120 * s, 2, 2, []time.Duration{90 * s, 0}, 2, 60 * s, true},
		{"the last run bounds it from below", 120 * s, 2, 1, []time.Duration{10 * s}, 4, 50 * s, true},
		{"one slot", 60 * s, 1, 3, []time.Duration{20 * s}, 1, 160 * s, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, known := eta(tc.busy, tc.done, tc.left, tc.elapsed, tc.concurrency)
			if got != tc.want || known != tc.known {
				t.Errorf("eta = %v, %v; want %v, %v", got, known, tc.want, tc.known)
			}
		})
	}
}

// clock is a fake time source the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func oom(msg string) (string, string)    { return trial.OOM, msg }
func tput(v float64) []tune.Value {
	return []tune.Value{{Key: "output_tokens_per_second_mean", Value: v}}
}
func search(n int) tune.RunID            { return tune.RunID{Number: n} }
func confirmRun(n, round int) tune.RunID { return tune.RunID{Number: n, Round: round} }
func params(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestPlainProgress(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	p := newPlainProgress(&out, c.now)
	class, msg := oom("CUDA out of memory\nTraceback ...")
	p.Phase(tune.PhaseInfo{Phase: tune.PhaseBaseline, Total: 1, Concurrency: 1})
	p.Started(tune.RunStart{ID: search(0), Phase: tune.PhaseBaseline, Concurrency: 8})
	c.advance(40 * time.Second)
	p.Finished(tune.RunEnd{ID: search(0), Phase: tune.PhaseBaseline, Outcome: tune.Completed, Values: tput(700), Feasible: true, Duration: 40 * time.Second, Done: 1})
	p.Phase(tune.PhaseInfo{Phase: tune.PhaseSearch, Total: 4, Done: 1, Concurrency: 2})
	p.Started(tune.RunStart{ID: search(3), Phase: tune.PhaseSearch, Params: params("max_num_seqs", int64(32), "gpu_memory_utilization", 0.85)})
	p.Event(search(3), trial.Event{Phase: trial.Starting})
	p.Started(tune.RunStart{ID: search(4), Phase: tune.PhaseSearch, Params: params("max_num_seqs", int64(512))})
	p.Event(search(3), trial.Event{Phase: trial.Benchmarking, Elapsed: 12 * time.Second})
	p.Event(search(3), trial.Event{Phase: trial.Benchmarking, Step: 1, Elapsed: 13 * time.Second, Metrics: map[string]float64{"x": 1}})
	p.Event(search(3), trial.Event{Phase: trial.Stopping, Elapsed: 61 * time.Second})
	c.advance(62 * time.Second)
	p.Finished(tune.RunEnd{ID: search(4), Phase: tune.PhaseSearch, Outcome: tune.Failed, FailureClass: class, Message: msg, Duration: 20 * time.Second, Done: 1, Failures: 1})
	p.Finished(tune.RunEnd{ID: search(3), Phase: tune.PhaseSearch, Outcome: tune.Completed, Values: tput(812.4), Feasible: true, Best: true, Duration: 62 * time.Second, Done: 2, Failures: 1})
	p.Finished(tune.RunEnd{ID: search(5), Phase: tune.PhaseSearch, Outcome: tune.Skipped, Message: "violates a configured constraint", Done: 2, Failures: 1})
	p.Finished(tune.RunEnd{ID: search(6), Phase: tune.PhaseSearch, Outcome: tune.Duplicate, Message: "same configuration as trial 3", Values: tput(812.4), Done: 3, Failures: 1})
	p.Started(tune.RunStart{ID: search(7), Phase: tune.PhaseSearch, Params: params("max_num_seqs", int64(64))})
	c.advance(30 * time.Second)
	p.Finished(tune.RunEnd{ID: search(7), Phase: tune.PhaseSearch, Outcome: tune.Completed, Values: tput(650), Duration: 30 * time.Second, Done: 4, Failures: 1})
	p.Phase(tune.PhaseInfo{Phase: tune.PhaseConfirm, Total: 4, Concurrency: 2})
	p.Started(tune.RunStart{ID: confirmRun(3, 1), Phase: tune.PhaseConfirm, Params: params("max_num_seqs", int64(32))})
	p.Event(confirmRun(3, 1), trial.Event{Phase: trial.WarmingUp, Elapsed: 3 * time.Second})
	p.Finished(tune.RunEnd{ID: confirmRun(3, 1), Phase: tune.PhaseConfirm, Outcome: tune.Interrupted, Duration: 5 * time.Second, Done: 0, Failures: 1})
	want := `baseline: 0/1 runs done (vLLM's defaults)
trial 0 started: baseline (vLLM's defaults) at concurrency 8
trial 0 complete in 40s: output_tokens_per_second_mean=700 [1/1 runs done]
search: 1/4 trials done, 2 at a time
trial 3 started: gpu_memory_utilization=0.85 max_num_seqs=32
trial 3 starting server
trial 4 started: max_num_seqs=512
trial 3 benchmarking after 12s
trial 3 stopping server after 1m01s
trial 4 failed after 20s: out_of_memory: CUDA out of memory [1/4 trials done, 1 failed]
trial 3 complete in 1m02s: output_tokens_per_second_mean=812.4 (best so far) [2/4 trials done, 1 failed, ETA 1m22s]
trial 5 skipped: violates a configured constraint [2/4 trials done, 1 failed, ETA 1m22s]
trial 6 not run: same configuration as trial 3, whose result it reuses [3/4 trials done, 1 failed, ETA 41s]
trial 7 started: max_num_seqs=64
trial 7 complete in 30s: output_tokens_per_second_mean=650 (infeasible: misses a constraint or SLO) [4/4 trials done, 1 failed]
confirmation: 0/4 runs done, 2 at a time
trial 3 confirmation run 1 started: max_num_seqs=32
trial 3 confirmation run 1 warming up after 3s
trial 3 confirmation run 1 interrupted after 5s [0/4 runs done]
`
	if got := out.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("ANSI codes in plain output")
	}
}

// console is a terminal of 100×40 for mpb that keeps every frame drawn.
type console struct {
	bytes.Buffer
	frame bytes.Buffer
}

func (c *console) Write(p []byte) (int, error)         { return c.frame.Write(p) }
func (c *console) ReadFrom(r io.Reader) (int64, error) { return c.frame.ReadFrom(r) }
func (c *console) IsTerminal() bool                    { return true }
func (c *console) GetTermSize() (int, int, error)      { return 100, 40, nil }
func (c *console) Flush(int) error                     { _, err := c.frame.WriteTo(&c.Buffer); return err }

// TestTermProgress draws the live view into a buffer: the ended runs'
// lines above the bars, and stop returns with the last frame drawn.
func TestTermProgress(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Now()}
	out := &console{}
	p := newTermProgress(nil, c.now, mpb.WithConsoleWriter(out))
	p.Phase(tune.PhaseInfo{Phase: tune.PhaseSearch, Total: 2, Concurrency: 2})
	p.Started(tune.RunStart{ID: search(1), Phase: tune.PhaseSearch, Params: params("max_num_seqs", int64(32))})
	p.Started(tune.RunStart{ID: search(2), Phase: tune.PhaseSearch, Params: params("max_num_seqs", int64(64))})
	p.Event(search(1), trial.Event{Phase: trial.Benchmarking})
	p.Finished(tune.RunEnd{ID: search(1), Phase: tune.PhaseSearch, Outcome: tune.Completed, Values: tput(812.4), Feasible: true, Best: true, Duration: time.Minute, Done: 1})
	p.Write([]byte("WARNING: something\n"))
	p.stop()
	got := out.String()
	for _, want := range []string{"trial 1 complete in 1m00s: output_tokens_per_second_mean=812.4 (best so far)\n", "WARNING: something\n", "search", "1/2 trials done, best: trial 1 (812.4)"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%q", want, got)
		}
	}
}

// TestShowProgress: where progress and log lines go, by the flags and
// whether stdout is a terminal; controller.log gets every log line.
func TestShowProgress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		flags          studyFlags
		tty            bool
		stdout, stderr []string // each present
		notStderr      []string
	}{
		{name: "plain", stdout: []string{"search: 0/2 trials done"}, stderr: []string{"INFO: hello", "WARNING: careful", "ERROR: bad"}},
		{name: "json", flags: studyFlags{JSON: true}, stderr: []string{"search: 0/2 trials done", "INFO: hello", "ERROR: bad"}},
		{name: "quiet", flags: studyFlags{Quiet: true}, stderr: []string{"ERROR: bad"}, notStderr: []string{"hello", "careful", "search"}},
		{name: "terminal", tty: true, notStderr: []string{"hello", "careful", "bad"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr syncBuffer
			g := &globals{io: streams{Stdout: &stdout, Stderr: &stderr, StdoutTTY: tc.tty}, log: newLogger(&stderr, slog.LevelInfo)}
			tc.flags.LogDir = t.TempDir()
			r := &studyRun{flags: tc.flags}
			p, done := r.showProgress(g, "s")
			p.Phase(tune.PhaseInfo{Phase: tune.PhaseSearch, Total: 2, Concurrency: 1})
			g.log.Info("hello")
			g.log.Warn("careful")
			g.log.Error("bad")
			done()
			done() // idempotent: deferred as well as called
			g.log.Info("after")
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("no %q in stdout:\n%s", s, stdout.String())
				}
			}
			for _, s := range append(tc.stderr, "INFO: after") {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("no %q in stderr:\n%s", s, stderr.String())
				}
			}
			for _, s := range tc.notStderr {
				if strings.Contains(strings.ReplaceAll(stderr.String(), "INFO: after", ""), s) {
					t.Errorf("%q in stderr:\n%s", s, stderr.String())
				}
			}
			log, err := os.ReadFile(filepath.Join(tc.flags.LogDir, "s", "controller.log"))
			if err != nil || !strings.Contains(string(log), "INFO: hello") || !strings.Contains(string(log), "ERROR: bad") || strings.Contains(string(log), "after") {
				t.Errorf("controller.log: %v\n%s", err, log)
			}
		})
	}
}
