package sim

import (
	"math"
	"testing"
	"time"
)

// closedLoop keeps conc requests in flight (a new one as each finishes)
// until total have finished, on simulated time, as `vllm bench serve
// --max-concurrency` does. It returns output tokens per second and the mean
// time to first token.
func closedLoop(t *testing.T, c Config, conc, total, prompt, out int) (float64, time.Duration) {
	t.Helper()
	mem, err := c.Check()
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(c, mem.blocks)
	type flight struct {
		r     *request
		start time.Duration
	}
	var inFlight []flight
	var elapsed, ttft time.Duration
	submitted, firsts := 0, 0
	for e.finished < total {
		for len(inFlight) < conc && submitted < total {
			r := newRequest(prompt, out)
			e.submit(r)
			inFlight = append(inFlight, flight{r, elapsed})
			submitted++
		}
		elapsed += e.step()
		e.emit()
		kept := inFlight[:0]
		for _, f := range inFlight {
			if f.r.generated == 1 && f.start >= 0 {
				ttft += elapsed - f.start
				firsts++
				f.start = -1
			}
			if f.r.generated < f.r.maxTokens {
				kept = append(kept, f)
			}
		}
		inFlight = kept
	}
	return float64(e.genTokens) / elapsed.Seconds(), ttft / time.Duration(max(firsts, 1))
}

// TestPublishedFigures holds the simulator to published vLLM measurements
// of Llama-3.1-8B (BF16); the README's "The simulator" section lists them
// with their sources. Each must be within 25 %.
func TestPublishedFigures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		what      string
		args      []string
		conc, in  int
		out       int
		published float64
		ttft      bool // compare the mean TTFT (ms), else output tok/s
	}{
		{"A100-40GB, batch 1, decode tok/s", []string{"--sim-gpu", "A100-40GB"}, 1, 1024, 128, 75, false},
		{"A100-40GB, concurrency 8, output tok/s", []string{"--sim-gpu", "A100-40GB"}, 8, 1024, 128, 75 * 6.6, false},
	}
	for _, tt := range tests {
		c := mustConfig(t, append([]string{"meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "4096"}, tt.args...)...)
		tokS, ttft := closedLoop(t, c, tt.conc, 20*tt.conc, tt.in, tt.out)
		got := tokS
		if tt.ttft {
			got = float64(ttft) / float64(time.Millisecond)
		}
		t.Logf("%-45s published %8.1f  simulated %8.1f  (%+.0f %%)", tt.what, tt.published, got, 100*(got/tt.published-1))
		if math.Abs(got/tt.published-1) > 0.25 {
			t.Errorf("%s: simulated %.1f, published %.1f", tt.what, got, tt.published)
		}
	}
}
