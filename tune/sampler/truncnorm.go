package sampler

import "math"

// Truncated standard normal helpers, numerically careful in the tails (a
// port of the approach of Optuna's _truncnorm, which avoids SciPy).

var (
	normLogC       = math.Log(math.Sqrt(2 * math.Pi))
	ndtriApproxC   = math.Sqrt(3) / math.Pi
	machineEpsilon = math.Nextafter(1, 2) - 1
)

func ndtr(a float64) float64 {
	x := a / math.Sqrt2
	switch {
	case x < -1/math.Sqrt2:
		return 0.5 * math.Erfc(-x)
	case x < 1/math.Sqrt2:
		return 0.5 + 0.5*math.Erf(x)
	}
	return 1 - 0.5*math.Erfc(x)
}

// logNdtr is log(Φ(a)), with an asymptotic series far in the left tail.
func logNdtr(a float64) float64 {
	if a > 6 {
		return -ndtr(-a)
	}
	if a > -20 {
		return math.Log(ndtr(a))
	}
	logLHS := -0.5*a*a - math.Log(-a) - 0.5*math.Log(2*math.Pi)
	last, rhs, numerator, denomFactor := 0.0, 1.0, 1.0, 1.0
	denomCons := 1 / (a * a)
	sign := 1.0
	for i := 1; math.Abs(last-rhs) > machineEpsilon && i < 1000; i++ {
		last = rhs
		sign = -sign
		denomFactor *= denomCons
		numerator *= float64(2*i - 1)
		rhs += sign * numerator * denomFactor
	}
	return logLHS + math.Log(rhs)
}

func logDiff(logP, logQ float64) float64 { return logP + math.Log1p(-math.Exp(logQ-logP)) }

func logSum(logP, logQ float64) float64 {
	if logP < logQ {
		logP, logQ = logQ, logP
	}
	if math.IsInf(logP, -1) {
		return logP
	}
	return logP + math.Log1p(math.Exp(logQ-logP))
}

// logGaussMass is log(Φ(b) − Φ(a)) for a ≤ b.
func logGaussMass(a, b float64) float64 {
	switch {
	case b <= 0:
		return logDiff(logNdtr(b), logNdtr(a))
	case a > 0:
		return logDiff(logNdtr(-a), logNdtr(-b))
	}
	return math.Log1p(-ndtr(a) - ndtr(-b))
}

// ndtriExp returns x with log Φ(x) = y, by Newton's method from an
// asymptotic (or logistic) first guess.
func ndtriExp(y float64) float64 {
	flipped := y > -1e-2
	z := y
	if flipped {
		z = math.Log(-math.Expm1(y))
	}
	var x float64
	if z < -5 {
		x = -math.Sqrt(-2 * (z + normLogC))
	} else {
		x = -ndtriApproxC * math.Log(math.Expm1(-z))
	}
	for range 100 {
		lx := logNdtr(x)
		lpdf := -0.5*x*x - normLogC
		dx := (lx - z) * math.Exp(lx-lpdf)
		x -= dx
		if math.Abs(dx) < 1e-8*math.Abs(x) {
			break
		}
	}
	if flipped {
		x = -x
	}
	return x
}

// truncPPF is the quantile q of the standard normal truncated to [a, b].
func truncPPF(q, a, b float64) float64 {
	switch {
	case a == b:
		return math.NaN()
	case q == 0:
		return a
	case q == 1:
		return b
	}
	logMass := logGaussMass(a, b)
	if a < 0 {
		return ndtriExp(logSum(logNdtr(a), math.Log(q)+logMass))
	}
	return -ndtriExp(logSum(logNdtr(-b), math.Log1p(-q)+logMass))
}

// truncLogPDF is the log density at x of N(loc, scale) truncated to [low, high]
// (bounds in x units).
func truncLogPDF(x, low, high, loc, scale float64) float64 {
	a, b := (low-loc)/scale, (high-loc)/scale
	if a == b {
		return math.NaN()
	}
	if x < low || x > high {
		return math.Inf(-1)
	}
	z := (x - loc) / scale
	return -z*z/2 - normLogC - logGaussMass(a, b) - math.Log(scale)
}
