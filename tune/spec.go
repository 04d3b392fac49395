package tune

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench/external"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// Flags are the server flags and environment of a configuration: the
// config's static ones first, then the parameters' values (a parameter
// without a value is left out).
func Flags(cfg *config.Study, params map[string]any) (flags, env []trial.Flag) {
	flags = values(cfg.Static)
	env = values(cfg.StaticEnv)
	for _, p := range cfg.Parameters {
		v, ok := params[p.Name]
		if !ok {
			continue
		}
		f := trial.Flag{Name: p.Name, Value: v}
		if p.Env {
			env = append(env, f)
		} else {
			flags = append(flags, f)
		}
	}
	return flags, env
}

// baselineFlags are vLLM's defaults as the config states them: the static
// flags and the baseline's own parameters.
func baselineFlags(cfg *config.Study) (flags, env []trial.Flag) {
	return append(values(cfg.Static), values(cfg.Baseline.Parameters)...), values(cfg.StaticEnv)
}

// Command is the server command line of a configuration, as a user would
// run it: no --port (theirs to choose), {self} left for the caller.
func Command(cfg *config.Study, params map[string]any) []string {
	flags, _ := Flags(cfg, params)
	return trial.Argv(commandTemplate(cfg), cfg.Benchmark.Model, flags, "", 0)
}

// BaselineCommand is the server command of vLLM's defaults as the config
// states them, as a user would run it.
func BaselineCommand(cfg *config.Study) []string {
	if cfg.Baseline == nil {
		return nil
	}
	flags, _ := baselineFlags(cfg)
	return trial.Argv(commandTemplate(cfg), cfg.Benchmark.Model, flags, "", 0)
}

// commandTemplate is the server's command, or the benchmark command of a
// study without a server.
func commandTemplate(cfg *config.Study) []string {
	if cfg.Server != nil {
		return serverTemplate(cfg.Server)
	}
	return cfg.Benchmark.Command
}

// serverTemplate is the server's command with its extra arguments, {model}
// not yet filled in.
func serverTemplate(sv *config.Server) []string {
	return append(append([]string{}, sv.Command...), sv.ExtraArgs...)
}

func values(vs []config.Value) []trial.Flag {
	out := make([]trial.Flag, len(vs))
	for i, v := range vs {
		out[i] = trial.Flag{Name: v.Name, Value: v.Value}
	}
	return out
}

// specDefaults is what every trial spec of a study shares and the config
// does not say: where logs go, the servers' environment, what was read or
// detected once per study.
type specDefaults struct {
	LogDir      string // <LogDir>/trial_<n>
	BaseEnv     []string
	Dataset     *bench.Dataset
	GuideLLMCLI *external.GuideLLMCLI
}

// searchSeed is the search trials' request seed: all draw the same requests
// (confirmSeed gives the confirmation rounds theirs).
const searchSeed = 0

// Spec is the trial spec of trial number n with these flags. concurrency,
// when above 0, replaces the benchmark's rate (a baseline's level).
func spec(cfg *config.Study, d specDefaults, n int, flags, env []trial.Flag, concurrency int) trial.Spec {
	b := cfg.Benchmark
	conc := b.Rate
	if concurrency > 0 {
		conc = concurrency
	}
	s := trial.Spec{
		Number: n, Model: b.Model, Flags: flags, EnvVars: env, BaseEnv: d.BaseEnv,
		LogDir:  filepath.Join(d.LogDir, fmt.Sprintf("trial_%d", n)),
		Repeats: b.Repeats,
		Bench: bench.Options{
			Concurrency: conc, Duration: time.Duration(b.MaxSeconds) * time.Second, Warmup: b.Warmup,
			RequestRate: b.RequestRate, MaxRequests: b.MaxRequests, Chat: b.Chat,
			Prompt: tokenDist(b.PromptTokens, b.PromptStdev, b.PromptMin, b.PromptMax),
			Output: tokenDist(b.OutputTokens, b.OutputStdev, b.OutputMin, b.OutputMax),
			// One draw of the workload for every trial (common random
			// numbers): with fixed lengths the draw, through the streams'
			// pattern, moves throughput by about 0.6 % (the simulator,
			// 128 streams), which would otherwise land between trials.
			Seed: searchSeed,
			// Streams out of lock-step: the throughput does not depend on
			// where the window's edges fall in a wave of identical requests.
			Stagger: true,
		},
	}
	if d.Dataset != nil {
		s.Bench.Prompts, s.Bench.OutputTokens = d.Dataset.Prompts, d.Dataset.OutputTokens
	}
	switch b.Type {
	case "command":
		s.BenchCommand = b.Command
	case external.GuideLLM, external.VLLMBench:
		s.External = &trial.External{Tool: b.Type, Executable: b.Executable, Processor: b.Processor, Samples: b.Samples, Dataset: b.Dataset, LoggingLevel: b.LoggingLevel, GuideLLMCLI: d.GuideLLMCLI}
	}
	if cfg.Server != nil {
		s.Server = serverTemplate(cfg.Server)
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
