package gp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestKernel(t *testing.T) {
	t.Parallel()
	k := Kernel{InvSqLengthscales: []float64{4, 1}, Scale: 2, IsCategorical: []bool{false, true}}
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		{"same point", []float64{0.3, 1}, []float64{0.3, 1}, 2},
		// r² = 4·0.5² = 1: e^−√5 (1 + √5 + 5/3)
		{"continuous", []float64{0, 1}, []float64{0.5, 1}, 2 * math.Exp(-math.Sqrt(5)) * (1 + math.Sqrt(5) + 5.0/3)},
		// Categorical: Hamming, however far apart the indices.
		{"categorical", []float64{0, 0}, []float64{0, 2}, 2 * math.Exp(-math.Sqrt(5)) * (1 + math.Sqrt(5) + 5.0/3)},
	}
	for _, tc := range tests {
		if got := k.Eval(tc.a, tc.b); !near(got, tc.want, 1e-14) {
			t.Errorf("%s: k = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, r2 := range []float64{0, 1e-8, 0.3, 2, 40} {
		h := 1e-6 * math.Max(r2, 1e-3)
		fd := (matern52(r2+h) - matern52(math.Max(r2-h, 0))) / (r2 + h - math.Max(r2-h, 0))
		if !near(matern52Deriv(r2), fd, 1e-4) {
			t.Errorf("d matern52(%v) = %v, finite difference %v", r2, matern52Deriv(r2), fd)
		}
	}
}

// TestPosteriorHandComputed checks the posterior of two observations
// against the closed form of a 2×2 inverse.
func TestPosteriorHandComputed(t *testing.T) {
	t.Parallel()
	noise := 0.01
	k := Kernel{InvSqLengthscales: []float64{1}, Scale: 1, IsCategorical: []bool{false}}
	r, err := NewRegressor(k, noise, [][]float64{{0}, {1}}, []float64{1, -1})
	if err != nil {
		t.Fatal(err)
	}
	c := matern52(1)        // k(0, 1)
	a := 1 + noise          // diagonal
	det := a*a - c*c        // C = [[a, c], [c, a]]
	alpha0 := (a + c) / det // C⁻¹ [1, −1] = [1, −1]·(a+c)/det
	tests := []struct {
		x        float64
		mean, vr float64
	}{
		// k(x) = [1, c]: mean = (1 − c)·α0, var = 1 − kᵀC⁻¹k.
		{0, (1 - c) * alpha0, 1 - (a*1+a*c*c-2*c*c)/det},
		// Midway, k = [m, m]: the mean is 0 by symmetry, var = 1 − 2m²/(a+c).
		{0.5, 0, 1 - 2*matern52(0.25)*matern52(0.25)/(a+c)},
	}
	for _, tc := range tests {
		m, v := r.Posterior([]float64{tc.x})
		if !near(m, tc.mean, 1e-12) || !near(v, tc.vr, 1e-12) {
			t.Errorf("posterior(%v) = %v, %v; want %v, %v", tc.x, m, v, tc.mean, tc.vr)
		}
	}
}

func randomRegressor(rng *rand.Rand, n int, cat []bool) *Regressor {
	X := make([][]float64, n)
	Y := make([]float64, n)
	for i := range X {
		X[i] = make([]float64, len(cat))
		for d := range cat {
			X[i][d] = rng.Float64()
			if cat[d] {
				X[i][d] = float64(rng.IntN(3))
			}
		}
		Y[i] = math.Sin(6*X[i][0]) + X[i][1]
	}
	k := Kernel{InvSqLengthscales: []float64{3, 0.5, 1}, Scale: 1.3, IsCategorical: cat}
	r, err := NewRegressor(k, 1e-3, X, Y)
	if err != nil {
		panic(err)
	}
	return r
}

func TestGradients(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	cat := []bool{false, false, true}
	r := randomRegressor(rng, 12, cat)
	dims := []int{0, 1}
	x := []float64{0.41, 0.73, 1}
	fd := func(f func([]float64) float64, d int) float64 {
		h := 1e-6
		xp, xm := append([]float64{}, x...), append([]float64{}, x...)
		xp[d] += h
		xm[d] -= h
		return (f(xp) - f(xm)) / (2 * h)
	}
	dm, dv := make([]float64, 2), make([]float64, 2)
	r.PosteriorGrad(x, dims, dm, dv)
	reg2 := randomRegressor(rng, 12, cat)
	ehvi := NewLogEHVI([]*Regressor{r, reg2}, [][]float64{{0.2, 0.1}, {-0.5, 0.6}, {0.4, -1}}, 64, rng)
	acqs := map[string]Acquisition{
		"logEI":     &LogEIAcq{GP: r, Best: 0.8},
		"logEI far": &LogEIAcq{GP: r, Best: 30},
		"logPI":     &LogPIAcq{GP: r, Threshold: -0.3},
		"sum":       Sum{&LogEIAcq{GP: r, Best: 0.5}, &LogPIAcq{GP: r, Threshold: 2}},
		"logEHVI":   ehvi,
	}
	for d := range dims {
		if m := fd(func(x []float64) float64 { m, _ := r.Posterior(x); return m }, d); !near(dm[d], m, 1e-5) {
			t.Errorf("d mean/dx%d = %v, finite difference %v", d, dm[d], m)
		}
		if v := fd(func(x []float64) float64 { _, v := r.Posterior(x); return v }, d); !near(dv[d], v, 1e-5) {
			t.Errorf("d var/dx%d = %v, finite difference %v", d, dv[d], v)
		}
	}
	for name, a := range acqs {
		g := make([]float64, 2)
		val := a.EvalGrad(x, dims, g)
		if !near(val, a.Eval(x), 1e-12) {
			t.Errorf("%s: EvalGrad %v, Eval %v", name, val, a.Eval(x))
		}
		for d := range dims {
			if want := fd(a.Eval, d); !near(g[d], want, 1e-4) {
				t.Errorf("%s: gradient %d = %v, finite difference %v", name, d, g[d], want)
			}
		}
	}
}

func TestFitGradientAndRecovery(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	cat := []bool{false, false, true}
	r := randomRegressor(rng, 15, cat)
	p := newFitProblem(r.X, r.Y, cat)
	theta := []float64{0.3, -0.7, 0.2, 0.1, -2}
	g := make([]float64, len(theta))
	p.lossGrad(theta, g)
	for i := range theta {
		h := 1e-6
		tp, tm := append([]float64{}, theta...), append([]float64{}, theta...)
		tp[i] += h
		tm[i] -= h
		want := (p.lossGrad(tp, make([]float64, 5)) - p.lossGrad(tm, make([]float64, 5))) / (2 * h)
		if !near(g[i], want, 1e-5) {
			t.Errorf("d loss/dθ%d = %v, finite difference %v", i, g[i], want)
		}
	}
	fit, err := Fit(r.X, r.Y, cat)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.lossGrad(packTheta(fit), make([]float64, 5)); got > p.lossGrad(make([]float64, 5), make([]float64, 5)) {
		t.Errorf("fitted loss %v is worse than the starting point's", got)
	}
	// The fitted GP interpolates its (noise-free) data closely.
	for i, x := range r.X {
		if m, _ := fit.Posterior(x); math.Abs(m-r.Y[i]) > 0.1 {
			t.Errorf("posterior mean at X[%d] = %v, observed %v", i, m, r.Y[i])
		}
	}
}

func packTheta(r *Regressor) []float64 {
	var th []float64
	for _, l := range r.InvSqLengthscales {
		th = append(th, math.Log(l))
	}
	return append(th, math.Log(r.Scale), math.Log(r.Noise-MinimumNoise))
}

func TestFantasiesKeepMeanAndShrinkVariance(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	r := randomRegressor(rng, 10, []bool{false, false, false})
	x := []float64{0.5, 0.5, 0.5}
	f, err := r.WithFantasies([][]float64{x})
	if err != nil {
		t.Fatal(err)
	}
	m0, v0 := r.Posterior(x)
	m1, v1 := f.Posterior(x)
	if !near(m0, m1, 1e-6) || v1 >= v0/10 {
		t.Errorf("before: %v ± %v; after the fantasy: %v ± %v", m0, v0, m1, v1)
	}
}

// TestFitRecoversLengthScales fits data that varies along x0 only, with a
// known wavelength: x0's length scale comes out near the one a Matérn-5/2
// needs for it, x1's (irrelevant) far longer.
func TestFitRecoversLengthScales(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	var X [][]float64
	var Y []float64
	for i := 0; i < 40; i++ {
		x := []float64{rng.Float64(), rng.Float64()}
		X, Y = append(X, x), append(Y, math.Sin(2*math.Pi*x[0]/0.8)) // wavelength 0.8
	}
	fit, err := Fit(X, Y, []bool{false, false})
	if err != nil {
		t.Fatal(err)
	}
	ls := fit.LengthScales()
	if ls[0] < 0.08 || ls[0] > 0.5 || ls[1] < 3*ls[0] {
		t.Errorf("length scales %v: want x0's in [0.08, 0.5] and x1's far longer", ls)
	}
}
