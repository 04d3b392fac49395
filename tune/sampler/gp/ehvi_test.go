package gp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// hvExact is the hypervolume that points dominate above ref (maximised),
// by inclusion–exclusion over subsets: slow, but independent of the box
// decomposition.
func hvExact(pts [][]float64, ref []float64) float64 {
	n, total := len(pts), 0.0
	for mask := 1; mask < 1<<n; mask++ {
		corner := make([]float64, len(ref))
		for j := range corner {
			corner[j] = math.Inf(1)
		}
		bits := 0
		for i := 0; i < n; i++ {
			if mask&(1<<i) == 0 {
				continue
			}
			bits++
			for j := range corner {
				corner[j] = math.Min(corner[j], pts[i][j])
			}
		}
		vol := 1.0
		for j := range corner {
			vol *= math.Max(corner[j]-ref[j], 0)
		}
		if bits%2 == 1 {
			total += vol
		} else {
			total -= vol
		}
	}
	return total
}

// The boxes tile exactly the region the points leave undominated: for any
// new point, the volume it covers in them is its hypervolume improvement.
func TestNonDominatedBoxesGiveTheImprovement(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		m, n int
		grid bool // values on a coarse grid: ties between points
	}{
		{2, 1, false}, {2, 6, false}, {2, 8, true},
		{3, 1, false}, {3, 5, false}, {3, 8, true},
		{4, 6, false}, {4, 7, true},
	} {
		for rep := 0; rep < 20; rep++ {
			draw := func() float64 {
				if tc.grid {
					return float64(rng.IntN(4)) / 3
				}
				return rng.Float64()
			}
			Y := make([][]float64, tc.n)
			for i := range Y {
				Y[i] = make([]float64, tc.m)
				for j := range Y[i] {
					Y[i][j] = draw()
				}
			}
			ref := make([]float64, tc.m)
			for j := range ref {
				ref[j] = -0.1
			}
			lower, width := nonDominatedBoxes(Y, ref)
			base := hvExact(Y, ref)
			for probe := 0; probe < 10; probe++ {
				y := make([]float64, tc.m)
				for j := range y {
					y[j] = 1.2*rng.Float64() - 0.15
				}
				got := improvement(y, lower, width)
				want := hvExact(append(append([][]float64{}, Y...), y), ref) - base
				if math.Abs(got-want) > 1e-9 {
					t.Fatalf("m=%d n=%d: improvement of %v over %v: boxes give %g, want %g", tc.m, tc.n, y, Y, got, want)
				}
			}
		}
	}
}

// With two objectives a front of k points leaves k+1 boxes, as the
// staircase has.
func TestNonDominatedBoxesTwoObjectives(t *testing.T) {
	t.Parallel()
	Y := [][]float64{{3, 1}, {2, 2}, {1, 3}, {1.5, 1.5}} // the last is dominated
	lower, _ := nonDominatedBoxes(Y, []float64{0, 0})
	if len(lower) != 4 {
		t.Fatalf("%d boxes, want 4: %v", len(lower), lower)
	}
}
