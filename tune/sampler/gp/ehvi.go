package gp

import (
	"math"
	"math/rand/v2"
	"sort"
)

const ehviEps = 1e-12

// LogEHVIAcq is the log expected hypervolume improvement of two maximised
// objectives, each with its own GP, estimated on fixed quasi-random normal
// samples so that it is a smooth deterministic function of x (Daulton et
// al. 2020, eq. 1, as Optuna computes it).
type LogEHVIAcq struct {
	GPs      []*Regressor
	lower    [][]float64 // per box, per objective
	interval [][]float64 // box widths (+Inf where unbounded)
	samples  [][]float64 // per sample, per objective
	scales   []float64
}

// NewLogEHVI builds the acquisition over the observed (standardised,
// maximised) values Y, drawing nSamples normal samples from rng.
func NewLogEHVI(gps []*Regressor, Y [][]float64, nSamples int, rng *rand.Rand) *LogEHVIAcq {
	a := &LogEHVIAcq{GPs: gps, samples: NormalSamples(len(gps), nSamples, rng)}
	a.lower, a.interval = boxes2D(Y, referencePoint(Y))
	// All objectives weigh the same, so their length scales are averaged.
	a.scales = make([]float64, len(gps[0].InvSqLengthscales))
	for _, g := range gps {
		for d, l := range g.LengthScales() {
			a.scales[d] += l / float64(len(gps))
		}
	}
	return a
}

func (a *LogEHVIAcq) LengthScales() []float64 { return a.scales }

// referencePoint sits just below the worst observed value of each
// objective: 10% further away from zero, in Optuna's loss terms.
func referencePoint(Y [][]float64) []float64 {
	m := len(Y[0])
	ref := make([]float64, m)
	for j := range ref {
		worst := math.Inf(-1) // worst loss = −min Y
		for _, y := range Y {
			worst = math.Max(worst, -y[j])
		}
		r := math.Nextafter(math.Max(1.1*worst, 0.9*worst), math.Inf(1))
		ref[j] = -r
	}
	return ref
}

// boxes2D splits the region above ref that no point of Y dominates into
// boxes: lower corners and widths.
func boxes2D(Y [][]float64, ref []float64) (lower, interval [][]float64) {
	var pts [][]float64
	for _, y := range Y {
		if y[0] > ref[0] && y[1] > ref[1] {
			pts = append(pts, y)
		}
	}
	sort.Slice(pts, func(i, j int) bool {
		if pts[i][0] != pts[j][0] {
			return pts[i][0] > pts[j][0]
		}
		return pts[i][1] > pts[j][1]
	})
	var front [][]float64
	for _, p := range pts {
		if len(front) == 0 || p[1] > front[len(front)-1][1] {
			front = append(front, p)
		}
	}
	inf := math.Inf(1)
	if len(front) == 0 {
		return [][]float64{{ref[0], ref[1]}}, [][]float64{{inf, inf}}
	}
	// Right of the best first objective, then the steps between front
	// points, then left of the best second objective.
	lower = append(lower, []float64{front[0][0], ref[1]})
	interval = append(interval, []float64{inf, inf})
	for k := 0; k+1 < len(front); k++ {
		lower = append(lower, []float64{front[k+1][0], front[k][1]})
		interval = append(interval, []float64{front[k][0] - front[k+1][0], inf})
	}
	last := front[len(front)-1]
	lower = append(lower, []float64{ref[0], last[1]})
	interval = append(interval, []float64{last[0] - ref[0], inf})
	return lower, interval
}

func (a *LogEHVIAcq) Eval(x []float64) float64 {
	return a.EvalGrad(x, nil, nil)
}

func (a *LogEHVIAcq) EvalGrad(x []float64, dims []int, grad []float64) float64 {
	m := len(a.GPs)
	mu, sd := make([]float64, m), make([]float64, m)
	dMu, dVar := make([][]float64, m), make([][]float64, m)
	for j, g := range a.GPs {
		dMu[j], dVar[j] = make([]float64, len(dims)), make([]float64, len(dims))
		var v float64
		if dims == nil {
			mu[j], v = g.Posterior(x)
		} else {
			mu[j], v = g.PosteriorGrad(x, dims, dMu[j], dVar[j])
		}
		sd[j] = math.Sqrt(v + 1e-12)
	}
	// The improvement of a sample is Σ over boxes of Π_j clip(Y_j − lower_j)
	// (each factor at least ehviEps, so the log stays finite). It is summed
	// in linear space: the smallest term, ehviEps², is far from underflow,
	// and no log or exp is taken per term. gY is d improvement / d Y_j.
	sum := 0.0
	y, gY := make([]float64, m), make([]float64, m)
	if dims != nil {
		clear(grad)
	}
	for _, xi := range a.samples {
		for j := range y {
			y[j] = mu[j] + sd[j]*xi[j]
			gY[j] = 0
		}
		for b, lo := range a.lower {
			d0, c0 := clipDiff(y[0]-lo[0], a.interval[b][0])
			d1, c1 := clipDiff(y[1]-lo[1], a.interval[b][1])
			sum += d0 * d1
			if !c0 {
				gY[0] += d1
			}
			if !c1 {
				gY[1] += d0
			}
		}
		if dims == nil {
			continue
		}
		for j := range y {
			if gY[j] == 0 {
				continue
			}
			// Y = mu + sqrt(var)·ξ
			for k := range dims {
				grad[k] += gY[j] * (dMu[j][k] + xi[j]/(2*sd[j])*dVar[j][k])
			}
		}
	}
	val := math.Log(sum / float64(len(a.samples)))
	for k := range grad {
		grad[k] /= sum
	}
	return val
}

// clipDiff clips one factor of a box's volume to [ehviEps, width] and
// reports whether it was clipped (then it does not vary with Y).
func clipDiff(diff, width float64) (float64, bool) {
	switch {
	case diff <= ehviEps:
		return ehviEps, true
	case diff >= width:
		return width, true
	}
	return diff, false
}
