package config

import (
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"strings"
	"testing"
	"time"
)

const minimal = `
optimization:
  preset: balanced
benchmark:
  model: m
`

func parse(t *testing.T, src string, env map[string]string) (*Study, error) {
	t.Helper()
	return Parse("study.yaml", []byte(src), func(k string) string { return env[k] })
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	s, err := parse(t, `
study:
  name: qwen_tuning
optimization:
  approach: multi_objective
  objectives:
    - {metric: output_tokens_per_second, direction: maximize, percentile: mean}
    - {metric: request_latency, direction: minimize, percentile: p95}
  sampler: NSGA2
  n_trials: 40
  max_concurrent_trials: 2
  seed: 7
benchmark:
  model: ${MODEL:-facebook/opt-125m}
  rate: 16
  max_seconds: 60
parameters:
  max_num_seqs: {min: 8, max: 256, step: 8}
  gpu_memory_utilization: {min: 0.70, max: 0.95, step: 0.01}
  enable_prefix_caching: {options: [true, false]}
  kv_cache_dtype: {options: [auto, fp8]}
  VLLM_ATTENTION_BACKEND: {options: [FLASH_ATTN, XFORMERS], env_var: true}
  OLD_STYLE: {type: environment, options: [a, b]}
  block_size: {options: [16, 32], enabled: false}
static_parameters:
  max_model_len: 4096
  trust_remote_code: true
static_environment_variables:
  VLLM_STARTUP_TIMEOUT: 600
  FLAG: true
baseline:
  concurrency_levels: [1, 16]
constraints:
  - "max_num_seqs * 16 - max_model_len"
slo:
  - {metric: time_to_first_token_ms, percentile: p95, max: 200}
server:
  command: [python3, -m, vllm.entrypoints.openai.api_server, --model, "{model}"]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "qwen_tuning" || s.Sampler != "nsga2" || s.NTrials != 40 || s.MaxConcurrent != 2 || *s.Seed != 7 {
		t.Errorf("study %+v", s)
	}
	if len(s.Objectives) != 2 || s.Objectives[1].Key() != "request_latency_p95" || s.Objectives[0].Key() != "output_tokens_per_second_mean" {
		t.Errorf("objectives %+v", s.Objectives)
	}
	if s.Benchmark.Model != "facebook/opt-125m" || s.Benchmark.Rate != 16 || s.Benchmark.Type != "builtin" {
		t.Errorf("benchmark %+v", s.Benchmark)
	}
	names := []string{}
	for _, p := range s.Parameters {
		names = append(names, p.Name+"="+p.Dist.String())
	}
	want := []string{"max_num_seqs=int [8, 256] step 8", "gpu_memory_utilization=float [0.7, 0.95] step 0.01",
		"enable_prefix_caching=one of [true,false]", `kv_cache_dtype=one of ["auto","fp8"]`,
		`VLLM_ATTENTION_BACKEND=one of ["FLASH_ATTN","XFORMERS"]`, `OLD_STYLE=one of ["a","b"]`}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("parameters:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if !s.Parameters[2].Bool || s.Parameters[0].Flag != "--max-num-seqs" || !s.Parameters[4].Env || !s.Parameters[5].Env || s.Parameters[4].Flag != "" {
		t.Errorf("parameter kinds %+v", s.Parameters)
	}
	if s.Static[0].Value != int64(4096) || s.Static[1].Value != true || s.StaticEnv[1].Value != "True" || s.StaticEnv[0].Value != "600" {
		t.Errorf("static %+v env %+v", s.Static, s.StaticEnv)
	}
	if s.Server.StartupTimeout != 600*time.Second || s.Server.Command[4] != "{model}" {
		t.Errorf("server %+v", s.Server)
	}
	if s.Baseline == nil || len(s.Baseline.ConcurrencyLevels) != 2 {
		t.Errorf("baseline %+v", s.Baseline)
	}
	if v, _ := s.Constraints[0].Eval(map[string]float64{"max_num_seqs": 8, "max_model_len": 4096}); v != -3968 {
		t.Errorf("constraint %v", v)
	}
	if len(s.SLOs) != 1 || *s.SLOs[0].Max != 200 {
		t.Errorf("slo %+v", s.SLOs)
	}
	if got := s.Space().Size(); got != 32*26*2*2*2*2 {
		t.Errorf("space size %v", got)
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	s, err := parse(t, "optimization: {}\nbenchmark: {}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Sampler != "tpe" || s.NTrials != 100 || s.NStartupTrials != 10 || s.MaxConcurrent != 1 ||
		len(s.Objectives) != 1 || s.Objectives[0] != (Objective{metric.OutputThroughput, "maximize", "mean"}) {
		t.Errorf("optimization defaults %+v", s)
	}
	if s.Benchmark.Model != DefaultModel || s.Benchmark.Rate != 50 || s.Benchmark.MaxSeconds != 300 || s.Benchmark.PromptTokens != 1000 {
		t.Errorf("benchmark defaults %+v", s.Benchmark)
	}
	if s.Baseline == nil || s.Baseline.ConcurrencyLevels[0] != 50 {
		t.Errorf("baseline defaults %+v", s.Baseline)
	}
	if s.Confirm != (Confirm{Top: 3, Runs: 3}) || !s.Confirm.On() || s.Benchmark.Repeats != 1 {
		t.Errorf("confirm %+v, repeats %d", s.Confirm, s.Benchmark.Repeats)
	}
	if !s.Pruner.Median || s.Pruner.Startup != 5 || s.Pruner.Warmup != 1 { // 100 trials
		t.Errorf("pruner defaults %+v", s.Pruner)
	}
	for src, want := range map[string]Pruner{
		"optimization: {n_trials: 9}\nbenchmark: {}\n":                                      {Startup: 5, Warmup: 1},
		"optimization: {n_trials: 9, pruner: median}\nbenchmark: {}\n":                      {Median: true, Startup: 5, Warmup: 1, Explicit: true},
		"optimization: {pruner: none}\nbenchmark: {}\n":                                     {Startup: 5, Warmup: 1, Explicit: true},
		"optimization: {pruner: {n_startup_trials: 3, n_warmup_steps: 0}}\nbenchmark: {}\n": {Median: true, Startup: 3, Explicit: true},
	} {
		if s, err := parse(t, src, nil); err != nil || s.Pruner != want {
			t.Errorf("%q: pruner %+v, %v; want %+v", src, s.Pruner, err, want)
		}
	}
	for src, want := range map[string]Confirm{
		"optimization: {confirm: false}\nbenchmark: {}\n":             {},
		"optimization: {confirm: true}\nbenchmark: {}\n":              DefaultConfirm,
		"optimization: {confirm: {top: 1}}\nbenchmark: {}\n":          {Top: 1, Runs: 3},
		"optimization: {confirm: {top: 5, runs: 4}}\nbenchmark: {}\n": {Top: 5, Runs: 4},
	} {
		if s, err := parse(t, src, nil); err != nil || s.Confirm != want {
			t.Errorf("%q: confirm %+v, %v; want %+v", src, s.Confirm, err, want)
		}
	}
	if s.Server == nil || strings.Join(s.Server.Command, " ") != "vllm serve {model}" || s.Server.Host != "127.0.0.1" || s.Server.ReadinessPath != "/health" {
		t.Errorf("server defaults %+v", s.Server)
	}
}

func TestPresetsAndLegacyObjectives(t *testing.T) {
	t.Parallel()
	tests := []struct{ opt, want string }{
		{"preset: high_throughput", "maximize output_tokens_per_second (mean)"},
		{"preset: low_latency", "minimize request_latency (p95)"},
		{"preset: balanced", "maximize output_tokens_per_second (mean); minimize request_latency (median)"},
		{"objective: maximize", "maximize output_tokens_per_second (median)"},
		{"objective: minimize", "minimize request_latency (median)"},
		{"objective: [maximize, minimize]", "maximize output_tokens_per_second (median); minimize request_latency (median)"},
		// The Python tool silently replaced these with the default; we honour them.
		{"objective: {metric: time_to_first_token_ms, direction: minimize, percentile: p99}", "minimize time_to_first_token_ms (p99)"},
		{"objectives: [{metric: requests_per_second, direction: maximize}]", "maximize requests_per_second (median)"},
	}
	for _, tt := range tests {
		s, err := parse(t, "optimization: {"+tt.opt+"}\nbenchmark: {}\n", nil)
		if err != nil {
			t.Errorf("%s: %v", tt.opt, err)
			continue
		}
		var got []string
		for _, o := range s.Objectives {
			got = append(got, o.String())
		}
		if strings.Join(got, "; ") != tt.want {
			t.Errorf("%s: %s", tt.opt, strings.Join(got, "; "))
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string // each must appear in the error text
	}{
		{"unknown top-level key", minimal + "paramters: {}\n", []string{`study.yaml:6:1: paramters: unknown key (did you mean "parameters"?)`}},
		{"unknown nested key", "optimization:\n  samplr: tpe\nbenchmark: {}\n", []string{`study.yaml:2:3: optimization.samplr: unknown key (did you mean "sampler"?); allowed:`}},
		{"bad sampler", "optimization:\n  sampler: tpee\nbenchmark: {}\n", []string{`study.yaml:2:12: optimization.sampler: "tpee" is not allowed (did you mean "tpe"?); allowed: tpe, random, grid, nsga2, gp`}},
		{"missing sections", "study: {name: x}\n", []string{"optimization: section missing", "benchmark: section missing"}},
		{"name and prefix", minimal + "study: {name: a, prefix: b}\n", []string{"give either name"}},
		{"both storages", minimal + "study: {database_url: 'postgresql://x/y', storage_file: a.db}\n", []string{"give either database_url"}},
		{"preset and objectives", "optimization:\n  preset: balanced\n  objectives: [{metric: request_latency, direction: minimize}]\nbenchmark: {}\n", []string{`preset "balanced" already sets the objectives`}},
		{"bad metric", "optimization:\n  objectives: [{metric: latency, direction: minimize}]\nbenchmark: {}\n", []string{`optimization.objectives[0].metric: "latency" is not allowed`}},
		{"approach mismatch", "optimization:\n  approach: multi_objective\n  objectives: [{metric: request_latency, direction: minimize}]\nbenchmark: {}\n", []string{"multi_objective needs at least two objectives"}},
		{"nsga2 single", "optimization: {sampler: nsga2, preset: low_latency}\nbenchmark: {}\n", []string{"nsga2 is a multi-objective sampler"}},
		{"type error", minimal + "  rate: lots\n", []string{`study.yaml:6:9: benchmark.rate: must be a whole number, got the string "lots"`}},
		{"range and options", minimal + "parameters:\n  x: {min: 1, max: 2, options: [1]}\n", []string{"parameters.x: give either min/max"}},
		{"reversed range", minimal + "parameters:\n  x: {min: 9, max: 2}\n", []string{"study.yaml:7:3: parameters.x: min 9 is greater than max 2"}},
		{"empty parameter", minimal + "parameters:\n  x:\n", []string{"parameters.x: is empty"}},
		{"short form of an unknown flag", minimal + "parameters:\n  max_num_batched_tokenz: {enabled: true}\n", []string{
			`study.yaml:7:3: parameters.max_num_batched_tokenz: ` + "`enabled: true`" + ` alone takes its range from the built-in table (vLLM 0.11.0), which does not know max_num_batched_tokenz (did you mean "max_num_batched_tokens"?); give min and max, or options; the table knows: async_scheduling, block_size,`}},
		{"env param range", minimal + "parameters:\n  X: {min: 1, max: 2, env_var: true}\n", []string{"an environment parameter takes options"}},
		{"duplicate option", minimal + "parameters:\n  x: {options: [8, 16, 8]}\n", []string{"option 8 appears twice"}},
		{"constraint unknown name", minimal + "parameters:\n  max_num_seqs: {min: 1, max: 2}\nconstraints: [\"max_num_seq - 1\"]\n", []string{`uses max_num_seq, which is neither a parameter nor a static parameter (did you mean "max_num_seqs"?)`}},
		{"constraint code", minimal + "constraints: [\"__import__('os').system('x')\"]\n", []string{"constraints[0]"}},
		{"static not scalar", minimal + "static_parameters: {a: [1]}\n", []string{"static_parameters.a: must be a simple value"}},
		{"baseline level", minimal + "baseline: {concurrency_levels: [0]}\n", []string{"baseline.concurrency_levels[0]: must be at least 1"}},
		{"slo without limit", minimal + "slo: [{metric: time_to_first_token_ms}]\n", []string{"an SLO needs metric and max and/or min"}},
		{"server none needs command", minimal + "server: none\n", []string{"server: none needs benchmark_type: command"}},
		{"syntax", "optimization: [\n", []string{"study.yaml:1:1: did not find expected node content"}},
		{"request rate", minimal + "  request_rate: 0\n", []string{"benchmark.request_rate: must be > 0"}},
		{"chat for guidellm", minimal + "  endpoint: chat\n  benchmark_type: guidellm\n", []string{"benchmark.endpoint: chat is supported by the built-in load generator only"}},
		{"one confirmation run", "optimization: {confirm: {runs: 1}}\nbenchmark: {}\n", []string{"study.yaml:1:32: optimization.confirm.runs: must be at least 2: a confidence interval needs two paired runs (to turn confirmation off, write confirm: false)"}},
		{"confirm typo", "optimization: {confirm: {tops: 2}}\nbenchmark: {}\n", []string{`optimization.confirm.tops: unknown key (did you mean "top"?)`}},
		{"bad pruner", "optimization: {pruner: hyperband}\nbenchmark: {}\n", []string{`optimization.pruner: "hyperband" is not allowed; allowed: median, none`}},
		{"no repeats", minimal + "  repeats: 0\n", []string{"benchmark.repeats: must be at least 1, got 0"}},
		{"both concurrency keys", "optimization: {max_concurrent: 1, max_concurrent_trials: 2}\nbenchmark: {}\n", []string{"mean the same"}},
	}
	for _, tt := range tests {
		_, err := parse(t, tt.src, nil)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s:\n got: %v\nwant: %s", tt.name, err, w)
			}
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	s, err := parse(t, "optimization: {n_trials: ${N}}\nbenchmark:\n  processor: ${PROC}\n  dataset: ${DATA:-/d.jsonl}\n", map[string]string{"N": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if s.NTrials != 7 || s.Benchmark.Dataset != "/d.jsonl" {
		t.Errorf("%+v", s)
	}
	if len(s.Warnings) != 2 || !strings.Contains(s.Warnings[0], "line 3: environment variable PROC is not set") || !strings.Contains(s.Warnings[1], "every trial will be sampled at random") {
		t.Errorf("warnings %q", s.Warnings)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("optimization: {objectives: [{metric: request_latency, direction: minimize}]}\nbenchmark: {rate: 3}\nparameters:\n  a: {min: 0.5, max: 2.5, step: 0.5}\n  b: {options: [x, null, 1]}\nconstraints: [\"a * 2 - 3\"]\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data, nil)
		if err == nil && (s == nil || len(s.Objectives) == 0) {
			t.Fatalf("no error but no objectives")
		}
	})
}

func TestGPSamplerAndBotorchSynonym(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		warned     bool
	}{
		{"gp", "optimization: {sampler: gp}\nbenchmark: {}\n", false},
		{"botorch", "optimization: {sampler: botorch}\nbenchmark: {}\n", true},
	}
	for _, tt := range tests {
		s, err := parse(t, tt.yaml, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		warned := len(s.Warnings) == 1 && strings.Contains(s.Warnings[0], "botorch is read as gp")
		if s.Sampler != "gp" || warned != tt.warned {
			t.Errorf("%s: sampler %q, warnings %q", tt.name, s.Sampler, s.Warnings)
		}
	}
}
