package trial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
)

// Spec is everything one trial needs.
type Spec struct {
	Number int
	// Server is the command template, with {model} where the model goes
	// (filled in by Argv); empty means no server (the benchmark command is
	// then the whole trial).
	Server         []string
	Model          string
	Host           string // default 127.0.0.1
	NoHostArg      bool   // do not pass --host (servers that lack it)
	ReadinessPath  string // default /health
	StartupTimeout time.Duration
	Flags          []Flag   // static, then baseline or sampled
	EnvVars        []Flag   // static environment, then environment parameters
	BaseEnv        []string // the server's base environment (ours, in production)
	// LogDir receives server.log and benchmark.log.
	LogDir string
	// Bench configures the load; BaseURL and Model are filled in here.
	Bench bench.Options
	// BenchCommand, if set, replaces the built-in benchmark by a user's
	// command (see runCommand). With no Server, it is the whole trial.
	BenchCommand []string
	// External, if set, measures with GuideLLM or vllm bench instead.
	External *External
	// Repeats runs the benchmark this many times against the same server
	// (0 or 1: once).
	Repeats int
	// StopGrace is how long the server gets after SIGTERM (default 30 s).
	StopGrace time.Duration
	Logger    *slog.Logger
	// Observe, if set, hears the trial's phases and, from the built-in
	// benchmark, its metrics every second; it may stop the benchmark.
	Observe Observer
}

// Failure is why a trial produced no metrics.
type Failure struct {
	Class   string
	Message string
	Tail    string // the server's last output
}

func (f *Failure) Error() string { return f.Class + ": " + f.Message }

// Result is what a trial produced.
type Result struct {
	Command []string
	Metrics map[string]float64 // nil on failure
	Failure *Failure
	Startup time.Duration
	Bench   time.Duration
	Total   time.Duration
	Start   time.Time
	End     time.Time
	LogDir  string
	// Stopped: the observer stopped the benchmark early; Metrics hold what
	// was measured until then.
	Stopped bool
	// Runs holds each benchmark run's metrics (Spec.Repeats of them, fewer
	// if stopped); Metrics are their means.
	Runs []map[string]float64
}

// Run runs the trial. Server and benchmark failures come back in
// Result.Failure; the error is for ours (no free port, unwritable log dir)
// and for cancellation, after the server is stopped either way.
func Run(ctx context.Context, s Spec) (*Result, error) {
	if s.Host == "" {
		s.Host = "127.0.0.1"
	}
	if s.ReadinessPath == "" {
		s.ReadinessPath = "/health"
	}
	if s.StartupTimeout <= 0 {
		s.StartupTimeout = 300 * time.Second
	}
	if s.StopGrace <= 0 {
		s.StopGrace = 30 * time.Second
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := &Result{Start: time.Now(), LogDir: s.LogDir}
	defer func() {
		res.End = time.Now()
		res.Total = res.End.Sub(res.Start)
	}()
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		return res, fmt.Errorf("trial %d: log dir: %w", s.Number, err)
	}
	if len(s.Server) == 0 {
		if len(s.BenchCommand) == 0 {
			return res, errors.New("trial: neither a server nor a benchmark command")
		}
		t1 := time.Now()
		res.Command = s.BenchCommand
		res.Metrics, res.Failure = runCommand(ctx, s, "")
		res.Bench = time.Since(t1)
		if res.Failure != nil && ctx.Err() != nil {
			return res, context.Cause(ctx)
		}
		return res, nil
	}
	port, err := freePort(s.Host)
	if err != nil {
		return res, fmt.Errorf("trial %d: %w", s.Number, err)
	}
	hostArg := s.Host
	if s.NoHostArg {
		hostArg = ""
	}
	res.Command = Argv(s.Server, s.Model, s.Flags, hostArg, port)
	log.Info("starting server", "trial", s.Number, "command", proc.Quote(res.Command))
	s.Observe.tell(Event{Phase: Starting, Elapsed: time.Since(res.Start)})
	p, err := proc.Start(proc.Spec{Argv: res.Command, Env: Env(s.BaseEnv, s.EnvVars), LogFile: filepath.Join(s.LogDir, "server.log"), TailLines: quoteLines})
	if err != nil {
		res.Failure = &Failure{Class: Crash, Message: err.Error()}
		return res, nil
	}
	// Stopped on every path, even after cancellation.
	defer func() {
		s.Observe.tell(Event{Phase: Stopping, Elapsed: time.Since(res.Start)})
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.StopGrace+30*time.Second)
		defer cancel()
		if err := p.Stop(sctx, s.StopGrace); err != nil {
			log.Warn("stopping the server failed", "trial", s.Number, "error", err)
		}
	}()

	base := "http://" + net.JoinHostPort(s.Host, strconv.Itoa(port))
	t0 := time.Now()
	if f := waitReady(ctx, p, base+s.ReadinessPath, s.StartupTimeout); f != nil {
		res.Startup = time.Since(t0)
		if ctx.Err() != nil {
			return res, context.Cause(ctx)
		}
		res.Failure = f
		return res, nil
	}
	res.Startup = time.Since(t0)

	// A server that dies mid-benchmark ends the benchmark at once.
	bctx, bcancel := context.WithCancelCause(ctx)
	defer bcancel(nil)
	go func() {
		select {
		case <-p.Done():
			bcancel(errors.New("the server exited during the benchmark"))
		case <-bctx.Done():
		}
	}()
	t1 := time.Now()
	defer func() { res.Bench = time.Since(t1) }()
	m := &measurer{s: s, base: base, start: res.Start, tail: p.Tail}
	repeats := max(s.Repeats, 1)
	for i := range repeats {
		metrics, f := m.once(bctx, i, repeats)
		if p.Exited() {
			res.Failure = serverExited(p, "during the benchmark")
			return res, nil
		}
		if f != nil {
			if ctx.Err() != nil {
				return res, context.Cause(ctx)
			}
			res.Failure = f
			return res, nil
		}
		res.Runs = append(res.Runs, metrics)
		if m.stopped {
			break
		}
	}
	res.Metrics, res.Stopped = MeanOfRuns(res.Runs), m.stopped
	return res, nil
}

// measurer runs a trial's benchmark against its ready server, once per
// repeat; the observer's steps go on counting across repeats.
type measurer struct {
	s       Spec
	base    string
	start   time.Time
	tail    func() string // the server's last output, quoted by a failure
	step    int
	stopped bool // the observer stopped the last run
}

// once runs the benchmark the i-th time of n.
func (m *measurer) once(ctx context.Context, i, n int) (map[string]float64, *Failure) {
	s := m.s
	// A benchmark program instead of the built-in load generator.
	switch {
	case len(s.BenchCommand) > 0:
		return runCommand(ctx, s, m.base)
	case s.External != nil:
		return runExternal(ctx, s, m.base)
	}
	b := s.Bench
	b.BaseURL, b.Model = m.base, s.Model
	// Each repeat draws its own requests: repeats sample the workload, not
	// one draw of it.
	b.Seed += uint64(i) << 32
	b.Progress = m.progress(b.Warmup > 0)
	// Steps are whole seconds of measurement, looked at five times a second
	// so a step is reported (and a losing trial stopped) soon after it ends.
	b.StepLength = time.Second
	if b.ProgressEvery == 0 {
		b.ProgressEvery = 200 * time.Millisecond
	}
	phase := Benchmarking
	if b.Warmup > 0 {
		phase = WarmingUp
	}
	s.Observe.tell(Event{Phase: phase, Elapsed: time.Since(m.start)})
	sum, err := bench.Run(ctx, b)
	if err != nil {
		return nil, &Failure{Class: BenchmarkFailed, Message: err.Error(), Tail: m.tail()}
	}
	writeBenchLog(filepath.Join(s.LogDir, "benchmark.log"), sum, i, n)
	// A run stopped early (pruned) may end before any request did: its
	// throughput counts the tokens that arrived, so only errors fail it.
	if sum.Requests == 0 && (!sum.Stopped || sum.Errors > 0) {
		msg := "no request succeeded"
		if sum.FirstError != "" {
			msg += ": " + sum.FirstError
		}
		return nil, &Failure{Class: BenchmarkFailed, Message: msg, Tail: m.tail()}
	}
	m.stopped = sum.Stopped
	return sum.Metrics, nil
}

// progress turns the benchmark's snapshots into the observer's events: the
// end of warm-up, then the metrics so far at each whole second measured
// (counted on from the repeats before).
func (m *measurer) progress(warm bool) func(bench.Snapshot) bool {
	o := m.s.Observe
	if o == nil {
		return nil
	}
	base := m.step
	return func(snap bench.Snapshot) bool {
		if snap.Warmup {
			return false
		}
		if warm {
			warm = false
			if o(Event{Phase: Benchmarking, Elapsed: time.Since(m.start)}) {
				return true
			}
		}
		if base+snap.Step <= m.step {
			return false
		}
		m.step = base + snap.Step
		return o(Event{Phase: Benchmarking, Step: m.step, Elapsed: time.Since(m.start), Metrics: snap.Metrics})
	}
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls the readiness URL until it answers 200. The server exiting
// first is an immediate failure, classified from its output.
func waitReady(ctx context.Context, p *proc.Process, url string, timeout time.Duration) *Failure {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.Exited() {
			return serverExited(p, "before it was ready")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return &Failure{Class: Interrupted, Message: "interrupted before the server was ready"}
		case <-deadline.C:
			return &Failure{Class: NotReady, Message: fmt.Sprintf("the server was not ready after %s", timeout), Tail: p.Tail()}
		case <-p.Done():
		case <-tick.C:
		}
	}
}

// classifyLines is how much of a failed server's output is searched for its
// cause. vLLM prints the cause (an engine core's traceback) and then the API
// server's own traceback, 60-odd lines ending in "Engine core initialization
// failed. See root cause above."; with several workers or a newer Python,
// more. The failure quotes only the tail.
const classifyLines = 400

// quoteLines is how much of a failed server's output its failure quotes.
const quoteLines = 40

// serverExited is the failure of a server that exited when it should not
// have, classified from its output, read once.
func serverExited(p *proc.Process, when string) *Failure {
	out := p.LastLines(classifyLines)
	tail := proc.NewTail(quoteLines)
	tail.Write([]byte(out))
	return &Failure{Class: Classify(out), Message: fmt.Sprintf("the server exited %s (%s)", when, exitText(p)), Tail: strings.TrimRight(tail.String(), "\n")}
}

func exitText(p *proc.Process) string {
	if c := p.ExitCode(); c >= 0 {
		return "exit status " + strconv.Itoa(c)
	}
	return "killed by a signal"
}

// writeBenchLog writes the i-th run's summary of n to benchmark.log (the
// first truncates it).
func writeBenchLog(path string, s *bench.Summary, i, n int) {
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if i > 0 {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	if n > 1 {
		fmt.Fprintf(f, "# run %d of %d\n", i+1, n)
	}
	fmt.Fprintf(f, "duration %s, %d requests, %d errors, %d incomplete, %d dropped\n", s.Duration, s.Requests, s.Errors, s.Incomplete, s.Dropped)
	if s.FirstError != "" {
		fmt.Fprintf(f, "first error: %s\n", s.FirstError)
	}
	keys := make([]string, 0, len(s.Metrics))
	for k := range s.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(f, "%s %g\n", k, s.Metrics[k])
	}
}
