package sampler

import (
	"fmt"
	"math"
	"slices"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler/gp"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// GPOptions are Optuna's GPSampler settings.
type GPOptions struct {
	Seed      uint64
	NStartup  int  // random trials before the GP (0: the default, 10)
	NoStartup bool // no random trials at all (n_startup_trials: 0)
	// Optimize tunes the acquisition optimiser (zero: Optuna's defaults).
	Optimize gp.OptimizeOptions
	// EHVISamples is the number of quasi-random samples of the expected
	// hypervolume improvement (default 128).
	EHVISamples int
}

// GP is Bayesian optimisation with Gaussian processes, after Optuna 5's
// GPSampler: one Matérn-5/2 GP per objective and per constraint, log
// expected improvement (one objective) or log expected hypervolume
// improvement (several), plus the log probability that every constraint holds,
// maximised over the space by Sobol candidates and local search.
//
// Unlike Optuna it is stateless (kernel parameters are refitted from the
// same start at every ask, so a seeded study is reproducible in any order),
// it learns constraints from pruned trials too (infeasible configurations
// are told as pruned here).
// RUNNING trials are fantasised at the posterior mean (the kriging
// believer), so parallel asks spread out.
type GP struct {
	o GPOptions
}

var _ Sampler = (*GP)(nil)

// NewGP applies Optuna's defaults to unset fields.
func NewGP(o GPOptions) *GP {
	o.NStartup = startupTrials(o.NoStartup, o.NStartup)
	if o.EHVISamples <= 0 {
		o.EHVISamples = 128
	}
	return &GP{o: o}
}

func (g *GP) Sample(h *History, sp space.Space, number int) (map[string]float64, error) {
	rng := rngFor(g.o.Seed, number)
	out, free := splitFixed(sp)
	d := newGPData(h, free, number)
	if len(free) == 0 || d.usable() < g.o.NStartup || d.usable() == 0 {
		for _, p := range free {
			out[p.Name] = randomValue(rng, p.Dist)
		}
		return out, nil
	}
	acq, warm, err := g.acquisition(d, len(h.Directions), rng)
	if err != nil {
		return nil, err
	}
	// Trials already tried (or running) are not proposed again: see
	// gp.Optimize.
	x, _ := gp.Optimize(acq, d.space, rng, warm, append(slices.Clip(d.withCons), d.running...), g.o.Optimize)
	for i, p := range free {
		v := d.space[i].Denormalize(x[i])
		if f, ok := p.Dist.(*space.Float); ok && f.Step > 0 {
			v = space.OnStep(v, f.Low, f.High, f.Step)
		}
		if !p.Dist.Contains(v) {
			return nil, fmt.Errorf("gp: sampled %v outside %s for %s", v, p.Dist, p.Name)
		}
		out[p.Name] = v
	}
	return out, nil
}

// acquisition fits the GPs and builds what to maximise, with the warm starts
// of the local search (the best feasible trials).
func (g *GP) acquisition(d *gpData, nObj int, rng randSource) (gp.Acquisition, [][]float64, error) {
	cat := d.space.IsCategorical()
	var terms gp.Sum
	var warm [][]float64
	if len(d.X) > 0 {
		feasibleY, feasibleX := d.feasible()
		switch {
		case nObj == 1:
			y := column(d.Y, 0)
			reg, err := g.fit(d.X, y, cat, d.running)
			if err != nil {
				return nil, nil, err
			}
			best, at := math.Inf(-1), -1
			for i, fy := range feasibleY {
				if fy[0] > best {
					best, at = fy[0], i
				}
			}
			if at >= 0 {
				warm = append(warm, feasibleX[at])
			}
			terms = append(terms, &gp.LogEIAcq{GP: reg, Best: best})
		default:
			regs := make([]*gp.Regressor, nObj)
			for j := range regs {
				reg, err := g.fit(d.X, column(d.Y, j), cat, d.running)
				if err != nil {
					return nil, nil, err
				}
				regs[j] = reg
			}
			if len(feasibleY) > 0 {
				terms = append(terms, gp.NewLogEHVI(regs, feasibleY, g.o.EHVISamples, rng))
				warm = paretoStarts(feasibleX, feasibleY, g.o.localSearch()/2, rng)
			}
		}
	}
	for k := range d.cons {
		c := &d.cons[k]
		reg, err := g.fit(c.X, c.Y, cat, d.running)
		if err != nil {
			return nil, nil, err
		}
		terms = append(terms, &gp.LogPIAcq{GP: reg, Threshold: c.threshold})
	}
	if !informative(terms) {
		// Nothing feasible and no constraint that varies (every trial
		// crashed, or all violate by the same amount): nothing says where to
		// go, so go where nothing was tried, away from the failures.
		acq, err := g.explore(d)
		if err != nil {
			return nil, nil, err
		}
		return acq, nil, nil
	}
	return terms, warm, nil
}

// informative reports whether some term varies over the space: log EI with
// a feasible best, or a constraint's probability.
func informative(terms gp.Sum) bool {
	for _, t := range terms {
		if ei, ok := t.(*gp.LogEIAcq); !ok || !math.IsInf(ei.Best, -1) {
			return true
		}
	}
	return false
}

// explore is the log posterior variance of a GP with the prior's kernel
// (unit length scales) over every trial tried, running ones included.
func (g *GP) explore(d *gpData) (gp.Acquisition, error) {
	lam := make([]float64, len(d.space))
	for i := range lam {
		lam[i] = 1
	}
	pts := append(append([][]float64{}, d.withCons...), d.running...)
	k := gp.Kernel{InvSqLengthscales: lam, Scale: 1, IsCategorical: d.space.IsCategorical()}
	reg, err := gp.NewRegressor(k, 1e-4, pts, make([]float64, len(pts)))
	if err != nil {
		// Only rounding can break the factorisation at this noise, with
		// many repeated points: more noise then.
		if reg, err = gp.NewRegressor(k, 1e-2, pts, make([]float64, len(pts))); err != nil {
			return nil, fmt.Errorf("gp: explore: %w", err)
		}
	}
	return &gp.LogVarAcq{GP: reg}, nil
}

func (o GPOptions) localSearch() int {
	if o.Optimize.LocalSearch > 0 {
		return o.Optimize.LocalSearch
	}
	return 10
}

// fit is the MAP fit plus the running trials as fantasies.
func (g *GP) fit(X [][]float64, y []float64, cat []bool, running [][]float64) (*gp.Regressor, error) {
	reg, err := gp.Fit(X, y, cat)
	if err != nil {
		return nil, fmt.Errorf("gp: fit: %w", err)
	}
	return reg.WithFantasies(running)
}

// paretoStarts picks up to k points of the feasible Pareto front as warm
// starts, at random.
func paretoStarts(X, Y [][]float64, k int, rng randSource) [][]float64 {
	losses := make([][]float64, len(Y))
	for i, y := range Y {
		losses[i] = make([]float64, len(y))
		for j, v := range y {
			losses[i][j] = -v
		}
	}
	front := Front(losses)
	rng.Shuffle(len(front), func(i, j int) { front[i], front[j] = front[j], front[i] })
	var out [][]float64
	for _, i := range front[:min(k, len(front))] {
		out = append(out, X[i])
	}
	return out
}

func column(Y [][]float64, j int) []float64 {
	out := make([]float64, len(Y))
	for i, y := range Y {
		out[i] = y[j]
	}
	return out
}
