// Command precision measures how far one short benchmark can be trusted
// (figures, not assertions; run with `make bench-precision`): on the
// built-in simulator at the quickstart's workload, the coefficient of
// variation of output tok/s over repeats of one configuration, and how often
// two configurations whose true throughput differs by 3 % are ranked
// correctly. Each run is scored twice, from the same requests: by tokens
// that arrived inside the window (tune/bench today) and by the requests that
// completed inside it (how tune/bench counted before). With -bin (as `make
// bench-precision` runs it) each server is its own process, as in trials.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sim"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

func main() {
	seconds := flag.Float64("seconds", 5, "max_seconds of each run")
	repeats := flag.Int("repeats", 5, "runs of one configuration, for the coefficient of variation")
	pairs := flag.Int("pairs", 20, "pairs of runs of the two configurations, for the ranking")
	gap := flag.Float64("gap", 0.03, "how much faster the second configuration truly is")
	rate := flag.Int("rate", 128, "requests in flight (the quickstart's 128)")
	speedup := flag.Float64("speedup", 1, "the simulator's --sim-speedup (the quickstart's 1: a 5 s run is then 5 s of simulated GPU time, as a 5 s run on a GPU is; at 4 it holds 20 s of it)")
	stagger := flag.Bool("stagger", true, "stagger each stream's first request (bench.Options.Stagger), as trials do")
	bin := flag.String("bin", "", "run each server as `auto-tune-vllm simulate` from this binary, in its own process as trials do (default: inside this one)")
	flag.Parse()
	ctx := context.Background()
	// The quickstart's workload and simulator speed; the second server runs
	// simulated time gap faster, so its true throughput is exactly that much
	// higher whatever the engine does.
	start := inProcess
	if *bin != "" {
		start = func(ctx context.Context, speedup float64) string { return subprocess(ctx, *bin, speedup) }
	}
	a := start(ctx, *speedup)
	b := start(ctx, *speedup*(1+*gap))
	run := func(url string, seed uint64) (window, completed float64) {
		s, err := bench.Run(ctx, bench.Options{BaseURL: url, Model: "sim-8b", Concurrency: *rate, Duration: time.Duration(*seconds * float64(time.Second)),
			Prompt: bench.TokenDist{Mean: 512}, Output: bench.TokenDist{Mean: 128}, Seed: seed, KeepRecords: true, Stagger: *stagger})
		if err != nil {
			fail(err)
		}
		return s.Metrics[metric.Stat(metric.OutputThroughput, metric.Mean)], completedOnly(s, *seconds)
	}

	fmt.Printf("## One configuration, %d runs of %g s (simulator at %gx, %d streams, 512+128 tokens, stagger %v)\n\n", *repeats, *seconds, *speedup, *rate, *stagger)
	var win, done []float64
	for i := 0; i < *repeats; i++ {
		w, c := run(a, uint64(i+1))
		win, done = append(win, w), append(done, c)
	}
	fmt.Println("| estimator | output tok/s of each run | coefficient of variation |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| tokens inside the window (now) | %s | %.2f %% |\n", list(win), 100*cov(win))
	fmt.Printf("| requests completed inside it (before) | %s | %.2f %% |\n", list(done), 100*cov(done))

	fmt.Printf("\n## Two configurations %.0f %% apart, %d pairs of runs\n\n", 100**gap, *pairs)
	rightWin, rightDone := 0, 0
	for i := 0; i < *pairs; i++ {
		// Alternate which goes first, so drift hits both alike.
		var wa, ca, wb, cb float64
		if i%2 == 0 {
			wa, ca = run(a, uint64(100+i))
			wb, cb = run(b, uint64(100+i))
		} else {
			wb, cb = run(b, uint64(100+i))
			wa, ca = run(a, uint64(100+i))
		}
		if wb > wa {
			rightWin++
		}
		if cb > ca {
			rightDone++
		}
	}
	fmt.Println("| estimator | ranked correctly |")
	fmt.Println("|---|---|")
	fmt.Printf("| tokens inside the window (now) | %d of %d (%.0f %%) |\n", rightWin, *pairs, 100*float64(rightWin)/float64(*pairs))
	fmt.Printf("| requests completed inside it (before) | %d of %d (%.0f %%) |\n", rightDone, *pairs, 100*float64(rightDone)/float64(*pairs))
}

func simArgs(speedup float64) []string {
	return []string{"sim-8b", "--sim-startup-seconds", "0", "--sim-speedup", strconv.FormatFloat(speedup, 'g', -1, 64)}
}

func inProcess(ctx context.Context, speedup float64) string {
	cfg, err := sim.ParseArgs(append(simArgs(speedup), "--port", "0"))
	if err != nil {
		fail(err)
	}
	s, err := sim.Start(ctx, cfg, io.Discard)
	if err != nil {
		fail(err)
	}
	return "http://" + s.Addr()
}

// subprocess starts `bin simulate` on a free port and waits until it
// answers; the process ends with this program (proc's parent-death signal).
func subprocess(ctx context.Context, bin string, speedup float64) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	argv := append([]string{bin, "simulate"}, simArgs(speedup)...)
	if _, err := proc.Start(proc.Spec{Argv: append(argv, "--host", "127.0.0.1", "--port", strconv.Itoa(port)), Output: io.Discard}); err != nil {
		fail(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(url + "/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return url
			}
		}
	}
	fail(fmt.Errorf("%s did not answer on %s", strings.Join(argv, " "), url))
	return ""
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// completedOnly is the earlier estimator: output tokens of the requests that
// completed before the end, over the whole run.
func completedOnly(s *bench.Summary, seconds float64) float64 {
	tokens := 0
	for _, r := range s.Records {
		if r.Err == "" {
			tokens += r.OutputTokens
		}
	}
	return float64(tokens) / seconds
}

func cov(xs []float64) float64 { return stats.StdDev(xs) / stats.Mean(xs) }

func list(xs []float64) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += strconv.FormatFloat(x, 'f', 0, 64)
	}
	return out
}
