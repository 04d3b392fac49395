package sampler

import (
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

func TestTruncNorm(t *testing.T) {
	t.Parallel()
	near := func(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
	if !near(stats.NormCDF(0), 0.5, 1e-15) || !near(stats.NormCDF(1.96), 0.9750021048517795, 1e-12) {
		t.Errorf("ndtr")
	}
	if !near(stats.LogNormCDF(-30), -454.3212439955, 1e-6) || !near(stats.LogNormCDF(-5), math.Log(2.866515718791939e-07), 1e-9) {
		t.Errorf("stats.LogNormCDF(-30) = %v, stats.LogNormCDF(-5) = %v", stats.LogNormCDF(-30), stats.LogNormCDF(-5))
	}
	if !near(math.Exp(stats.LogNormMass(-1, 1)), 0.6826894921370859, 1e-12) || !near(math.Exp(stats.LogNormMass(3, 4)), 0.0013182267897969, 1e-12) {
		t.Errorf("logGaussMass")
	}
	for _, q := range []float64{1e-9, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9} {
		for _, ab := range [][2]float64{{-1, 1}, {-10, -8}, {5, 7}, {-0.2, 40}} {
			x := truncPPF(q, ab[0], ab[1])
			back := math.Exp(stats.LogNormMass(ab[0], x) - stats.LogNormMass(ab[0], ab[1]))
			if x < ab[0]-1e-9 || x > ab[1]+1e-9 || !near(back, q, 1e-6) {
				t.Errorf("ppf(%v, %v) = %v (cdf back %v)", q, ab, x, back)
			}
		}
	}
	// The density integrates to 1 over its support.
	sum, n := 0.0, 20000
	for i := range n {
		x := -1 + 3*(float64(i)+0.5)/float64(n)
		sum += math.Exp(truncLogPDF(x, -1, 2, 0.3, 0.7)) * 3 / float64(n)
	}
	if !near(sum, 1, 1e-6) {
		t.Errorf("pdf integrates to %v", sum)
	}
}

func testSpace(t *testing.T) space.Space {
	must := func(d space.Distribution, err error) space.Distribution {
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return space.Space{
		{Name: "max_num_seqs", Dist: must(space.NewInt(8, 512, false, 8))},
		{Name: "max_num_batched_tokens", Dist: must(space.NewInt(1024, 32768, true, 1))},
		{Name: "gpu_memory_utilization", Dist: must(space.NewFloat(0.7, 0.95, false, 0.01))},
		{Name: "swap", Dist: must(space.NewFloat(0.1, 64, true, 0))},
		{Name: "x", Dist: must(space.NewFloat(-1, 1, false, 0))},
		{Name: "kv_cache_dtype", Dist: must(space.NewCategorical([]any{"auto", "fp8", "fp8_e5m2"}))},
		{Name: "fixed", Dist: must(space.NewInt(4, 4, false, 1))},
	}
}

func samplers() map[string]func(seed uint64) Sampler {
	f := false
	return map[string]func(seed uint64) Sampler{
		"random": func(s uint64) Sampler { return Random{Seed: s} },
		"tpe":    func(s uint64) Sampler { return NewTPE(TPEOptions{Seed: s, NStartup: 5}) },
		"tpe-independent": func(s uint64) Sampler {
			return NewTPE(TPEOptions{Seed: s, NStartup: 5, Multivariate: &f, NoConstantLiar: true})
		},
		"gp": func(s uint64) Sampler { return NewGP(GPOptions{Seed: s, NStartup: 5}) },
	}
}

// objective: a smooth bowl over the numeric parameters, a categorical bonus.
func objective(p map[string]float64) float64 {
	v := math.Pow(p["max_num_seqs"]-200, 2)/1e4 + math.Pow(math.Log(p["max_num_batched_tokens"])-9, 2) +
		math.Pow(p["gpu_memory_utilization"]-0.88, 2)*100 + math.Pow(p["x"]-0.25, 2)
	if p["kv_cache_dtype"] == 1 {
		v -= 1
	}
	return v
}

func run(t *testing.T, s Sampler, sp space.Space, n int, dirs []Direction, constraint func(map[string]float64) float64) *History {
	h := &History{Directions: dirs}
	for i := 0; i < n; i++ {
		p, err := s.Sample(h, sp, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, prm := range sp {
			v, ok := p[prm.Name]
			if !ok || !prm.Dist.Contains(v) {
				t.Fatalf("trial %d: %s = %v outside %s", i, prm.Name, v, prm.Dist)
			}
		}
		tr := Trial{Number: i, State: Complete, Params: p}
		y := objective(p)
		tr.Values = []float64{y}
		if len(dirs) == 2 {
			tr.Values = []float64{-y, p["max_num_seqs"]}
		}
		if constraint != nil {
			tr.Constraints = []float64{constraint(p)}
		}
		h.Trials = append(h.Trials, tr)
	}
	return h
}

func TestReproducibleAndInBounds(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	for name, mk := range samplers() {
		a := run(t, mk(42), sp, 30, []Direction{Minimize}, nil)
		b := run(t, mk(42), sp, 30, []Direction{Minimize}, nil)
		c := run(t, mk(43), sp, 30, []Direction{Minimize}, nil)
		same, differs := true, false
		for i := range a.Trials {
			for k, v := range a.Trials[i].Params {
				same = same && b.Trials[i].Params[k] == v
				differs = differs || c.Trials[i].Params[k] != v
			}
		}
		if !same || !differs {
			t.Errorf("%s: same seed same trials %v; other seed differs %v", name, same, differs)
		}
	}
}

func TestTPEBeatsRandom(t *testing.T) {
	t.Parallel()
	if wins := winsOverRandom(t, 10, 60, func(seed uint64) Sampler { return NewTPE(TPEOptions{Seed: seed}) }); wins < 7 {
		t.Errorf("TPE beat random on %d of 10 seeds", wins)
	}
}

// winsOverRandom counts the seeds on which s found a lower minimum of the
// test surface than random search with the same seed and budget.
func winsOverRandom(t *testing.T, seeds uint64, trials int, s func(seed uint64) Sampler) int {
	sp := testSpace(t)
	best := func(h *History) float64 {
		b := math.Inf(1)
		for _, tr := range h.Trials {
			b = math.Min(b, tr.Values[0])
		}
		return b
	}
	wins := 0
	for seed := range seeds {
		r := best(run(t, Random{Seed: seed}, sp, trials, []Direction{Minimize}, nil))
		if best(run(t, s(seed), sp, trials, []Direction{Minimize}, nil)) < r {
			wins++
		}
	}
	return wins
}

func TestConstraintsAndEdgeHistories(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	// Everything infeasible: still samples, in bounds.
	run(t, NewTPE(TPEOptions{Seed: 1, NStartup: 3}), sp, 20, []Direction{Minimize}, func(map[string]float64) float64 { return 1 })
	// Feasibility is learnt: with max_num_seqs > 256 infeasible, TPE mostly stays below.
	h := run(t, NewTPE(TPEOptions{Seed: 2, NStartup: 10}), sp, 80, []Direction{Minimize}, func(p map[string]float64) float64 { return p["max_num_seqs"] - 256 })
	infeasible := 0
	for _, tr := range h.Trials[40:] {
		if tr.Infeasibility() > 0 {
			infeasible++
		}
	}
	if infeasible > 20 {
		t.Errorf("%d of the last 40 trials infeasible", infeasible)
	}
	checkMultiObjectiveEdges(t, sp)
}

// Multi-objective, with a running trial and a failed one: a failed trial is
// ignored; a running one is ignored without the constant liar and changes
// the proposal with it; every proposal is in the space.
func checkMultiObjectiveEdges(t *testing.T, sp space.Space) {
	t.Helper()
	base := run(t, NewTPE(TPEOptions{Seed: 3, NStartup: 5}), sp, 30, []Direction{Maximize, Minimize}, nil)
	with := func(extra ...Trial) *History {
		return &History{Directions: base.Directions, Trials: append(slices.Clone(base.Trials), extra...)}
	}
	running := Trial{Number: 30, State: Running, Params: base.Trials[0].Params}
	failed := Trial{Number: 31, State: Failed}
	sample := func(noLiar bool, h *History) map[string]float64 {
		t.Helper()
		p, err := NewTPE(TPEOptions{Seed: 3, NoConstantLiar: noLiar}).Sample(h, sp, 32)
		if err != nil {
			t.Fatal(err)
		}
		for _, prm := range sp {
			if v, ok := p[prm.Name]; !ok || !prm.Dist.Contains(v) {
				t.Fatalf("%s = %v outside %s", prm.Name, v, prm.Dist)
			}
		}
		return p
	}
	for _, c := range []struct {
		name   string
		noLiar bool
		a, b   *History
		same   bool
	}{
		{"a failed trial is ignored", false, with(running, failed), with(running), true},
		{"without the liar a running trial is ignored", true, with(running, failed), with(), true},
		{"with the liar a running trial counts", false, with(running, failed), with(failed), false},
	} {
		if got := maps.Equal(sample(c.noLiar, c.a), sample(c.noLiar, c.b)); got != c.same {
			t.Errorf("%s: same proposal = %v, want %v", c.name, got, c.same)
		}
	}
}

func TestDefaultWeights(t *testing.T) {
	t.Parallel()
	w := defaultWeights(30)
	if len(w) != 30 || w[0] != 1.0/30 || w[4] != 1 || w[29] != 1 || w[1] <= w[0] {
		t.Errorf("weights %v", w)
	}
}

func TestHypervolumeAndHSSP(t *testing.T) {
	t.Parallel()
	pts := [][]float64{{1, 3}, {2, 2}, {3, 1}}
	if hv := hypervolume(pts, []float64{4, 4}); hv != 6 {
		t.Errorf("2d hv %v", hv)
	}
	cube := [][]float64{{0, 0, 0}}
	if hv := hypervolume(cube, []float64{1, 2, 3}); hv != 6 {
		t.Errorf("3d hv %v", hv)
	}
	pts3 := [][]float64{{1, 2, 2}, {2, 1, 2}, {2, 2, 1}}
	// 3 boxes of 2 minus pairwise overlaps 1 each plus triple overlap 1: 6 - 3 + 1 = 4... by slicing.
	if hv := hypervolume(pts3, []float64{3, 3, 3}); math.Abs(hv-4) > 1e-12 {
		t.Errorf("3d hv %v", hv)
	}
	got := hssp(pts, 1, []float64{4, 4})
	if len(got) != 1 || got[0] != 1 {
		t.Errorf("hssp %v", got)
	}
	r := nonDominationRanks([][]float64{{1, 1}, {2, 2}, {0, 3}, {3, 3}}, 4)
	if r[0] != 0 || r[2] != 0 || r[1] != 1 || r[3] != 2 {
		t.Errorf("ranks %v", r)
	}
	_ = rand.New
}

func TestGrid(t *testing.T) {
	t.Parallel()
	f, _ := space.NewFloat(0.7, 0.95, false, 0.01)
	i, _ := space.NewInt(8, 32, false, 8)
	c, _ := space.NewCategorical([]any{true, false})
	sp := space.Space{{Name: "f", Dist: f}, {Name: "i", Dist: i}, {Name: "c", Dist: c}}
	g := Grid{Seed: 5}
	h := &History{Directions: []Direction{Minimize}}
	seen := map[[3]float64]bool{}
	for n := 0; n < 26*4*2; n++ {
		p, err := g.Sample(h, sp, n)
		if err != nil {
			t.Fatalf("trial %d: %v", n, err)
		}
		key := [3]float64{p["f"], p["i"], p["c"]}
		if seen[key] {
			t.Fatalf("trial %d repeats %v", n, key)
		}
		seen[key] = true
		// Running trials hold their point too.
		h.Trials = append(h.Trials, Trial{Number: n, State: Running, Params: p})
	}
	if !seen[[3]float64{0.95, 32, 1}] {
		t.Error("the grid misses its last point")
	}
	if _, err := g.Sample(h, sp, 999); !errors.Is(err, ErrExhausted) {
		t.Errorf("exhausted: %v", err)
	}
	cont, _ := space.NewFloat(0, 1, false, 0)
	if err := CheckGrid(space.Space{{Name: "x", Dist: cont}}, 0); err == nil || !strings.Contains(err.Error(), "give it a step") {
		t.Errorf("continuous: %v", err)
	}
	big, _ := space.NewInt(1, 1000, false, 1)
	if err := CheckGrid(space.Space{{Name: "a", Dist: big}, {Name: "b", Dist: big}}, 0); err == nil || !strings.Contains(err.Error(), "1000000 points") {
		t.Errorf("cap: %v", err)
	}
}

func TestNSGA2(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	dirs := []Direction{Maximize, Minimize}
	s := &NSGA2{Seed: 7, PopulationSize: 10}
	h := run(t, s, sp, 60, dirs, func(p map[string]float64) float64 { return p["x"] - 0.5 })
	// Later generations are mostly feasible and reproducible.
	infeasible := 0
	for _, tr := range h.Trials[40:] {
		if tr.Infeasibility() > 0 {
			infeasible++
		}
	}
	if infeasible > 10 {
		t.Errorf("%d of the last 20 NSGA-II trials infeasible", infeasible)
	}
	again := run(t, &NSGA2{Seed: 7, PopulationSize: 10}, sp, 60, dirs, func(p map[string]float64) float64 { return p["x"] - 0.5 })
	for i := range h.Trials {
		for k, v := range h.Trials[i].Params {
			if again.Trials[i].Params[k] != v {
				t.Fatalf("not reproducible at trial %d", i)
			}
		}
	}
}

// The counting sort of discrete dimensions orders exactly like the stable
// comparison sort.
func TestGridOrderMatchesSort(t *testing.T) {
	t.Parallel()
	d := dimension{low: 8, high: 512, step: 8}
	rng := rand.New(rand.NewPCG(1, 2))
	obs := make([]float64, 500)
	for i := range obs {
		obs[i] = 8 + 8*float64(rng.IntN(64))
	}
	got := gridOrder(obs, d)
	_, want := computeSigmas(obs, 4, 516, 501, parzenOptions{priorWeight: 1, considerMagicClip: true}, nil)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("position %d: counting sort %d, comparison sort %d", i, got[i], want[i])
		}
	}
	if gridOrder(obs, dimension{low: 0, high: 1}) != nil {
		t.Error("a continuous dimension was counting-sorted")
	}
}

// Every sampler, on the histories a study can hand it: empty, all
// infeasible, all crashed (pruned with a violated constraint, no values),
// with running and failed trials. Each proposal is in the space and the same
// when asked twice.
func TestEdgeHistoriesEverySampler(t *testing.T) {
	t.Parallel()
	sp := testSpace(t)
	dirs := []Direction{Minimize}
	infeasible := run(t, Random{Seed: 1}, sp, 12, dirs, func(map[string]float64) float64 { return 1 })
	crashed := &History{Directions: dirs}
	for _, tr := range infeasible.Trials {
		crashed.Trials = append(crashed.Trials, Trial{Number: tr.Number, State: Pruned, Params: tr.Params, Constraints: []float64{1}})
	}
	mixed := run(t, Random{Seed: 2}, sp, 12, dirs, nil)
	mixed.Trials = append(mixed.Trials, Trial{Number: 12, State: Running, Params: mixed.Trials[3].Params}, Trial{Number: 13, State: Failed},
		Trial{Number: 14, State: Pruned, Params: mixed.Trials[5].Params, Constraints: []float64{1}})
	histories := map[string]*History{"empty": {Directions: dirs}, "all infeasible": infeasible, "all crashed": crashed, "mixed": mixed}
	for name, mk := range samplers() {
		for hname, h := range histories {
			a, err := mk(7).Sample(h, sp, 20)
			if err != nil {
				t.Fatalf("%s, %s: %v", name, hname, err)
			}
			b, _ := mk(7).Sample(h, sp, 20)
			for _, prm := range sp {
				if v, ok := a[prm.Name]; !ok || !prm.Dist.Contains(v) {
					t.Errorf("%s, %s: %s = %v outside %s", name, hname, prm.Name, v, prm.Dist)
				}
			}
			if !maps.Equal(a, b) {
				t.Errorf("%s, %s: %v then %v", name, hname, a, b)
			}
		}
	}
}
