package importance

import "math"

// The kernels are normals truncated to the grid, so the estimator needs the
// log of a normal's mass over an interval. Far in a tail Φ(b) − Φ(a)
// cancels to zero in plain arithmetic, so the mass is computed in the left
// tail, where log Φ stays accurate (as Optuna's _truncnorm does; matching
// its choices keeps our importances equal to Optuna's to rounding).

// ndtr is Φ(a), the standard normal CDF.
func ndtr(a float64) float64 { return 0.5 + 0.5*math.Erf(a/math.Sqrt2) }

// logNdtr is log Φ(a). Below −20, Φ underflows relative to its log, so an
// asymptotic series of the Mills ratio takes over.
func logNdtr(a float64) float64 {
	switch {
	case a > 6:
		// Φ(a) = 1 − Φ(−a) and log(1 − ε) ≈ −ε to double precision here.
		return -cdfErfc(-a)
	case a > -20:
		return math.Log(cdfErfc(a))
	}
	logLHS := -0.5*a*a - math.Log(-a) - 0.5*math.Log(2*math.Pi)
	last, rhs := 0.0, 1.0
	numerator, denomFactor, denomCons := 1.0, 1.0, 1/(a*a)
	sign := 1.0
	for i := 1; math.Abs(last-rhs) > 0x1p-52; i++ {
		last = rhs
		sign = -sign
		denomFactor *= denomCons
		numerator *= float64(2*i - 1)
		rhs += sign * numerator * denomFactor
	}
	return logLHS + math.Log(rhs)
}

// cdfErfc is Φ(a) through erf or erfc, whichever keeps its digits in that
// range.
func cdfErfc(a float64) float64 {
	x := a / math.Sqrt2
	switch {
	case x < -1/math.Sqrt2:
		return 0.5 * math.Erfc(-x)
	case x < 1/math.Sqrt2:
		return 0.5 + 0.5*math.Erf(x)
	}
	return 1 - 0.5*math.Erfc(x)
}

// logDiff is log(p − q) from log p and log q (p ≥ q).
func logDiff(logP, logQ float64) float64 { return logP + math.Log1p(-math.Exp(logQ-logP)) }

// logGaussMass is log(Φ(b) − Φ(a)) for a ≤ b.
func logGaussMass(a, b float64) float64 {
	switch {
	case b <= 0:
		return logDiff(logNdtr(b), logNdtr(a))
	case a > 0:
		return logDiff(logNdtr(-a), logNdtr(-b))
	}
	// Straddling zero, the mass is near 1 and log1p keeps its small complement.
	return math.Log1p(-ndtr(a) - ndtr(-b))
}
