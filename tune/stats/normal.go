package stats

import "math"

// The standard normal's CDF in forms that keep their digits far in the
// tails, where Φ(b) − Φ(a) cancels to zero in plain arithmetic: the Parzen
// estimators of the TPE sampler and of PED-ANOVA both truncate normals to
// a range and need the log of the mass inside it (both follow Optuna's
// _truncnorm, so our numbers match Optuna's to rounding).

// NormCDF is Φ(a), through erf or erfc, whichever keeps its digits there.
func NormCDF(a float64) float64 {
	x := a / math.Sqrt2
	switch {
	case x < -1/math.Sqrt2:
		return 0.5 * math.Erfc(-x)
	case x < 1/math.Sqrt2:
		return 0.5 + 0.5*math.Erf(x)
	}
	return 1 - 0.5*math.Erfc(x)
}

// LogNormCDF is log Φ(a). Below −20 Φ underflows relative to its log, and an
// asymptotic series of the Mills ratio takes over.
func LogNormCDF(a float64) float64 {
	switch {
	case a > 6:
		// log(1 − ε) ≈ −ε to double precision here.
		return -NormCDF(-a)
	case a > -20:
		return math.Log(NormCDF(a))
	}
	logLHS := -0.5*a*a - math.Log(-a) - 0.5*math.Log(2*math.Pi)
	last, rhs, numerator, denomFactor := 0.0, 1.0, 1.0, 1.0
	denomCons := 1 / (a * a)
	sign := 1.0
	eps := math.Nextafter(1, 2) - 1
	for i := 1; math.Abs(last-rhs) > eps && i < 1000; i++ {
		last = rhs
		sign = -sign
		denomFactor *= denomCons
		numerator *= float64(2*i - 1)
		rhs += sign * numerator * denomFactor
	}
	return logLHS + math.Log(rhs)
}

// LogNormMass is log(Φ(b) − Φ(a)) for a ≤ b, computed in the left tail.
func LogNormMass(a, b float64) float64 {
	switch {
	case b <= 0:
		return logDiff(LogNormCDF(b), LogNormCDF(a))
	case a > 0:
		return logDiff(LogNormCDF(-a), LogNormCDF(-b))
	}
	// Straddling zero, the mass is near 1 and log1p keeps its small complement.
	return math.Log1p(-NormCDF(a) - NormCDF(-b))
}

// logDiff is log(p − q) from log p and log q (p ≥ q).
func logDiff(logP, logQ float64) float64 { return logP + math.Log1p(-math.Exp(logQ-logP)) }
