package study

import (
	"context"
	"errors"
	"math"
	"testing"
)

// cIntermediate: values reported while a trial runs are stored by step (the
// last report of a step wins, non-finite values survive), read back with the
// trial, and refused once the trial is finished.
func cIntermediate(t *testing.T, open opener) {
	t.Parallel()
	ctx := context.Background()
	st, _ := open(t)
	info, _ := st.CreateStudy(ctx, "s", []Direction{Maximize})
	id, _, _ := st.CreateTrial(ctx, info.ID, Running)
	for _, r := range []struct {
		step  int
		value float64
	}{{1, 10}, {2, 11}, {2, 12}, {3, math.Inf(1)}, {4, math.NaN()}} {
		if err := st.SetIntermediate(ctx, id, r.step, r.value); err != nil {
			t.Fatalf("step %d: %v", r.step, err)
		}
	}
	trials, err := st.Trials(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := trials[0].Intermediate
	if len(got) != 4 || got[1] != 10 || got[2] != 12 || !math.IsInf(got[3], 1) || !math.IsNaN(got[4]) {
		t.Errorf("intermediate values %v", got)
	}
	if err := st.FinishTrial(ctx, id, Pruned, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.SetIntermediate(ctx, id, 5, 1); !errors.Is(err, ErrTrialFinished) {
		t.Errorf("report after the trial finished: %v", err)
	}
}
