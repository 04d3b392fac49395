package config

import (
	"fmt"
	"strings"
	"testing"
)

// vLLM 0.11.0's accepted values, read from vllm/config/cache.py (BlockSize,
// CacheDType), vllm/config/model.py (ModelDType) and
// vllm/config/scheduler.py (SchedulerPolicy) of the vllm-0.11.0 wheel.
var vllm0110Choices = map[string][]any{
	"block_size":        {int64(1), int64(8), int64(16), int64(32), int64(64), int64(128)},
	"kv_cache_dtype":    {"auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc"},
	"dtype":             {"auto", "half", "float16", "bfloat16", "float", "float32"},
	"scheduling_policy": {"fcfs", "priority"},
}

func TestFlagTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, f := range flagTable {
		if seen[f.Name] {
			t.Errorf("%s appears twice", f.Name)
		}
		seen[f.Name] = true
		if _, noted := flagNotes[f.Name]; noted {
			t.Errorf("%s is in the table and in flagNotes", f.Name)
		}
		if f.Default == "" {
			t.Errorf("%s: no vLLM default", f.Name)
		}
		d, err := f.Dist()
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		if f.Bool != (d.String() == "one of [true,false]") {
			t.Errorf("%s: bool %v but %s", f.Name, f.Bool, d)
		}
		if allowed, ok := vllm0110Choices[f.Name]; ok {
			for _, o := range f.Options {
				if !contains(allowed, o) {
					t.Errorf("%s: vLLM 0.11.0 does not accept %v", f.Name, o)
				}
			}
		}
	}
}

func contains(xs []any, x any) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestShortForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		param      string
		dist       string
		isBool     bool
		source     string // substring of Parameter.Source
		defaultSub string // substring of Parameter.Default
	}{
		{"max_num_seqs: {enabled: true}", "int [32, 1024] step 32", false, "built-in table, vLLM 0.11.0", "256, or 1024"},
		{"max_num_batched_tokens: {enabled: true}", "int [1024, 32768] step 1024", false, "from the Python tool's v0_11_0 schema", "2048"},
		{"gpu_memory_utilization: {enabled: true}", "float [0.7, 0.95] step 0.01", false, "built-in table", "0.9"},
		{"kv_cache_dtype: {enabled: true}", `one of ["auto","fp8","fp8_e5m2","fp8_e4m3"]`, false, "built-in table", "auto"},
		{"enforce_eager: {enabled: true}", "one of [true,false]", true, "built-in table", "false"},
		{"enable_prefix_caching: {enabled: true}", "one of [true,false]", true, "built-in table", "generative"},
		// A bound left out comes from the table.
		{"max_num_batched_tokens: {min: 4096}", "int [4096, 32768] step 1024", false, "study.yaml:7 (max and step from the built-in table, vLLM 0.11.0)", "2048"},
		{"max_num_batched_tokens: {min: 4000}", "int [4000, 32672] step 1024", false, "study.yaml:7 (max and step from the built-in table, vLLM 0.11.0)", "2048"}, // the high end moves to fit the step, as in Optuna
		{"gpu_memory_utilization: {max: 0.9, step: 0.05}", "float [0.7, 0.9] step 0.05", false, "(min from the built-in table", "0.9"},
		// Explicit ranges say where they are and still name vLLM's default.
		{"max_num_seqs: {min: 8, max: 64, step: 8}", "int [8, 64] step 8", false, "study.yaml:7", "256"},
		{"my_plugin_flag: {options: [a, b]}", `one of ["a","b"]`, false, "study.yaml:7", ""},
	}
	for _, tt := range tests {
		s, err := parse(t, minimal+"parameters:\n  "+tt.param+"\n", nil)
		if err != nil {
			t.Errorf("%s: %v", tt.param, err)
			continue
		}
		p := s.Parameters[0]
		if p.Dist.String() != tt.dist || p.Bool != tt.isBool || !strings.Contains(p.Source, tt.source) ||
			!strings.Contains(p.Default, tt.defaultSub) || (tt.defaultSub == "") != (p.Default == "") {
			t.Errorf("%s: got %s bool=%v source %q default %q", tt.param, p.Dist, p.Bool, p.Source, p.Default)
		}
	}
}

func TestShortFormBaselineKeepsVLLMDefault(t *testing.T) {
	t.Parallel()
	s, err := parse(t, minimal+"parameters:\n  max_num_seqs: {enabled: true}\nstatic_parameters: {max_model_len: 4096}\nbaseline: {parameters: {tensor_parallel_size: 1}}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(s.Static, s.Baseline.Parameters...) {
		if v.Name == "max_num_seqs" {
			t.Errorf("the baseline passes max_num_seqs=%v; it should keep vLLM's default", v.Value)
		}
	}
}

func TestNotAFlagAndNotes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		err       string // "" = valid
		warn      string
	}{
		{"enabled non-flag", "parameters:\n  enable_cuda_graphs: {options: [true, false]}\n",
			"study.yaml:7:3: parameters.enable_cuda_graphs: is not a vLLM flag: CUDA graphs are on unless --enforce-eager is given; tune enforce_eager", ""},
		{"short non-flag", "parameters:\n  enable_cuda_graphs: {enabled: true}\n", "is not a vLLM flag", ""},
		{"short unknown flag", "parameters:\n  max_num_seq: {enabled: true}\n",
			`which does not know max_num_seq (did you mean "max_num_seqs"?); give min and max, or options; the table knows: ` + strings.Join(FlagNames(), ", "), ""},
		{"disabled non-flag", "parameters:\n  enable_cuda_graphs: {enabled: false}\n", "",
			"study.yaml:7:3: parameters.enable_cuda_graphs: is not a vLLM flag: CUDA graphs are on unless --enforce-eager is given"},
		{"static non-flag", "static_parameters:\n  enable_cuda_graphs: true\n", "study.yaml:7:3: static_parameters.enable_cuda_graphs: is not a vLLM flag", ""},
		{"baseline non-flag", "baseline:\n  parameters: {enable_cuda_graphs: false}\n", "baseline.parameters.enable_cuda_graphs: is not a vLLM flag", ""},
		{"env var of that name is fine", "parameters:\n  enable_cuda_graphs: {env_var: true, options: ['1', '0']}\n", "", ""},
		{"untunable short form", "parameters:\n  swap_space: {enabled: true}\n", "has none for swap_space: it has no effect in vLLM 0.11.0", ""},
		{"untunable explicit", "parameters:\n  swap_space: {min: 2, max: 8, step: 2}\n", "", "parameters.swap_space: has no effect in vLLM 0.11.0"},
		{"no built-in range", "parameters:\n  compilation_config: {enabled: true}\n", "takes a JSON object", ""},
		{"removed short form", "parameters:\n  max_seq_len_to_capture: {enabled: true}\n", "has none for max_seq_len_to_capture: it was removed from vLLM before 0.11.0", ""},
		{"removed explicit", "parameters:\n  max_seq_len_to_capture: {options: [4096, 8192]}\n", "",
			"study.yaml:7:3: parameters.max_seq_len_to_capture: was removed from vLLM before 0.11.0"},
		{"env short form", "parameters:\n  VLLM_ATTENTION_BACKEND: {enabled: true, env_var: true}\n", "an environment parameter needs options", ""},
		{"half range, unknown flag", "parameters:\n  foo: {min: 1}\n", "a range needs both min and max (the built-in table has no range for foo", ""},
		{"step alone", "parameters:\n  max_num_seqs: {step: 8}\n", "step and log belong to a range", ""},
	}
	for _, tt := range tests {
		s, err := parse(t, minimal+tt.src, nil)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s:\n got %v\nwant %s", tt.name, err, tt.err)
		case tt.err != "" && strings.Count(err.Error(), "\n") > 0:
			t.Errorf("%s: one root error gave several:\n%v", tt.name, err)
		case err == nil && tt.warn != "" && !strings.Contains(strings.Join(s.Warnings, "\n"), tt.warn):
			t.Errorf("%s: warnings %q, want %s", tt.name, s.Warnings, tt.warn)
		}
	}
}

func TestDuplicateKeyLastWins(t *testing.T) {
	t.Parallel()
	s, err := parse(t, minimal+`parameters:
  kv_cache_dtype:
    options: [auto]
  max_num_seqs: {enabled: true}
  kv_cache_dtype:
    enabled: true
    options: [auto, fp8]
optimization:
  n_trials: 7
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"study.yaml:10:3: parameters.kv_cache_dtype: appears twice, at lines 7 and 10; the last one wins, as in the Python tool",
		"study.yaml:13:1: optimization: appears twice, at lines 2 and 13; the last one wins, as in the Python tool",
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(s.Warnings, "\n"), w) {
			t.Errorf("warnings %q lack %s", s.Warnings, w)
		}
	}
	// The last value wins, in the first one's place (a Python dict's order).
	if len(s.Parameters) != 2 || s.Parameters[0].Name != "kv_cache_dtype" || s.Parameters[0].Dist.Size() != 2 || s.Parameters[0].Line != 10 {
		t.Errorf("parameters %+v", s.Parameters)
	}
	if s.NTrials != 7 || s.Preset != "" {
		t.Errorf("the second optimization section should replace the first: n_trials %d preset %q", s.NTrials, s.Preset)
	}
}

func TestSyntaxErrorLocated(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{"optimization:\n  preset: balanced\n benchmark: {}\n", "study.yaml:3:2: "},
		{"optimization:\n  preset: balanced\nbenchmark:\n  model: m\n   rate: 3\n", "study.yaml:5:4: "},
		{"optimization: {preset: balanced}\nbenchmark:\n\tmodel: m\n", "study.yaml:3:1: "},
		{"optimization: {preset: balanced}\nbenchmark: {model: \"m}\n", "study.yaml:2:1: "},
		{"a: [1,\n   2]\nb: [\n", "study.yaml:3:1: "},
		{"a: &x 1\nb: *y\n", "study.yaml:2:1: unknown anchor 'y' referenced"},
	}
	for _, tt := range tests {
		_, err := parse(t, tt.src, nil)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "line ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q:\n got %v\nwant %s…", tt.src, err, tt.want)
		}
	}
}

func TestOneRootErrorOneMessage(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"unknown metric with approach", "optimization:\n  approach: single_objective\n  objectives: [{metric: latency, direction: minimize}]\nbenchmark: {}\n",
			`optimization.objectives[0].metric: "latency" is not allowed`},
		{"bad legacy objective with nsga2", "optimization:\n  sampler: nsga2\n  objective: sideways\nbenchmark: {}\n", `optimization.objective: "sideways" is not allowed`},
		{"bad parameter used by a constraint", minimal + "parameters:\n  max_num_seqs: {min: 9, max: 2}\nconstraints: [\"max_num_seqs - 4\"]\n", "min 9 is greater than max 2"},
		{"unknown short form used by a constraint", minimal + "parameters:\n  max_num_seq: {enabled: true}\nconstraints: [\"max_num_seq - 4\"]\n", "which does not know max_num_seq"},
		{"model not a string", "optimization: {}\nbenchmark:\n  model: [a]\n", "benchmark.model: must be a string"},
		{"bad benchmark type with server none", "optimization: {}\nbenchmark: {benchmark_type: cmd}\nserver: none\n", `benchmark.benchmark_type: "cmd" is not allowed`},
	}
	for _, tt := range tests {
		_, err := parse(t, tt.src, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(err.(Errors)) != 1 {
			t.Errorf("%s: want exactly one error containing %q, got:\n%v", tt.name, tt.want, err)
		}
	}
}

func ExampleLookupFlag() {
	f, _ := LookupFlag("max_num_seqs")
	d, _ := f.Dist()
	fmt.Println(d, "|", f.Default)
	_, ok := LookupFlag("enable_cuda_graphs")
	fmt.Println(ok)
	// Output:
	// int [32, 1024] step 32 | 256, or 1024 on GPUs with at least 70 GiB other than A100; never above max_num_batched_tokens
	// false
}
