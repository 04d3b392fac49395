package gp

import "math"

// matern52 is the Matérn-5/2 correlation as a function of the squared scaled
// distance r2 = Σ λ_d (x_d − x'_d)², with λ the inverse squared length scales.
func matern52(r2 float64) float64 {
	s := math.Sqrt(5 * r2)
	return math.Exp(-s) * (5.0/3.0*r2 + s + 1)
}

// matern52Deriv is d matern52 / d r2; written in closed form because the
// chain through sqrt(r2) is 0/0 at r2 = 0, where the true value is −5/6.
func matern52Deriv(r2 float64) float64 {
	s := math.Sqrt(5 * r2)
	return -5.0 / 6.0 * (s + 1) * math.Exp(-s)
}

// sqDiff is the per-dimension squared difference; categorical dimensions
// count 1 when the choices differ (Hamming distance).
func sqDiff(a, b float64, cat bool) float64 {
	if cat {
		if a != b {
			return 1
		}
		return 0
	}
	d := a - b
	return d * d
}

// Kernel is a Matérn-5/2 kernel with automatic relevance determination.
type Kernel struct {
	InvSqLengthscales []float64 // λ_d, one per dimension
	Scale             float64   // the prior variance s, k(x, x) = s
	IsCategorical     []bool
}

// r2 is the scaled squared distance between two points.
func (k *Kernel) r2(a, b []float64) float64 {
	r := 0.0
	for d := range a {
		r += sqDiff(a[d], b[d], k.IsCategorical[d]) * k.InvSqLengthscales[d]
	}
	return r
}

// Eval is k(a, b).
func (k *Kernel) Eval(a, b []float64) float64 {
	return k.Scale * matern52(k.r2(a, b))
}

// LengthScales are 1/sqrt(λ).
func (k *Kernel) LengthScales() []float64 {
	out := make([]float64, len(k.InvSqLengthscales))
	for i, l := range k.InvSqLengthscales {
		out[i] = 1 / math.Sqrt(l)
	}
	return out
}
