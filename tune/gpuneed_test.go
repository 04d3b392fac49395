package tune

import (
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
)

func TestGPUNeeds(t *testing.T) {
	base := "study:\n  name: g\noptimization:\n  preset: balanced\nbenchmark:\n  model: m\n"
	tests := []struct {
		name   string
		extra  string
		lo, hi int
	}{
		{"none", "", 1, 1},
		{"static", "static_parameters:\n  tensor_parallel_size: 4\n", 4, 4},
		{"sampled", "parameters:\n  tensor_parallel_size: {options: [1, 2, 4]}\n  pipeline_parallel_size: {min: 1, max: 2}\n", 1, 8},
		{"sampled over static", "static_parameters:\n  data_parallel_size: 2\nparameters:\n  tensor_parallel_size: {options: [2, 4]}\n", 4, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("g.yaml", []byte(base+tt.extra), func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := GPUNeeds(cfg); lo != tt.lo || hi != tt.hi {
				t.Errorf("GPUNeeds = %d, %d; want %d, %d", lo, hi, tt.lo, tt.hi)
			}
		})
	}
}
