// Package stats holds the few statistics the tuner reports with its
// figures: the sample mean of repeated measurements and its 95 %
// confidence interval (Student's t), so a printed number says how sure it is.
package stats

import (
	"math"
	"slices"
)

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

// Median of xs, the mean of the middle two for an even count (NaN when
// empty); xs is left as it was.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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

// t975 and t95 hold Student's t 0.975 and 0.95 quantiles for 1 to 30
// degrees of freedom.
var (
	t975 = []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	t95 = []float64{6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
		1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
		1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697}
)

// TQuantile975 is Student's t 0.975 quantile (a two-sided 95 % interval).
func TQuantile975(df int) float64 { return tQuantile(t975, 1.959964, df) }

// TQuantile95 is Student's t 0.95 quantile (a one-sided 95 % bound).
func TQuantile95(df int) float64 { return tQuantile(t95, 1.644854, df) }

// tQuantile reads the table, then uses the Cornish-Fisher expansion around
// the normal's quantile z (off by < 0.001 past 30 degrees of freedom).
func tQuantile(table []float64, z float64, df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	if df <= len(table) {
		return table[df-1]
	}
	n := float64(df)
	return z + (z*z*z+z)/(4*n) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*n*n)
}
