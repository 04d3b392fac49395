package sampler

import (
	"math"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

// Truncated standard normal helpers, numerically careful in the tails (a
// port of the approach of Optuna's _truncnorm, which avoids SciPy).

var (
	normLogC     = math.Log(math.Sqrt(2 * math.Pi))
	ndtriApproxC = math.Sqrt(3) / math.Pi
)

func logSum(logP, logQ float64) float64 {
	if logP < logQ {
		logP, logQ = logQ, logP
	}
	if math.IsInf(logP, -1) {
		return logP
	}
	return logP + math.Log1p(math.Exp(logQ-logP))
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
		lx := stats.LogNormCDF(x)
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
	logMass := stats.LogNormMass(a, b)
	if a < 0 {
		return ndtriExp(logSum(stats.LogNormCDF(a), math.Log(q)+logMass))
	}
	return -ndtriExp(logSum(stats.LogNormCDF(-b), math.Log1p(-q)+logMass))
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
	return -z*z/2 - normLogC - stats.LogNormMass(a, b) - math.Log(scale)
}
