package report

import (
	"fmt"
	"sort"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// Reference is the baseline results are compared with: of the completed
// baselines (one per concurrency level), the one at the search trials'
// concurrency, else the first; nil when none completed.
func Reference(trials []study.Trial, concurrency int) *study.Trial {
	var base *study.Trial
	for i, t := range trials {
		if t.Kind() != study.Baseline || t.State != study.Complete {
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
func Candidates(trials []study.Trial, objs []Objective, top int) []study.Trial {
	var all []study.Trial
	for _, t := range trials {
		if t.Kind() == study.Search && t.State == study.Complete && t.Feasible() && finite(t.Values) && len(t.Values) == len(objs) {
			all = append(all, t)
		}
	}
	// Best first, so of a configuration measured twice the better run stands.
	sort.SliceStable(all, func(i, j int) bool { return loss(all[i].Values, objs, 0) < loss(all[j].Values, objs, 0) })
	var pool []study.Trial
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
	if len(objs) == 1 {
		return pool[:min(top, len(pool))]
	}
	f := front(pool, objs)
	if len(f) <= top {
		return f
	}
	if top == 1 {
		return f[:1]
	}
	out := make([]study.Trial, top)
	for i := range out {
		out[i] = f[i*(len(f)-1)/(top-1)]
	}
	return out
}

// loss is value i made smaller-is-better.
func loss(values []float64, objs []Objective, i int) float64 {
	if objs[i].Maximize {
		return -values[i]
	}
	return values[i]
}

func paramsKey(t study.Trial) string {
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
