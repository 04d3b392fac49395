package gp

import "math"

// gradientAscent improves the continuous dimensions of x in place with a
// projected L-BFGS over the box [0, 1]. It works in z = x / lengthscale,
// where the Matérn kernel is isotropic, so the problem is well conditioned
// (Optuna's preconditioning). It reports whether f improved.
func (ls *localSearch) gradientAscent(x []float64, f *float64) bool {
	n := len(ls.cont)
	if n == 0 {
		return false
	}
	hi := make([]float64, n)
	z := make([]float64, n)
	for j, i := range ls.cont {
		hi[j] = 1 / ls.scales[j]
		z[j] = x[i] / ls.scales[j]
	}
	trial := append([]float64{}, x...)
	// negF is −acq at z and its gradient in z.
	negF := func(z, g []float64) float64 {
		for j, i := range ls.cont {
			trial[i] = z[j] * ls.scales[j]
		}
		v := ls.acq.EvalGrad(trial, ls.cont, g)
		for j := range g {
			g[j] = -g[j] * ls.scales[j]
		}
		return -v
	}
	zBest, fBest, iters := projectedLBFGS(negF, z, hi, math.Sqrt(ls.tol), 200)
	if iters == 0 || -fBest <= *f || math.IsNaN(fBest) {
		return false
	}
	for j, i := range ls.cont {
		x[i] = math.Min(math.Max(zBest[j]*ls.scales[j], 0), 1)
	}
	*f = -fBest
	return true
}

// projectedLBFGS minimises fg over the box [0, hi] from z0: L-BFGS
// directions over the free variables, a backtracking Armijo search along
// the projected path, and a stop when the projected gradient's largest
// component falls under pgtol. It returns the point, its value and the
// number of iterations taken.
func projectedLBFGS(fg func(z, g []float64) float64, z0, hi []float64, pgtol float64, maxIter int) ([]float64, float64, int) {
	const memory = 10
	n := len(z0)
	z := append([]float64{}, z0...)
	g := make([]float64, n)
	fz := fg(z, g)
	var ss, ys [][]float64
	d, zn, gn := make([]float64, n), make([]float64, n), make([]float64, n)
	iter := 0
	for ; iter < maxIter; iter++ {
		free := make([]bool, n)
		pgMax := 0.0
		for j := range z {
			atLo, atHi := z[j] <= 0 && g[j] > 0, z[j] >= hi[j] && g[j] < 0
			free[j] = !atLo && !atHi
			if free[j] {
				pgMax = math.Max(pgMax, math.Abs(g[j]))
			}
		}
		if pgMax < pgtol || math.IsNaN(fz) {
			break
		}
		twoLoop(d, g, free, ss, ys)
		slope := 0.0
		for j := range d {
			slope += d[j] * g[j]
		}
		if !(slope < 0) {
			for j := range d {
				d[j] = 0
				if free[j] {
					d[j] = -g[j]
				}
			}
			ss, ys = nil, nil
		}
		step, fn, ok := 1.0, 0.0, false
		for k := 0; k < 30; k++ {
			dec := 0.0
			for j := range z {
				zn[j] = math.Min(math.Max(z[j]+step*d[j], 0), hi[j])
				dec += g[j] * (zn[j] - z[j])
			}
			fn = fg(zn, gn)
			if fn <= fz+1e-4*dec && !math.IsNaN(fn) {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			break
		}
		s, y := make([]float64, n), make([]float64, n)
		sy := 0.0
		for j := range z {
			s[j], y[j] = zn[j]-z[j], gn[j]-g[j]
			sy += s[j] * y[j]
		}
		if sy > 1e-10 {
			ss, ys = append(ss, s), append(ys, y)
			if len(ss) > memory {
				ss, ys = ss[1:], ys[1:]
			}
		}
		improved := fz - fn
		copy(z, zn)
		copy(g, gn)
		fz = fn
		if improved <= 1e-12*math.Max(1, math.Abs(fz)) {
			iter++
			break
		}
	}
	return z, fz, iter
}

// twoLoop writes the L-BFGS direction −H g into d, restricted to the free
// variables.
func twoLoop(d, g []float64, free []bool, ss, ys [][]float64) {
	for j := range d {
		d[j] = 0
		if free[j] {
			d[j] = -g[j]
		}
	}
	dot := func(a, b []float64) float64 {
		v := 0.0
		for j := range a {
			if free[j] {
				v += a[j] * b[j]
			}
		}
		return v
	}
	alpha := make([]float64, len(ss))
	for k := len(ss) - 1; k >= 0; k-- {
		rho := dot(ys[k], ss[k])
		if rho <= 0 {
			continue
		}
		alpha[k] = dot(ss[k], d) / rho
		for j := range d {
			if free[j] {
				d[j] -= alpha[k] * ys[k][j]
			}
		}
	}
	if k := len(ss) - 1; k >= 0 {
		if yy := dot(ys[k], ys[k]); yy > 0 {
			gamma := dot(ss[k], ys[k]) / yy
			for j := range d {
				d[j] *= gamma
			}
		}
	}
	for k := range ss {
		rho := dot(ys[k], ss[k])
		if rho <= 0 {
			continue
		}
		beta := dot(ys[k], d) / rho
		for j := range d {
			if free[j] {
				d[j] += (alpha[k] - beta) * ss[k][j]
			}
		}
	}
}
