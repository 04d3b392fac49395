package sampler

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// parzen is a mixture of product distributions: one kernel per observation
// plus a prior kernel, each a product over dimensions of a truncated normal
// (numeric) or a smoothed one-hot (categorical) — Optuna's _ParzenEstimator.
type parzen struct {
	weights []float64 // per kernel, summing to 1
	dims    []dimension
}

type dimension struct {
	cat        bool
	catWeights [][]float64 // [kernel][choice]

	mu, sigma             []float64 // per kernel, in the transformed (log) space
	low, high             float64   // original bounds
	step                  float64   // 0 = continuous
	log                   bool
	adaptedLow, adaptHigh float64 // transformed bounds, widened by step/2 if discrete
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
		if c, ok := prm.Dist.(*space.Categorical); ok {
			p.dims = append(p.dims, categoricalDim(ob, len(c.Choices), o))
		} else {
			p.dims = append(p.dims, numericDim(ob, prm.Dist, o))
		}
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
	sigmas := computeSigmas(mus, low, high, len(obs)+1, o)
	d.mu = append(mus, 0.5*(low+high))
	d.sigma = append(sigmas, high-low)
	return d
}

// computeSigmas gives each observation the larger distance to its sorted
// neighbours (the bounds at the ends), clipped to [min, high−low].
func computeSigmas(mus []float64, low, high float64, nKernels int, o parzenOptions) []float64 {
	n := len(mus)
	if n == 0 {
		return nil
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return mus[idx[a]] < mus[idx[b]] })
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
	return out
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
				x = math.Min(math.Max(dim.low+math.Round((x-dim.low)/dim.step)*dim.step, dim.low), dim.high)
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
func (p *parzen) logPDF(samples [][]float64) []float64 {
	size := 0
	if len(samples) > 0 {
		size = len(samples[0])
	}
	nk := len(p.weights)
	out := make([]float64, size)
	perKernel := make([]float64, nk)
	for i := 0; i < size; i++ {
		for k := 0; k < nk; k++ {
			lp := math.Log(p.weights[k])
			for d, dim := range p.dims {
				lp += dim.logPDF(samples[d][i], k)
			}
			perKernel[k] = lp
		}
		out[i] = logSumExp(perKernel)
	}
	return out
}

func (dim *dimension) logPDF(x float64, k int) float64 {
	if dim.cat {
		return math.Log(dim.catWeights[k][int(x)])
	}
	mu, sigma := dim.mu[k], dim.sigma[k]
	if dim.step == 0 {
		if dim.log {
			x = math.Log(x)
		}
		return truncLogPDF(x, dim.adaptedLow, dim.adaptHigh, mu, sigma)
	}
	left, right := x-dim.step/2, x+dim.step/2
	if dim.log {
		left, right = math.Log(left), math.Log(right)
	}
	return logGaussMass((left-mu)/sigma, (right-mu)/sigma) -
		logGaussMass((dim.adaptedLow-mu)/sigma, (dim.adaptHigh-mu)/sigma)
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
