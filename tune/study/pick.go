package study

import (
	"fmt"
	"math"
	"sort"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
)

// Reference is the baseline results are compared with: of the completed
// baselines (one per concurrency level), the one at the search trials'
// concurrency, else the first; nil when none completed.
func Reference(trials []Trial, concurrency int) *Trial {
	var base *Trial
	for i, t := range trials {
		if t.Kind() != Baseline || t.State != Complete {
			continue
		}
		if base == nil || concurrency > 0 && t.BaselineConcurrency() == concurrency && base.BaselineConcurrency() != concurrency {
			base = &trials[i]
		}
	}
	return base
}

// Candidates are the trials worth confirming, best first: the top feasible
// completed search trials for one objective; for several, the Pareto set,
// and where it has more than top members, top of them spread along it
// (both ends kept). A configuration measured twice (a duplicate) counts once.
func Candidates(trials []Trial, dirs []Direction, top int) []Trial {
	var all []Trial
	for _, t := range trials {
		if t.Kind() == Search && t.State == Complete && t.Feasible() && len(t.Values) == len(dirs) && !hasNaN(t.Values) {
			all = append(all, t)
		}
	}
	// Best first, so of a configuration measured twice the better run stands.
	sort.SliceStable(all, func(i, j int) bool { return loss(all[i].Values, dirs, 0) < loss(all[j].Values, dirs, 0) })
	var pool []Trial
	seen := map[string]bool{}
	for _, t := range all {
		if k := paramsKey(t); !seen[k] {
			seen[k] = true
			pool = append(pool, t)
		}
	}
	if top <= 0 || len(pool) == 0 {
		return nil
	}
	if len(dirs) == 1 {
		return pool[:min(top, len(pool))]
	}
	f := paretoFront(pool, dirs)
	if len(f) <= top {
		return f
	}
	if top == 1 {
		return f[:1]
	}
	out := make([]Trial, top)
	for i := range out {
		out[i] = f[i*(len(f)-1)/(top-1)]
	}
	return out
}

// loss is value i made smaller-is-better.
func loss(values []float64, dirs []Direction, i int) float64 {
	if dirs[i] == Maximize {
		return -values[i]
	}
	return values[i]
}

// paretoFront is the non-dominated trials, by the first objective.
func paretoFront(ts []Trial, dirs []Direction) []Trial {
	losses := make([][]float64, len(ts))
	for k, t := range ts {
		losses[k] = make([]float64, len(dirs))
		for i := range dirs {
			losses[k][i] = loss(t.Values, dirs, i)
		}
	}
	var out []Trial
	for _, k := range sampler.Front(losses) {
		out = append(out, ts[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return loss(out[i].Values, dirs, 0) < loss(out[j].Values, dirs, 0) })
	return out
}

func hasNaN(vs []float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) {
			return true
		}
	}
	return false
}

func paramsKey(t Trial) string {
	names := make([]string, 0, len(t.Dists))
	for name := range t.Dists {
		names = append(names, name)
	}
	sort.Strings(names)
	k := ""
	for _, name := range names {
		k += fmt.Sprintf("%s=%v;", name, t.External(name))
	}
	return k
}
