package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sim"
)

// The bench command against the simulator: the metrics a trial records,
// with the interval of the throughput's mean, as JSON and as text.
func TestBench(t *testing.T) {
	t.Parallel()
	cfg, err := sim.ParseArgs([]string{"bench-model", "--port", "0", "--sim-speedup", "20", "--sim-startup-seconds", "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := sim.Start(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + srv.Addr()
	args := []string{"bench", "--url", url, "--model", "bench-model", "--rate", "4", "--max-seconds", "3", "--prompt-tokens", "64", "--output-tokens", "32"}

	code, out, stderr := runCLI(t, nil, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mean := r.Metrics[metric.Stat(metric.OutputThroughput, metric.Mean)]
	lo, hasLo := r.Metrics[metric.Stat(metric.OutputThroughput, metric.CI95Low)]
	hi := r.Metrics[metric.Stat(metric.OutputThroughput, metric.CI95High)]
	if r.Requests == 0 || r.Errors != 0 || mean <= 0 || r.MeasuredSeconds <= 2 || r.MeasuredSeconds > 3 {
		t.Errorf("result %+v", r)
	}
	if !hasLo || !(lo <= mean && mean <= hi) {
		t.Errorf("95 %% interval [%v, %v] of mean %v", lo, hi, mean)
	}
	if _, ok := r.Metrics[metric.Stat(metric.TTFT, metric.P95)]; !ok {
		t.Errorf("no TTFT p95 in %v", r.Metrics)
	}

	code, out, stderr = runCLI(t, nil, args...)
	if code != 0 || !strings.Contains(out, "output tok/s") || !strings.Contains(out, "TTFT ms") || !strings.Contains(out, "requests completed") {
		t.Errorf("text: exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestBenchUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "127.0.0.1:8000", "--model", "m"}, "give the server's base URL"},
		{[]string{"--url", "http://127.0.0.1:1", "--model", "m", "--rate", "0"}, "at least one request must be in flight"},
		{[]string{"--url", "http://127.0.0.1:1", "--model", "m", "--max-seconds", "0"}, "the run needs an end"},
		{[]string{"--url", "http://127.0.0.1:1"}, "missing flags: --model"},
	} {
		code, _, stderr := runCLI(t, nil, append([]string{"bench"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}
