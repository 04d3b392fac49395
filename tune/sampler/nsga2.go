package sampler

import (
	"math"
	"sort"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// NSGA2 is the multi-objective genetic algorithm with Optuna's defaults:
// generation 0 is random; each next generation breeds from the elite of the
// previous parents and offspring (constrained non-dominated sorting, then
// crowding distance), by binary tournament, uniform crossover and mutation.
// Trial n belongs to generation n / PopulationSize.
type NSGA2 struct {
	Seed           uint64
	PopulationSize int     // default 50
	CrossoverProb  float64 // default 0.9
	SwappingProb   float64 // default 0.5
	MutationProb   float64 // default 1/len(params)
}

var _ Sampler = (*NSGA2)(nil)

func (s *NSGA2) defaults(nParams int) NSGA2 {
	o := *s
	if o.PopulationSize <= 1 {
		o.PopulationSize = 50
	}
	if o.CrossoverProb == 0 {
		o.CrossoverProb = 0.9
	}
	if o.SwappingProb == 0 {
		o.SwappingProb = 0.5
	}
	if o.MutationProb == 0 {
		o.MutationProb = 1 / math.Max(1, float64(nParams))
	}
	return o
}

func (s *NSGA2) Sample(h *History, sp space.Space, number int) (map[string]float64, error) {
	o := s.defaults(len(sp))
	rng := rngFor(o.Seed, number)
	gen := number / o.PopulationSize
	parents := elite(h, o.PopulationSize, gen)
	out := make(map[string]float64, len(sp))
	if len(parents) == 0 {
		for _, p := range sp {
			out[p.Name] = randomValue(rng, p.Dist)
		}
		return out, nil
	}
	p1 := tournament(rng, parents, h.Directions)
	p2 := tournament(rng, parents, h.Directions)
	cross := rng.Float64() < o.CrossoverProb
	for _, p := range sp {
		v, ok := p1.Params[p.Name]
		if cross && rng.Float64() < o.SwappingProb {
			v, ok = p2.Params[p.Name]
		}
		if !ok || !p.Dist.Contains(v) || rng.Float64() < o.MutationProb {
			v = randomValue(rng, p.Dist)
		}
		out[p.Name] = v
	}
	return out, nil
}

// elite is the parent population of generation gen.
func elite(h *History, pop, gen int) []*Trial {
	var parents []*Trial
	for g := 1; g <= gen; g++ {
		cands := append([]*Trial{}, parents...)
		for i := range h.Trials {
			tr := &h.Trials[i]
			if tr.State == Complete && tr.Number/pop == g-1 {
				cands = append(cands, tr)
			}
		}
		parents = selectElite(cands, h.Directions, pop)
	}
	return parents
}

// constrainedDominates: a feasible trial beats an infeasible one; of two
// infeasible ones the smaller violation wins; of two feasible ones, Pareto.
func constrainedDominates(a, b *Trial, dirs []Direction) bool {
	va, vb := a.Infeasibility(), b.Infeasibility()
	switch {
	case va == 0 && vb > 0:
		return true
	case va > 0 && vb == 0:
		return false
	case va > 0 && vb > 0:
		return va < vb
	}
	return dominates(loss(a.Values, dirs), loss(b.Values, dirs))
}

func fronts(ts []*Trial, dirs []Direction) [][]*Trial {
	var out [][]*Trial
	left := append([]*Trial{}, ts...)
	for len(left) > 0 {
		var front, rest []*Trial
		for i, a := range left {
			dominated := false
			for j, b := range left {
				if i != j && constrainedDominates(b, a, dirs) {
					dominated = true
					break
				}
			}
			if dominated {
				rest = append(rest, a)
			} else {
				front = append(front, a)
			}
		}
		out = append(out, front)
		left = rest
	}
	return out
}

func selectElite(ts []*Trial, dirs []Direction, n int) []*Trial {
	var out []*Trial
	for _, f := range fronts(ts, dirs) {
		if len(out)+len(f) <= n {
			out = append(out, f...)
			continue
		}
		d := crowding(f, dirs)
		idx := make([]int, len(f))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return d[idx[a]] > d[idx[b]] })
		for _, i := range idx[:n-len(out)] {
			out = append(out, f[i])
		}
		break
	}
	return out
}

func crowding(f []*Trial, dirs []Direction) []float64 {
	d := make([]float64, len(f))
	if len(f) <= 2 {
		for i := range d {
			d[i] = math.Inf(1)
		}
		return d
	}
	m := len(f[0].Values)
	for k := 0; k < m; k++ {
		idx := make([]int, len(f))
		for i := range idx {
			idx[i] = i
		}
		val := func(i int) float64 { return loss(f[i].Values, dirs)[k] }
		sort.SliceStable(idx, func(a, b int) bool { return val(idx[a]) < val(idx[b]) })
		lo, hi := val(idx[0]), val(idx[len(idx)-1])
		d[idx[0]], d[idx[len(idx)-1]] = math.Inf(1), math.Inf(1)
		if hi == lo || math.IsInf(hi-lo, 0) {
			continue
		}
		for i := 1; i < len(idx)-1; i++ {
			d[idx[i]] += (val(idx[i+1]) - val(idx[i-1])) / (hi - lo)
		}
	}
	return d
}

func tournament(rng randSource, pop []*Trial, dirs []Direction) *Trial {
	a, b := pop[rng.IntN(len(pop))], pop[rng.IntN(len(pop))]
	switch {
	case constrainedDominates(a, b, dirs):
		return a
	case constrainedDominates(b, a, dirs):
		return b
	}
	if rng.IntN(2) == 0 {
		return a
	}
	return b
}
