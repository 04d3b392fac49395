package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPythonExamples loads the Python tool's own examples (see
// testdata/python-examples/README.md). All validate except where one names
// something that is not a vLLM flag; study_config_local_exec.yaml's sampler
// botorch is read as gp, with a warning.
func TestPythonExamples(t *testing.T) {
	t.Parallel()
	const notAFlagMsg = "parameters.enable_cuda_graphs: is not a vLLM flag: CUDA graphs are on unless --enforce-eager is given; " +
		"tune enforce_eager (true turns CUDA graphs off) or cuda_graph_sizes (the capture sizes) instead"
	tests := []struct {
		file  string
		err   string   // the one error expected, after the path; "" = valid
		warns []string // substrings of expected warnings
		short []string // parameters expected to take the built-in range
	}{
		{file: "study_config.yaml", short: []string{"max_num_batched_tokens"},
			warns: []string{"study_config.yaml:49:3: parameters.enable_cuda_graphs: is not a vLLM flag"}},
		{file: "study_config_local_exec.yaml",
			warns: []string{"study_config_local_exec.yaml:17:12: optimization.sampler: botorch is read as gp", "parameters.max_seq_len_to_capture: was removed", "parameters.max_num_partial_prefills: must stay 1"}},
		{file: "study_config_minimal.yaml"},
		{file: "study_config_no_postgres.yaml", err: ":47:3: " + notAFlagMsg},
		{file: "study_config_optimization_examples.yaml"},
		{file: "test_defaults_config.yaml", err: ":43:3: " + notAFlagMsg},
		{file: "trial_config_comprehensive.yaml", short: []string{"enforce_eager"},
			warns: []string{"parameters.swap_space: has no effect", "parameters.max_seq_len_to_capture: was removed", "parameters.scheduler_delay_factor: belonged to vLLM's V0 scheduler"}},
		{file: "trial_config_version_specific.yaml", short: []string{"calculate_kv_scales", "disable_cascade_attn", "async_scheduling", "disable_custom_all_reduce"},
			warns: []string{"parameters.max_seq_len_to_capture: was removed"}},
	}
	files, _ := filepath.Glob("testdata/python-examples/*.yaml")
	if len(files) != len(tests) {
		t.Fatalf("%d example files, %d expectations", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata/python-examples", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(path, data, nil)
			switch {
			case tt.err != "":
				if err == nil || err.Error() != path+tt.err {
					t.Fatalf("got %v\nwant exactly: %s%s", err, path, tt.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			warnings := strings.Join(s.Warnings, "\n")
			for _, w := range tt.warns {
				if !strings.Contains(warnings, w) {
					t.Errorf("warnings lack %q:\n%s", w, warnings)
				}
			}
			for _, name := range tt.short {
				if p := findParam(s, name); p == nil || !strings.HasPrefix(p.Source, "built-in table") {
					t.Errorf("%s: want the built-in range, got %+v", name, p)
				}
			}
		})
	}
}

func findParam(s *Study, name string) *Parameter {
	for i := range s.Parameters {
		if s.Parameters[i].Name == name {
			return &s.Parameters[i]
		}
	}
	return nil
}

// TestReferenceShapes: every shape of config the reference (§2) documents
// for the Python tool loads.
func TestReferenceShapes(t *testing.T) {
	t.Parallel()
	base := "optimization: {}\nbenchmark: {}\n"
	tests := []struct{ name, src string }{
		{"env expansion", "optimization: {n_trials: ${N:-5}}\nbenchmark: {model: \"${MODEL:-m}\", processor: \"${PROC}\"}\n"},
		{"study name", base + "study: {name: s}\n"},
		{"study prefix", base + "study: {prefix: p}\n"},
		{"study postgres", base + "study: {name: s, database_url: 'postgresql://u:p@h:5432/db'}\n"},
		{"study sqlite file", base + "study: {storage_file: /tmp/x/study.db}\n"},
		{"empty study", base + "study: {}\n"},
		{"every optimization key", "optimization: {sampler: TPE, n_trials: 20, n_startup_trials: 5, max_concurrent: 2}\nbenchmark: {}\n"},
		{"renamed concurrency key", "optimization: {max_concurrent_trials: 2}\nbenchmark: {}\n"},
		{"preset", "optimization: {preset: low_latency}\nbenchmark: {}\n"},
		{"single objective", "optimization:\n  approach: single_objective\n  objective: {metric: request_latency, direction: minimize, percentile: p95}\nbenchmark: {}\n"},
		{"multi objective", "optimization:\n  approach: multi_objective\n  objectives:\n    - {metric: output_tokens_per_second, direction: maximize}\n    - {metric: inter_token_latency_ms, direction: minimize, percentile: p99}\n  sampler: nsga2\nbenchmark: {}\n"},
		{"objectives without approach", "optimization:\n  objectives: [{metric: requests_per_second, direction: maximize, percentile: mean}]\nbenchmark: {}\n"},
		{"legacy maximize", "optimization: {objective: maximize}\nbenchmark: {}\n"},
		{"legacy list", "optimization: {objective: [maximize, minimize]}\nbenchmark: {}\n"},
		{"every benchmark key", "optimization: {}\nbenchmark:\n  benchmark_type: guidellm\n  model: m\n  max_seconds: 60\n  dataset: hf://x\n" +
			"  prompt_tokens: 10\n  output_tokens: 10\n  samples: 5\n  prompt_tokens_stdev: 1\n  prompt_tokens_min: 5\n  prompt_tokens_max: 20\n" +
			"  output_tokens_stdev: 1\n  output_tokens_min: 5\n  output_tokens_max: 20\n  rate: 4\n  concurrency: 4\n  processor: p\n  logging_level: TRACE\n"},
		{"null dataset", "optimization: {}\nbenchmark: {dataset: null}\n"},
		{"parameters of every kind", base + "parameters:\n" +
			"  max_num_seqs: {enabled: true, min: 8, max: 64, step: 8, description: d}\n" +
			"  gpu_memory_utilization: {min: 0.8, max: 0.95}\n" +
			"  block_size: {options: [16, 32], data_type: int}\n" +
			"  enable_chunked_prefill: {options: [false, true]}\n" +
			"  VLLM_ATTENTION_BACKEND: {env_var: true, options: [FLASH_ATTN, FLASHINFER]}\n" +
			"  TOKENIZERS_PARALLELISM: {type: environment, options: ['true', 'false']}\n" +
			"  dtype: {enabled: false}\n" +
			"  max_num_batched_tokens: {enabled: true}\n"},
		{"static parameters and environment", base + "static_parameters: {max_model_len: 4096, trust_remote_code: true, gpu_memory_utilization: 0.9, served_model_name: x}\n" +
			"static_environment_variables: {VLLM_STARTUP_TIMEOUT: 900, VLLM_USE_V1: '1', FLAG: true}\n"},
		{"baseline defaults", base + "baseline: {}\n"},
		{"baseline off", base + "baseline: {enabled: false}\n"},
		{"baseline levels and parameters", base + "baseline: {enabled: true, run_first: true, concurrency_levels: [50, 100], parameters: {tensor_parallel_size: 1}}\n"},
		{"baseline null parameters", base + "baseline: {parameters: null}\n"},
		{"constraints", base + "parameters:\n  max_num_seqs: {min: 8, max: 64}\nstatic_parameters: {max_model_len: 4096}\nconstraints: [\"max_num_seqs * 64 - max_model_len\"]\n"},
		{"logging", base + "logging: {file_path: /tmp/l, database_url: 'postgresql://u@h/d', log_level: DEBUG, nfs_path: null}\n"},
		{"empty parameters", base + "parameters: {}\n"},
	}
	for _, tt := range tests {
		if _, err := parse(t, tt.src, nil); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
