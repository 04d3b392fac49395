package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// VLLMVersion is the vLLM release the flag table describes. Every name,
// choice and default below was checked against that release's
// vllm/engine/arg_utils.py and vllm/config/{cache,scheduler,parallel,model}.py
// (the PyPI wheel vllm-0.11.0). 0.11.0 is also the release the Python tool's
// last range table (schemas/v0_11_0.yaml, removed in its PR #110) was
// written for.
const VLLMVersion = "0.11.0"

// FlagRange is the built-in search range of one vLLM flag: what a parameter
// written as `enabled: true` alone samples.
type FlagRange struct {
	Name string
	// One of: an int range (Min, Max, Step), a float range (Float set),
	// Options, or Bool ([true, false], rendered as --x / --no-x; every bool
	// field of vLLM's engine args is an argparse BooleanOptionalAction).
	Min, Max, Step float64
	Float          bool
	Options        []any
	Bool           bool
	// Default is vLLM's own default in VLLMVersion, which a baseline keeps
	// because it never passes the flag.
	Default string
	// FromPython marks ranges taken over from the Python tool's last table;
	// the others were added here.
	FromPython bool
}

// Dist is the range as a search-space distribution.
func (f FlagRange) Dist() (space.Distribution, error) {
	var d space.Distribution
	var err error
	switch {
	case f.Bool:
		d, err = space.NewCategorical([]any{true, false})
	case f.Options != nil:
		d, err = space.NewCategorical(f.Options)
	case f.Float:
		d, err = space.NewFloat(f.Min, f.Max, false, f.Step)
	default:
		d, err = space.NewInt(int64(f.Min), int64(f.Max), false, int64(f.Step))
	}
	if err != nil {
		return nil, fmt.Errorf("built-in range of %s: %w", f.Name, err)
	}
	return d, nil
}

// The ranges of vLLM 0.11.0's API server. Where the Python tool's table had
// values that vLLM 0.11.0 refuses, ignores or advises against, they were left
// out (see flagNotes for whole flags).
var flagTable = []FlagRange{
	{Name: "max_num_seqs", Min: 32, Max: 1024, Step: 32,
		Default: "256, or 1024 on GPUs with at least 70 GiB other than A100; never above max_num_batched_tokens"},
	{Name: "max_num_batched_tokens", Min: 1024, Max: 32768, Step: 1024, FromPython: true,
		Default: "2048, or 8192 on GPUs with at least 70 GiB other than A100 (with chunked prefill)"},
	{Name: "gpu_memory_utilization", Float: true, Min: 0.70, Max: 0.95, Step: 0.01, FromPython: true, Default: "0.9"},
	// The Python table also had 64 and 128. vLLM 0.11.0 accepts them, but its
	// own help says "On CUDA devices, only block sizes up to 32 are
	// supported", so a default range should not spend trials on them; an
	// options list can still ask for them.
	{Name: "block_size", Options: []any{int64(8), int64(16), int64(32)}, FromPython: true, Default: "16 on CUDA (set by the platform)"},
	{Name: "kv_cache_dtype", Options: []any{"auto", "fp8", "fp8_e5m2", "fp8_e4m3"}, FromPython: true, Default: "auto (the model's dtype)"},
	// One value N means capture sizes 1, 2, 4 and 8..N in steps of 8.
	{Name: "cuda_graph_sizes", Min: 1000, Max: 8000, Step: 1000, FromPython: true,
		Default: "none: sizes 1, 2, 4 and 8 up to min(2 × max_num_seqs, 512) in steps of 8"},
	{Name: "long_prefill_token_threshold", Options: ints(0, 256, 512, 1024, 2048, 4096, 8192), FromPython: true, Default: "0"},
	{Name: "tensor_parallel_size", Options: ints(1, 2, 4, 8), FromPython: true, Default: "1"},
	{Name: "pipeline_parallel_size", Options: ints(1, 2, 4), FromPython: true, Default: "1"},
	{Name: "data_parallel_size", Options: ints(1, 2, 4), FromPython: true, Default: "1"},
	{Name: "enable_prefix_caching", Bool: true, FromPython: true, Default: "on for generative models"},
	{Name: "cpu_offload_gb", Min: 0, Max: 64, Step: 4, FromPython: true, Default: "0"},
	{Name: "enforce_eager", Bool: true, Default: "false (CUDA graphs on)"},
	{Name: "enable_chunked_prefill", Bool: true, Default: "on for generative models"},
	{Name: "async_scheduling", Bool: true, Default: "false"},
	{Name: "calculate_kv_scales", Bool: true, Default: "false"},
	{Name: "disable_cascade_attn", Bool: true, Default: "false"},
	{Name: "disable_custom_all_reduce", Bool: true, Default: "false"},
	{Name: "enable_expert_parallel", Bool: true, Default: "false"},
	{Name: "dtype", Options: []any{"auto", "bfloat16", "float16"}, Default: "auto (the model's dtype)"},
	{Name: "scheduling_policy", Options: []any{"fcfs", "priority"}, Default: "fcfs"},
}

func ints(xs ...int64) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// noteKind says what is wrong with a name the table leaves out on purpose.
type noteKind int

const (
	notAFlag  noteKind = iota // never a vLLM flag: an error wherever it is used
	removed                   // gone from VLLMVersion: a warning when given a range
	untunable                 // a flag, but sampling it is useless in VLLMVersion: a warning too
	noRange                   // a flag with no sensible built-in range: short form only
)

type flagNote struct {
	kind noteKind
	why  string
}

// flagNotes explains names users take from the Python tool's table, docs or
// examples that the table has no range for.
var flagNotes = map[string]flagNote{
	"enable_cuda_graphs": {notAFlag, "is not a vLLM flag: CUDA graphs are on unless --enforce-eager is given; " +
		"tune enforce_eager (true turns CUDA graphs off) or cuda_graph_sizes (the capture sizes) instead"},
	"max_seq_len_to_capture": {removed, "was removed from vLLM before " + VLLMVersion + " (CUDA graph capture follows cuda_graph_sizes); " +
		"vLLM " + VLLMVersion + " and later refuse it"},
	"scheduler_delay_factor": {removed, "belonged to vLLM's V0 scheduler, which vLLM " + VLLMVersion + " no longer has"},
	"num_scheduler_steps":    {removed, "belonged to vLLM's V0 scheduler, which vLLM " + VLLMVersion + " no longer has"},
	"swap_space":             {untunable, "has no effect in vLLM " + VLLMVersion + " (its V1 engine recomputes preempted requests instead of swapping)"},
	"max_num_partial_prefills": {untunable, "must stay 1 in vLLM " + VLLMVersion +
		": concurrent partial prefill is not in its V1 engine, which refuses other values"},
	"max_long_partial_prefills": {untunable, "must stay 1 in vLLM " + VLLMVersion +
		": concurrent partial prefill is not in its V1 engine, which refuses other values"},
	"compilation_config": {noRange, "takes a JSON object (-O<n> is the shorthand for its level); list the values to try as options"},
}

// LookupFlag returns the built-in range of a vLLM flag (snake_case).
func LookupFlag(name string) (FlagRange, bool) {
	for _, f := range flagTable {
		if f.Name == name {
			return f, true
		}
	}
	return FlagRange{}, false
}

// FlagNames lists the flags the table has ranges for, sorted.
func FlagNames() []string {
	out := make([]string, len(flagTable))
	for i, f := range flagTable {
		out[i] = f.Name
	}
	sort.Strings(out)
	return out
}

// tableSource says where a built-in range comes from, for `validate`.
func tableSource(f FlagRange) string {
	if f.FromPython {
		return "built-in table, vLLM " + VLLMVersion + " (from the Python tool's v0_11_0 schema)"
	}
	return "built-in table, vLLM " + VLLMVersion
}

// shortFormError explains why `enabled: true` alone does not work for name.
func shortFormError(name string) string {
	if n, ok := flagNotes[name]; ok && n.kind != notAFlag {
		return fmt.Sprintf("`enabled: true` alone takes its range from the built-in table (vLLM %s), which has none for %s: it %s; give min and max, or options, to tune it anyway",
			VLLMVersion, name, n.why)
	}
	names := FlagNames()
	return fmt.Sprintf("`enabled: true` alone takes its range from the built-in table (vLLM %s), which does not know %s%s; give min and max, or options; the table knows: %s",
		VLLMVersion, name, suggest(name, names), strings.Join(names, ", "))
}
