package sampler

import (
	"math"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler/gp"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// gpData is the history laid out for the GPs, in the normalised space.
type gpData struct {
	space gp.Space
	// X and Y are the completed trials; Y is standardised per objective and
	// turned so that larger is better.
	X           [][]float64
	Y           [][]float64
	feasibleRow []bool
	running     [][]float64
	cons        []gpConstraint
	// withCons are the trials the constraint models learn from: completed
	// ones and pruned ones that told constraints (an infeasible
	// configuration is told as pruned with a violated constraint).
	withCons [][]float64
}

// gpConstraint is one constraint's observations: −c standardised, so that
// feasible (c ≤ 0) means Y ≥ threshold.
type gpConstraint struct {
	X         [][]float64
	Y         []float64
	threshold float64
}

func gpSpace(sp space.Space) gp.Space {
	out := make(gp.Space, len(sp))
	for i, p := range sp {
		switch d := p.Dist.(type) {
		case *space.Categorical:
			out[i] = gp.Dim{Kind: gp.Categorical, Choices: len(d.Choices)}
		case *space.Int:
			out[i] = gp.Dim{Kind: gp.Discrete, Low: float64(d.Low), High: float64(d.High), Step: float64(d.Step), Log: d.Log}
		case *space.Float:
			k := gp.Continuous
			if d.Step > 0 {
				k = gp.Discrete
			}
			out[i] = gp.Dim{Kind: k, Low: d.Low, High: d.High, Step: d.Step, Log: d.Log}
		}
	}
	return out
}

// newGPData keeps the trials that have every parameter of sp: completed ones
// for the objectives, completed and pruned ones that told constraints for
// the constraints, running ones (other than number) as fantasies.
func newGPData(h *History, sp space.Space, number int) *gpData {
	d := &gpData{space: gpSpace(sp)}
	var raw [][]float64
	var cons [][]float64
	var complete []bool
	nObj := len(h.Directions)
	for i := range h.Trials {
		tr := &h.Trials[i]
		if tr.Number == number {
			continue
		}
		x, ok := d.normalize(tr, sp)
		if !ok {
			continue
		}
		switch {
		case tr.State == Running:
			d.running = append(d.running, x)
			continue
		case tr.State == Complete && len(tr.Values) == nObj:
			d.X = append(d.X, x)
			raw = append(raw, loss(tr.Values, h.Directions))
			d.feasibleRow = append(d.feasibleRow, tr.Infeasibility() == 0)
		}
		if tr.State == Complete || (tr.State == Pruned && len(tr.Constraints) > 0) {
			d.withCons = append(d.withCons, x)
			cons = append(cons, tr.Constraints)
			complete = append(complete, tr.State == Complete)
		}
	}
	if len(raw) > 0 {
		d.Y = make([][]float64, len(raw))
		for i := range d.Y {
			d.Y[i] = make([]float64, nObj)
		}
		for j := 0; j < nObj; j++ {
			col := make([]float64, len(raw))
			for i, r := range raw {
				col[i] = -r[j] // larger is better
			}
			s, _, _ := standardize(clipInf(col))
			for i := range s {
				d.Y[i][j] = s[i]
			}
		}
	}
	d.constraints(cons, complete)
	return d
}

func (d *gpData) normalize(tr *Trial, sp space.Space) ([]float64, bool) {
	x := make([]float64, len(sp))
	for k, p := range sp {
		v, ok := tr.Params[p.Name]
		if !ok || !p.Dist.Contains(v) {
			return nil, false
		}
		x[k] = d.space[k].Normalize(v)
	}
	return x, true
}

// constraints builds one model per constraint index. A trial that told
// that index gives its value; a completed trial that told fewer constraints
// met them all and counts as comfortably feasible (−1, the mirror of the +1
// an infeasible configuration is told with, and what an SLO met by a margin
// gives); a pruned one that did not tell it is left out. The common case is
// a study without SLOs whose crashed configurations are told as [1]: the
// completed trials then teach the model where the crashes are not. A
// constraint with a single observed value says nothing about where it fails
// and is left out.
func (d *gpData) constraints(cons [][]float64, complete []bool) {
	n := 0
	for _, c := range cons {
		n = max(n, len(c))
	}
	for k := 0; k < n; k++ {
		var c gpConstraint
		var vals []float64
		for i, cs := range cons {
			switch {
			case len(cs) > k:
				vals = append(vals, -cs[k])
			case complete[i]:
				vals = append(vals, 1)
			default:
				continue
			}
			c.X = append(c.X, d.withCons[i])
		}
		s, mean, std := standardize(clipInf(vals))
		if std == 0 {
			continue
		}
		c.Y, c.threshold = s, -mean/std
		d.cons = append(d.cons, c)
	}
}

// usable counts the trials the GPs learn from.
func (d *gpData) usable() int { return len(d.withCons) }

// feasible returns the objective values and points of the feasible
// completed trials.
func (d *gpData) feasible() (Y, X [][]float64) {
	for i, ok := range d.feasibleRow {
		if ok {
			Y, X = append(Y, d.Y[i]), append(X, d.X[i])
		}
	}
	return Y, X
}

// standardize returns (v − mean)/std with std floored at 1e-10, like Optuna.
func standardize(v []float64) (out []float64, mean, std float64) {
	if len(v) == 0 {
		return nil, 0, 0
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	std = math.Sqrt(std / float64(len(v)))
	out = make([]float64, len(v))
	for i, x := range v {
		out[i] = (x - mean) / math.Max(std, 1e-10)
	}
	return out, mean, std
}

// clipInf replaces ±Inf with the largest/smallest finite value (0 if none).
func clipInf(v []float64) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 0
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Min(math.Max(x, lo), hi)
	}
	return out
}
