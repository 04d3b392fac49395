package gp

import "math"

const (
	sqrtHalf    = 0.7071067811865476 // √½
	invSqrt2Pi  = 0.3989422804014327 // 1/√(2π)
	logSqrt2Pi  = 0.9189385332046728 // log √(2π)
	sqrtHalfPi  = 1.2533141373155003 // √(π/2)
	tailCut     = -25.0              // below: the asymptotic forms
	seriesTerms = 12
)

// tailSeries returns, for z ≪ 0, h(z) = ei(z)/φ(z) and q(z) = Φ(z)/φ(z),
// where ei(z) = E[max(0, x+z)] for x ~ N(0, 1). Both come from the
// asymptotic expansion of the Mills ratio, q = Σ (−1)^k (2k−1)!!/|z|^(2k+1),
// and h = 1 + z q = Σ_{k≥1} (−1)^(k+1) (2k−1)!!/z^(2k), which avoids the
// cancellation of computing 1 + z q directly.
func tailSeries(z float64) (h, q float64) {
	inv := 1 / (z * z)
	term := 1.0 // (2k−1)!!/z^(2k), k = 0
	for k := 0; k < seriesTerms; k++ {
		sign := 1.0
		if k%2 == 1 {
			sign = -1
		}
		q += sign * term
		if k > 0 {
			h -= sign * term
		}
		term *= float64(2*k+1) * inv
	}
	return h, q / -z
}

// StandardLogEI is log E[max(0, x+z)], x ~ N(0, 1), and its derivative in z.
// It stays finite and smooth far into the left tail, where EI underflows
// (Ament et al., "Unexpected improvements to expected improvement", eq. 9).
func StandardLogEI(z float64) (v, dz float64) {
	if z >= tailCut {
		cdf := 0.5 * math.Erfc(-sqrtHalf*z)
		ei := z*cdf + math.Exp(-0.5*z*z)*invSqrt2Pi
		return math.Log(ei), cdf / ei
	}
	h, q := tailSeries(z)
	// log ei = log φ(z) + log h, and d/dz log ei = Φ/ei = q/h.
	return -0.5*z*z - logSqrt2Pi + math.Log(h), q / h
}

// LogNormCDF is log Φ(z) and its derivative φ(z)/Φ(z), accurate in the left
// tail where Φ underflows.
func LogNormCDF(z float64) (v, dz float64) {
	if z >= tailCut {
		cdf := 0.5 * math.Erfc(-sqrtHalf*z)
		if z > 0 {
			// log1p keeps precision where Φ is close to 1.
			tail := 0.5 * math.Erfc(sqrtHalf*z)
			return math.Log1p(-tail), math.Exp(-0.5*z*z) * invSqrt2Pi / cdf
		}
		return math.Log(cdf), math.Exp(-0.5*z*z) * invSqrt2Pi / cdf
	}
	_, q := tailSeries(z)
	return -0.5*z*z - logSqrt2Pi + math.Log(q), 1 / q
}

// LogEI is log E[max(0, y − f0)] for y ~ N(mean, variance) and its
// derivatives in mean and variance. A tiny variance floor keeps it finite at
// observed points.
func LogEI(mean, variance, f0 float64) (v, dMean, dVar float64) {
	sigma := math.Sqrt(variance + 1e-12)
	z := (mean - f0) / sigma
	s, g := StandardLogEI(z)
	dSigma := (-g*z + 1) / sigma
	return s + math.Log(sigma), g / sigma, dSigma / (2 * sigma)
}

// LogPI is log P(y ≥ f0) for y ~ N(mean, variance), and its derivatives.
func LogPI(mean, variance, f0 float64) (v, dMean, dVar float64) {
	sigma := math.Sqrt(variance + 1e-12)
	z := (mean - f0) / sigma
	s, g := LogNormCDF(z)
	return s, g / sigma, -g * z / sigma / (2 * sigma)
}
