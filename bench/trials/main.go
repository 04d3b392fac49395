// Command trials measures the local trial machinery (figures, not
// assertions; run with `make bench-trials`):
//
//   - load-generator capacity on this machine: sustained req/s and tok/s of
//     tune/bench against an in-process server that answers at once;
//   - TTFT accuracy: measured vs the TTFT a fixed-delay server is set to
//     and vs the one it really gave;
//   - with -guidellm, both side by side with GuideLLM 0.3;
//   - tool overhead between trials (server exit → next server start) and
//     the controller's peak RSS, during a real study on the simulator.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
)

func main() {
	tool := flag.String("tool", "bin/auto-tune-vllm", "auto-tune-vllm binary")
	guide := flag.String("guidellm", "", "bin dir of a GuideLLM venv (scripts/guidellm-venv.sh) to run side by side; empty skips it")
	flag.Parse()
	ctx := context.Background()
	if *guide != "" {
		compareGuideLLM(ctx, *guide)
	}

	fmt.Println("## Load generator (tune/bench) on this machine")
	fmt.Println("\n| server | concurrency | req/s | output tok/s | errors |")
	fmt.Println("|---|---|---|---|---|")
	for _, conc := range []int{16, 64, 256} {
		url := serve(0, 16)
		s, err := bench.Run(ctx, bench.Options{BaseURL: url, Model: "m", Concurrency: conc, Duration: 5 * time.Second,
			Warmup: time.Second, Prompt: bench.TokenDist{Mean: 32}, Output: bench.TokenDist{Mean: 16}})
		if err != nil {
			fail(err)
		}
		fmt.Printf("| instant, 16 tokens | %d | %.0f | %.0f | %d |\n", conc, s.Metrics[metric.RequestThroughput+"_mean"], s.Metrics[metric.OutputThroughput+"_mean"], s.Errors)
	}

	fmt.Println("\n## TTFT accuracy (server sleeps a fixed TTFT before the first token; concurrency 8)")
	fmt.Println("\n| configured TTFT | server's actual p50 | measured p50 | error vs actual | error vs configured | measured p99 |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, ttft := range []time.Duration{5 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond} {
		url, actual := serveTimed(ttft, 4)
		s, err := bench.Run(ctx, bench.Options{BaseURL: url, Model: "m", Concurrency: 8, Duration: 3 * time.Second,
			Prompt: bench.TokenDist{Mean: 32}, Output: bench.TokenDist{Mean: 4}})
		if err != nil {
			fail(err)
		}
		want := float64(ttft) / float64(time.Millisecond)
		got, act := s.Metrics[metric.TTFT+"_median"], actual()
		fmt.Printf("| %.0f ms | %.3f ms | %.3f ms | %+.3f ms | %+.3f ms | %.3f ms |\n", want, act, got, got-act, got-want, s.Metrics[metric.TTFT+"_p99"])
	}

	overhead, rss := study(ctx, *tool)
	sort.Float64s(overhead)
	fmt.Println("\n## A study on the simulator (6 trials, one at a time)")
	fmt.Printf("\nbetween trials (server exit → next server start): median %.0f ms, max %.0f ms over %d gaps\n", median(overhead), overhead[len(overhead)-1], len(overhead))
	fmt.Printf("controller peak RSS: %.1f MB\n", rss)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/trials:", err)
	os.Exit(1)
}

// serve starts an OpenAI-style streaming server that waits ttft, then
// sends tokens back to back.
func serve(ttft time.Duration, tokens int) string {
	url, _ := serveTimed(ttft, tokens)
	return url
}

// serveTimed is serve that also reports the TTFT the server really gave:
// the median time from entering the handler to flushing the first token.
// On a loaded 2-core machine its sleep overshoots, and that is no
// measurement error of the client.
func serveTimed(ttft time.Duration, tokens int) (string, func() float64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	var mu sync.Mutex
	var actual []float64
	chunk := []byte(`data: {"choices": [{"text": "x"}]}` + "\n\n")
	usage := fmt.Sprintf(`data: {"choices": [], "usage": {"prompt_tokens": 32, "completion_tokens": %d}}`+"\n\ndata: [DONE]\n\n", tokens)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object": "list", "data": [{"id": "m", "object": "model"}]}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		time.Sleep(ttft)
		fl := w.(http.Flusher)
		for i := 0; i < tokens; i++ {
			w.Write(chunk)
			fl.Flush()
			if i == 0 {
				d := float64(time.Since(t0)) / float64(time.Millisecond)
				mu.Lock()
				actual = append(actual, d)
				mu.Unlock()
			}
		}
		io.WriteString(w, usage)
	}))
	return "http://" + ln.Addr().String(), func() float64 {
		mu.Lock()
		defer mu.Unlock()
		xs := append([]float64{}, actual...)
		actual = actual[:0]
		sort.Float64s(xs)
		return median(xs)
	}
}

const studyYAML = `
study: {prefix: bench}
optimization: {preset: balanced, n_trials: 6, n_startup_trials: 3, max_concurrent_trials: 1}
benchmark: {model: sim, max_seconds: 2, prompt_tokens: 64, output_tokens: 16, rate: 8}
server:
  command: ["{self}", "simulate", "{model}", "--sim-speedup", "10", "--sim-startup-seconds", "0.2"]
baseline: {enabled: false}
parameters:
  max_num_seqs: {min: 8, max: 64, step: 8}
`

// study runs a study and polls it every 10 ms: the controller's RSS, and
// its server children — when each was first and last seen. Gap = next
// server's first sighting − previous server's last (an upper bound, within
// the polling interval plus one process-table scan).
func study(ctx context.Context, tool string) ([]float64, float64) {
	dir, _ := os.MkdirTemp("", "atv-bench-trials")
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "study.yaml")
	os.WriteFile(cfg, []byte(studyYAML), 0o644)
	abs, _ := filepath.Abs(tool)
	var out strings.Builder
	p, err := proc.Start(proc.Spec{Argv: []string{abs, "optimize", "--config", cfg}, Dir: dir, Output: &out})
	if err != nil {
		fail(err)
	}
	type server struct{ start, seen time.Time }
	servers := map[int]*server{}
	peak := 0.0
	for !p.Exited() {
		if kb := rssKB(p.PID); float64(kb)/1024 > peak {
			peak = float64(kb) / 1024
		}
		now := time.Now()
		snap, _ := proc.Snapshot(ctx)
		for _, c := range snap {
			if c.PPID == p.PID && !c.Zombie {
				if servers[c.PID] == nil {
					// First sighting, on the same clock as the last one (kernel
					// start times derive from btime, which has 1 s resolution).
					servers[c.PID] = &server{start: now}
				}
				servers[c.PID].seen = now
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	<-p.Done()
	if p.ExitCode() != 0 {
		fail(fmt.Errorf("study failed: %s", out.String()))
	}
	var list []*server
	for _, s := range servers {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].start.Before(list[j].start) })
	var gaps []float64
	for i := 1; i < len(list); i++ {
		gaps = append(gaps, float64(list[i].start.Sub(list[i-1].seen))/float64(time.Millisecond))
	}
	if len(gaps) == 0 {
		fail(fmt.Errorf("no servers seen: %s", out.String()))
	}
	return gaps, peak
}

func rssKB(pid int) int {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)/2]
}
