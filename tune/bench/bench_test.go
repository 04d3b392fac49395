package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"io"
	"net/http"
	"net/http/httptest"
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
	// Measurement is causal: nothing can beat the server's own delays.
	if s.Metrics[metric.TTFT+"_min"] < 20 || s.Metrics[metric.ITL+"_min"] < 2 || s.Metrics[metric.RequestLatency+"_min"] < 0.038 {
		t.Errorf("ttft %v itl %v latency %v", s.Metrics[metric.TTFT+"_min"], s.Metrics[metric.ITL+"_min"], s.Metrics[metric.RequestLatency+"_min"])
	}
	for _, k := range []string{metric.OutputThroughput, metric.OutputThroughput + "_mean", metric.RequestLatency + "_p95", metric.TTFT + "_p99", metric.ITL + "_median", metric.RequestThroughput + "_mean", "errors"} {
		if _, ok := s.Metrics[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	want := 24 * 10 / s.Duration.Seconds()
	if got := s.Metrics[metric.OutputThroughput+"_mean"]; got < want*0.999 || got > want*1.001 {
		t.Errorf("output tok/s mean %v, want total/duration %v", got, want)
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
