package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestTQuantile(t *testing.T) {
	t.Parallel()
	// Reference values from Student's t distribution (scipy.stats.t.ppf).
	for _, c := range []struct {
		q    func(int) float64
		p    float64
		df   int
		want float64
	}{
		{TQuantile975, 0.975, 1, 12.706}, {TQuantile975, 0.975, 2, 4.303}, {TQuantile975, 0.975, 4, 2.776},
		{TQuantile975, 0.975, 30, 2.042}, {TQuantile975, 0.975, 31, 2.0395}, {TQuantile975, 0.975, 60, 2.0003},
		{TQuantile975, 0.975, 1000, 1.9623},
		{TQuantile95, 0.95, 1, 6.3138}, {TQuantile95, 0.95, 5, 2.015}, {TQuantile95, 0.95, 30, 1.6973},
		{TQuantile95, 0.95, 31, 1.6955}, {TQuantile95, 0.95, 60, 1.6706}, {TQuantile95, 0.95, 1000, 1.6464},
	} {
		if got := c.q(c.df); math.Abs(got-c.want) > 0.0006 {
			t.Errorf("t(%v, %d) = %v, want %v", c.p, c.df, got, c.want)
		}
	}
	if !math.IsNaN(TQuantile975(0)) || !math.IsNaN(TQuantile95(0)) {
		t.Error("a quantile at 0 degrees of freedom should be NaN")
	}
}

func TestCI95(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		xs         []float64
		mean, half float64
	}{
		{"none", nil, math.NaN(), math.NaN()},
		{"one", []float64{3}, 3, math.NaN()},
		{"same", []float64{2, 2, 2}, 2, 0},
		// mean 2, s = 1, t(2) = 4.303: 4.303/√3.
		{"three", []float64{1, 2, 3}, 2, 4.303 / math.Sqrt(3)},
	} {
		m, h := CI95(c.xs)
		if !same(m, c.mean) || !same(h, c.half) {
			t.Errorf("%s: CI95 = %v ± %v, want %v ± %v", c.name, m, h, c.mean, c.half)
		}
	}
}

// TestCI95Coverage draws samples from a known normal distribution: the
// interval must hold the true mean about 95 % of the time, for small
// samples too (that is what Student's t is for).
func TestCI95Coverage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{3, 5, 20} {
		hits, draws := 0, 4000
		for range draws {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = 10 + 2*rng.NormFloat64()
			}
			m, h := CI95(xs)
			if math.Abs(m-10) <= h {
				hits++
			}
		}
		if cov := float64(hits) / float64(draws); cov < 0.935 || cov > 0.965 {
			t.Errorf("n=%d: coverage %.3f, want 0.95 ± 0.015", n, cov)
		}
	}
}

func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func TestMedian(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 3, 2}
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {xs, 2.5}} {
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	if xs[0] != 5 || !math.IsNaN(Median(nil)) {
		t.Errorf("input reordered %v, or Median(nil) not NaN", xs)
	}
}
