package trial

import (
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

// MeanOfRuns is what repeated benchmark runs of one server measured: each
// metric's mean over the runs (a metric some run lacks is left out: it was
// not measured every time). With two runs or more, a throughput's 95 %
// interval is that of the mean of the runs' means: the spread between runs
// (server state, batching luck) is the noise a comparison must beat, and
// the spread within one run's seconds understates it.
func MeanOfRuns(runs []map[string]float64) map[string]float64 {
	switch len(runs) {
	case 0:
		return nil
	case 1:
		return runs[0]
	}
	out := map[string]float64{}
	for k := range runs[0] {
		xs := make([]float64, 0, len(runs))
		for _, r := range runs {
			if v, ok := r[k]; ok {
				xs = append(xs, v)
			}
		}
		if len(xs) == len(runs) {
			out[k] = stats.Mean(xs)
		}
	}
	low := "_" + metric.CI95Low
	for k := range runs[0] {
		name, ok := strings.CutSuffix(k, low)
		if !ok {
			continue
		}
		means := make([]float64, 0, len(runs))
		for _, r := range runs {
			if v, ok := r[metric.Stat(name, metric.Mean)]; ok {
				means = append(means, v)
			}
		}
		if len(means) < len(runs) {
			continue
		}
		m, half := stats.CI95(means)
		out[k], out[metric.Stat(name, metric.CI95High)] = m-half, m+half
	}
	return out
}
