package study

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// A study run by the gp sampler (past its random start, with an infeasible
// trial and a pruned crash) loads in optuna.load_study with every trial,
// parameter and value as we stored them.
func TestInteropGPStudyLoadsInOptuna(t *testing.T) {
	optunaBin(t)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "gp.db")
	st, err := OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sp := space.Space{
		{Name: "max_num_seqs", Dist: mustDist(space.NewInt(8, 256, false, 8))},
		{Name: "block_size", Dist: mustDist(space.NewInt(8, 128, true, 1))},
		{Name: "gpu_memory_utilization", Dist: mustDist(space.NewFloat(0.7, 0.95, false, 0))},
		{Name: "kv_cache_dtype", Dist: mustDist(space.NewCategorical([]any{"auto", "fp8"}))},
	}
	s, err := Create(ctx, st, Options{Name: "gp", Directions: []Direction{Maximize}, Space: sp,
		Sampler: sampler.NewGP(sampler.GPOptions{Seed: 1, NStartup: 3})})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]map[string]any{}
	for i := 0; i < 6; i++ {
		a, err := s.Ask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want[a.Number] = a.External
		u := a.External["gpu_memory_utilization"].(float64)
		r := Result{State: Complete, Values: []float64{float64(a.External["max_num_seqs"].(int64)) * u}, Constraints: []float64{u - 0.9}}
		if i == 4 {
			r = Result{State: Pruned, Constraints: []float64{1}}
		}
		if err := s.Tell(ctx, a, r); err != nil {
			t.Fatal(err)
		}
	}
	py := pyRead(t, db, "gp")
	if len(py.Trials) != 6 {
		t.Fatalf("optuna reads %d trials, want 6", len(py.Trials))
	}
	for _, tr := range py.Trials {
		for k, v := range want[tr.Number] {
			got := tr.Params[k]
			if f, ok := got.(float64); ok {
				if n, isInt := v.(int64); isInt {
					v = float64(n)
				}
				if v != f {
					t.Errorf("trial %d %s: optuna %v, ours %v", tr.Number, k, got, v)
				}
			} else if got != v {
				t.Errorf("trial %d %s: optuna %v, ours %v", tr.Number, k, got, v)
			}
		}
		wantState := "COMPLETE"
		if tr.Number == 4 {
			wantState = "PRUNED"
		}
		if tr.State != wantState {
			t.Errorf("trial %d: optuna reads %s, want %s", tr.Number, tr.State, wantState)
		}
	}
}
