package trial

import "strings"

// Failure classes. Infeasible ones are configurations the hardware or vLLM
// cannot run: the sampler is told they violate a constraint, so it learns
// the region instead of just seeing a failure.
const (
	OOM                = "out_of_memory"
	KVCache            = "insufficient_kv_cache"
	InvalidCombination = "invalid_combination"
	UnknownFlag        = "unknown_or_invalid_flag"
	GPUBusy            = "gpu_memory_in_use"
	PortInUse          = "port_in_use"
	Crash              = "server_crash"
	NotReady           = "startup_timeout"
	BenchmarkFailed    = "benchmark_failed"
	Interrupted        = "interrupted"
)

// Infeasible reports whether class marks the configuration itself as impossible.
func Infeasible(class string) bool {
	return class == OOM || class == KVCache || class == InvalidCombination
}

// signatures map log text to classes, most specific first (vLLM's messages).
// vLLM's config classes are pydantic dataclasses, so a ValueError raised while
// validating flags reaches the log as pydantic's "Value error, <message>"
// inside a ValidationError, without the word ValueError.
var signatures = []struct {
	class string
	texts []string
}{
	{KVCache, []string{"larger than the available KV cache memory", "No available memory for the cache blocks", "Available KV cache memory: -", "insufficient KV cache"}},
	{OOM, []string{"CUDA out of memory", "OutOfMemoryError", "out of memory"}},
	// Another process holds the GPU's memory (or let go of it while vLLM
	// measured): vllm/v1/worker/utils.py request_memory, gpu_worker.py.
	{GPUBusy, []string{"desired GPU memory utilization", "engine's budget after excluding", "Error in memory profiling"}},
	{PortInUse, []string{"address already in use", "Address already in use", "[Errno 98]"}},
	// argparse's messages, and pydantic's for a value out of a flag's range.
	{UnknownFlag, []string{"unrecognized arguments", "ambiguous option", "invalid choice", "invalid int value", "invalid float value", "expected one argument", "error: argument", "Input should be"}},
	{InvalidCombination, []string{"must be greater than or equal to", "is smaller than max_model_len", "exceeds the total number of available GPUs", "greater than the derived max_model_len", "is not supported for this model", "ValueError", "Value error, "}},
}

// Classify names the failure a server's last output shows.
func Classify(tail string) string {
	for _, s := range signatures {
		for _, t := range s.texts {
			if strings.Contains(tail, t) {
				return s.class
			}
		}
	}
	return Crash
}
