package sampler

import (
	"math"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler/gp"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

func TestGPBeatsRandom(t *testing.T) {
	t.Parallel()
	if wins := winsOverRandom(t, 4, 30, func(seed uint64) Sampler { return NewGP(GPOptions{Seed: seed}) }); wins < 3 {
		t.Errorf("GP beat random on %d of 4 seeds", wins)
	}
}

func TestGPConstraints(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	// The objective pulls gpu_memory_utilization towards 0.88; above 0.8 is
	// infeasible, so the GP should learn to stay at or below it.
	limit := func(p map[string]float64) float64 { return p["gpu_memory_utilization"] - 0.8 }
	h := run(t, NewGP(GPOptions{Seed: 4}), sp, 30, []Direction{Minimize}, limit)
	infeasible := 0
	for _, tr := range h.Trials[15:] {
		if tr.Infeasibility() > 0 {
			infeasible++
		}
	}
	if infeasible > 5 {
		t.Errorf("%d of the last 15 trials infeasible", infeasible)
	}
	// All infeasible, and pruned infeasible trials without values: still samples.
	run(t, NewGP(GPOptions{Seed: 1, NStartup: 3}), sp, 8, []Direction{Minimize}, func(map[string]float64) float64 { return 1 })
	h.Trials = append(h.Trials, Trial{Number: 30, State: Pruned, Params: h.Trials[0].Params, Constraints: []float64{0.5, 1}})
	if _, err := NewGP(GPOptions{Seed: 4}).Sample(h, sp, 31); err != nil {
		t.Fatal(err)
	}
}

func TestGPCategorical(t *testing.T) {
	t.Parallel()
	choice, _ := space.NewCategorical([]any{"a", "b", "c", "d", "e"})
	x, _ := space.NewFloat(0, 1, false, 0)
	sp := space.Space{{Name: "c", Dist: choice}, {Name: "x", Dist: x}}
	h := &History{Directions: []Direction{Maximize}}
	g := NewGP(GPOptions{Seed: 9, NStartup: 6})
	for i := 0; i < 16; i++ {
		p, err := g.Sample(h, sp, i)
		if err != nil {
			t.Fatal(err)
		}
		v := -math.Abs(p["x"] - 0.5)
		if p["c"] == 3 {
			v += 1
		}
		h.Trials = append(h.Trials, Trial{Number: i, State: Complete, Params: p, Values: []float64{v}})
	}
	hits := 0
	for _, tr := range h.Trials[10:] {
		if tr.Params["c"] == 3 {
			hits++
		}
	}
	if hits < 4 {
		t.Errorf("the best choice was proposed %d times in the last 6 trials", hits)
	}
}

func TestGPRunningTrialsSpread(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	h := run(t, NewGP(GPOptions{Seed: 5}), sp, 12, []Direction{Minimize}, nil)
	g := NewGP(GPOptions{Seed: 5})
	first, err := g.Sample(h, sp, 12)
	if err != nil {
		t.Fatal(err)
	}
	h.Trials = append(h.Trials, Trial{Number: 12, State: Running, Params: first})
	// The same stream (number 12 ignores itself), but now another trial runs there.
	h2 := &History{Directions: h.Directions, Trials: append(append([]Trial{}, h.Trials[:12]...), Trial{Number: 99, State: Running, Params: first})}
	second, err := g.Sample(h2, sp, 12)
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for k, v := range first {
		same = same && second[k] == v
	}
	if same {
		t.Errorf("a running trial at %v did not move the next proposal", first)
	}
}

func TestGPMultiObjective(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	for _, dirs := range [][]Direction{{Maximize, Minimize}} {
		h := run(t, NewGP(GPOptions{Seed: 6, NStartup: 5}), sp, 10, dirs, func(p map[string]float64) float64 { return p["x"] - 0.5 })
		h.Trials = append(h.Trials, Trial{Number: 10, State: Running, Params: h.Trials[0].Params}, Trial{Number: 11, State: Failed})
		if _, err := NewGP(GPOptions{Seed: 6}).Sample(h, sp, 12); err != nil {
			t.Fatal(err)
		}
	}
	// Three objectives: log EHVI over the three-dimensional front.
	h := &History{Directions: []Direction{Minimize, Maximize, Minimize}}
	g := NewGP(GPOptions{Seed: 7, NStartup: 4})
	for i := 0; i < 7; i++ {
		p, err := g.Sample(h, sp, i)
		if err != nil {
			t.Fatal(err)
		}
		h.Trials = append(h.Trials, Trial{Number: i, State: Complete, Params: p, Values: []float64{objective(p), p["x"], p["max_num_seqs"]}})
	}
}

// A study without SLOs whose crashing configurations are told as pruned
// with constraint [1]: the GP learns the crash region from them and the
// completed trials (gpu_memory_utilization above 0.85 crashes; the
// objective pulls towards 0.88).
func TestGPLearnsCrashes(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	h := &History{Directions: []Direction{Minimize}}
	g := NewGP(GPOptions{Seed: 3})
	crashes := 0
	for i := 0; i < 30; i++ {
		p, err := g.Sample(h, sp, i)
		if err != nil {
			t.Fatal(err)
		}
		tr := Trial{Number: i, State: Complete, Params: p, Values: []float64{objective(p)}}
		if p["gpu_memory_utilization"] > 0.85 {
			tr = Trial{Number: i, State: Pruned, Params: p, Constraints: []float64{1}}
			if i >= 15 {
				crashes++
			}
		}
		h.Trials = append(h.Trials, tr)
	}
	// It converges on the boundary, so it still probes just across it.
	if crashes > 7 {
		t.Errorf("%d of the last 15 trials crashed", crashes)
	}
	d := newGPData(h, sp[:6], 30)
	if len(d.cons) != 1 || len(d.cons[0].Y) != 30 {
		t.Fatalf("constraint models %d; want 1 over 30 trials", len(d.cons))
	}
	c := d.cons[0]
	reg, err := gp.Fit(c.X, c.Y, d.space.IsCategorical())
	if err != nil {
		t.Fatal(err)
	}
	feasible := func(util float64) float64 {
		x := append([]float64{}, d.X[0]...)
		x[2] = d.space[2].Normalize(util)
		m, v := reg.Posterior(x)
		lp, _, _ := gp.LogPI(m, v, c.threshold)
		return math.Exp(lp)
	}
	if lo, hi := feasible(0.75), feasible(0.95); lo < 0.7 || hi > 0.2 {
		t.Errorf("P(feasible) at 0.75 = %.2f, at 0.95 = %.2f", lo, hi)
	}
}

// On a space of six configurations the GP proposes each once before any
// again: a repeat would only reuse the earlier result.
func TestGPDoesNotRepeatConfigurations(t *testing.T) {
	t.Parallel()
	a, err := space.NewCategorical([]any{"x", "y", "z"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := space.NewCategorical([]any{true, false})
	if err != nil {
		t.Fatal(err)
	}
	sp := space.Space{{Name: "a", Dist: a}, {Name: "b", Dist: b}}
	g := NewGP(GPOptions{Seed: 4, NStartup: 1})
	h := &History{Directions: []Direction{Maximize}}
	seen := map[[2]float64]bool{}
	for i := 0; i < 6; i++ {
		p, err := g.Sample(h, sp, i)
		if err != nil {
			t.Fatal(err)
		}
		k := [2]float64{p["a"], p["b"]}
		if seen[k] {
			t.Fatalf("trial %d repeats %v", i, k)
		}
		seen[k] = true
		h.Trials = append(h.Trials, Trial{Number: i, State: Complete, Params: p, Values: []float64{p["a"] + 3*p["b"]}})
	}
}
