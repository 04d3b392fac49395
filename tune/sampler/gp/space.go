// Package gp is the Gaussian-process machinery behind the gp sampler, after
// Optuna 5's optuna/_gp: a Matérn-5/2 ARD kernel whose hyperparameters are
// fitted by maximum a posteriori, log expected improvement, probability of
// feasibility and log expected hypervolume improvement, and a mixed
// continuous/discrete acquisition optimiser (scrambled Sobol candidates, then
// local search). It works in a normalised space: continuous and stepped
// ranges map to [0, 1] (log ranges in log space), a categorical stays its
// choice index and is compared by Hamming distance. Everything is
// deterministic given its *rand.Rand.
package gp

import (
	"math"
	"math/rand/v2"
)

// Kind of one dimension.
type Kind uint8

const (
	Continuous  Kind = iota // a float range without a step
	Discrete                // an int range or a stepped float range
	Categorical             // choice indices 0..Choices-1
)

// Dim is one dimension of the search space, in the user's internal values.
type Dim struct {
	Kind      Kind
	Low, High float64 // Categorical: unused
	Step      float64 // Discrete: the grid step (1 for ints)
	Log       bool
	Choices   int // Categorical: number of choices
}

// Space is the search space in the order of the columns of X.
type Space []Dim

// span is the interval a dimension normalises from: stepped ranges widen by
// half a step each side so every grid point owns an equal share of [0, 1].
func (d Dim) span() (lo, hi float64) {
	lo, hi = d.Low, d.High
	if d.Kind == Discrete {
		lo, hi = lo-d.Step/2, hi+d.Step/2
	}
	if d.Log {
		lo, hi = math.Log(lo), math.Log(hi)
	}
	return lo, hi
}

// Normalize maps an internal value into the GP's space.
func (d Dim) Normalize(v float64) float64 {
	if d.Kind == Categorical {
		return v
	}
	lo, hi := d.span()
	if d.Log {
		v = math.Log(v)
	}
	if hi == lo {
		return 0.5
	}
	return (v - lo) / (hi - lo)
}

// Denormalize maps back, clipped to the range and snapped to the grid.
func (d Dim) Denormalize(u float64) float64 {
	if d.Kind == Categorical {
		return math.Min(math.Max(math.Round(u), 0), float64(d.Choices-1))
	}
	lo, hi := d.span()
	v := lo + u*(hi-lo)
	if d.Log {
		v = math.Exp(v)
	}
	if d.Kind == Discrete {
		v = d.Low + math.Round((v-d.Low)/d.Step)*d.Step
	}
	return math.Min(math.Max(v, d.Low), d.High)
}

// round snaps a normalised value onto the grid of a discrete dimension.
func (d Dim) round(u float64) float64 {
	if d.Kind != Discrete {
		return u
	}
	lo, hi := d.span()
	v := lo + u*(hi-lo)
	if d.Log {
		v = math.Exp(v)
	}
	v = d.Low + math.Floor((v-d.Low+d.Step/2)/d.Step)*d.Step
	return d.Normalize(math.Min(math.Max(v, d.Low), d.High))
}

// choices lists the normalised values a discrete or categorical dimension
// can take, in increasing order.
func (d Dim) choices() []float64 {
	if d.Kind == Categorical {
		out := make([]float64, d.Choices)
		for i := range out {
			out[i] = float64(i)
		}
		return out
	}
	n := int(math.Round((d.High-d.Low)/d.Step)) + 1
	out := make([]float64, n)
	for i := range out {
		out[i] = d.Normalize(d.Low + float64(i)*d.Step)
	}
	return out
}

// IsCategorical reports which columns use the Hamming distance.
func (s Space) IsCategorical() []bool {
	out := make([]bool, len(s))
	for i, d := range s {
		out[i] = d.Kind == Categorical
	}
	return out
}

// Sample draws n scrambled-Sobol points in the normalised space, rounded onto
// the grids of discrete and categorical dimensions.
func (s Space) Sample(rng *rand.Rand, n int) [][]float64 {
	pts := NewSobol(len(s), rng).Draw(n)
	for _, p := range pts {
		for i, d := range s {
			switch d.Kind {
			case Categorical:
				p[i] = math.Min(math.Floor(p[i]*float64(d.Choices)), float64(d.Choices-1))
			case Discrete:
				p[i] = d.round(p[i])
			}
		}
	}
	return pts
}
