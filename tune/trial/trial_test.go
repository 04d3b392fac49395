package trial

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
)

func TestArgv(t *testing.T) {
	t.Parallel()
	got := Argv([]string{"vllm", "serve", "{model}"}, "Qwen/Qwen3-8B", []Flag{
		{"max_num_seqs", int64(64)}, {"gpu_memory_utilization", 0.9}, {"enable_prefix_caching", true},
		{"enable_chunked_prefill", false}, {"kv_cache_dtype", "fp8"}, {"max_model_len", 8192.0},
		{"compilation_config", map[string]any{"level": 3}}, {"max_num_seqs", int64(128)},
	}, "127.0.0.1", 8123)
	want := "vllm serve Qwen/Qwen3-8B --max-num-seqs 64 --gpu-memory-utilization 0.9 --enable-prefix-caching --no-enable-chunked-prefill " +
		`--kv-cache-dtype fp8 --max-model-len 8192 --compilation-config {"level":3} --max-num-seqs 128 --host 127.0.0.1 --port 8123`
	if strings.Join(got, " ") != want {
		t.Errorf("argv\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	env := Env([]string{"PATH=/bin", "VLLM_ATTENTION_BACKEND=X"}, []Flag{{"VLLM_ATTENTION_BACKEND", "FLASH_ATTN"}, {"VLLM_STARTUP_TIMEOUT", "600"}})
	if strings.Join(env, " ") != "PATH=/bin VLLM_ATTENTION_BACKEND=FLASH_ATTN VLLM_STARTUP_TIMEOUT=600" {
		t.Errorf("env %v", env)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for tail, want := range map[string]string{
		"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate":                               OOM,
		"ValueError: No available memory for the cache blocks.":                                       KVCache,
		"(2.00 GiB KV cache is needed, which is larger than the available KV cache memory":            KVCache,
		"vllm: error: unrecognized arguments: --num-scheduler-steps 8":                                UnknownFlag,
		"ValueError: max_num_batched_tokens (256) must be greater than or equal to max_num_seqs":      InvalidCombination,
		"Free memory on device (3.2/79.1 GiB) on startup is less than desired GPU memory utilization": GPUBusy,
		"Segmentation fault (core dumped)":                                                            Crash,
		"GiB) exceed the desired GPU memory utilization (0.9, 71.27 GiB). Increase GPU memory":        GPUBusy,
		"AssertionError: Error in memory profiling. Initial free memory 70.1 GiB":                     GPUBusy,
		"vllm serve: error: ambiguous option: --max-num could match --max-num-seqs":                   UnknownFlag,
		"Input should be greater than or equal to 1 [type=greater_than_equal, input_value=0":          UnknownFlag,
		"NotImplementedError: Pipeline parallelism is not supported for this model.":                  InvalidCombination,
		"Value error, max_num_batched_tokens (2048) is smaller than max_model_len (32768)":            InvalidCombination,
	} {
		if got := Classify(tail); got != want {
			t.Errorf("%q: %s, want %s", tail, got, want)
		}
	}
	if !Infeasible(OOM) || !Infeasible(KVCache) || Infeasible(UnknownFlag) || Infeasible(Crash) {
		t.Error("infeasible classes")
	}
}

var binary string

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "atv-trial")
	binary = filepath.Join(dir, "auto-tune-vllm")
	if out, err := exec.Command("go", "build", "-o", binary, "../../cmd/auto-tune-vllm").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// spec runs the simulator under a unique model name, so leftovers can be found.
func spec(t *testing.T, server []string, flags ...Flag) Spec {
	model := fmt.Sprintf("trialtest-%d", rand.Int64())
	if server == nil {
		server = []string{binary, "simulate", "{model}", "--sim-speedup", "20", "--sim-startup-seconds", "0.2"}
	}
	return Spec{Number: 1, Server: server, Model: model, StartupTimeout: 20 * time.Second, Flags: flags,
		BaseEnv: os.Environ(), LogDir: filepath.Join(t.TempDir(), "trial_1"), StopGrace: 5 * time.Second,
		Bench: bench.Options{Concurrency: 4, MaxRequests: 16, Prompt: bench.TokenDist{Mean: 64}, Output: bench.TokenDist{Mean: 16}}}
}

func noLeftovers(t *testing.T, model string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// An unreadable process table must fail the check, not pass it.
		snap, err := proc.Snapshot(context.Background())
		if err != nil {
			t.Fatalf("looking for leftover processes: %v", err)
		}
		var left []string
		for _, p := range snap {
			if !p.Zombie && strings.Contains(p.CommandLine(), model) {
				left = append(left, p.CommandLine())
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRunSimulator(t *testing.T) {
	t.Parallel()
	s := spec(t, nil, Flag{"max_num_seqs", int64(8)}, Flag{"enable_chunked_prefill", true})
	res, err := Run(context.Background(), s)
	if err != nil || res.Failure != nil {
		t.Fatalf("%v %+v", err, res.Failure)
	}
	if res.Metrics[metric.OutputThroughput+"_mean"] <= 0 || res.Metrics["requests"] != 16 || res.Startup <= 0 || res.Bench <= 0 {
		t.Errorf("metrics %v startup %v bench %v", res.Metrics, res.Startup, res.Bench)
	}
	log, _ := os.ReadFile(filepath.Join(s.LogDir, "server.log"))
	if !strings.Contains(string(log), "Application startup complete") {
		t.Errorf("server.log:\n%s", log)
	}
	if b, err := os.ReadFile(filepath.Join(s.LogDir, "benchmark.log")); err != nil || !strings.Contains(string(b), "output_tokens_per_second_mean") {
		t.Errorf("benchmark.log: %v\n%s", err, b)
	}
	noLeftovers(t, s.Model)
}

// Repeats measure the same server again: one start, three runs, the
// metrics their means, the server's log shows one start-up.
func TestRunRepeats(t *testing.T) {
	t.Parallel()
	s := spec(t, nil)
	s.Repeats = 3
	steps := []int{}
	s.Observe = func(e Event) bool {
		if e.Intermediate() {
			steps = append(steps, e.Step)
		}
		return false
	}
	s.Bench.MaxRequests, s.Bench.Duration = 0, 1500*time.Millisecond
	res, err := Run(context.Background(), s)
	if err != nil || res.Failure != nil {
		t.Fatalf("%v %+v", err, res.Failure)
	}
	if len(res.Runs) != 3 {
		t.Fatalf("%d runs", len(res.Runs))
	}
	key := metric.OutputThroughput + "_mean"
	sum := 0.0
	for _, r := range res.Runs {
		sum += r[key]
	}
	if got := res.Metrics[key]; got <= 0 || math.Abs(got-sum/3) > 1e-9 {
		t.Errorf("%s = %v, want the runs' mean %v", key, got, sum/3)
	}
	log, _ := os.ReadFile(filepath.Join(s.LogDir, "server.log"))
	if n := strings.Count(string(log), "Application startup complete"); n != 1 {
		t.Errorf("server started %d times", n)
	}
	b, _ := os.ReadFile(filepath.Join(s.LogDir, "benchmark.log"))
	if !strings.Contains(string(b), "# run 1 of 3") || !strings.Contains(string(b), "# run 3 of 3") {
		t.Errorf("benchmark.log:\n%s", b)
	}
	// The intermediate values' steps go on across the runs.
	for i := 1; i < len(steps); i++ {
		if steps[i] != steps[i-1]+1 {
			t.Errorf("steps %v", steps)
			break
		}
	}
	noLeftovers(t, s.Model)
}

// A run stopped by its observer (the pruner) before any request finished is
// a stopped trial with the throughput measured so far, not a failed one.
func TestRunStoppedBeforeARequestEnds(t *testing.T) {
	t.Parallel()
	s := spec(t, nil)
	s.Bench.MaxRequests, s.Bench.Duration = 0, time.Minute
	s.Bench.Output = bench.TokenDist{Mean: 40000} // about 15 s at this speed, steps are whole seconds
	s.Bench.ProgressEvery = 200 * time.Millisecond
	s.Observe = func(e Event) bool { return e.Intermediate() && e.Step >= 2 }
	res, err := Run(context.Background(), s)
	if err != nil || res.Failure != nil {
		t.Fatalf("%v %+v", err, res.Failure)
	}
	if !res.Stopped || res.Metrics["requests"] != 0 || res.Metrics[metric.OutputThroughput+"_mean"] <= 0 || res.Bench > 30*time.Second {
		t.Errorf("stopped %v, metrics %v, bench %v", res.Stopped, res.Metrics, res.Bench)
	}
	noLeftovers(t, s.Model)
}

// takenPort holds a port open for the rest of the test.
func takenPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		server     []string
		flags      []Flag
		readiness  string
		class      string
		infeasible bool
	}{
		{"infeasible at start", nil, []Flag{{"gpu_memory_utilization", 0.2}}, "", KVCache, true},
		{"invalid combination", nil, []Flag{{"max_num_seqs", int64(512)}, {"max_num_batched_tokens", int64(256)}}, "", InvalidCombination, true},
		{"unknown flag", nil, []Flag{{"max_num_seqz", int64(4)}}, "", UnknownFlag, false},
		{"never ready", nil, nil, "/not-here", NotReady, false},
		{"port taken", []string{"sh", "-c", `exec "$0" simulate "$@" --port ` + takenPort(t), binary, "{model}", "--sim-startup-seconds", "0.1"}, nil, "", PortInUse, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec(t, tt.server, tt.flags...)
			s.ReadinessPath = tt.readiness
			if tt.class == NotReady {
				s.StartupTimeout = time.Second
			}
			res, err := Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if res.Failure == nil || res.Failure.Class != tt.class || Infeasible(res.Failure.Class) != tt.infeasible {
				t.Fatalf("failure %+v, want %s", res.Failure, tt.class)
			}
			noLeftovers(t, s.Model)
		})
	}
}

// A server that dies while the benchmark runs fails the trial as a crash
// "during the benchmark", and the benchmark ends then, not at its duration.
// The server is killed once it serves requests, however long it took to
// start.
func TestRunServerDiesMidBenchmark(t *testing.T) {
	t.Parallel()
	server, pidfile := watchedServer(t, "--sim-speedup", "0.05")
	s := spec(t, server)
	s.Bench = bench.Options{Concurrency: 2, Duration: 2 * time.Minute, Output: bench.TokenDist{Mean: 64}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	killed := make(chan error, 1)
	go func() {
		pid, err := whenServing(ctx, pidfile)
		if err == nil {
			err = syscall.Kill(pid, syscall.SIGKILL)
		}
		killed <- err
	}()
	res, err := Run(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-killed; err != nil {
		t.Fatalf("the server was never seen serving: %v", err)
	}
	if res.Failure == nil || res.Failure.Class != Crash || !strings.Contains(res.Failure.Message, "during the benchmark") {
		t.Errorf("failure %+v, want a crash during the benchmark", res.Failure)
	}
	if res.Bench >= s.Bench.Duration {
		t.Errorf("the benchmark ran its whole %v after the server died", res.Bench)
	}
	noLeftovers(t, s.Model)
}

// Cancelling a trial mid-benchmark returns an error at once (well before
// the benchmark's duration) and leaves no process behind.
func TestRunCancelled(t *testing.T) {
	t.Parallel()
	server, pidfile := watchedServer(t, "--sim-speedup", "20")
	s := spec(t, server)
	s.Bench = bench.Options{Concurrency: 2, Duration: 2 * time.Minute, Output: bench.TokenDist{Mean: 16}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan error, 1)
	go func() {
		_, err := whenServing(ctx, pidfile)
		cancel()
		seen <- err
	}()
	res, err := Run(ctx, s)
	cancel() // ends the watcher if the trial ended before it saw requests
	if serr := <-seen; serr != nil {
		t.Fatalf("the server was never seen serving: %v", serr)
	}
	if err == nil {
		t.Fatal("a cancelled trial returned no error")
	}
	if res.Bench >= s.Bench.Duration {
		t.Errorf("the cancelled benchmark ran its whole %v", res.Bench)
	}
	noLeftovers(t, s.Model)
}

// watchedServer wraps the simulator in a shell that writes the simulator's
// PID and arguments (which end in --port N) to the returned file.
func watchedServer(t *testing.T, simArgs ...string) ([]string, string) {
	pidfile := filepath.Join(t.TempDir(), "server.pid")
	script := `"$0" simulate "$@" & echo "$! $*" > '` + pidfile + `'; wait`
	return append([]string{"sh", "-c", script, binary, "{model}", "--sim-startup-seconds", "0.1"}, simArgs...), pidfile
}

// whenServing waits until the server of a watchedServer has a request in
// flight (its metrics say so) and returns its PID. It runs beside the test
// and ends with ctx (the trial returning first is an error).
func whenServing(ctx context.Context, pidfile string) (int, error) {
	var pid, port int
	for ctx.Err() == nil {
		if b, err := os.ReadFile(pidfile); err == nil && strings.HasSuffix(string(b), "\n") {
			f := strings.Fields(string(b))
			pid, _ = strconv.Atoi(f[0])
			port, _ = strconv.Atoi(f[len(f)-1])
			if pid > 0 && port > 0 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	for ctx.Err() == nil {
		if runningRequests(ctx, url) > 0 {
			return pid, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("waiting for requests on %s: %w", url, ctx.Err())
}

// runningRequests reads vllm:num_requests_running from a metrics page (0 if
// it cannot).
func runningRequests(ctx context.Context, url string) float64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "vllm:num_requests_running") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return 0
}

func TestBenchmarkCommand(t *testing.T) {
	t.Parallel()
	script := func(body string) []string { return []string{"sh", "-c", body, "bench-cmd"} }
	tests := []struct {
		name    string
		server  bool
		command []string
		metric  string
		want    float64
		fail    string
	}{
		{"whole trial", false, script(`grep -q '"max_num_seqs": 8' "$ATV_PARAMS_FILE" && test "$1" = --max-num-seqs && echo progress >&2 && echo '{"output_tokens_per_second_mean": 42.5, "note": "x"}'`), "output_tokens_per_second_mean", 42.5, ""},
		{"with a server", true, script(`case "$ATV_URL" in http://127.0.0.1:*) echo '{"request_latency": 0.25}';; esac`), "request_latency", 0.25, ""},
		{"url placeholder", true, []string{"sh", "-c", `echo "{\"url_length\": ${#0}}"`, "{url}"}, "url_length", 0, ""},
		{"command fails", false, script(`echo boom >&2; exit 3`), "", 0, "exit status 3"},
		{"no metrics", false, script(`echo not json`), "", 0, "printed no metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec(t, nil, Flag{Name: "max_num_seqs", Value: int64(8)})
			s.BenchCommand = tt.command
			if !tt.server {
				s.Server = nil
			}
			res, err := Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if tt.fail != "" {
				if res.Failure == nil || res.Failure.Class != BenchmarkFailed || !strings.Contains(res.Failure.Message, tt.fail) {
					t.Fatalf("failure %+v, want %q", res.Failure, tt.fail)
				}
				return
			}
			if res.Failure != nil {
				t.Fatalf("%+v\n%s", res.Failure, res.Failure.Tail)
			}
			got, ok := res.Metrics[tt.metric]
			if !ok || (tt.want != 0 && got != tt.want) || (tt.metric == "url_length" && got < 20) {
				t.Errorf("metrics %v", res.Metrics)
			}
			if log, _ := os.ReadFile(filepath.Join(s.LogDir, "benchmark.log")); tt.name == "whole trial" && !strings.Contains(string(log), "progress") {
				t.Errorf("benchmark.log: %q", log)
			}
			noLeftovers(t, s.Model)
		})
	}
}
