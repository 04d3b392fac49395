package main

import (
	"math"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// The surfaces here and in optuna_side.py must stay identical.

type surface struct {
	name  string
	dirs  []sampler.Direction
	space space.Space
	// eval returns the objective values and the constraint (> 0 = infeasible).
	eval func(p map[string]any) ([]float64, float64)
	// ref is the hypervolume reference point of a multi-objective surface,
	// as losses (maximised objectives negated).
	ref []float64
}

func must(d space.Distribution, err error) space.Distribution {
	if err != nil {
		panic(err)
	}
	return d
}

func num(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	panic("not a number")
}

var block = map[int64]float64{8: 0.93, 16: 1.0, 32: 0.98, 64: 0.9}

func surfaces() []surface {
	return []surface{
		{
			name: "throughput", dirs: []sampler.Direction{sampler.Maximize},
			space: space.Space{
				{Name: "max_num_seqs", Dist: must(space.NewInt(8, 512, false, 8))},
				{Name: "max_num_batched_tokens", Dist: must(space.NewInt(1024, 16384, false, 1024))},
				{Name: "gpu_memory_utilization", Dist: must(space.NewFloat(0.70, 0.95, false, 0.01))},
				{Name: "block_size", Dist: must(space.NewCategorical([]any{8, 16, 32, 64}))},
				{Name: "kv_cache_dtype", Dist: must(space.NewCategorical([]any{"auto", "fp8"}))},
			},
			eval: func(p map[string]any) ([]float64, float64) {
				mns, mnbt, gmu := num(p["max_num_seqs"]), num(p["max_num_batched_tokens"]), num(p["gpu_memory_utilization"])
				fp8 := p["kv_cache_dtype"] == "fp8"
				blk := p["block_size"].(int64)
				cap := (gmu - 0.6) * 1000
				if fp8 {
					cap *= 2
				}
				batch := math.Min(mns, cap/10)
				f := 1000 * batch / (batch + 40) * mnbt / (mnbt + 4096) * math.Exp(-mnbt/40000)
				f *= block[blk]
				if fp8 {
					f *= 0.97
				}
				f *= 1 - 0.5*math.Max(0, mns-cap/10)/512
				c := gmu - 0.93
				if blk == 64 {
					c += 0.02
				}
				return []float64{f}, c
			},
		},
		{
			name: "latency", dirs: []sampler.Direction{sampler.Minimize},
			space: space.Space{
				{Name: "max_num_seqs", Dist: must(space.NewInt(1, 1024, true, 1))},
				{Name: "enable_chunked_prefill", Dist: must(space.NewCategorical([]any{true, false}))},
				{Name: "long_prefill_token_threshold", Dist: must(space.NewInt(0, 8192, false, 256))},
				{Name: "scheduling_policy", Dist: must(space.NewCategorical([]any{"fcfs", "priority"}))},
			},
			eval: func(p map[string]any) ([]float64, float64) {
				mns, lpt := num(p["max_num_seqs"]), num(p["long_prefill_token_threshold"])
				chunked := p["enable_chunked_prefill"] == true
				lat := 50 + 2000/(mns+4) + 0.2*mns
				k := 1.0
				if !chunked {
					lat += 30
				} else {
					k = 5
				}
				lat += math.Pow((lpt-2048)/1024, 2) * k
				if p["scheduling_policy"] == "priority" {
					lat -= 5
				}
				return []float64{lat}, -1
			},
		},
		{
			name: "tradeoff", dirs: []sampler.Direction{sampler.Maximize, sampler.Minimize}, ref: []float64{0, 150},
			space: tradeoffSpace(),
			eval: func(p map[string]any) ([]float64, float64) {
				thr, lat, gmu := tradeoff(p)
				return []float64{thr, lat}, gmu - 0.93
			},
		},
		{
			// The tradeoff surface with a third objective, the GPU memory the
			// server takes (of 80 GB), which throughput wants more of.
			name: "tradeoff3", dirs: []sampler.Direction{sampler.Maximize, sampler.Minimize, sampler.Minimize}, ref: []float64{0, 150, 80},
			space: tradeoffSpace(),
			eval: func(p map[string]any) ([]float64, float64) {
				thr, lat, gmu := tradeoff(p)
				return []float64{thr, lat, 80 * gmu}, gmu - 0.93
			},
		},
		{
			// Maximise throughput subject to TTFT p95 ≤ 1 s: 7.6% of the grid is
			// feasible and the optimum sits on the SLO's edge.
			name: "slo", dirs: []sampler.Direction{sampler.Maximize},
			space: space.Space{
				{Name: "max_num_seqs", Dist: must(space.NewInt(8, 512, false, 8))},
				{Name: "max_num_batched_tokens", Dist: must(space.NewInt(1024, 16384, false, 1024))},
				{Name: "enable_chunked_prefill", Dist: must(space.NewCategorical([]any{true, false}))},
				{Name: "gpu_memory_utilization", Dist: must(space.NewFloat(0.70, 0.95, false, 0))},
			},
			eval: func(p map[string]any) ([]float64, float64) {
				mns, mnbt, gmu := num(p["max_num_seqs"]), num(p["max_num_batched_tokens"]), num(p["gpu_memory_utilization"])
				chunked := p["enable_chunked_prefill"] == true
				thr := 1000 * mns / (mns + 48) * mnbt / (mnbt + 3072) * (0.85 + 0.6*(gmu-0.7))
				stall, pressure := mnbt/8192, 0.15*math.Max(0, gmu-0.85)/0.1
				if chunked {
					stall *= 0.3
				} else {
					thr *= 1.06
					pressure *= 2
				}
				ttftP95 := 0.35 + 0.0045*mns + stall + pressure
				return []float64{thr}, ttftP95 - 1
			},
		},
	}
}

func tradeoffSpace() space.Space {
	return space.Space{
		{Name: "max_num_seqs", Dist: must(space.NewInt(8, 512, false, 8))},
		{Name: "max_num_batched_tokens", Dist: must(space.NewInt(1024, 16384, false, 1024))},
		{Name: "gpu_memory_utilization", Dist: must(space.NewFloat(0.70, 0.95, false, 0))},
		{Name: "enable_prefix_caching", Dist: must(space.NewCategorical([]any{true, false}))},
	}
}

// tradeoff is throughput against latency: more sequences and a larger
// token budget raise both.
func tradeoff(p map[string]any) (thr, lat, gmu float64) {
	mns, mnbt, gmu := num(p["max_num_seqs"]), num(p["max_num_batched_tokens"]), num(p["gpu_memory_utilization"])
	thr = 1000 * mns / (mns + 64) * mnbt / (mnbt + 2048) * (gmu / 0.95)
	lat = 20 + 0.15*mns + mnbt/400 + 30*(0.95-gmu)
	if p["enable_prefix_caching"] == true {
		thr *= 1.1
		lat -= 3
	}
	return thr, lat, gmu
}
