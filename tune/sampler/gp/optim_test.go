package gp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSobolStratified(t *testing.T) {
	t.Parallel()
	// Every dimension of a scrambled Sobol net puts exactly one of the first
	// 2^k points in each interval [i/2^k, (i+1)/2^k).
	const n = 256
	pts := NewSobol(len(joeKuo)+3, rand.New(rand.NewPCG(7, 8))).Draw(n)
	for d := 0; d <= len(joeKuo); d++ {
		seen := make([]bool, n)
		for _, p := range pts {
			b := int(p[d] * n)
			if p[d] < 0 || p[d] >= 1 || seen[b] {
				t.Fatalf("dimension %d: point %v breaks the stratification", d, p[d])
			}
			seen[b] = true
		}
	}
	// The first two dimensions form a (0, 8, 2)-net: each of the 16×16 cells of a 2-D projection holds one point.
	for _, pair := range [][2]int{{0, 1}} {
		seen := map[[2]int]bool{}
		for _, p := range pts {
			c := [2]int{int(p[pair[0]] * 16), int(p[pair[1]] * 16)}
			if seen[c] {
				t.Errorf("dimensions %v: cell %v holds two points", pair, c)
				break
			}
			seen[c] = true
		}
	}
}

// bowl is a smooth acquisition over a mixed space with its maximum at
// x0 = 0.3, x1 on the grid point nearest 0.612 (61), category 2.
type bowl struct{}

func (bowl) LengthScales() []float64 { return []float64{1, 1, 1} }
func (b bowl) Eval(x []float64) float64 {
	return b.EvalGrad(x, nil, nil)
}
func (bowl) EvalGrad(x []float64, dims []int, grad []float64) float64 {
	v := -(x[0]-0.3)*(x[0]-0.3) - (x[1]-0.612)*(x[1]-0.612)
	if x[2] == 2 {
		v += 0.5
	}
	for j, d := range dims {
		grad[j] = -2 * (x[d] - []float64{0.3, 0.612}[d])
	}
	return v
}

func TestOptimizeMixed(t *testing.T) {
	t.Parallel()
	sp := Space{
		{Kind: Continuous, Low: 0, High: 1},
		{Kind: Discrete, Low: 0, High: 99, Step: 1}, // 100 grid points: the golden-section path
		{Kind: Categorical, Choices: 4},
	}
	x, _ := Optimize(bowl{}, sp, rand.New(rand.NewPCG(1, 1)), nil, nil, OptimizeOptions{Preliminary: 64})
	if math.Abs(x[0]-0.3) > 1e-3 || sp[1].Denormalize(x[1]) != 61 || x[2] != 2 {
		t.Errorf("optimum at %v (x1 = %v), want 0.3, 61, 2", x, sp[1].Denormalize(x[1]))
	}
}

func TestNormalizeRoundTrip(t *testing.T) {
	t.Parallel()
	dims := []Dim{
		{Kind: Discrete, Low: 1, High: 1024, Step: 1, Log: true},
		{Kind: Discrete, Low: 0.7, High: 0.95, Step: 0.01},
		{Kind: Continuous, Low: 0.1, High: 64, Log: true},
		{Kind: Discrete, Low: 8, High: 512, Step: 8},
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for _, d := range dims {
		for range 200 {
			u := d.round(rng.Float64())
			v := d.Denormalize(u)
			if v < d.Low || v > d.High || math.Abs(d.Normalize(v)-u) > 1e-9 {
				t.Fatalf("%+v: u %v → %v → %v", d, u, v, d.Normalize(v))
			}
		}
	}
}

// A point already tried is not proposed again: with the bowl's optimum
// (on a discrete space) tried, the next best configuration comes back, one
// grid step away; with every point tried, the optimum itself.
func TestOptimizeSkipsTriedPoints(t *testing.T) {
	t.Parallel()
	sp := Space{
		{Kind: Discrete, Low: 0, High: 10, Step: 1},
		{Kind: Discrete, Low: 0, High: 99, Step: 1},
		{Kind: Categorical, Choices: 4},
	}
	at := func(a, b, c float64) []float64 { return []float64{sp[0].Normalize(a), sp[1].Normalize(b), c} }
	opt := OptimizeOptions{Preliminary: 64}
	for _, tc := range []struct {
		tried [][]float64
		want  []float64
	}{
		{nil, at(3, 61, 2)},
		{[][]float64{at(3, 61, 2)}, at(3, 60, 2)},
		{[][]float64{at(3, 61, 2), at(3, 60, 2)}, at(3, 62, 2)},
	} {
		x, _ := Optimize(bowl{}, sp, rand.New(rand.NewPCG(1, 1)), nil, tc.tried, opt)
		got := []float64{sp[0].Denormalize(x[0]), sp[1].Denormalize(x[1]), x[2]}
		want := []float64{sp[0].Denormalize(tc.want[0]), sp[1].Denormalize(tc.want[1]), tc.want[2]}
		if !samePoint(got, want) {
			t.Errorf("tried %d: got %v, want %v", len(tc.tried), got, want)
		}
	}
	// A space of four points, all tried: the best of them.
	tiny := Space{{Kind: Categorical, Choices: 4}}
	var all [][]float64
	for c := range 4 {
		all = append(all, []float64{float64(c)})
	}
	if x, _ := Optimize(catOnly{}, tiny, rand.New(rand.NewPCG(1, 1)), nil, all, opt); x[0] != 2 {
		t.Errorf("all tried: got %v, want 2", x)
	}
}

type catOnly struct{}

func (catOnly) LengthScales() []float64    { return []float64{1} }
func (c catOnly) Eval(x []float64) float64 { return c.EvalGrad(x, nil, nil) }
func (catOnly) EvalGrad(x []float64, _ []int, _ []float64) float64 {
	return -math.Abs(x[0] - 2)
}
