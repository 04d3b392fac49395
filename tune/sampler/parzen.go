package sampler

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

// parzen is a mixture of product distributions: one kernel per observation
// plus a prior kernel, each a product over dimensions of a truncated normal
// (numeric) or a smoothed one-hot (categorical) — Optuna's _ParzenEstimator.
type parzen struct {
	weights []float64 // per kernel, summing to 1
	logW    []float64
	dims    []dimension
}

type dimension struct {
	cat        bool
	catWeights [][]float64 // [kernel][choice]
	catLog     [][]float64 // log of catWeights

	mu, sigma             []float64 // per kernel, in the transformed (log) space
	low, high             float64   // original bounds
	step                  float64   // 0 = continuous
	log                   bool
	adaptedLow, adaptHigh float64 // transformed bounds, widened by step/2 if discrete

	// order lists the kernels by μ (observations first, in computeSigmas'
	// order, then the prior).
	order []int
	// catLogT[c][k] is catLog[k][c], so one choice scans kernels contiguously.
	catLogT [][]float64

	// Kernels sharing a (μ, σ) pair — common on discrete dimensions, where
	// many observations hold the same value — share every computation:
	// pair[k] indexes the u* arrays (μ, 1/σ, the truncation normaliser
	// log(Φ(b)−Φ(a)), and base = −log σ − log √(2π), less the normaliser
	// for continuous dimensions); memo caches exact values per sample.
	pair                           []int32
	uMu, uInv, uBase, uNorm, uVals []float64
	memo                           []float64
}

// prepare precomputes what logPDF needs per kernel.
func (d *dimension) prepare() {
	if d.cat {
		d.catLog = make([][]float64, len(d.catWeights))
		for k, row := range d.catWeights {
			d.catLog[k] = make([]float64, len(row))
			for i, w := range row {
				d.catLog[k][i] = math.Log(w)
			}
		}
		if len(d.catWeights) > 0 {
			d.catLogT = make([][]float64, len(d.catWeights[0]))
			for c := range d.catLogT {
				d.catLogT[c] = make([]float64, len(d.catWeights))
				for k := range d.catWeights {
					d.catLogT[c][k] = d.catLog[k][c]
				}
			}
		}
		return
	}
	n := len(d.mu)
	d.pair = make([]int32, n)
	// Equal (μ, σ) pairs sit in runs of equal μ in the sorted order; within
	// a run only a few distinct σ occur, so a short scan finds them.
	type seen struct {
		sigma float64
		id    int32
	}
	var run []seen
	runMu := math.NaN()
	for _, k := range d.order {
		mu, sigma := d.mu[k], d.sigma[k]
		if mu != runMu {
			run, runMu = run[:0], mu
		}
		id := int32(-1)
		for _, r := range run {
			if r.sigma == sigma {
				id = r.id
				break
			}
		}
		if id < 0 {
			id = int32(len(d.uMu))
			run = append(run, seen{sigma, id})
			inv := 1 / sigma
			norm := stats.LogNormMass((d.adaptedLow-mu)*inv, (d.adaptHigh-mu)*inv)
			base := -math.Log(sigma) - normLogC
			if d.step == 0 {
				base -= norm
			}
			d.uMu, d.uInv, d.uBase, d.uNorm = append(d.uMu, mu), append(d.uInv, inv), append(d.uBase, base), append(d.uNorm, norm)
		}
		d.pair[k] = id
	}
	d.uVals = make([]float64, len(d.uMu))
	d.memo = make([]float64, len(d.uMu))
}

// addCheap adds the cheap value of every kernel at p to acc (see cheap).
func (d *dimension) addCheap(p *point, acc []float64) {
	switch {
	case d.cat:
		for k, v := range d.catLogT[int(p.x)] {
			acc[k] += v
		}
	case d.step == 0:
		if p.outside {
			for k := range acc {
				acc[k] = math.Inf(-1)
			}
			return
		}
		for u, mu := range d.uMu {
			z := (p.t - mu) * d.uInv[u]
			d.uVals[u] = d.uBase[u] - 0.5*z*z
		}
		for k, u := range d.pair {
			acc[k] += d.uVals[u]
		}
	default:
		for u, mu := range d.uMu {
			z := gap(mu, p.l, p.r) * d.uInv[u]
			b := p.logWidth + d.uBase[u] - 0.5*z*z
			if b > 0 {
				b = 0
			}
			d.uVals[u] = b - d.uNorm[u]
			d.memo[u] = math.NaN() // exact values of the previous sample are stale
		}
		for k, u := range d.pair {
			acc[k] += d.uVals[u]
		}
	}
}

type parzenOptions struct {
	priorWeight       float64
	considerMagicClip bool
	considerEndpoints bool
}

const eps = 1e-12

// defaultWeights ramps down older observations beyond the 25 newest.
func defaultWeights(n int) []float64 {
	w := make([]float64, n)
	if n < 25 {
		for i := range w {
			w[i] = 1
		}
		return w
	}
	ramp := n - 25
	for i := 0; i < ramp; i++ {
		if ramp == 1 {
			w[i] = 1.0 / float64(n)
		} else {
			w[i] = 1.0/float64(n) + (1-1.0/float64(n))*float64(i)/float64(ramp-1)
		}
	}
	for i := ramp; i < n; i++ {
		w[i] = 1
	}
	return w
}

// newParzen builds the estimator. obs[d] holds the observations of
// dimension d (internal values, the same count for every d); weights, if not
// nil, replaces the default observation weights.
func newParzen(obs [][]float64, sp space.Space, weights []float64, o parzenOptions) *parzen {
	n := 0
	if len(obs) > 0 {
		n = len(obs[0])
	}
	var w []float64
	if n == 0 {
		w = []float64{1}
	} else {
		if weights == nil {
			weights = defaultWeights(n)
		}
		w = append(append([]float64{}, weights...), o.priorWeight)
	}
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	for i := range w {
		w[i] /= sum
	}
	p := &parzen{weights: w}
	for d, prm := range sp {
		var ob []float64
		if d < len(obs) {
			ob = obs[d]
		}
		var dim dimension
		if c, ok := prm.Dist.(*space.Categorical); ok {
			dim = categoricalDim(ob, len(c.Choices), o)
		} else {
			dim = numericDim(ob, prm.Dist, o)
		}
		dim.prepare()
		p.dims = append(p.dims, dim)
	}
	p.logW = make([]float64, len(p.weights))
	for k, w := range p.weights {
		p.logW[k] = math.Log(w)
	}
	return p
}

func categoricalDim(obs []float64, nChoices int, o parzenOptions) dimension {
	if len(obs) == 0 {
		row := make([]float64, nChoices)
		for i := range row {
			row[i] = 1 / float64(nChoices)
		}
		return dimension{cat: true, catWeights: [][]float64{row}}
	}
	nKernels := len(obs) + 1
	rows := make([][]float64, nKernels)
	for k := range rows {
		row := make([]float64, nChoices)
		for i := range row {
			row[i] = o.priorWeight / float64(nKernels)
		}
		if k < len(obs) {
			row[int(obs[k])] += 1
		}
		s := 0.0
		for _, x := range row {
			s += x
		}
		if s == 0 {
			s = 1
		}
		for i := range row {
			row[i] /= s
		}
		rows[k] = row
	}
	return dimension{cat: true, catWeights: rows}
}

func numericDim(obs []float64, dist space.Distribution, o parzenOptions) dimension {
	var d dimension
	switch x := dist.(type) {
	case *space.Float:
		d.low, d.high, d.step, d.log = x.Low, x.High, x.Step, x.Log
	case *space.Int:
		d.low, d.high, d.step, d.log = float64(x.Low), float64(x.High), float64(x.Step), x.Log
	}
	low, high := d.low, d.high
	if d.step != 0 {
		low -= d.step / 2
		high += d.step / 2
	}
	mus := make([]float64, len(obs))
	copy(mus, obs)
	if d.log {
		low, high = math.Log(low), math.Log(high)
		for i := range mus {
			mus[i] = math.Log(mus[i])
		}
	}
	d.adaptedLow, d.adaptHigh = low, high
	sigmas, order := computeSigmas(mus, low, high, len(obs)+1, o, gridOrder(obs, d))
	d.mu = append(mus, 0.5*(low+high))
	d.sigma = append(sigmas, high-low)
	d.order = append(order, len(mus))
	return d
}

// computeSigmas gives each observation the larger distance to its sorted
// neighbours (the bounds at the ends), clipped to [min, high−low].
func computeSigmas(mus []float64, low, high float64, nKernels int, o parzenOptions, order []int) ([]float64, []int) {
	n := len(mus)
	if n == 0 {
		return nil, nil
	}
	idx := order
	if idx == nil {
		// Sorted by value, ties by index (a stable order), without reflection.
		byValue := make([]indexed, n)
		for i, m := range mus {
			byValue[i] = indexed{m, i}
		}
		slices.SortFunc(byValue, compareIndexed)
		idx = make([]int, n)
		for i, o := range byValue {
			idx[i] = o.i
		}
	}
	ends := make([]float64, n+2)
	ends[0], ends[n+1] = low, high
	for i, j := range idx {
		ends[i+1] = mus[j]
	}
	sorted := make([]float64, n)
	for i := 0; i < n; i++ {
		sorted[i] = math.Max(ends[i+1]-ends[i], ends[i+2]-ends[i+1])
	}
	if !o.considerEndpoints && n+2 >= 4 {
		sorted[0] = ends[2] - ends[1]
		sorted[n-1] = ends[n] - ends[n-1]
	}
	maxSigma := high - low
	minSigma := eps
	if o.considerMagicClip {
		minSigma = (high - low) / math.Min(100, 1+float64(nKernels))
	}
	out := make([]float64, n)
	for i, j := range idx {
		out[j] = math.Min(math.Max(sorted[i], minSigma), maxSigma)
	}
	return out, idx
}

// sample draws size points; out[d][i] is dimension d of point i, as
// internal values.
func (p *parzen) sample(rng *rand.Rand, size int) [][]float64 {
	active := make([]int, size)
	for i := range active {
		active[i] = choose(rng, p.weights)
	}
	out := make([][]float64, len(p.dims))
	for d, dim := range p.dims {
		col := make([]float64, size)
		for i, k := range active {
			if dim.cat {
				col[i] = float64(choose(rng, dim.catWeights[k]))
				continue
			}
			mu, sigma := dim.mu[k], dim.sigma[k]
			x := truncPPF(rng.Float64(), (dim.adaptedLow-mu)/sigma, (dim.adaptHigh-mu)/sigma)*sigma + mu
			if dim.log {
				x = math.Exp(x)
			}
			if dim.step != 0 {
				x = space.OnStep(x, dim.low, dim.high, dim.step)
			}
			col[i] = x
		}
		out[d] = col
	}
	return out
}

func choose(rng *rand.Rand, weights []float64) int {
	u := rng.Float64()
	c := 0.0
	for i, w := range weights {
		c += w
		if u < c {
			return i
		}
	}
	return len(weights) - 1
}

// logPDF is the mixture's log density (mass, for discrete dimensions) at
// each point of samples (laid out as sample returns them).
//
// The exact mass of a discrete dimension needs erfc and log per kernel, the
// bulk of TPE's cost. So every kernel first gets a cheap value: exact for
// categorical and continuous dimensions, an upper bound for discrete ones
// (mass ≤ width·peak density). Only kernels whose bound comes within e^-50 of
// the best exact kernel are computed exactly; the rest change the sum by
// less than 1e-19 of it.
func (p *parzen) logPDF(samples [][]float64) []float64 {
	size := 0
	if len(samples) > 0 {
		size = len(samples[0])
	}
	nk := len(p.weights)
	out := make([]float64, size)
	bound := make([]float64, nk)
	exact := make([]float64, 0, nk)
	pts := make([]point, len(p.dims))
	for i := 0; i < size; i++ {
		for d := range p.dims {
			pts[d] = p.dims[d].at(samples[d][i])
		}
		copy(bound, p.logW)
		for d := range p.dims {
			p.dims[d].addCheap(&pts[d], bound)
		}
		best, bestK := math.Inf(-1), 0
		for k, b := range bound {
			if b > best {
				best, bestK = b, k
			}
		}
		top := p.exactLogPDF(pts, bestK)
		exact = append(exact[:0], top)
		for k := 0; k < nk; k++ {
			if k == bestK || bound[k] < top-50 {
				continue
			}
			v := p.exactLogPDF(pts, k)
			exact = append(exact, v)
			top = math.Max(top, v)
		}
		out[i] = logSumExp(exact)
	}
	return out
}

func (p *parzen) exactLogPDF(pts []point, k int) float64 {
	v := p.logW[k]
	for d := range p.dims {
		v += p.dims[d].logPDF(&pts[d], k)
	}
	return v
}

// point is a sample's coordinate in one dimension, with what every kernel
// needs of it computed once.
type point struct {
	x        float64 // as sampled (a categorical: the index)
	t        float64 // continuous: x in the kernels' (log) space
	l, r     float64 // discrete: the cell [x − step/2, x + step/2], transformed
	logWidth float64 // log(r − l)
	outside  bool
}

func (dim *dimension) at(x float64) point {
	p := point{x: x, t: x}
	if dim.cat {
		return p
	}
	if dim.step == 0 {
		if dim.log {
			p.t = math.Log(x)
		}
		p.outside = p.t < dim.adaptedLow || p.t > dim.adaptHigh
		return p
	}
	p.l, p.r = x-dim.step/2, x+dim.step/2
	if dim.log {
		p.l, p.r = math.Log(p.l), math.Log(p.r)
	}
	p.logWidth = math.Log(p.r - p.l)
	return p
}

// cheap is logPDF for categorical and continuous dimensions, and an upper
// bound of it for discrete ones: the mass of [l, r] is at most (r−l)/σ times
// the normal density at the point of [l, r] nearest to μ. Flops only.
func (dim *dimension) cheap(p *point, k int) float64 {
	if dim.cat {
		return dim.catLog[k][int(p.x)]
	}
	u := dim.pair[k]
	if dim.step == 0 {
		if p.outside {
			return math.Inf(-1)
		}
		z := (p.t - dim.uMu[u]) * dim.uInv[u]
		return dim.uBase[u] - z*z/2
	}
	z := gap(dim.uMu[u], p.l, p.r) * dim.uInv[u]
	return math.Min(p.logWidth+dim.uBase[u]-z*z/2, 0) - dim.uNorm[u]
}

// logPDF is the exact log density (mass, if discrete) of kernel k at p.
func (dim *dimension) logPDF(p *point, k int) float64 {
	if dim.cat || dim.step == 0 {
		return dim.cheap(p, k)
	}
	u := dim.pair[k]
	if v := dim.memo[u]; !math.IsNaN(v) {
		return v
	}
	mu, inv := dim.uMu[u], dim.uInv[u]
	v := stats.LogNormMass((p.l-mu)*inv, (p.r-mu)*inv) - dim.uNorm[u]
	dim.memo[u] = v
	return v
}

func logSumExp(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, x := range xs {
		s += math.Exp(x - m)
	}
	return math.Log(s) + m
}

// gridOrder sorts the observations of a discrete dimension by counting
// (stable, linear): their values lie on the grid low, low+step, …; nil when
// the dimension is continuous or its grid is much larger than the data.
func gridOrder(obs []float64, d dimension) []int {
	if d.step == 0 || len(obs) == 0 {
		return nil
	}
	cells := int(math.Round((d.high-d.low)/d.step)) + 1
	if cells > 4*len(obs)+64 {
		return nil
	}
	cell := make([]int32, len(obs))
	count := make([]int, cells+1)
	for i, v := range obs {
		c := int32(math.Round((v - d.low) / d.step))
		cell[i] = c
		count[c+1]++
	}
	for c := 1; c <= cells; c++ {
		count[c] += count[c-1]
	}
	out := make([]int, len(obs))
	for i, c := range cell {
		out[count[c]] = i
		count[c]++
	}
	return out
}

type indexed struct {
	v float64
	i int
}

// compareIndexed orders by value, then index (values are never NaN here).
func compareIndexed(a, b indexed) int {
	switch {
	case a.v < b.v:
		return -1
	case a.v > b.v:
		return 1
	}
	return a.i - b.i
}

// gap is how far x lies outside [l, r] (0 inside).
func gap(x, l, r float64) float64 {
	switch {
	case x < l:
		return l - x
	case x > r:
		return x - r
	}
	return 0
}
