package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateSaysWhereRangesCameFrom: each parameter row names the file
// line, or the built-in table and its vLLM version, and vLLM's default.
func TestValidateSaysWhereRangesCameFrom(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "study.yaml")
	os.WriteFile(cfg, []byte("optimization: {preset: balanced}\nbenchmark: {model: m}\nparameters:\n"+
		"  max_num_seqs:\n    enabled: true\n  gpu_memory_utilization: {min: 0.8, max: 0.9, step: 0.05}\n"+
		"  kv_cache_dtype: {options: [auto]}\n  kv_cache_dtype: {options: [auto, fp8]}\n"), 0o644)
	tests := []struct {
		args []string
		out  []string
		errs []string
	}{
		{[]string{"validate", "--config", cfg}, []string{
			"max_num_seqs            int [32, 1024] step 32",
			"--max-num-seqs            from built-in table, vLLM 0.11.0; vLLM 0.11.0's default: 256, or 1024",
			"from " + cfg + ":6; vLLM 0.11.0's default: 0.9",
			"from " + cfg + ":8; vLLM 0.11.0's default: auto",
		}, []string{cfg + ":8:3: parameters.kv_cache_dtype: appears twice, at lines 7 and 8; the last one wins"}},
		{[]string{"validate", "--config", cfg, "--json"}, []string{
			`"source": "built-in table, vLLM 0.11.0"`,
			`"vllm_default": "0.9"`,
		}, nil},
	}
	for _, tt := range tests {
		code, out, stderr := runCLI(t, nil, tt.args...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", tt.args, code, stderr)
			continue
		}
		for _, w := range tt.out {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
		for _, w := range tt.errs {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tt.args, w, stderr)
			}
		}
	}
}

func TestValidateSyntaxError(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("optimization:\n  preset: balanced\n benchmark: {}\n"), 0o644)
	code, _, stderr := runCLI(t, nil, "validate", "--config", cfg)
	if want := cfg + ":3:2: did not find expected key\n"; code != exitFailure || !strings.HasSuffix(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant ending: %s", code, stderr, want)
	}
}
