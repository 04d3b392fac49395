package sampler

import (
	"errors"
	"fmt"
	"math"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// ErrExhausted means every configuration has been tried (or is running).
var ErrExhausted = errors.New("the search space is exhausted")

// DefaultGridCap bounds the number of grid points.
const DefaultGridCap = 100_000

// Grid tries every combination once, in a seeded random order. Float
// ranges need a step: the points are exactly low, low+step, …, high.
type Grid struct {
	Seed uint64
	Cap  int
}

var _ Sampler = Grid{}

// GridPoints lists the values of one dimension, or says why it has none.
func GridPoints(d space.Distribution) ([]float64, error) {
	switch x := d.(type) {
	case *space.Categorical:
		out := make([]float64, len(x.Choices))
		for i := range out {
			out[i] = float64(i)
		}
		return out, nil
	case *space.Int:
		var out []float64
		for v := x.Low; v <= x.High; v += x.Step {
			out = append(out, float64(v))
		}
		return out, nil
	case *space.Float:
		if x.Single() {
			return []float64{x.Low}, nil
		}
		if x.Step == 0 {
			return nil, fmt.Errorf("%s is continuous: give it a step to search it on a grid", x)
		}
		n := int(math.Round((x.High-x.Low)/x.Step)) + 1
		out := make([]float64, n)
		for i := range out {
			// Multiply, never accumulate: 0.7 + 25 steps of 0.01 must end at 0.95.
			out[i] = space.OnStep(x.Low+float64(i)*x.Step, x.Low, x.High, x.Step)
		}
		return out, nil
	}
	return nil, errors.New("unknown distribution")
}

// CheckGrid reports whether sp can be searched on a grid within cap points.
func CheckGrid(sp space.Space, cap int) error {
	if cap <= 0 {
		cap = DefaultGridCap
	}
	total := 1.0
	for _, p := range sp {
		pts, err := GridPoints(p.Dist)
		if err != nil {
			return fmt.Errorf("grid sampler: %s: %w", p.Name, err)
		}
		total *= float64(len(pts))
	}
	if total > float64(cap) {
		return fmt.Errorf("grid sampler: the grid has %.0f points, more than the cap of %d: coarsen the steps, drop options, or use the tpe sampler", total, cap)
	}
	return nil
}

func (g Grid) Sample(h *History, sp space.Space, number int) (map[string]float64, error) {
	if err := CheckGrid(sp, g.Cap); err != nil {
		return nil, err
	}
	axes := make([][]float64, len(sp))
	total := 1
	for i, p := range sp {
		axes[i], _ = GridPoints(p.Dist)
		total *= len(axes[i])
	}
	// A point is taken by any trial other than this one that holds it.
	taken := make(map[int]bool, len(h.Trials))
	for _, tr := range h.Trials {
		if tr.Number == number {
			continue
		}
		if idx, ok := gridIndex(tr.Params, sp, axes); ok {
			taken[idx] = true
		}
	}
	perm := rngFor(g.Seed, 0).Perm(total)
	for _, idx := range perm {
		if taken[idx] {
			continue
		}
		out := make(map[string]float64, len(sp))
		rem := idx
		for i := len(sp) - 1; i >= 0; i-- {
			n := len(axes[i])
			out[sp[i].Name] = axes[i][rem%n]
			rem /= n
		}
		return out, nil
	}
	return nil, fmt.Errorf("grid sampler: all %d points tried: %w", total, ErrExhausted)
}

func gridIndex(params map[string]float64, sp space.Space, axes [][]float64) (int, bool) {
	idx := 0
	for i, p := range sp {
		v, ok := params[p.Name]
		if !ok {
			return 0, false
		}
		pos := -1
		for j, a := range axes[i] {
			if math.Abs(a-v) <= 1e-9*math.Max(1, math.Abs(a)) {
				pos = j
				break
			}
		}
		if pos < 0 {
			return 0, false
		}
		idx = idx*len(axes[i]) + pos
	}
	return idx, true
}
