// Package sampler proposes the next configuration from the history of a
// study. A sampler is a pure function of that history, the space, the trial
// number and its seed: no I/O, no storage handle, no clock. It works on
// internal values (a categorical is its choice index), like Optuna.
package sampler

import (
	"math"
	"math/rand/v2"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// State of a trial in the history.
type State uint8

const (
	Complete State = iota
	Pruned
	Running
	Failed
)

// Trial is one trial as a sampler sees it.
type Trial struct {
	Number int
	State  State
	Params map[string]float64 // internal values
	Values []float64          // COMPLETE only
	// Constraints are > 0 where violated (an SLO missed, an infeasible
	// config); a trial with any > 0 is infeasible.
	Constraints []float64
}

// Infeasibility is the sum of the violated constraints (0 = feasible).
func (t *Trial) Infeasibility() float64 {
	s := 0.0
	for _, c := range t.Constraints {
		if c > 0 {
			s += c
		}
	}
	return s
}

// Direction of one objective.
type Direction bool

const (
	Minimize Direction = false
	Maximize Direction = true
)

// History is what a sampler learns from.
type History struct {
	Directions []Direction
	Trials     []Trial
}

// Sampler proposes internal values for every parameter of sp for the trial
// with the given number (the trial itself, if already RUNNING in h, is
// ignored).
type Sampler interface {
	Sample(h *History, sp space.Space, number int) (map[string]float64, error)
}

// rngFor gives each trial its own stream, so a seeded study is reproducible
// whatever order parallel trials are asked in.
func rngFor(seed uint64, number int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(number)*0x9e3779b97f4a7c15+1))
}

// Random samples every parameter uniformly (log-uniformly for log ranges).
type Random struct{ Seed uint64 }

var _ Sampler = Random{}

func (r Random) Sample(_ *History, sp space.Space, number int) (map[string]float64, error) {
	rng := rngFor(r.Seed, number)
	out := make(map[string]float64, len(sp))
	for _, p := range sp {
		out[p.Name] = randomValue(rng, p.Dist)
	}
	return out, nil
}

// splitFixed gives the parameters with one possible value that value, and
// returns the rest: what a model-based sampler has to choose.
func splitFixed(sp space.Space) (map[string]float64, space.Space) {
	out := map[string]float64{}
	var free space.Space
	for _, p := range sp {
		if p.Dist.Single() {
			out[p.Name] = singleValue(p.Dist)
		} else {
			free = append(free, p)
		}
	}
	return out, free
}

func singleValue(d space.Distribution) float64 {
	switch x := d.(type) {
	case *space.Float:
		return x.Low
	case *space.Int:
		return float64(x.Low)
	}
	return 0
}

// DefaultStartupTrials is how many random trials TPE and gp start with, as
// Optuna's do.
const DefaultStartupTrials = 10

// startupTrials is Optuna's n_startup_trials: DefaultStartupTrials unless
// set, none when turned off.
func startupTrials(off bool, n int) int {
	switch {
	case off:
		return 0
	case n == 0:
		return DefaultStartupTrials
	}
	return n
}

func randomValue(rng *rand.Rand, d space.Distribution) float64 {
	switch d := d.(type) {
	case *space.Categorical:
		return float64(rng.IntN(len(d.Choices)))
	case *space.Int:
		if d.Log {
			lo, hi := math.Log(float64(d.Low)-0.5), math.Log(float64(d.High)+0.5)
			v := math.Round(math.Exp(lo + rng.Float64()*(hi-lo)))
			return math.Min(math.Max(v, float64(d.Low)), float64(d.High))
		}
		return float64(d.Low + d.Step*rng.Int64N((d.High-d.Low)/d.Step+1))
	case *space.Float:
		switch {
		case d.Step > 0:
			n := int64(math.Round((d.High-d.Low)/d.Step)) + 1
			return space.OnStep(d.Low+float64(rng.Int64N(n))*d.Step, d.Low, d.High, d.Step)
		case d.Log:
			lo, hi := math.Log(d.Low), math.Log(d.High)
			return math.Min(math.Max(math.Exp(lo+rng.Float64()*(hi-lo)), d.Low), d.High)
		}
		return d.Low + rng.Float64()*(d.High-d.Low)
	}
	panic("sampler: unknown distribution")
}

// randSource is the random stream samplers draw from.
type randSource = *rand.Rand
