package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/pgtest"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// trialSpec is one stored trial of a test study.
type trialSpec struct {
	state  study.State
	values []float64
	attrs  map[string]any
}

// makeStudy stores a study with the given trials in where, touching every
// table a trial has rows in (params, values, intermediate values, user and
// system attributes) so that a delete can be checked table by table.
func makeStudy(t *testing.T, where, name string, dirs []study.Direction, trials []trialSpec) {
	t.Helper()
	ctx := context.Background()
	st, err := study.Open(ctx, where)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	names := []string{"output_tokens_per_second", "p95_ttft_ms"}[:len(dirs)]
	s, err := study.Create(ctx, st, study.Options{Name: name, Directions: dirs, MetricNames: names})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.LoadStudy(ctx, s.Name())
	st.SetStudyAttr(ctx, info.ID, false, "note", "made by a test")
	d, _ := space.NewInt(8, 512, false, 8)
	for i, tr := range trials {
		id, _, err := st.CreateTrial(ctx, info.ID, study.Running)
		if err != nil {
			t.Fatal(err)
		}
		must(t, st.SetParam(ctx, id, "max_num_seqs", float64(8*(i+1)), d))
		must(t, st.SetTrialAttr(ctx, id, true, "seed", float64(i)))
		must(t, st.SetTrialAttr(ctx, id, false, "command", "vllm serve m"))
		for k, v := range tr.attrs {
			must(t, st.SetTrialAttr(ctx, id, false, k, v))
		}
		must(t, st.SetIntermediate(ctx, id, 1, 10))
		if tr.state != study.Running {
			must(t, st.FinishTrial(ctx, id, tr.state, tr.values))
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var tables = []string{"studies", "study_directions", "study_user_attributes", "study_system_attributes", "trials",
	"trial_params", "trial_values", "trial_intermediate_values", "trial_user_attributes", "trial_system_attributes"}

// rowCounts counts the rows of every Optuna table.
func rowCounts(t *testing.T, where string) map[string]int {
	t.Helper()
	driver, dsn := "pgx", where
	if !strings.HasPrefix(where, "postgresql://") {
		driver, dsn = "sqlite", "file:"+where
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

var mixed = []trialSpec{
	{study.Complete, []float64{100, 50}, nil},
	{study.Complete, []float64{120, 80}, nil},
	{study.Complete, []float64{90, 60}, nil},
	{study.Complete, []float64{130, 90}, map[string]any{"is_baseline": false}},
	{study.Pruned, nil, nil},
	{study.Fail, nil, map[string]any{"error_message": "boom"}},
	{study.Running, nil, nil},
}

func TestStudies(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "s.db")
	makeStudy(t, db, "single-max", []study.Direction{study.Maximize}, []trialSpec{
		{study.Complete, []float64{10}, nil}, {study.Complete, []float64{30}, nil}, {study.Complete, []float64{20}, nil},
		{study.Complete, []float64{99}, map[string]any{}}, {study.Fail, nil, nil},
	})
	// The last trial is infeasible: it must not count as the best.
	func() {
		ctx := context.Background()
		st, _ := study.Open(ctx, db)
		defer st.Close()
		info, _ := st.LoadStudy(ctx, "single-max")
		trials, _ := st.Trials(ctx, info.ID)
		st.SetTrialAttr(ctx, trials[3].ID, true, study.ConstraintsKey, []float64{1})
	}()
	// -Inf is stored (Optuna's value_type), but is nobody's best.
	makeStudy(t, db, "single-min", []study.Direction{study.Minimize}, []trialSpec{{study.Complete, []float64{10}, nil}, {study.Complete, []float64{3}, nil}, {study.Complete, []float64{math.Inf(-1)}, nil}})
	makeStudy(t, db, "pareto", []study.Direction{study.Maximize, study.Minimize}, mixed)
	makeStudy(t, db, "empty", []study.Direction{study.Maximize}, nil)

	code, out, stderr := runCLI(t, nil, "studies", "--storage", db, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []storageStudies
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || len(got[0].Studies) != 4 {
		t.Fatalf("%v:\n%s", err, out)
	}
	tests := []struct {
		name                                      string
		state                                     string
		complete, pruned, failed, running, pareto int
		best                                      []float64
		bestTrial                                 int
	}{
		{"single-max", "finished", 4, 0, 1, 0, 0, []float64{30}, 1},
		{"single-min", "finished", 3, 0, 0, 0, 0, []float64{3}, 1},
		{"pareto", "running", 4, 1, 1, 1, 3, []float64{130, 50}, -1},
		{"empty", "empty", 0, 0, 0, 0, 0, nil, -1},
	}
	for i, tt := range tests {
		s := got[0].Studies[i]
		bt := -1
		if s.BestTrial != nil {
			bt = *s.BestTrial
		}
		if s.Name != tt.name || s.State != tt.state || s.Complete != tt.complete || s.Pruned != tt.pruned || s.Failed != tt.failed ||
			s.Running != tt.running || s.ParetoSize != tt.pareto || !equalFloats(s.Best, tt.best) || bt != tt.bestTrial {
			t.Errorf("%s: got %+v", tt.name, s)
		}
	}
	code, out, _ = runCLI(t, nil, "studies", "--storage", "sqlite:///"+db)
	for _, want := range []string{"single-max finished 5 4 0 1 0 output_tokens_per_second↑ 30 (trial 1)",
		"pareto running 7 4 1 1 1 output_tokens_per_second↑ 130, p95_ttft_ms↓ 50 (Pareto set: 3 trials) sqlite:///", "empty empty 0 0 0 0 0 -"} {
		if code != 0 || !strings.Contains(squeeze(out), want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, _, stderr = runCLI(t, nil, "studies", "--storage", db, "--config", db)
	if code != exitUsage || !strings.Contains(stderr, "can't be used together") {
		t.Errorf("--storage and --config: exit %d %s", code, stderr)
	}
	// The Python tool's flag names.
	code, out, _ = runCLI(t, nil, "clear-study", "--study-name", "empty", "--database-url", db, "--force")
	if code != 0 || !strings.Contains(out, "Deleted study empty (0 trials)") {
		t.Errorf("clear-study with the Python tool's flags: exit %d %s", code, out)
	}
	code, _, stderr = runCLI(t, nil, "studies", "--storage", filepath.Join(t.TempDir(), "none.db"))
	if code != exitFailure || !strings.Contains(stderr, "no study storage at") {
		t.Errorf("missing storage: exit %d %s", code, stderr)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9 {
			return false
		}
	}
	return true
}

// Without flags, studies and delete-study find the studies where optimize
// keeps them: optuna_studies/<study>/study.db, or the storage the saved
// config names.
func TestStudiesDefaultStorage(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, _ := runCLI(t, nil, "studies")
	if code != 0 || !strings.Contains(out, "No studies under optuna_studies/") {
		t.Errorf("no studies: exit %d %s", code, out)
	}
	makeStudy(t, "optuna_studies/a/study.db", "a", []study.Direction{study.Maximize}, []trialSpec{{study.Complete, []float64{1}, nil}})
	os.WriteFile("optuna_studies/a/study_config.yaml", []byte("study:\n  name: a\noptimization: {preset: balanced}\nbenchmark: {model: m}\n"), 0o644)
	// A prefix's studies share its directory and storage.
	makeStudy(t, "optuna_studies/p/study.db", "p_1", []study.Direction{study.Maximize}, nil)
	makeStudy(t, "optuna_studies/p/study.db", "p_2", []study.Direction{study.Maximize}, nil)
	os.WriteFile("optuna_studies/p/study_config.yaml", []byte("study:\n  prefix: p\noptimization: {preset: balanced}\nbenchmark: {model: m}\n"), 0o644)
	// One stored elsewhere, named by its saved config.
	makeStudy(t, "elsewhere.db", "e", []study.Direction{study.Maximize}, nil)
	os.MkdirAll("optuna_studies/e", 0o755)
	os.WriteFile("optuna_studies/e/study_config.yaml", []byte("study:\n  name: e\n  storage_file: elsewhere.db\noptimization: {preset: balanced}\nbenchmark: {model: m}\n"), 0o644)

	code, out, stderr := runCLI(t, nil, "studies")
	for _, want := range []string{"a finished 1", "optuna_studies/a/study.db", "p_1 empty", "p_2 empty", "optuna_studies/p/study.db", "e empty 0 0 0 0 0 - elsewhere.db"} {
		if code != 0 || !strings.Contains(squeeze(out), want) {
			t.Errorf("exit %d, lacks %q:\n%s%s", code, want, out, stderr)
		}
	}
	tests := []struct {
		study   string
		want    string
		gone    string
		present string
	}{
		{"p_1", "Deleted study p_1 (0 trials) from optuna_studies/p/study.db\n", "", "optuna_studies/p/study_config.yaml"},
		{"a", "Deleted study a (1 trials) from optuna_studies/a/study.db\nRemoved optuna_studies/a\n", "optuna_studies/a", ""},
		{"e", "Deleted study e (0 trials) from elsewhere.db\nRemoved optuna_studies/e\n", "optuna_studies/e", "elsewhere.db"},
	}
	for _, tt := range tests {
		code, out, stderr := runCLI(t, nil, "clear-study", "--study", tt.study, "--yes")
		if code != 0 || out != tt.want {
			t.Errorf("delete %s: exit %d\n%s%s", tt.study, code, out, stderr)
		}
		if _, err := os.Stat(tt.gone); tt.gone != "" && err == nil {
			t.Errorf("delete %s left %s", tt.study, tt.gone)
		}
		if _, err := os.Stat(tt.present); tt.present != "" && err != nil {
			t.Errorf("delete %s removed %s", tt.study, tt.present)
		}
	}
	code, out, _ = runCLI(t, nil, "studies", "--json")
	if code != 0 || strings.Count(out, `"name"`) != 1 || !strings.Contains(out, `"p_2"`) {
		t.Errorf("after deleting: %s", out)
	}
	code, _, stderr = runCLI(t, nil, "delete-study", "--study", "nope", "--yes")
	if code != exitFailure || !strings.Contains(stderr, "no saved config or study.db under optuna_studies/nope") {
		t.Errorf("unknown study: exit %d %s", code, stderr)
	}
}

// delete-study removes every row of the study and nothing of another, on
// SQLite and on PostgreSQL.
func TestDeleteStudyRows(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	for _, where := range []string{filepath.Join(t.TempDir(), "s.db"), srv.NewDB(t)} {
		makeStudy(t, where, "keep", []study.Direction{study.Maximize, study.Minimize}, mixed[:3])
		before := rowCounts(t, where)
		makeStudy(t, where, "drop", []study.Direction{study.Maximize, study.Minimize}, mixed)
		with := rowCounts(t, where)
		for _, table := range tables {
			if with[table] <= before[table] {
				t.Errorf("%s: the study to delete has no rows in %s: the test checks nothing there", where, table)
			}
		}
		code, out, stderr := runCLI(t, nil, "delete-study", "--study", "drop", "--storage", where, "-y")
		if code != 0 || !strings.Contains(out, "Deleted study drop (7 trials)") {
			t.Errorf("exit %d: %s%s", code, out, stderr)
		}
		if after := rowCounts(t, where); !mapsEqual(after, before) {
			t.Errorf("%s: rows after delete %v, want %v", where, after, before)
		}
		code, _, stderr = runCLI(t, nil, "delete-study", "--study", "drop", "--storage", where, "-y")
		if code != exitFailure || !strings.Contains(stderr, "study not found") {
			t.Errorf("second delete: exit %d %s", code, stderr)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Without --yes, delete-study asks on a terminal and refuses otherwise.
func TestDeleteStudyConfirm(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "s.db")
	makeStudy(t, db, "x", []study.Direction{study.Maximize}, nil)
	tests := []struct {
		name   string
		tty    bool
		answer string
		code   int
		want   string
	}{
		{"not a terminal", false, "y\n", exitUsage, "stdin is not a terminal to confirm on: give --yes"},
		{"answered no", true, "n\n", exitFailure, "not deleted"},
		{"no answer", true, "", exitFailure, "not deleted"},
		{"answered yes", true, "yes\n", 0, "Delete study x and all its trials from " + db + "? [y/N]"},
	}
	for _, tt := range tests {
		code, stderr := runCLIStdin(t, tt.tty, tt.answer, "delete-study", "--study", "x", "--storage", db)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q", tt.name, code, stderr)
		}
	}
}

func runCLIStdin(t *testing.T, tty bool, stdin string, args ...string) (int, string) {
	var out, errb strings.Builder
	s := streams{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(stdin), StdinTerminal: tty, Getenv: func(string) string { return "" }, Home: t.TempDir()}
	return run(context.Background(), args, s), errb.String()
}

// squeeze collapses a table's column padding to single spaces.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// best takes --json as every command that prints results does.
func TestBestJSONFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	cfg := filepath.Join(dir, "study.yaml")
	must(t, os.WriteFile(cfg, []byte("study:\n  name: b\n  storage_file: "+db+"\noptimization:\n  objective: {metric: output_tokens_per_second, direction: maximize}\nbenchmark: {model: m}\nparameters:\n  max_num_seqs: {min: 8, max: 512, step: 8}\n"), 0o644))
	makeStudy(t, db, "b", []study.Direction{study.Maximize}, []trialSpec{{study.Complete, []float64{10}, nil}, {study.Complete, []float64{30}, nil}})
	_, viaFormat, _ := runCLI(t, nil, "best", "--config", cfg, "--format", "json")
	code, out, stderr := runCLI(t, nil, "best", "--config", cfg, "--json")
	if code != 0 || out != viaFormat || !strings.Contains(out, `"trial": 1`) || !strings.Contains(out, "--max-num-seqs 16") {
		t.Errorf("exit %d\n%s%s\nwant:\n%s", code, out, stderr, viaFormat)
	}
}
