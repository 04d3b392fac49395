package study

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

func smallSpace(t *testing.T) space.Space {
	i, _ := space.NewInt(1, 2, false, 1)
	return space.Space{{Name: "a", Dist: i}}
}

func cAskTellBaselineDuplicatesResume(t *testing.T, open opener) {
	t.Parallel()
	ctx := context.Background()
	st, _ := open(t)
	o := Options{Prefix: "qwen", Directions: []Direction{Maximize}, MetricNames: []string{"output_tokens_per_second_mean"},
		Space: smallSpace(t), Sampler: sampler.Grid{Seed: 1}}
	s, err := Create(ctx, st, o)
	if err != nil || s.Name() != "qwen_1" {
		t.Fatalf("create: %v %v", s, err)
	}
	if s2, err := Create(ctx, st, o); err != nil || s2.Name() != "qwen_2" {
		t.Fatalf("second create: %v", err)
	}

	b, err := s.AskBaseline(ctx, 16)
	if err != nil || b.Number != 0 {
		t.Fatal(err)
	}
	s.Tell(ctx, b, Result{State: Complete, Values: []float64{100}, UserAttrs: map[string]any{"metric_output_tokens_per_second_mean": 100.0}})

	// The grid has two points; the baseline is not one of them.
	for i := 0; i < 2; i++ {
		a, err := s.Ask(ctx)
		if err != nil || a.Duplicate != nil {
			t.Fatalf("ask %d: %+v %v", i, a, err)
		}
		s.Tell(ctx, a, Result{State: Complete, Values: []float64{float64(10 * (i + 1))}, Constraints: []float64{-1}, UserAttrs: map[string]any{"metric_x": 1.0}})
	}
	if _, err := s.Ask(ctx); !errors.Is(err, sampler.ErrExhausted) {
		t.Errorf("exhausted grid: %v", err)
	}

	// A random sampler on the same 2-point space repeats itself: reused.
	s.sampler = sampler.Random{Seed: 3}
	var dup *Asked
	for i := 0; i < 10 && dup == nil; i++ {
		a, err := s.Ask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if a.Duplicate != nil {
			dup = a
			if err := s.TellDuplicate(ctx, a); err != nil {
				t.Fatal(err)
			}
		} else {
			s.Tell(ctx, a, Result{State: Complete, Values: []float64{1}})
		}
	}
	if dup == nil {
		t.Fatal("no duplicate detected")
	}
	trials, _ := s.Trials(ctx)
	last := trials[dup.Number]
	if last.UserAttrs[AttrDuplicateOf] != float64(dup.Duplicate.Number) || last.Values[0] != dup.Duplicate.Values[0] || last.UserAttrs["metric_x"] != 1.0 {
		t.Errorf("duplicate stored as %+v", last)
	}
	if base := trials[0]; base.Kind() != Baseline || base.BaselineConcurrency() == 0 || trials[1].Kind() != Search {
		t.Errorf("kinds: trial 0 %s (concurrency %d), trial 1 %s", base.Kind(), base.BaselineConcurrency(), trials[1].Kind())
	}
	for _, tr := range s.history(trials[len(s.cache):]).Trials {
		if tr.Number == 0 {
			t.Error("the baseline is in the sampler's history")
		}
	}
	if n := Completed(trials); n != len(trials)-2 {
		t.Errorf("completed %d of %d trials (baseline and one failed ask excluded)", n, len(trials))
	}

	// A crash leaves a RUNNING trial; resume fails it and keeps the rest.
	if _, err := s.Ask(ctx); err != nil {
		t.Fatal(err)
	}
	r, failed, err := Resume(ctx, st, Options{Prefix: "qwen", Directions: []Direction{Maximize}, Space: o.Space, Sampler: o.Sampler})
	if err != nil || r.Name() != "qwen_2" {
		t.Fatalf("resume newest: %v %v", r, err)
	}
	r, failed, err = Resume(ctx, st, Options{Name: "qwen_1", Directions: []Direction{Maximize}, Space: o.Space, Sampler: o.Sampler})
	if err != nil || failed != 1 {
		t.Fatalf("resume: %d failed, %v", failed, err)
	}
	if _, _, err := Resume(ctx, st, Options{Name: "qwen_1", Directions: []Direction{Minimize}}); err == nil {
		t.Error("resumed with other directions")
	}
	if _, _, err := Resume(ctx, st, Options{Prefix: "nope"}); !errors.Is(err, ErrStudyNotFound) {
		t.Errorf("resume unknown prefix: %v", err)
	}
	info, _ := st.LoadStudy(ctx, "qwen_1")
	if names, _ := info.SystemAttrs[metricNamesKey].([]any); len(names) != 1 {
		t.Errorf("metric names %v", info.SystemAttrs)
	}
}

// The cache of finished trials never hides a change: a trial still running
// below newer finished ones is read again until it finishes.
func cTrialCache(t *testing.T, open opener) {
	t.Parallel()
	ctx := context.Background()
	st, _ := open(t)
	s, _ := Create(ctx, st, Options{Name: "c", Directions: []Direction{Minimize}, Space: smallSpace(t), Sampler: sampler.Random{}})
	a1, _ := s.Ask(ctx)
	a2, _ := s.Ask(ctx)
	a3, _ := s.Ask(ctx)
	s.Tell(ctx, a1, Result{State: Complete, Values: []float64{1}})
	s.Tell(ctx, a3, Result{State: Complete, Values: []float64{3}})
	trials, _ := s.Trials(ctx)
	if len(trials) != 3 || trials[1].State != Running || s.upTo != a1.ID {
		t.Fatalf("first read: %d trials, #1 %s, watermark %d", len(trials), trials[1].State, s.upTo)
	}
	s.Tell(ctx, a2, Result{State: Fail})
	trials, _ = s.Trials(ctx)
	if len(trials) != 3 || trials[1].State != Fail || trials[2].Values[0] != 3 || s.upTo != a3.ID {
		t.Fatalf("second read: %+v, watermark %d", trials, s.upTo)
	}
	trials, _ = s.Trials(ctx)
	if len(trials) != 3 {
		t.Fatalf("third read: %d trials", len(trials))
	}
}

// A trial is infeasible if any constraint is violated, whether Optuna stored
// them as one list or one key each (Optuna 5).
func TestFeasible(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  bool
	}{
		{"none", map[string]any{}, true},
		{"list, all met", map[string]any{ConstraintsKey: []any{-1.0, 0.0}}, true},
		{"list, one violated", map[string]any{ConstraintsKey: []any{-1.0, 0.5}}, false},
		{"keys, all met", map[string]any{ConstraintsKey + ":0": -2.0, ConstraintsKey + ":1": 0.0}, true},
		{"keys, one violated", map[string]any{ConstraintsKey + ":0": -2.0, ConstraintsKey + ":1": 3.0}, false},
	} {
		tr := Trial{SystemAttrs: tc.attrs}
		if got := tr.Feasible(); got != tc.want {
			t.Errorf("%s: Feasible() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Constraints stored one key each (Optuna 5's trial.set_constraint) come out
// in the order of their names, the same in every trial (the samplers fit one
// model per index; a map's order changed from read to read), and a name the
// old list has replaces its value, as in Optuna.
func TestConstraintsOrder(t *testing.T) {
	t.Parallel()
	k := func(name string) string { return ConstraintsKey + ":" + name }
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  []float64
	}{
		{"numbered", map[string]any{k("10"): 10.0, k("2"): 2.0, k("0"): 0.0, k("1"): 1.0}, []float64{0, 1, 2, 10}},
		{"named", map[string]any{k("ttft"): 3.0, k("itl"): 2.0, k("1"): 1.0, k("e2e"): 4.0}, []float64{1, 4, 2, 3}},
		{"list, then keys", map[string]any{ConstraintsKey: []any{-1.0, -2.0}, k("1"): 5.0, k("x"): 6.0}, []float64{-1, 5, 6}},
	} {
		for range 20 {
			if got := constraintsOf(Trial{SystemAttrs: tc.attrs}); !slices.Equal(got, tc.want) {
				t.Fatalf("%s: constraintsOf = %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}
