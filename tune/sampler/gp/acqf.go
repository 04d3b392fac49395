package gp

import (
	"math"
)

// Acquisition scores a normalised point; higher is better.
type Acquisition interface {
	Eval(x []float64) float64
	// EvalGrad also writes the gradient with respect to x[dims[j]] into grad[j].
	EvalGrad(x []float64, dims []int, grad []float64) float64
	// LengthScales precondition the continuous local search.
	LengthScales() []float64
}

// LogEIAcq is log expected improvement over Best; with Best = −Inf (nothing
// feasible yet) it is 0 everywhere, so only the feasibility terms count.
type LogEIAcq struct {
	GP   *Regressor
	Best float64
}

func (a *LogEIAcq) LengthScales() []float64 { return a.GP.LengthScales() }

func (a *LogEIAcq) Eval(x []float64) float64 {
	if math.IsInf(a.Best, -1) {
		return 0
	}
	m, v := a.GP.Posterior(x)
	s, _, _ := LogEI(m, v, a.Best)
	return s
}

func (a *LogEIAcq) EvalGrad(x []float64, dims []int, grad []float64) float64 {
	if math.IsInf(a.Best, -1) {
		clear(grad)
		return 0
	}
	dm, dv := make([]float64, len(dims)), make([]float64, len(dims))
	m, v := a.GP.PosteriorGrad(x, dims, dm, dv)
	s, gm, gv := LogEI(m, v, a.Best)
	for j := range dims {
		grad[j] = gm*dm[j] + gv*dv[j]
	}
	return s
}

// LogPIAcq is log P(f(x) ≥ Threshold): the probability that a constraint,
// modelled with its sign flipped, is met.
type LogPIAcq struct {
	GP        *Regressor
	Threshold float64
}

func (a *LogPIAcq) LengthScales() []float64 { return a.GP.LengthScales() }

func (a *LogPIAcq) Eval(x []float64) float64 {
	m, v := a.GP.Posterior(x)
	s, _, _ := LogPI(m, v, a.Threshold)
	return s
}

func (a *LogPIAcq) EvalGrad(x []float64, dims []int, grad []float64) float64 {
	dm, dv := make([]float64, len(dims)), make([]float64, len(dims))
	m, v := a.GP.PosteriorGrad(x, dims, dm, dv)
	s, gm, gv := LogPI(m, v, a.Threshold)
	for j := range dims {
		grad[j] = gm*dm[j] + gv*dv[j]
	}
	return s
}

// LogVarAcq is the log posterior variance: pure exploration, for when
// nothing observed says where the good or the feasible region is.
type LogVarAcq struct {
	GP *Regressor
}

func (a *LogVarAcq) LengthScales() []float64 { return a.GP.LengthScales() }

func (a *LogVarAcq) Eval(x []float64) float64 {
	_, v := a.GP.Posterior(x)
	return math.Log(v + 1e-12)
}

func (a *LogVarAcq) EvalGrad(x []float64, dims []int, grad []float64) float64 {
	dm, dv := make([]float64, len(dims)), make([]float64, len(dims))
	_, v := a.GP.PosteriorGrad(x, dims, dm, dv)
	for j := range dims {
		grad[j] = dv[j] / (v + 1e-12)
	}
	return math.Log(v + 1e-12)
}

// Sum adds log acquisitions: the objective's term plus one log probability
// of feasibility per constraint (constraints taken as independent). The
// first term's length scales precondition the search, as in Optuna.
type Sum []Acquisition

func (s Sum) LengthScales() []float64 { return s[0].LengthScales() }

func (s Sum) Eval(x []float64) float64 {
	v := 0.0
	for _, a := range s {
		v += a.Eval(x)
	}
	return v
}

func (s Sum) EvalGrad(x []float64, dims []int, grad []float64) float64 {
	clear(grad)
	g := make([]float64, len(dims))
	v := 0.0
	for _, a := range s {
		v += a.EvalGrad(x, dims, g)
		for j := range g {
			grad[j] += g[j]
		}
	}
	return v
}
