package gp

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// OptimizeOptions are Optuna's acquisition-optimiser settings.
type OptimizeOptions struct {
	Preliminary int     // Sobol candidates scored first (default 2048)
	LocalSearch int     // local searches, warm starts included (default 10)
	Tol         float64 // default 1e-4
}

func (o *OptimizeOptions) defaults() {
	if o.Preliminary <= 0 {
		o.Preliminary = 2048
	}
	if o.LocalSearch <= 0 {
		o.LocalSearch = 10
	}
	if o.Tol <= 0 {
		o.Tol = 1e-4
	}
}

// Optimize maximises acq over the space: it scores scrambled-Sobol
// candidates, then runs a local search from the best of them, from a few
// more picked by a roulette weighted by exp(acq − max), and from the warm
// starts (the best trials so far). It returns the best point found that is
// not one of tried (see untried).
func Optimize(acq Acquisition, sp Space, rng *rand.Rand, warm, tried [][]float64, o OptimizeOptions) ([]float64, float64) {
	o.defaults()
	cands := sp.Sample(rng, o.Preliminary)
	f := make([]float64, len(cands))
	best := 0
	for i, c := range cands {
		f[i] = acq.Eval(c)
		if f[i] > f[best] || math.IsNaN(f[best]) {
			best = i
		}
	}
	starts := [][]float64{cands[best]}
	nWarm := min(len(warm), o.LocalSearch-1)
	if extra := o.LocalSearch - nWarm - 1; extra > 0 && !math.IsInf(f[best], 0) && !math.IsNaN(f[best]) {
		w := make([]float64, len(f))
		for i := range f {
			if i != best && !math.IsNaN(f[i]) {
				w[i] = math.Exp(f[i] - f[best])
			}
		}
		for _, i := range weightedPick(rng, w, extra) {
			starts = append(starts, cands[i])
		}
	}
	starts = append(starts, warm[:nWarm]...)
	ls := newLocalSearch(acq, sp, o.Tol)
	var ends []scored
	for _, s := range starts {
		x, v := ls.run(append([]float64{}, s...))
		ends = append(ends, scored{x, v})
	}
	slices.SortStableFunc(ends, func(a, b scored) int { return cmp.Compare(b.f, a.f) })
	return untried(acq, sp, ends, cands, f, tried)
}

type scored struct {
	x []float64
	f float64
}

// untried picks the best point that was not tried before. Where the space
// is discrete a local search can end on a trial's own configuration (the
// incumbent, whose log EI never quite reaches −∞): measuring it again
// teaches nothing, and a study reuses the earlier result anyway, so the
// trial would be spent for nothing. The next best are then the other local
// optima, the grid neighbours of the best one (one step along a discrete
// dimension, another choice of a categorical), and the Sobol candidates. If
// everything scored was tried, the best is returned as it is.
func untried(acq Acquisition, sp Space, ends []scored, cands [][]float64, f []float64, tried [][]float64) ([]float64, float64) {
	isTried := func(x []float64) bool {
		for _, t := range tried {
			if samePoint(t, x) {
				return true
			}
		}
		return false
	}
	for _, e := range ends {
		if !isTried(e.x) {
			return e.x, e.f
		}
	}
	best := scored{f: math.Inf(-1)}
	consider := func(x []float64, v float64) {
		if (best.x == nil || v > best.f) && !isTried(x) {
			best = scored{x, v}
		}
	}
	top := ends[0].x
	for i, d := range sp {
		if d.Kind == Continuous {
			continue
		}
		choices := d.choices()
		k := nearest(choices, top[i])
		for j := range choices {
			if j == k || (d.Kind == Discrete && (j < k-1 || j > k+1)) {
				continue
			}
			x := append([]float64{}, top...)
			x[i] = choices[j]
			consider(x, acq.Eval(x))
		}
	}
	for i, c := range cands {
		consider(c, f[i])
	}
	if best.x == nil {
		return ends[0].x, ends[0].f
	}
	return best.x, best.f
}

// samePoint reports whether a and b are one configuration (normalised
// coordinates equal up to rounding).
func samePoint(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(u, v float64) bool { return math.Abs(u-v) <= 1e-9 })
}

// weightedPick draws up to k distinct indices with probability proportional
// to w (zero weights are never drawn).
func weightedPick(rng *rand.Rand, w []float64, k int) []int {
	w = append([]float64{}, w...)
	var out []int
	for len(out) < k {
		total := 0.0
		for _, x := range w {
			total += x
		}
		if !(total > 0) || math.IsInf(total, 0) {
			break
		}
		u := rng.Float64() * total
		pick := -1
		for i, x := range w {
			if x <= 0 {
				continue
			}
			pick = i
			if u < x {
				break
			}
			u -= x
		}
		out = append(out, pick)
		w[pick] = 0
	}
	return out
}

type localSearch struct {
	acq      Acquisition
	sp       Space
	cont     []int     // continuous dimensions
	scales   []float64 // their length scales
	discrete []int
	choices  [][]float64
	tol      float64
}

func newLocalSearch(acq Acquisition, sp Space, tol float64) *localSearch {
	ls := &localSearch{acq: acq, sp: sp, tol: tol}
	all := acq.LengthScales()
	for i, d := range sp {
		if d.Kind == Continuous {
			ls.cont = append(ls.cont, i)
			ls.scales = append(ls.scales, all[i])
		} else {
			ls.discrete = append(ls.discrete, i)
			ls.choices = append(ls.choices, d.choices())
		}
	}
	return ls
}

// run alternates a gradient step over the continuous dimensions with a
// search along each discrete one, until a whole round changes nothing.
func (ls *localSearch) run(x []float64) ([]float64, float64) {
	const continuous = -1
	f := ls.acq.Eval(x)
	last := continuous
	for iter := 0; iter < 100; iter++ {
		if ls.gradientAscent(x, &f) {
			last = continuous
		}
		for k, i := range ls.discrete {
			if last == i {
				return x, f
			}
			if ls.searchDiscrete(x, &f, i, ls.choices[k]) {
				last = i
			}
		}
		if last == continuous {
			return x, f
		}
	}
	return x, f
}

// searchDiscrete tries the other values of dimension i: all of them for a
// categorical or a short grid, a golden-section search over the linear
// interpolation between grid points, from the current value, otherwise.
func (ls *localSearch) searchDiscrete(x []float64, f *float64, i int, choices []float64) bool {
	if len(choices) <= 1 {
		return false
	}
	cur := nearest(choices, x[i])
	cache := map[int]float64{cur: *f}
	at := func(k int) float64 {
		if v, ok := cache[k]; ok {
			return v
		}
		old := x[i]
		x[i] = choices[k]
		v := ls.acq.Eval(x)
		x[i] = old
		cache[k] = v
		return v
	}
	bestK := cur
	if ls.sp[i].Kind == Categorical || len(choices) <= 16 {
		for k := range choices {
			if v := at(k); v > cache[bestK] {
				bestK = k
			}
		}
	} else {
		bestK = bracketedGrid(choices, at, cur)
	}
	if bestK != cur && at(bestK) > *f {
		x[i], *f = choices[bestK], at(bestK)
		return true
	}
	return false
}

// bracketedGrid maximises the piecewise-linear interpolation of at over
// the grid by a golden-section search from the bracket (first point,
// current, last point), as Optuna's Brent search from that bracket does, so
// that it settles on the local maximum around the current value rather than
// wherever a search over the whole range lands. Outside the grid the value
// is −∞, so the bracket always holds.
func bracketedGrid(grid []float64, at func(int) float64, cur int) int {
	interp := func(u float64) float64 {
		if u < grid[0] || u > grid[len(grid)-1] {
			return math.Inf(-1)
		}
		r := 1
		for r < len(grid)-1 && grid[r] < u {
			r++
		}
		l := r - 1
		w := (grid[r] - u) / (grid[r] - grid[l])
		return w*at(l) + (1-w)*at(r)
	}
	xtol := math.Inf(1)
	for k := 1; k < len(grid); k++ {
		xtol = math.Min(xtol, (grid[k]-grid[k-1])/4)
	}
	const eps = 1e-12
	const r = 0.3819660112501051 // 2 − φ
	a, b := grid[0]-eps, grid[len(grid)-1]+eps
	x, fx := grid[cur], at(cur)
	for b-a > xtol {
		// Probe the larger side of x at the golden ratio.
		var u float64
		if x-a > b-x {
			u = x - r*(x-a)
		} else {
			u = x + r*(b-x)
		}
		fu := interp(u)
		if fu > fx {
			if u < x {
				b = x
			} else {
				a = x
			}
			x, fx = u, fu
		} else {
			if u < x {
				a = u
			} else {
				b = u
			}
		}
	}
	return nearest(grid, x)
}

func nearest(grid []float64, v float64) int {
	best := 0
	for k, g := range grid {
		if math.Abs(g-v) < math.Abs(grid[best]-v) {
			best = k
		}
	}
	return best
}
