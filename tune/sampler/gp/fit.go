package gp

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// MinimumNoise keeps the noise variance away from zero, as Optuna does.
const MinimumNoise = 1e-6

// logPrior is Optuna's default prior over the kernel parameters: a hand-made
// one keeping λ near 1, Gamma(2, 1) on the scale and Gamma(1.1, 30) on the
// noise (constants dropped). It returns the value and its derivatives with
// respect to log λ, log s and log(noise − MinimumNoise).
func logPrior(lam []float64, scale, noise float64, grad []float64) float64 {
	v := 0.0
	for d, l := range lam {
		v -= 0.1/l + 0.1*l
		grad[d] = 0.1/l - 0.1*l
	}
	d := len(lam)
	v += math.Log(scale) - scale
	grad[d] = 1 - scale
	v += 0.1*math.Log(noise) - 30*noise
	grad[d+1] = (0.1/noise - 30) * (noise - MinimumNoise)
	return v
}

// fitProblem is the negative log posterior of the kernel parameters.
type fitProblem struct {
	X   [][]float64
	Y   []float64
	cat []bool
	sqd [][]float64 // per pair (i, j) with j < i, per dimension
}

func newFitProblem(X [][]float64, Y []float64, cat []bool) *fitProblem {
	p := &fitProblem{X: X, Y: Y, cat: cat}
	n := len(X)
	p.sqd = make([][]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			s := make([]float64, len(cat))
			for d := range s {
				s[d] = sqDiff(X[i][d], X[j][d], cat[d])
			}
			p.sqd[i*n+j] = s
		}
	}
	return p
}

func unpack(theta []float64) (lam []float64, scale, noise float64) {
	d := len(theta) - 2
	lam = make([]float64, d)
	for i := range lam {
		lam[i] = math.Exp(theta[i])
	}
	return lam, math.Exp(theta[d]), math.Exp(theta[d+1]) + MinimumNoise
}

// lossGrad is −(log marginal likelihood + log prior) and its gradient in the
// log parameters; +Inf where the covariance cannot be factorised.
func (p *fitProblem) lossGrad(theta, grad []float64) float64 {
	lam, scale, noise := unpack(theta)
	n, dim := len(p.X), len(lam)
	c := mat.NewSymDense(n, nil)
	m := make([]float64, n*n)  // matern52(r2) for j < i
	dm := make([]float64, n*n) // its derivative
	for i := 0; i < n; i++ {
		c.SetSym(i, i, scale+noise)
		for j := 0; j < i; j++ {
			r2 := 0.0
			for d, s := range p.sqd[i*n+j] {
				r2 += s * lam[d]
			}
			m[i*n+j], dm[i*n+j] = matern52(r2), matern52Deriv(r2)
			c.SetSym(i, j, scale*m[i*n+j])
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(c) {
		for i := range grad {
			grad[i] = 0
		}
		return math.Inf(1)
	}
	alpha := mat.NewVecDense(n, nil)
	if err := ch.SolveVecTo(alpha, mat.NewVecDense(n, append([]float64{}, p.Y...))); err != nil {
		return math.Inf(1)
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return math.Inf(1)
	}
	quad := 0.0
	for i, y := range p.Y {
		quad += y * alpha.AtVec(i)
	}
	mll := -0.5*ch.LogDet() - 0.5*quad
	// d mll/dθ = ½ tr(W dC/dθ), W = ααᵀ − C⁻¹ (symmetric: off-diagonal pairs twice).
	gLam := make([]float64, dim)
	gScale, trW := 0.0, 0.0
	for i := 0; i < n; i++ {
		ai := alpha.AtVec(i)
		wii := ai*ai - inv.At(i, i)
		trW += wii
		gScale += wii * scale
		for j := 0; j < i; j++ {
			w := 2 * (ai*alpha.AtVec(j) - inv.At(i, j))
			gScale += w * scale * m[i*n+j]
			g := w * scale * dm[i*n+j]
			for d, s := range p.sqd[i*n+j] {
				gLam[d] += g * s
			}
		}
	}
	pg := make([]float64, dim+2)
	lp := logPrior(lam, scale, noise, pg)
	for d := range gLam {
		grad[d] = -(0.5*gLam[d]*lam[d] + pg[d])
	}
	grad[dim] = -(0.5*gScale + pg[dim])
	grad[dim+1] = -(0.5*trW*(noise-MinimumNoise) + pg[dim+1])
	return -(mll + lp)
}

// Fit finds the kernel parameters by maximum a posteriori from Optuna's
// starting point (λ = 1, s = 1, noise = 1) and conditions the GP on the data.
// If the optimiser fails the starting point is kept, as Optuna does.
func Fit(X [][]float64, Y []float64, cat []bool) (*Regressor, error) {
	dim := len(cat)
	theta0 := make([]float64, dim+2)
	theta0[dim+1] = math.Log(1 - MinimumNoise)
	best := theta0
	if len(X) > 0 {
		p := newFitProblem(X, Y, cat)
		prob := optimize.Problem{
			Func: func(x []float64) float64 { return p.lossGrad(x, make([]float64, len(x))) },
			Grad: func(g, x []float64) { p.lossGrad(x, g) },
		}
		// Optuna's scipy L-BFGS-B runs with gtol 1e-2.
		res, err := optimize.Minimize(prob, theta0, &optimize.Settings{GradientThreshold: 1e-2, MajorIterations: 500}, &optimize.LBFGS{})
		if res != nil && !math.IsInf(res.F, 0) && !math.IsNaN(res.F) && (err == nil || res.F < p.lossGrad(theta0, make([]float64, len(theta0)))) {
			best = res.X
		}
	}
	lam, scale, noise := unpack(best)
	return NewRegressor(Kernel{InvSqLengthscales: lam, Scale: scale, IsCategorical: cat}, noise, X, Y)
}
