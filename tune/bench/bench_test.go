package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fake is an in-process OpenAI-style streaming server.
type fake struct {
	ttft     time.Duration
	perToken time.Duration
	split    bool // write every event in pieces, flushing between them
	noUsage  bool
	failAt   int // send an error event after this many tokens (0 = never)
	dropAt   int // close the connection after this many tokens (0 = never)
	status   int
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	calls    atomic.Int32
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	// In flight until the last event is written: after [DONE] the client may
	// already start its next request while this handler is returning.
	var once sync.Once
	leave := func() { once.Do(func() { f.inFlight.Add(-1) }) }
	defer leave()
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if f.status != 0 {
		http.Error(w, `{"error": "bad request: max_tokens too large"}`, f.status)
		return
	}
	var body struct {
		MaxTokens     int  `json:"max_tokens"`
		IgnoreEOS     bool `json:"ignore_eos"`
		Messages      []any
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	if !body.IgnoreEOS || !body.StreamOptions.IncludeUsage {
		http.Error(w, "expected ignore_eos and include_usage", 400)
		return
	}
	fl := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	write := func(s string) {
		if f.split {
			for i := 0; i < len(s); i += 7 {
				io.WriteString(w, s[i:min(i+7, len(s))])
				fl.Flush()
			}
			return
		}
		io.WriteString(w, s)
		fl.Flush()
	}
	time.Sleep(f.ttft)
	for i := 0; i < body.MaxTokens; i++ {
		if i > 0 {
			time.Sleep(f.perToken)
		}
		// A client that went away ends the stream, as a server's would
		// (httptest's Close waits for every handler).
		if r.Context().Err() != nil {
			return
		}
		if f.failAt > 0 && i == f.failAt {
			write(`data: {"error": {"message": "CUDA out of memory", "code": 500}}` + "\n\n")
			return
		}
		if f.dropAt > 0 && i == f.dropAt {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		if body.Messages != nil {
			write(`data: {"choices": [{"delta": {"content": "x"}, "finish_reason": null}]}` + "\n\n")
		} else {
			write(`data: {"choices": [{"text": "x", "finish_reason": null}]}` + "\n\n")
		}
	}
	if !f.noUsage {
		write(fmt.Sprintf(`data: {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": %d}}`+"\n\n", body.MaxTokens))
	}
	leave()
	write(": keep-alive comment\n\ndata: [DONE]\n\n")
}

func serve(t *testing.T, f *fake) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStreamParsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		f        *fake
		chat     bool
		wantErr  string
		wantToks int
	}{
		{"split across reads", &fake{split: true}, false, "", 5},
		{"chat deltas", &fake{}, true, "", 5},
		{"usage missing", &fake{noUsage: true}, false, "", 5},
		{"error mid-stream", &fake{failAt: 2}, false, "CUDA out of memory", 0},
		{"connection dropped", &fake{dropAt: 3}, false, "", 0},
		{"http error", &fake{status: 400}, false, "HTTP 400", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := serve(t, tt.f)
			s, err := Run(context.Background(), Options{BaseURL: url, Model: "m", Chat: tt.chat, Concurrency: 1, MaxRequests: 2,
				Prompt: TokenDist{Mean: 8}, Output: TokenDist{Mean: 5}})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantToks > 0 {
				if s.Requests != 2 || s.Errors != 0 || s.Metrics[metric.OutputTokenCount+"_mean"] != float64(tt.wantToks) {
					t.Errorf("requests %d errors %d (%s) tokens %v", s.Requests, s.Errors, s.FirstError, s.Metrics[metric.OutputTokenCount+"_mean"])
				}
				return
			}
			if s.Errors != 2 || s.Requests != 0 || !strings.Contains(s.FirstError, tt.wantErr) {
				t.Errorf("errors %d requests %d: %q, want %q", s.Errors, s.Requests, s.FirstError, tt.wantErr)
			}
		})
	}
}

func TestClosedLoopMetrics(t *testing.T) {
	t.Parallel()
	f := &fake{ttft: 20 * time.Millisecond, perToken: 2 * time.Millisecond}
	url := serve(t, f)
	s, err := Run(context.Background(), Options{BaseURL: url, Model: "m", Concurrency: 4, MaxRequests: 24,
		Prompt: TokenDist{Mean: 16, Stdev: 4, Min: 8, Max: 24}, Output: TokenDist{Mean: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 24 || f.calls.Load() != 24 || f.maxSeen.Load() != 4 {
		t.Errorf("requests %d calls %d max in flight %d", s.Requests, f.calls.Load(), f.maxSeen.Load())
	}
	// Measurement is causal: nothing can beat the server's own delays. A
	// request's ITL can: a first token read late on a busy machine shortens
	// the span after it, so ITL is held to its mean, with that slack.
	if s.Metrics[metric.TTFT+"_min"] < 20 || s.Metrics[metric.ITL+"_mean"] < 1.9 || s.Metrics[metric.RequestLatency+"_min"] < 0.038 {
		t.Errorf("ttft %v itl %v latency %v", s.Metrics[metric.TTFT+"_min"], s.Metrics[metric.ITL+"_mean"], s.Metrics[metric.RequestLatency+"_min"])
	}
	for _, k := range []string{metric.OutputThroughput, metric.OutputThroughput + "_mean", metric.RequestLatency + "_p95", metric.TTFT + "_p99", metric.ITL + "_median", metric.RequestThroughput + "_mean", "errors"} {
		if _, ok := s.Metrics[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	// Four streams of 10 tokens each at least 38 ms apart cannot exceed
	// 4 × 10 / 0.038 tok/s; the window's edges may add a chunk or so.
	if got := s.Metrics[metric.OutputThroughput+"_mean"]; got <= 0 || got > 1.1*4*10/0.038 {
		t.Errorf("output tok/s mean %v, over what the server can stream", got)
	}
	if s.WindowStart < 20*time.Millisecond {
		t.Errorf("window starts at %v, before any first token could arrive", s.WindowStart)
	}
}

// Staggered streams: each stream's first request is cut to (w+1)/N of the
// output length and left out of the latencies (the last stream's is whole,
// and counts); the rest are whole.
func TestStagger(t *testing.T) {
	t.Parallel()
	f := &fake{ttft: 5 * time.Millisecond, perToken: time.Millisecond}
	url := serve(t, f)
	s, err := Run(context.Background(), Options{BaseURL: url, Model: "m", Concurrency: 4, MaxRequests: 12,
		Prompt: TokenDist{Mean: 8}, Output: TokenDist{Mean: 20}, Stagger: true, KeepRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	var firsts []int
	for _, r := range s.Records {
		if r.Warmup {
			firsts = append(firsts, r.OutputTokens)
		} else if r.OutputTokens != 20 {
			t.Errorf("request %d: %d tokens, want 20", r.Index, r.OutputTokens)
		}
	}
	sort.Ints(firsts)
	if fmt.Sprint(firsts) != "[5 10 15]" || s.Requests != 9 {
		t.Errorf("cut first requests' lengths %v (want [5 10 15]), %d requests in the latencies (want 9)", firsts, s.Requests)
	}
}

// Staggered first requests are sent in stream order, cut by the seed's
// permutation: one seed gives one order of lengths, another seed another.
func TestStaggerOrderFollowsSeed(t *testing.T) {
	t.Parallel()
	// No request ends before every stream has sent its first.
	url := serve(t, &fake{ttft: 300 * time.Millisecond, perToken: time.Millisecond})
	const n = 16
	order := func(seed uint64) []int {
		s, err := Run(context.Background(), Options{BaseURL: url, Model: "m", Concurrency: n, MaxRequests: n, Seed: seed,
			Prompt: TokenDist{Mean: 8}, Output: TokenDist{Mean: n}, Stagger: true, KeepRecords: true, firstSendGap: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		recs := slices.Clone(s.Records)
		sort.Slice(recs, func(i, j int) bool { return recs[i].Start < recs[j].Start })
		var lens []int
		for _, r := range recs {
			lens = append(lens, r.OutputTokens)
		}
		return lens
	}
	for _, seed := range []uint64{1, 2} {
		var want []int
		for _, p := range rand.New(rand.NewPCG(seed, 3)).Perm(n) {
			want = append(want, p+1)
		}
		for run := 0; run < 2; run++ {
			if got := order(seed); !slices.Equal(got, want) {
				t.Errorf("seed %d, run %d: first requests' lengths in the order sent %v, want %v", seed, run, got, want)
			}
		}
	}
}

// Requests far longer than the run still give a throughput: their tokens
// are counted as they arrive, not when (or if) the request completes.
func TestInFlightTokensCount(t *testing.T) {
	t.Parallel()
	url := serve(t, &fake{perToken: 5 * time.Millisecond})
	var snaps []Snapshot
	s, err := Run(context.Background(), Options{BaseURL: url, Model: "m", Concurrency: 2, Duration: time.Minute,
		Prompt: TokenDist{Mean: 4}, Output: TokenDist{Mean: 100000}, ProgressEvery: 100 * time.Millisecond,
		Progress: func(snap Snapshot) bool {
			snaps = append(snaps, snap)
			return len(snaps) == 4
		}})
	if err != nil {
		t.Fatal(err)
	}
	last := snaps[len(snaps)-1]
	if last.Warmup || last.Metrics[metric.OutputThroughput+"_mean"] <= 0 || last.Metrics[metric.Requests] != 0 {
		t.Errorf("snapshot of requests in flight: %+v", last)
	}
	// Two streams of one token per ≥ 5 ms: at most 400 tok/s.
	if got := s.Metrics[metric.OutputThroughput+"_mean"]; s.Requests != 0 || s.Incomplete != 2 || got <= 0 || got > 440 {
		t.Errorf("%d requests, %d incomplete, %v tok/s", s.Requests, s.Incomplete, got)
	}
}

func sec(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }

func secs(xs ...float64) []time.Duration {
	var d []time.Duration
	for _, x := range xs {
		d = append(d, sec(x))
	}
	return d
}

func TestMeasureWindow(t *testing.T) {
	t.Parallel()
	firsts := func(xs ...float64) []Record {
		var recs []Record
		for _, x := range xs {
			recs = append(recs, Record{Chunks: secs(x, x+0.1)})
		}
		return recs
	}
	for _, tc := range []struct {
		name               string
		recs               []Record
		streams            int
		warmup, idle, end  float64
		wantStart, wantEnd float64
	}{
		{"steady once every stream streams", firsts(0.3, 0.1, 0.2), 3, 0, 0, 10, 0.3, 10},
		{"a longer warm-up wins", firsts(0.3, 0.1, 0.2), 3, 1, 0, 10, 1, 10},
		{"draining load is cut", firsts(0.1, 0.2), 2, 0, 8, 10, 0.2, 8},
		{"never steady: all after warm-up", firsts(0.1, 0.2), 3, 0.5, 0, 10, 0.5, 10},
		{"request rate: no streams", firsts(0.1), 0, 0.5, 0, 10, 0.5, 10},
		{"steady too late to measure", firsts(0.1, 9.5), 2, 0, 9, 10, 0, 9},
	} {
		w := measureWindow(tc.recs, tc.streams, sec(tc.warmup), sec(tc.idle), sec(tc.end))
		if w.start != sec(tc.wantStart) || w.end != sec(tc.wantEnd) {
			t.Errorf("%s: window [%v, %v), want [%vs, %vs)", tc.name, w.start, w.end, tc.wantStart, tc.wantEnd)
		}
	}
}

// Tokens and requests are counted where they arrived, whatever became of
// their request; latencies only for completed ones.
func TestSummaryWindow(t *testing.T) {
	t.Parallel()
	agg := &aggregator{recs: []Record{
		// Two chunks of two tokens each, both inside; completes inside.
		{Index: 0, Start: 0, TTFT: sec(1.5), Chunks: secs(1.5, 2.5), E2E: sec(2.6), PromptTokens: 10, OutputTokens: 4},
		// Cut by the end of the run: its two chunks inside count, one token each.
		{Index: 1, Start: sec(2), TTFT: sec(0.2), Chunks: secs(2.2, 2.9, 3.1), E2E: sec(1.2), Err: "context deadline exceeded"},
		// Failed before any token.
		{Index: 2, Start: sec(1.2), E2E: sec(0.1), Err: "HTTP 500: boom"},
		// A warm-up request: its tokens inside count, its latency does not.
		{Index: 3, Start: 0, TTFT: sec(0.1), Chunks: secs(0.1, 1.9), E2E: sec(1.95), PromptTokens: 5, OutputTokens: 2, Warmup: true},
	}}
	s := agg.summary(window{start: sec(1), end: sec(3)}, 0)
	if s.Duration != sec(2) || s.Requests != 1 || s.Incomplete != 1 || s.Errors != 1 || s.FirstError != "HTTP 500: boom" {
		t.Errorf("summary %+v", s)
	}
	// Output: 2+2 (first) + 1+0.4 (cut: its chunk at 2.9 s is 0.1 s from
	// the end, in the last 0.25 s where the count fades out) + 1 (warm-up's
	// second chunk) = 6.4 tokens over 1.75 s (2 s less half of each 0.25 s
	// ramp); per second, as they fell: [1,2) holds 2+1, [2,3) holds 2+1+1.
	const span = 1.75
	for key, want := range map[string]float64{
		metric.OutputThroughput + "_mean":      6.4 / span,
		metric.OutputThroughput + "_min":       3,
		metric.OutputThroughput + "_max":       4,
		metric.OutputThroughput:                3.5,
		metric.RequestThroughput + "_mean":     2 / span, // both completions are inside, the warm-up one too
		metric.TokenThroughput + "_mean":       (6.4 + 10) / span,
		metric.RequestLatency + "_max":         2.6,
		metric.TTFT + "_max":                   1500,
		metric.OutputThroughput + "_ci95_low":  6.4/span - 12.706*math.Sqrt(0.5)/math.Sqrt(2),
		metric.OutputThroughput + "_ci95_high": 6.4/span + 12.706*math.Sqrt(0.5)/math.Sqrt(2),
	} {
		if got := s.Metrics[key]; math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
}

// A server streams a burst of tokens per engine step. Counted with hard
// edges, the same steady stream reads up to a burst high or low over the
// window depending on where its steps fall; faded, it reads the true rate
// at every phase.
func TestFadedEdgesCancelBursts(t *testing.T) {
	t.Parallel()
	const (
		streams = 128
		step    = 20 * time.Millisecond
		trueTPS = streams * float64(time.Second/step) // 6400 tok/s
	)
	w := window{start: sec(1), end: sec(4.31)} // 165.5 steps long
	for _, phase := range []time.Duration{0, 3 * time.Millisecond, 7 * time.Millisecond, 10 * time.Millisecond, 13 * time.Millisecond, 19 * time.Millisecond} {
		recs := make([]Record, streams)
		for i := range recs {
			for at := phase; at < sec(5); at += step {
				recs[i].Chunks = append(recs[i].Chunks, at)
			}
			recs[i].OutputTokens = len(recs[i].Chunks)
		}
		got := summarize(recs, w, 0).Metrics[metric.Stat(metric.OutputThroughput, metric.Mean)]
		if math.Abs(got/trueTPS-1) > 1e-3 {
			t.Errorf("bursts at phase %v: %.1f tok/s, want %.0f within 0.1 %%", phase, got, trueTPS)
		}
	}
}

func TestRateModeDropsAndWarmup(t *testing.T) {
	t.Parallel()
	f := &fake{ttft: 100 * time.Millisecond}
	url := serve(t, f)
	s, err := Run(context.Background(), Options{BaseURL: url, Model: "m", Concurrency: 1, RequestRate: 200,
		Duration: 400 * time.Millisecond, Warmup: 100 * time.Millisecond, Prompt: TokenDist{Mean: 4}, Output: TokenDist{Mean: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dropped == 0 {
		t.Errorf("a 200 req/s load on one slot dropped nothing: %+v", s)
	}
	if s.Duration > 400*time.Millisecond {
		t.Errorf("measured %v", s.Duration)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	url := serve(t, &fake{ttft: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Run(ctx, Options{BaseURL: url, Model: "m", Concurrency: 2, Duration: time.Minute, Output: TokenDist{Mean: 2}}); err == nil {
		t.Error("a cancelled run returned no error")
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {50, 5.5}, {90, 9.1}, {99, 9.91}, {100, 10}} {
		if got := Percentile(xs, c.p); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("p%v = %v, want %v (numpy linear)", c.p, got, c.want)
		}
	}
}

// Progress hears the run every interval, and stopping it ends the run early
// with what was measured.
func TestProgressStops(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fake{perToken: time.Millisecond})
	defer srv.Close()
	var snaps []Snapshot
	s, err := Run(context.Background(), Options{BaseURL: srv.URL, Model: "m", Concurrency: 2, Duration: time.Minute,
		Output: TokenDist{Mean: 8}, Prompt: TokenDist{Mean: 8}, ProgressEvery: 50 * time.Millisecond,
		Progress: func(snap Snapshot) bool {
			snaps = append(snaps, snap)
			return len(snaps) == 3
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Stopped || len(snaps) != 3 || s.Duration >= time.Minute || s.Requests == 0 {
		t.Fatalf("stopped %v after %d snapshots, measured %s, %d requests", s.Stopped, len(snaps), s.Duration, s.Requests)
	}
	last := snaps[2]
	if last.Warmup || last.Metrics[metric.Requests] == 0 || last.Elapsed <= snaps[1].Elapsed {
		t.Errorf("last snapshot %+v", last)
	}
}

// With StepLength, a snapshot's metrics cover whole steps of the window:
// none before the first step ends, then the step count grows one by one.
func TestSnapshotsCoverWholeSteps(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fake{perToken: time.Millisecond})
	defer srv.Close()
	var snaps []Snapshot
	_, err := Run(context.Background(), Options{BaseURL: srv.URL, Model: "m", Concurrency: 2, Duration: time.Minute,
		Output: TokenDist{Mean: 8}, Prompt: TokenDist{Mean: 8}, ProgressEvery: 30 * time.Millisecond, StepLength: 200 * time.Millisecond,
		Progress: func(snap Snapshot) bool {
			snaps = append(snaps, snap)
			return snap.Step == 3
		}})
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, s := range snaps {
		switch {
		case s.Warmup && (s.Step != 0 || s.Metrics != nil):
			t.Errorf("warm-up snapshot %+v", s)
		case !s.Warmup && (s.Step < max(last, 1) || s.Step > last+1):
			t.Errorf("snapshot at %v: step %d after step %d", s.Elapsed, s.Step, last)
		}
		if !s.Warmup {
			last = s.Step
		}
	}
	if last != 3 {
		t.Fatalf("last step %d, want 3 (%d snapshots)", last, len(snaps))
	}
}
