package trial

import "strings"

// ParallelSizes are the flags whose product is the GPUs a vLLM server uses.
var ParallelSizes = []string{"tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"}

// Canonical is a flag's name as the config spells it (max_num_seqs), whether
// it was written with dashes or underscores.
func Canonical(name string) string { return strings.ReplaceAll(name, "-", "_") }

// Number reads a numeric flag value; a bool counts as 0 or 1.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// GPUNeed is the number of GPUs a trial's flags ask for: tensor × pipeline ×
// data parallel size, at least 1. A flag given twice counts as its last value,
// as on vLLM's command line.
func GPUNeed(flags []Flag) int {
	size := map[string]int{}
	for _, f := range flags {
		if v, ok := Number(f.Value); ok {
			size[Canonical(f.Name)] = int(v)
		}
	}
	n := 1
	for _, name := range ParallelSizes {
		if s, ok := size[name]; ok {
			n *= max(s, 1)
		}
	}
	return n
}
