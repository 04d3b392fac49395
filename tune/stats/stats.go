// Package stats holds the few statistics the tuner reports with its
// figures: the sample mean of repeated measurements and its 95 %
// confidence interval (Student's t), so a printed number says how sure it is.
package stats

import "math"

// Mean of xs (NaN when empty).
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// StdDev is the sample standard deviation (Bessel's correction: the
// measurements are a sample of what the configuration would give), NaN
// below two values.
func StdDev(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	m := Mean(xs)
	ss := 0.0
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// CI95 is the mean of xs and the half-width of its 95 % confidence interval
// (Student's t with n−1 degrees of freedom); the half-width is NaN below two
// values, where no interval can be given.
func CI95(xs []float64) (mean, half float64) {
	mean = Mean(xs)
	if len(xs) < 2 {
		return mean, math.NaN()
	}
	return mean, TQuantile975(len(xs)-1) * StdDev(xs) / math.Sqrt(float64(len(xs)))
}

// t975 holds Student's t 0.975 quantiles for 1 to 30 degrees of freedom.
var t975 = []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

// TQuantile975 is Student's t 0.975 quantile: the table, then the
// Cornish-Fisher expansion around the normal's 1.96 (off by < 0.001 past 30).
func TQuantile975(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	if df <= len(t975) {
		return t975[df-1]
	}
	const z = 1.959964
	n := float64(df)
	return z + (z*z*z+z)/(4*n) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*n*n)
}
