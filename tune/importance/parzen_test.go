package importance

import (
	"math"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

// TestGrid: the grid sizes and points are Optuna's (checked with numpy).
func TestGrid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dist  space.Distribution
		size  int
		index map[float64]int
	}{
		// 0.5 lies a rounding error above the midpoint of points 24 and 25,
		// in numpy's arithmetic as in ours.
		{unit, 50, map[float64]int{0: 0, 1: 49, 0.5: 25, 1.0 / 98: 0, 1.5 / 98: 1}},
		{must(space.NewInt(1, 1024, true, 1)), 11, map[float64]int{1: 0, 1024: 10, 32: 5}},
		{logInt, 5, map[float64]int{1: 0, 16: 4, 4: 2}},
		{must(space.NewFloat(0.7, 0.95, false, 0.01)), 26, map[float64]int{0.7: 0, 0.95: 25, 0.73: 3}},
		{must(space.NewInt(8, 256, false, 8)), 32, map[float64]int{8: 0, 256: 31, 16: 1}},
		{must(space.NewInt(0, 1000, false, 1)), 50, map[float64]int{0: 0, 1000: 49}},
		{abc, 3, map[float64]int{0: 0, 2: 2}},
	} {
		g, err := newGrid(tc.dist)
		if err != nil {
			t.Fatal(err)
		}
		if g.size != tc.size {
			t.Errorf("%s: %d grid points, want %d", tc.dist, g.size, tc.size)
		}
		for v, want := range tc.index {
			if got := g.index(v); got != want {
				t.Errorf("%s: %v at point %d, want %d", tc.dist, v, got, want)
			}
		}
	}
}

// TestPDF: a mixture of kernels truncated to the grid's cells is a
// probability over the grid, peaked where the observations are.
func TestPDF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		g      *grid
		counts []float64
		peak   int
	}{
		{"numeric", numericGrid(0, 1, false, 10), []float64{0, 0, 5, 1, 0, 0, 0, 0, 0, 0}, 2},
		{"numeric, one point", numericGrid(0, 1, false, 50), append(make([]float64, 49), 3), 49},
		{"categorical", &grid{size: 4, cat: true}, []float64{0, 2, 0, 1}, 1},
	} {
		p := tc.g.pdf(tc.counts)
		sum, best := 0.0, 0
		for i, v := range p {
			sum += v
			if v > p[best] {
				best = i
			}
		}
		if math.Abs(sum-1) > 1e-12 || best != tc.peak {
			t.Errorf("%s: sum %v, peak at %d (want 1, %d): %v", tc.name, sum, best, tc.peak, p)
		}
	}
}

// TestLogGaussMass: the wanted values are Optuna's _truncnorm._log_gauss_mass.
func TestLogGaussMass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b, want float64 }{
		{-1, 1, -0.38171514630212616},
		{0.5, 2, -1.2525070775159308},
		{-2, -0.5, -1.2525070775159308},
		// Far in the tails, where Φ(b) − Φ(a) is 0 in plain arithmetic.
		{-40, -39, -765.0831565643776},
		{39, 40, -765.0831565643776},
		{3, 3, math.Inf(-1)},
	} {
		if got := stats.LogNormMass(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12*math.Max(1, math.Abs(tc.want)) && got != tc.want {
			t.Errorf("stats.LogNormMass(%v, %v) = %.17g, want %.17g", tc.a, tc.b, got, tc.want)
		}
	}
}
