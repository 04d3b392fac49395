package gp

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Regressor is a zero-mean GP posterior over standardised observations.
type Regressor struct {
	Kernel
	Noise float64 // observation noise variance
	X     [][]float64
	Y     []float64
	// chol is the row-major lower Cholesky factor of K(X, X) + Noise·I and
	// alpha its solve against Y, cached for the posterior.
	chol  []float64
	alpha []float64
}

// NewRegressor conditions a kernel on data.
func NewRegressor(k Kernel, noise float64, X [][]float64, Y []float64) (*Regressor, error) {
	r := &Regressor{Kernel: k, Noise: noise, X: X, Y: Y}
	if err := r.factor(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Regressor) factor() error {
	n := len(r.X)
	c := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			v := r.Eval(r.X[i], r.X[j])
			if i == j {
				v += r.Noise
			}
			c.SetSym(i, j, v)
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(c) {
		return errors.New("gp: covariance is not positive definite")
	}
	var l mat.TriDense
	ch.LTo(&l)
	r.chol = make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			r.chol[i*n+j] = l.At(i, j)
		}
	}
	r.alpha = make([]float64, n)
	copy(r.alpha, r.Y)
	r.forward(r.alpha)
	r.backward(r.alpha)
	return nil
}

// forward solves L w = b in place.
func (r *Regressor) forward(b []float64) {
	n := len(b)
	for i := 0; i < n; i++ {
		s := b[i]
		row := r.chol[i*n : i*n+i]
		for j, l := range row {
			s -= l * b[j]
		}
		b[i] = s / r.chol[i*n+i]
	}
}

// backward solves Lᵀ v = b in place.
func (r *Regressor) backward(b []float64) {
	n := len(b)
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for j := i + 1; j < n; j++ {
			s -= r.chol[j*n+i] * b[j]
		}
		b[i] = s / r.chol[i*n+i]
	}
}

// WithFantasies returns the posterior with extra observations at xs, each
// valued at the current posterior mean there (the "kriging believer"): the
// mean is unchanged but the variance near xs collapses, so parallel asks
// look elsewhere. Hyperparameters are kept.
func (r *Regressor) WithFantasies(xs [][]float64) (*Regressor, error) {
	if len(xs) == 0 {
		return r, nil
	}
	X := append(append([][]float64{}, r.X...), xs...)
	Y := append([]float64{}, r.Y...)
	for _, x := range xs {
		m, _ := r.Posterior(x)
		Y = append(Y, m)
	}
	out, err := NewRegressor(r.Kernel, r.Noise, X, Y)
	if err != nil {
		return nil, fmt.Errorf("gp: fantasies: %w", err)
	}
	return out, nil
}

// Posterior is the mean and variance of f(x).
func (r *Regressor) Posterior(x []float64) (mean, variance float64) {
	k := make([]float64, len(r.X))
	for i, xi := range r.X {
		k[i] = r.Eval(x, xi)
		mean += k[i] * r.alpha[i]
	}
	r.forward(k)
	variance = r.Scale
	for _, w := range k {
		variance -= w * w
	}
	return mean, math.Max(variance, 0)
}

// PosteriorGrad is Posterior plus the gradients of mean and variance with
// respect to the dimensions listed in dims (continuous ones), written into
// dMean and dVar (len(dims) each).
func (r *Regressor) PosteriorGrad(x []float64, dims []int, dMean, dVar []float64) (mean, variance float64) {
	n := len(r.X)
	k := make([]float64, n)
	dk := make([]float64, n) // s · m'(r2_i)
	for i, xi := range r.X {
		r2 := r.r2(x, xi)
		k[i] = r.Scale * matern52(r2)
		dk[i] = r.Scale * matern52Deriv(r2)
		mean += k[i] * r.alpha[i]
	}
	v := append([]float64{}, k...)
	r.forward(v)
	variance = r.Scale
	for _, w := range v {
		variance -= w * w
	}
	r.backward(v) // v = C⁻¹ k
	for j, d := range dims {
		gm, gv := 0.0, 0.0
		lam := r.InvSqLengthscales[d]
		for i, xi := range r.X {
			g := dk[i] * 2 * (x[d] - xi[d]) * lam // d k_i / d x_d
			gm += g * r.alpha[i]
			gv -= 2 * v[i] * g
		}
		dMean[j], dVar[j] = gm, gv
	}
	if variance < 0 {
		variance = 0
		for j := range dVar {
			dVar[j] = 0
		}
	}
	return mean, variance
}
