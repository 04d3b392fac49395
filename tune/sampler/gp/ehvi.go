package gp

import (
	"cmp"
	"math"
	"math/rand/v2"
	"sort"
)

const ehviEps = 1e-12

// LogEHVIAcq is the log expected hypervolume improvement of maximised
// objectives, each with its own GP, estimated on fixed quasi-random normal
// samples so that it is a smooth deterministic function of x (Daulton et
// al. 2020, eq. 1, as Optuna computes it, for any number of objectives).
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
	return newLogEHVI(gps, Y, NormalSamples(len(gps), nSamples, rng))
}

// newLogEHVI is NewLogEHVI on given normal samples (per sample, per
// objective).
func newLogEHVI(gps []*Regressor, Y, samples [][]float64) *LogEHVIAcq {
	a := &LogEHVIAcq{GPs: gps, samples: samples}
	a.lower, a.interval = nonDominatedBoxes(Y, referencePoint(Y))
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

// nonDominatedBoxes splits the region above ref that no point of Y
// dominates into disjoint boxes (lower corners and widths), so that the
// improvement of a new point y is the sum over boxes of the volume of
// [lower, min(y, lower+width)]. Points that do not exceed ref in every
// objective dominate none of that region and are left out.
func nonDominatedBoxes(Y [][]float64, ref []float64) (lower, interval [][]float64) {
	var pts [][]float64
next:
	for _, y := range Y {
		for j := range ref {
			if y[j] <= ref[j] {
				continue next
			}
		}
		pts = append(pts, y)
	}
	upper := make([]float64, len(ref))
	for j := range upper {
		upper[j] = math.Inf(1)
	}
	lo := append([]float64(nil), ref...)
	var boxes []box
	sliceBoxes(pts, lo, upper, len(ref), func(l, u []float64) {
		boxes = append(boxes, box{append([]float64(nil), l...), append([]float64(nil), u...)})
	})
	for _, b := range mergeBoxes(boxes, len(ref)) {
		w := make([]float64, len(b.lo))
		for j := range w {
			w[j] = b.up[j] - b.lo[j]
		}
		lower, interval = append(lower, b.lo), append(interval, w)
	}
	return lower, interval
}

type box struct{ lo, up []float64 }

// mergeBoxes joins boxes that meet face to face: equal in every objective
// but one, where one ends as the other begins. Slicing one objective at a
// time cuts a box wherever some point's value falls, even where nothing
// else changes across the cut (on the three-objective data of
// optuna_test.go: 66 boxes, 31 once merged; Optuna's method gives 41), and
// every box costs work at each of the many evaluations of EHVI.
func mergeBoxes(boxes []box, m int) []box {
	if len(boxes) < 2 {
		return boxes
	}
	for merged := true; merged; {
		merged = false
		for k := 0; k < m; k++ {
			// Along k: sorted so that boxes equal elsewhere lie together, in
			// order of their start in k.
			sort.Slice(boxes, func(a, b int) bool {
				if c := compareExcept(boxes[a], boxes[b], k); c != 0 {
					return c < 0
				}
				return boxes[a].lo[k] < boxes[b].lo[k]
			})
			out := boxes[:1]
			for _, b := range boxes[1:] {
				last := &out[len(out)-1]
				if compareExcept(*last, b, k) == 0 && last.up[k] == b.lo[k] {
					last.up[k] = b.up[k]
					merged = true
					continue
				}
				out = append(out, b)
			}
			boxes = out
		}
	}
	return boxes
}

// compareExcept orders boxes by their bounds in every objective but k.
func compareExcept(a, b box, k int) int {
	for j := range a.lo {
		if j == k {
			continue
		}
		if c := cmp.Compare(a.lo[j], b.lo[j]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.up[j], b.up[j]); c != 0 {
			return c
		}
	}
	return 0
}

// sliceBoxes emits the boxes of the part of [lo, up] (in the first m
// objectives; lo and up hold the later ones already fixed) that no point
// of pts dominates in those m objectives. It slices along objective m−1 at
// the points' values, highest first: above the highest no point dominates,
// and each lower slab is dominated exactly by the points at or above it,
// which leaves a problem in one objective fewer. A point that adds nothing
// to the front of those above it (in the first m−1 objectives) does not
// cut, so a front of k points leaves k+1 boxes in two objectives.
func sliceBoxes(pts [][]float64, lo, up []float64, m int, emit func(lo, up []float64)) {
	k := m - 1
	if k == 0 {
		top := lo[0]
		for _, p := range pts {
			top = math.Max(top, p[0])
		}
		l0 := lo[0]
		lo[0] = top
		emit(lo, up)
		lo[0] = l0
		return
	}
	sorted := append([][]float64(nil), pts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i][k] > sorted[j][k] })
	saveLo, saveUp := lo[k], up[k]
	var active [][]float64 // the front, in objectives < k, of the points above the cut
	cut := saveUp
	slab := func(bottom float64) {
		if bottom < cut {
			lo[k], up[k] = bottom, cut
			sliceBoxes(active, lo, up, k, emit)
			cut = bottom
		}
	}
	for i := 0; i < len(sorted); {
		v := sorted[i][k]
		var added [][]float64
		for ; i < len(sorted) && sorted[i][k] == v; i++ {
			if !weaklyDominated(sorted[i], active, k) && !weaklyDominated(sorted[i], added, k) {
				added = append(added, sorted[i])
			}
		}
		if len(added) == 0 {
			continue
		}
		slab(v)
		kept := added
		for _, a := range active {
			if !weaklyDominated(a, added, k) {
				kept = append(kept, a)
			}
		}
		active = kept
	}
	slab(saveLo)
	lo[k], up[k] = saveLo, saveUp
}

// weaklyDominated reports whether some point of by is at least p in each of
// the first k objectives.
func weaklyDominated(p []float64, by [][]float64, k int) bool {
next:
	for _, q := range by {
		for j := 0; j < k; j++ {
			if q[j] < p[j] {
				continue next
			}
		}
		return true
	}
	return false
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
	// in linear space: the smallest term, ehviEps^m, stays a normal float64
	// up to 25 objectives,
	// and no log or exp is taken per term. gY is d improvement / d Y_j.
	sum := 0.0
	y, gY := make([]float64, m), make([]float64, m)
	d, free := make([]float64, m), make([]bool, m)
	if dims != nil {
		clear(grad)
	}
	for _, xi := range a.samples {
		for j := range y {
			y[j] = mu[j] + sd[j]*xi[j]
			gY[j] = 0
		}
		for b, lo := range a.lower {
			vol, clipped := 1.0, 0
			for j := range y {
				d[j], free[j] = clipDiff(y[j]-lo[j], a.interval[b][j])
				vol *= d[j]
				if !free[j] {
					clipped++
				}
			}
			sum += vol
			if dims == nil || clipped == m {
				continue
			}
			for j := range y {
				if free[j] {
					gY[j] += vol / d[j]
				}
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
// reports whether it varies with Y (it does not when clipped).
func clipDiff(diff, width float64) (float64, bool) {
	switch {
	case diff <= ehviEps:
		return ehviEps, false
	case diff >= width:
		return width, false
	}
	return diff, true
}
