package tune

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench/external"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// RunOptions configure a study run.
type RunOptions struct {
	Config  *config.Study
	Study   *study.Study
	Backend Backend
	// Concurrency caps trials at once (default: the config's max_concurrent_trials).
	Concurrency int
	// MaxConsecutiveFailures stops the study after that many failed or
	// infeasible trials in a row (default 10).
	MaxConsecutiveFailures int
	LogDir                 string   // default ./logs; trials log under <LogDir>/<study>/trial_<n>
	BaseEnv                []string // the servers' base environment
	// Remote: trials run on other machines (Ray), whose tools are not
	// this machine's; they detect them themselves.
	Remote bool
	Logger *slog.Logger
	// Observer, if set, hears every running trial's events (phases, metrics
	// so far); returning true stops that trial's benchmark, and the trial is
	// stored PRUNED with what it measured.
	Observer func(number int, e trial.Event) (stop bool)
}

// ErrTooManyFailures stops a study whose trials keep failing.
var ErrTooManyFailures = errors.New("too many consecutive failed trials")

// Run runs the baseline (once per concurrency level, if not already done)
// and then trials until n_trials have completed, the space is exhausted,
// too many trials fail in a row, or ctx ends.
func Run(ctx context.Context, o RunOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LogDir == "" {
		o.LogDir = "logs"
	}
	if o.MaxConsecutiveFailures <= 0 {
		o.MaxConsecutiveFailures = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = max(o.Config.MaxConcurrent, 1)
	}
	slots, err := o.Backend.Slots(ctx)
	if err != nil {
		return err
	}
	if slots < o.Concurrency {
		o.Logger.Warn(fmt.Sprintf("%d trials at once were asked for, but only %d fit; running %d at a time", o.Concurrency, slots, slots))
		o.Concurrency = slots
	}
	r := &runner{o: o, log: o.Logger}
	if b := o.Config.Benchmark; b.Dataset != "" && b.Type == "builtin" {
		d, err := bench.LoadDataset(b.Dataset)
		if err != nil {
			return fmt.Errorf("%s: benchmark.dataset: %w", o.Config.File, err)
		}
		r.dataset = d
	}
	if b := o.Config.Benchmark; b.Type == external.GuideLLM && !o.Remote {
		// The installed GuideLLM does not change during a study: ask once.
		// On failure every trial asks again and fails with the reason.
		if cli, f := trial.DetectGuideLLM(ctx, b.Executable, o.BaseEnv); f == nil {
			r.guideLLMCLI = &cli
		}
	}
	if err := r.baselines(ctx); err != nil {
		return err
	}
	return r.trials(ctx)
}

type runner struct {
	dataset     *bench.Dataset        // benchmark.dataset, read once
	guideLLMCLI *external.GuideLLMCLI // detected once per study
	o           RunOptions
	log         *slog.Logger

	mu          sync.Mutex
	consecutive int
}

func (r *runner) baselines(ctx context.Context) error {
	cfg := r.o.Config
	if cfg.Baseline == nil {
		return nil
	}
	trials, err := r.o.Study.Trials(ctx)
	if err != nil {
		return err
	}
	done := map[int]bool{}
	for _, t := range trials {
		if t.Kind() == study.Baseline && t.State == study.Complete {
			done[t.BaselineConcurrency()] = true
		}
	}
	for _, c := range cfg.Baseline.ConcurrencyLevels {
		if done[c] {
			continue // not re-run on resume
		}
		a, err := r.o.Study.AskBaseline(ctx, c)
		if err != nil {
			return err
		}
		r.log.Info("Running baseline (vLLM defaults)", "trial", a.Number, "concurrency", c)
		flags := append(values(cfg.Static), values(cfg.Baseline.Parameters)...)
		if err := r.runOne(ctx, a, flags, nil, c); err != nil {
			return err
		}
	}
	return nil
}

func values(vs []config.Value) []trial.Flag {
	out := make([]trial.Flag, len(vs))
	for i, v := range vs {
		out[i] = trial.Flag{Name: v.Name, Value: v.Value}
	}
	return out
}

func (r *runner) trials(ctx context.Context) error {
	cfg := r.o.Config
	// Only this loop counts trials in flight; workers report on finished.
	finished := make(chan struct{}, r.o.Concurrency)
	inFlight := 0
	var mu sync.Mutex
	var stopErr error
	stop := func(err error) {
		mu.Lock()
		if stopErr == nil {
			stopErr = err
		}
		mu.Unlock()
	}
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return stopErr != nil || ctx.Err() != nil
	}
	// settle waits for one running trial to finish; false when none runs.
	settle := func() bool {
		if inFlight == 0 {
			return false
		}
		<-finished
		inFlight--
		return true
	}
	for {
		if stopped() {
			if !settle() {
				break
			}
			continue
		}
		trials, err := r.o.Study.Trials(ctx)
		if err != nil {
			stop(err)
			continue
		}
		if cfg.NTrials-study.Completed(trials)-inFlight <= 0 || inFlight >= r.o.Concurrency {
			if !settle() {
				break
			}
			continue
		}
		a, err := r.o.Study.Ask(ctx)
		if err != nil {
			if errors.Is(err, sampler.ErrExhausted) {
				r.log.Info("Every configuration of the search space has been tried")
			}
			stop(err)
			continue
		}
		if a.Duplicate != nil {
			r.log.Info("Configuration already tried; reusing its result", "trial", a.Number, "same_as", a.Duplicate.Number)
			if err := r.o.Study.TellDuplicate(ctx, a); err != nil {
				stop(err)
			}
			continue
		}
		inFlight++
		go func() {
			defer func() { finished <- struct{}{} }()
			flags, env := r.flags(a)
			if err := r.runOne(ctx, a, flags, env, 0); err != nil {
				stop(err)
			}
		}()
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if errors.Is(stopErr, sampler.ErrExhausted) {
		return nil
	}
	return stopErr
}

// flags turns an asked trial into server flags and environment: static ones
// first, then the sampled ones.
func (r *runner) flags(a *study.Asked) ([]trial.Flag, []trial.Flag) {
	cfg := r.o.Config
	flags := values(cfg.Static)
	env := values(cfg.StaticEnv)
	for _, p := range cfg.Parameters {
		f := trial.Flag{Name: p.Name, Value: a.External[p.Name]}
		if p.Env {
			env = append(env, f)
		} else {
			flags = append(flags, f)
		}
	}
	return flags, env
}

// runOne runs an asked trial and tells the study how it went.
func (r *runner) runOne(ctx context.Context, a *study.Asked, flags, env []trial.Flag, baselineConcurrency int) error {
	cfg := r.o.Config
	tctx := context.WithoutCancel(ctx)
	constraints := r.paramConstraints(a, flags)
	for _, c := range constraints {
		if c > 0 && baselineConcurrency == 0 {
			// Known infeasible before anything starts: told, not run.
			r.log.Info(fmt.Sprintf("Trial %d violates a constraint; not run", a.Number), "constraints", constraints)
			return r.tell(tctx, a, study.Result{State: study.Pruned, Constraints: constraints,
				UserAttrs: map[string]any{study.AttrErrorType: "constraint", study.AttrErrorMessage: "violates a configured constraint"}})
		}
	}
	spec := r.spec(a, flags, env, baselineConcurrency)
	spec.Observe = r.observe(tctx, a)
	res, err := r.o.Backend.Run(ctx, spec)
	if err != nil {
		reason := err.Error()
		if ctx.Err() != nil {
			reason = "interrupted: " + fmt.Sprint(context.Cause(ctx))
		}
		attrs := map[string]any{study.AttrErrorType: trial.Interrupted, study.AttrErrorMessage: reason}
		if ctx.Err() == nil {
			attrs[study.AttrErrorType] = "internal"
		}
		r.o.Study.Tell(tctx, a, study.Result{State: study.Fail, UserAttrs: attrs})
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	attrs := map[string]any{
		study.AttrStartupSeconds: round2(res.Startup.Seconds()),
		study.AttrBenchSeconds:   round2(res.Bench.Seconds()),
		study.AttrTotalSeconds:   round2(res.Total.Seconds()),
		study.AttrCommand:        strings.Join(res.Command, " "),
		study.AttrLogDir:         res.LogDir,
	}
	result := study.Result{UserAttrs: attrs, Start: res.Start, End: res.End}
	if res.Failure != nil {
		attrs[study.AttrErrorType] = res.Failure.Class
		attrs[study.AttrErrorMessage] = res.Failure.Message
		attrs[study.AttrTrialStatus] = "vllm_crash"
		if res.Failure.Class == trial.BenchmarkFailed {
			attrs[study.AttrTrialStatus] = "benchmark_crash"
		}
		result.State = study.Fail
		if trial.Infeasible(res.Failure.Class) {
			// Told as infeasible, so the sampler learns the region.
			result.State = study.Pruned
			result.Constraints = append(constraints, 1)
		}
		logFile := "server.log"
		if res.Failure.Class == trial.BenchmarkFailed {
			logFile = "benchmark.log"
		}
		r.log.Warn(fmt.Sprintf("Trial %d failed: %s", a.Number, res.Failure.Message), "class", res.Failure.Class, "log", filepath.Join(res.LogDir, logFile))
		r.failed()
		return r.tell(tctx, a, result)
	}
	for k, v := range res.Metrics {
		attrs[study.MetricAttrPrefix+k] = v
	}
	if res.Stopped {
		// Stopped while benchmarking: Optuna's PRUNED, its last intermediate
		// value kept with the trial.
		attrs[study.AttrTrialStatus] = "pruned"
		result.State = study.Pruned
		r.log.Info(fmt.Sprintf("Trial %d stopped early (pruned)", a.Number))
		return r.tell(tctx, a, result)
	}
	var missing []string
	for _, obj := range cfg.Objectives {
		v, ok := res.Metrics[obj.Key()]
		if !ok || math.IsNaN(v) {
			missing = append(missing, obj.Key())
			continue
		}
		result.Values = append(result.Values, v)
	}
	if len(missing) > 0 {
		attrs[study.AttrErrorType] = trial.BenchmarkFailed
		attrs[study.AttrErrorMessage] = "the benchmark reported no " + strings.Join(missing, ", ")
		attrs[study.AttrTrialStatus] = "benchmark_crash"
		result.State, result.Values = study.Fail, nil
		r.failed()
		return r.tell(tctx, a, result)
	}
	for _, slo := range cfg.SLOs {
		v := res.Metrics[slo.Key()]
		c := -1.0
		if slo.Max != nil {
			c = math.Max(c, v-*slo.Max)
		}
		if slo.Min != nil {
			c = math.Max(c, *slo.Min-v)
		}
		constraints = append(constraints, c)
	}
	attrs[study.AttrTrialStatus] = "success"
	result.State = study.Complete
	if len(constraints) > 0 {
		result.Constraints = constraints
	}
	feasible := true
	for _, c := range constraints {
		if c > 0 {
			feasible = false
		}
	}
	r.mu.Lock()
	r.consecutive = 0
	r.mu.Unlock()
	r.log.Info(fmt.Sprintf("Trial %d finished", a.Number), summary(cfg, result.Values, feasible)...)
	return r.tell(tctx, a, result)
}

func (r *runner) tell(ctx context.Context, a *study.Asked, res study.Result) error {
	if err := r.o.Study.Tell(ctx, a, res); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.consecutive >= r.o.MaxConsecutiveFailures {
		return fmt.Errorf("%w: the last %d trials failed; see the logs under %s", ErrTooManyFailures, r.consecutive, filepath.Join(r.o.LogDir, r.o.Study.Name()))
	}
	return nil
}

func (r *runner) failed() {
	r.mu.Lock()
	r.consecutive++
	r.mu.Unlock()
}

// paramConstraints evaluates the config's constraints on the trial's
// parameters (> 0 = violated; an expression that cannot be evaluated counts
// as violated).
func (r *runner) paramConstraints(a *study.Asked, flags []trial.Flag) []float64 {
	if len(r.o.Config.Constraints) == 0 {
		return nil
	}
	vars := map[string]float64{}
	for _, f := range flags {
		if v, ok := trial.Number(f.Value); ok {
			vars[f.Name] = v
		}
	}
	var out []float64
	for _, c := range r.o.Config.Constraints {
		v, err := c.Eval(vars)
		if err != nil || math.IsNaN(v) {
			v = 1
		}
		out = append(out, v)
	}
	return out
}

func (r *runner) spec(a *study.Asked, flags, env []trial.Flag, concurrency int) trial.Spec {
	cfg := r.o.Config
	b := cfg.Benchmark
	conc := b.Rate
	if concurrency > 0 {
		conc = concurrency
	}
	s := trial.Spec{
		Number: a.Number, Model: b.Model, Flags: flags, EnvVars: env, BaseEnv: r.o.BaseEnv,
		LogDir: filepath.Join(r.o.LogDir, r.o.Study.Name(), fmt.Sprintf("trial_%d", a.Number)),
		Bench: bench.Options{
			Concurrency: conc, Duration: time.Duration(b.MaxSeconds) * time.Second, Warmup: b.Warmup,
			RequestRate: b.RequestRate, MaxRequests: b.MaxRequests, Chat: b.Chat,
			Prompt: tokenDist(b.PromptTokens, b.PromptStdev, b.PromptMin, b.PromptMax),
			Output: tokenDist(b.OutputTokens, b.OutputStdev, b.OutputMin, b.OutputMax),
			Seed:   uint64(a.Number),
		},
		Logger: r.log,
	}
	if r.dataset != nil {
		s.Bench.Prompts, s.Bench.OutputTokens = r.dataset.Prompts, r.dataset.OutputTokens
	}
	switch b.Type {
	case "command":
		s.BenchCommand = b.Command
	case external.GuideLLM, external.VLLMBench:
		s.External = &trial.External{Tool: b.Type, Executable: b.Executable, Processor: b.Processor, Samples: b.Samples, Dataset: b.Dataset, LoggingLevel: b.LoggingLevel, GuideLLMCLI: r.guideLLMCLI}
	}
	if cfg.Server != nil {
		s.Server = append(append([]string{}, cfg.Server.Command...), cfg.Server.ExtraArgs...)
		s.Host, s.ReadinessPath, s.StartupTimeout = cfg.Server.Host, cfg.Server.ReadinessPath, cfg.Server.StartupTimeout
		s.NoHostArg = !cfg.Server.HostArg
	}
	return s
}

func tokenDist(mean int, stdev, lo, hi *int) bench.TokenDist {
	d := bench.TokenDist{Mean: mean}
	if stdev != nil {
		d.Stdev = *stdev
	}
	if lo != nil {
		d.Min = *lo
	}
	if hi != nil {
		d.Max = *hi
	}
	return d
}

func summary(cfg *config.Study, values []float64, feasible bool) []any {
	var out []any
	for i, o := range cfg.Objectives {
		out = append(out, o.Key(), round2(values[i]))
	}
	if !feasible {
		out = append(out, "feasible", false)
	}
	return out
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
