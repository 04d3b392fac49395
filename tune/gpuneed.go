package tune

import (
	"math"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// GPUNeeds is the fewest and the most GPUs any trial of the study asks for
// (tensor × pipeline × data parallel size, baselines included), so a
// backend can refuse a study that no node could run before anything starts.
func GPUNeeds(cfg *config.Study) (lo, hi int) {
	lo, hi = 1, 1
	for _, name := range trial.ParallelSizes {
		l, h := 1.0, 1.0
		for _, v := range cfg.Static {
			if n, ok := trial.Number(v.Value); ok && trial.Canonical(v.Name) == name {
				l, h = n, n
			}
		}
		for _, p := range cfg.Parameters {
			if p.Env || trial.Canonical(p.Name) != name {
				continue
			}
			l, h = math.Inf(1), math.Inf(-1)
			for _, x := range bounds(p.Dist) {
				l, h = math.Min(l, x), math.Max(h, x)
			}
		}
		if cfg.Baseline != nil {
			for _, v := range cfg.Baseline.Parameters {
				if n, ok := trial.Number(v.Value); ok && trial.Canonical(v.Name) == name {
					l, h = math.Min(l, n), math.Max(h, n)
				}
			}
		}
		if math.IsInf(l, 0) || math.IsInf(h, 0) {
			continue
		}
		lo *= max(int(l), 1)
		hi *= max(int(h), 1)
	}
	return lo, hi
}

// bounds is what a distribution can yield, as far as its bounds matter.
func bounds(d space.Distribution) []float64 {
	switch x := d.(type) {
	case *space.Int:
		return []float64{float64(x.Low), float64(x.High)}
	case *space.Float:
		return []float64{x.Low, x.High}
	case *space.Categorical:
		var out []float64
		for _, c := range x.Choices {
			if v, ok := trial.Number(c); ok {
				out = append(out, v)
			}
		}
		return out
	}
	return nil
}
