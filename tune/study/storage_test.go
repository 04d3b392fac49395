package study

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

func cStudyLifecycle(t *testing.T, open opener) {
	t.Parallel()
	ctx := context.Background()
	st, path := open(t)
	info, err := st.CreateStudy(ctx, "s", []Direction{Maximize, Minimize})
	if err != nil || info.ID == 0 || len(info.Directions) != 2 {
		t.Fatalf("create: %+v %v", info, err)
	}
	if _, err := st.CreateStudy(ctx, "s", []Direction{Maximize}); !errors.Is(err, ErrStudyExists) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := st.LoadStudy(ctx, "nope"); !errors.Is(err, ErrStudyNotFound) || !strings.Contains(err.Error(), path) {
		t.Errorf("missing study: %v", err)
	}
	st.SetStudyAttr(ctx, info.ID, false, "k", map[string]any{"a": 1.0})
	st.SetStudyAttr(ctx, info.ID, false, "k", "v2") // overwrite
	info, _ = st.LoadStudy(ctx, "s")
	if info.UserAttrs["k"] != "v2" {
		t.Errorf("attrs %v", info.UserAttrs)
	}

	d, _ := space.NewInt(1, 10, false, 1)
	id, n, _ := st.CreateTrial(ctx, info.ID, Running)
	if err := st.SetParam(ctx, id, "x", 11, d); err == nil {
		t.Error("out-of-range param stored")
	}
	st.SetParam(ctx, id, "x", 3, d)
	if err := st.FinishTrial(ctx, id, Complete, []float64{math.Inf(-1), 2}); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishTrial(ctx, id, Fail, nil); !errors.Is(err, ErrTrialFinished) {
		t.Errorf("refinish: %v", err)
	}
	id2, _, _ := st.CreateTrial(ctx, info.ID, Running)
	if err := st.FinishTrial(ctx, id2, Complete, []float64{math.NaN()}); err == nil {
		t.Error("NaN stored")
	}
	trials, err := st.Trials(ctx, info.ID)
	if err != nil || len(trials) != 2 || n != 0 || trials[0].External("x") != int64(3) || !math.IsInf(trials[0].Values[0], -1) || trials[0].Values[1] != 2 {
		t.Fatalf("trials %+v %v", trials, err)
	}
	if trials[1].State != Running {
		t.Errorf("a failed finish changed the trial: %s", trials[1].State)
	}
	names, _ := st.StudyNames(ctx)
	if len(names) != 1 || names[0] != "s" {
		t.Errorf("names %v", names)
	}
}

// Trial numbers stay unique and dense under concurrent writers (two
// connections, as two processes would have).
func cConcurrentTrialNumbers(t *testing.T, open opener) {
	t.Parallel()
	ctx := context.Background()
	st, path := open(t)
	info, _ := st.CreateStudy(ctx, "s", []Direction{Minimize})
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var mu sync.Mutex
	var numbers []int
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := st
			if i%2 == 1 {
				s = other
			}
			_, n, err := s.CreateTrial(ctx, info.ID, Running)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			numbers = append(numbers, n)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Ints(numbers)
	for i, n := range numbers {
		if n != i {
			t.Fatalf("numbers %v", numbers)
		}
	}
}

func cFailRunning(t *testing.T, open opener) {
	t.Parallel()
	ctx := context.Background()
	st, _ := open(t)
	info, _ := st.CreateStudy(ctx, "s", []Direction{Minimize})
	done, _, _ := st.CreateTrial(ctx, info.ID, Running)
	st.FinishTrial(ctx, done, Complete, []float64{1})
	st.CreateTrial(ctx, info.ID, Running)
	st.CreateTrial(ctx, info.ID, Running)
	n, err := st.FailRunning(ctx, info.ID, "interrupted: the tuner stopped before this trial finished")
	if err != nil || n != 2 {
		t.Fatalf("failed %d, %v", n, err)
	}
	trials, _ := st.Trials(ctx, info.ID)
	for _, tr := range trials[1:] {
		if tr.State != Fail || tr.UserAttrs["error_type"] != "interrupted" || tr.Complete.IsZero() {
			t.Errorf("trial %+v", tr)
		}
	}
	if trials[0].State != Complete {
		t.Error("a finished trial was failed")
	}
}

func TestOldSchemaIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, path := openTemp(t)
	st.Close()
	db, _ := sql.Open("sqlite", path)
	db.Exec(`UPDATE alembic_version SET version_num = 'v3.0.0.d'`)
	db.Close()
	if _, err := OpenSQLite(ctx, path); err == nil || !strings.Contains(err.Error(), "optuna storage upgrade") {
		t.Errorf("old schema: %v", err)
	}
}

// DeleteStudy must leave no row of the deleted study in any table (the schema
// has no ON DELETE CASCADE) and must not touch another study's rows.
func cDeleteStudy(t *testing.T, open opener) {
	t.Parallel()
	ctx := context.Background()
	st, _ := open(t)
	keep := writeTrials(t, st, "keep")
	gone := writeTrials(t, st, "gone")
	goneTrials := trialIDs(t, st, gone)
	keepTrials := trialIDs(t, st, keep)
	// Optuna writes these two tables but our storage does not; rows put there
	// by an Optuna client must go too.
	for _, id := range append(append([]int64{}, goneTrials...), keepTrials...) {
		if _, err := st.db.ExecContext(ctx, st.q(`INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) VALUES (?, 0, 1.5, 'FINITE')`), id); err != nil {
			t.Fatal(err)
		}
		if _, err := st.db.ExecContext(ctx, st.q(`INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, CURRENT_TIMESTAMP)`), id); err != nil {
			t.Fatal(err)
		}
	}
	before := childRows(t, st, gone, goneTrials)
	for table, n := range before {
		if n == 0 {
			t.Fatalf("%s: the test wrote no rows for the study it deletes", table)
		}
	}
	keepBefore := childRows(t, st, keep, keepTrials)

	if err := st.DeleteStudy(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoadStudy(ctx, "gone"); !errors.Is(err, ErrStudyNotFound) {
		t.Errorf("deleted study still loads: %v", err)
	}
	for table, n := range childRows(t, st, gone, goneTrials) {
		if n != 0 {
			t.Errorf("%s: %d rows of the deleted study left", table, n)
		}
	}
	for table, n := range childRows(t, st, keep, keepTrials) {
		if n != keepBefore[table] {
			t.Errorf("%s: the kept study has %d rows, had %d", table, n, keepBefore[table])
		}
	}
	trials, _ := st.Trials(ctx, keep)
	if len(trials) != 2 || trials[0].Params["a"] != 3 || len(trials[0].Values) != 1 {
		t.Errorf("kept study: %+v", trials)
	}
	if names, _ := st.StudyNames(ctx); len(names) != 1 || names[0] != "keep" {
		t.Errorf("names after delete: %v", names)
	}
	if err := st.DeleteStudy(ctx, "gone"); !errors.Is(err, ErrStudyNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// trialIDs lists a study's trial ids, read before a delete so the rows that
// pointed at them can be counted after it.
func trialIDs(t *testing.T, st *SQL, study int64) []int64 {
	t.Helper()
	rows, err := st.db.QueryContext(context.Background(), st.q(`SELECT trial_id FROM trials WHERE study_id = ?`), study)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// childRows counts, per table, the rows that belong to one study: by
// study_id, or by trial_id for the trial tables.
func childRows(t *testing.T, st *SQL, study int64, trials []int64) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	count := func(table, col string, id int64) {
		var n int
		if err := st.db.QueryRowContext(ctx, st.q(`SELECT count(*) FROM `+table+` WHERE `+col+` = ?`), id).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] += n
	}
	for _, table := range []string{"studies", "study_directions", "study_user_attributes", "study_system_attributes", "trials"} {
		count(table, "study_id", study)
	}
	for _, table := range []string{"trial_params", "trial_values", "trial_intermediate_values", "trial_user_attributes", "trial_system_attributes", "trial_heartbeats"} {
		out[table] = 0
		for _, id := range trials {
			count(table, "trial_id", id)
		}
	}
	return out
}

// writeTrials makes a study with two trials carrying every kind of child row.
func writeTrials(t *testing.T, st *SQL, name string) int64 {
	ctx := context.Background()
	info, err := st.CreateStudy(ctx, name, []Direction{Minimize})
	if err != nil {
		t.Fatal(err)
	}
	st.SetStudyAttr(ctx, info.ID, false, "u", 1)
	st.SetStudyAttr(ctx, info.ID, true, "s", 1)
	d, _ := space.NewInt(1, 10, false, 1)
	for i := 0; i < 2; i++ {
		id, _, _ := st.CreateTrial(ctx, info.ID, Running)
		st.SetParam(ctx, id, "a", 3, d)
		st.SetTrialAttr(ctx, id, false, "u", 1)
		st.SetTrialAttr(ctx, id, true, "s", 1)
		st.FinishTrial(ctx, id, Complete, []float64{1})
	}
	return info.ID
}
