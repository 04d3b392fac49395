package study

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/pgtest"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/testenv"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// optunaBin is the bin dir of the pinned Optuna venv.
func optunaBin(t *testing.T) string { return testenv.Optuna(t) }

func python(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := optunaBin(t)
	cmd := exec.Command(filepath.Join(bin, "python"), append([]string{filepath.Join("..", "..", "scripts", "optuna-interop.py")}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("optuna-interop.py %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

type pyTrial struct {
	Number      int            `json:"number"`
	State       string         `json:"state"`
	Params      map[string]any `json:"params"`
	Values      []any          `json:"values"`
	UserAttrs   map[string]any `json:"user_attrs"`
	SystemAttrs map[string]any `json:"system_attrs"`
	HasStart    bool           `json:"has_start"`
	HasComplete bool           `json:"has_complete"`
}

type pyStudy struct {
	Directions  []string       `json:"directions"`
	Trials      []pyTrial      `json:"trials"`
	UserAttrs   map[string]any `json:"user_attrs"`
	MetricNames []string       `json:"metric_names"`
	BestTrial   *int           `json:"best_trial"`
	BestTrials  []int          `json:"best_trials"`
}

func pyRead(t *testing.T, db, name string) pyStudy {
	var s pyStudy
	if err := json.Unmarshal(python(t, "read", db, name), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustDist(d space.Distribution, err error) space.Distribution {
	if err != nil {
		panic(err)
	}
	return d
}

type goTrial struct {
	state       State
	params      map[string]any
	values      []float64
	constraints []float64
	attrs       map[string]any
}

// writeStudy writes trials through our storage.
func writeStudy(t *testing.T, st *SQL, name string, dirs []Direction, trials []goTrial) *Info {
	t.Helper()
	ctx := context.Background()
	info, err := st.CreateStudy(ctx, name, dirs)
	if err != nil {
		t.Fatal(err)
	}
	dists := map[string]space.Distribution{
		"max_num_seqs":           mustDist(space.NewInt(8, 256, false, 8)),
		"gpu_memory_utilization": mustDist(space.NewFloat(0.7, 0.95, false, 0.01)),
		"block_size":             mustDist(space.NewInt(8, 128, true, 1)),
		"enable_prefix_caching":  mustDist(space.NewCategorical([]any{true, false})),
		"kv_cache_dtype":         mustDist(space.NewCategorical([]any{"auto", "fp8", nil, int64(3)})),
	}
	st.SetStudyAttr(ctx, info.ID, true, "study:metric_names", []string{"output_tokens_per_second", "request_latency"}[:len(dirs)])
	st.SetStudyAttr(ctx, info.ID, false, "model", "facebook/opt-125m")
	for _, tr := range trials {
		id, _, err := st.CreateTrial(ctx, info.ID, Running)
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, 0, len(tr.params))
		for k := range tr.params {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			v, err := dists[k].Internal(tr.params[k])
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SetParam(ctx, id, k, v, dists[k]); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range tr.attrs {
			st.SetTrialAttr(ctx, id, false, k, v)
		}
		if tr.constraints != nil {
			st.SetTrialAttr(ctx, id, true, ConstraintsKey, tr.constraints)
		}
		if tr.state != Running {
			if err := st.FinishTrial(ctx, id, tr.state, tr.values); err != nil {
				t.Fatal(err)
			}
		}
	}
	return info
}

func TestInteropGoWrittenStudyLoadsInOptuna(t *testing.T) {
	optunaBin(t)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "optuna_studies", "s", "study.db")
	st, err := OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	inf := math.Inf(1)
	multi := []goTrial{
		{Complete, map[string]any{"max_num_seqs": int64(64), "gpu_memory_utilization": 0.9, "enable_prefix_caching": true, "kv_cache_dtype": nil}, []float64{1000, 120}, []float64{-1}, map[string]any{"is_baseline": true, "baseline_concurrency": 16}},
		{Complete, map[string]any{"max_num_seqs": int64(128), "gpu_memory_utilization": 0.85, "enable_prefix_caching": false, "kv_cache_dtype": "fp8"}, []float64{1500, 200}, []float64{0}, nil},
		{Complete, map[string]any{"max_num_seqs": int64(256), "block_size": int64(16), "kv_cache_dtype": int64(3)}, []float64{900, 100}, []float64{-5}, nil},
		{Complete, map[string]any{"max_num_seqs": int64(8)}, []float64{800, inf}, []float64{-1}, nil},
		{Fail, map[string]any{"max_num_seqs": int64(16)}, nil, nil, map[string]any{"error_type": "oom", "error_message": "CUDA out of memory"}},
		// Dominates everything, but violates an SLO: not on the feasible Pareto front.
		{Complete, map[string]any{"max_num_seqs": int64(200)}, []float64{5000, 10}, []float64{42}, nil},
		{Pruned, map[string]any{"max_num_seqs": int64(24)}, nil, nil, nil},
		{Running, map[string]any{"max_num_seqs": int64(32)}, nil, nil, nil},
	}
	writeStudy(t, st, "multi", []Direction{Maximize, Minimize}, multi)

	got := pyRead(t, db, "multi")
	if strings.Join(got.Directions, ",") != "MAXIMIZE,MINIMIZE" || len(got.Trials) != len(multi) {
		t.Fatalf("directions %v, %d trials", got.Directions, len(got.Trials))
	}
	if strings.Join(got.MetricNames, ",") != "output_tokens_per_second,request_latency" || got.UserAttrs["model"] != "facebook/opt-125m" {
		t.Errorf("study attrs %v %v", got.MetricNames, got.UserAttrs)
	}
	for i, want := range multi {
		py := got.Trials[i]
		if py.Number != i || py.State != string(want.state) || !py.HasStart || py.HasComplete != want.state.Finished() {
			t.Errorf("trial %d: %+v", i, py)
		}
		for k, v := range want.params {
			pv := py.Params[k]
			if f, ok := pv.(float64); ok {
				if n, ok := v.(int64); ok && float64(n) == f {
					continue
				}
			}
			if fmt.Sprint(pv) != fmt.Sprint(v) {
				t.Errorf("trial %d param %s: python %v (%T), go %v", i, k, pv, pv, v)
			}
		}
		for j, v := range want.values {
			w := fmt.Sprint(v)
			if math.IsInf(v, 1) {
				w = "inf"
			}
			if fmt.Sprint(py.Values[j]) != w {
				t.Errorf("trial %d value %d: python %v, go %v", i, j, py.Values[j], v)
			}
		}
	}
	if got.Trials[4].UserAttrs["error_message"] != "CUDA out of memory" || got.Trials[0].UserAttrs["is_baseline"] != true {
		t.Errorf("user attrs %v %v", got.Trials[4].UserAttrs, got.Trials[0].UserAttrs)
	}
	if c, _ := got.Trials[5].SystemAttrs[ConstraintsKey].([]any); len(c) != 1 || c[0] != 42.0 {
		t.Errorf("constraints %v", got.Trials[5].SystemAttrs)
	}
	// Feasible Pareto front: 0 (1000,120), 1 (1500,200), 2 (900,100); 3 has +inf latency; 5 is infeasible.
	if fmt.Sprint(got.BestTrials) != "[0 1 2]" {
		t.Errorf("python's Pareto front %v, want [0 1 2]", got.BestTrials)
	}

	// Single objective, with the baseline as trial 0.
	single := []goTrial{
		{Complete, map[string]any{}, []float64{1000}, nil, map[string]any{"is_baseline": true}},
		{Complete, map[string]any{"max_num_seqs": int64(64)}, []float64{1800}, nil, nil},
		{Fail, map[string]any{"max_num_seqs": int64(256)}, nil, nil, nil},
		{Complete, map[string]any{"max_num_seqs": int64(128)}, []float64{1700}, nil, nil},
	}
	writeStudy(t, st, "single", []Direction{Maximize}, single)
	s := pyRead(t, db, "single")
	if s.BestTrial == nil || *s.BestTrial != 1 || len(s.Trials[0].Params) != 0 {
		t.Errorf("single: best %v, trial 0 params %v", s.BestTrial, s.Trials[0].Params)
	}

	// Python continues our study with its own sampler; we read its trials.
	var after pyStudy
	json.Unmarshal(python(t, "continue", db, "single", "3"), &after)
	if len(after.Trials) != len(single)+3 {
		t.Fatalf("python continued to %d trials", len(after.Trials))
	}
	info, _ := st.LoadStudy(ctx, "single")
	trials, err := st.Trials(ctx, info.ID)
	if err != nil || len(trials) != len(single)+3 {
		t.Fatalf("go reads %d trials after python: %v", len(trials), err)
	}
	for _, tr := range trials[len(single):] {
		if tr.State != Complete || len(tr.Values) != 1 || tr.External("max_num_seqs") == nil || tr.Start.IsZero() || tr.Complete.Before(tr.Start) {
			t.Errorf("python-written trial as go reads it: %+v", tr)
		}
	}
}

func TestInteropOptunaStudyResumedByGo(t *testing.T) {
	optunaBin(t)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "py.db")
	var created pyStudy
	if err := json.Unmarshal(python(t, "create", db, "py"), &created); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	info, err := st.LoadStudy(ctx, "py")
	if err != nil || len(info.Directions) != 1 || info.Directions[0] != Maximize || info.UserAttrs["model"] != "facebook/opt-125m" {
		t.Fatalf("load: %+v %v", info, err)
	}
	trials, err := st.Trials(ctx, info.ID)
	if err != nil || len(trials) != len(created.Trials) {
		t.Fatalf("%d trials, %v", len(trials), err)
	}
	for i, tr := range trials {
		py := created.Trials[i]
		if tr.Number != py.Number || string(tr.State) != py.State {
			t.Errorf("trial %d: go %d %s, python %d %s", i, tr.Number, tr.State, py.Number, py.State)
		}
		for k, v := range py.Params {
			if fmt.Sprint(tr.External(k)) != fmt.Sprint(v) && !(v == nil && tr.External(k) == nil) {
				if f, ok := v.(float64); !ok || math.Abs(f-toFloat(tr.External(k))) > 1e-12 {
					t.Errorf("trial %d %s: go %v, python %v", i, k, tr.External(k), v)
				}
			}
		}
	}
	// Go continues the study: a new trial, numbered after Python's.
	id, number, err := st.CreateTrial(ctx, info.ID, Running)
	if err != nil || number != len(created.Trials) {
		t.Fatalf("new trial number %d, %v", number, err)
	}
	d := trials[0].Dists["max_num_seqs"]
	st.SetParam(ctx, id, "max_num_seqs", 64, d)
	if err := st.FinishTrial(ctx, id, Complete, []float64{12345}); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishTrial(ctx, id, Complete, []float64{1}); err == nil {
		t.Error("a finished trial was finished again")
	}
	after := pyRead(t, db, "py")
	last := after.Trials[len(after.Trials)-1]
	if last.Number != number || last.State != "COMPLETE" || last.Values[0] != 12345.0 || last.Params["max_num_seqs"] != 64.0 || *after.BestTrial != number {
		t.Errorf("python reads our trial as %+v, best %v", last, *after.BestTrial)
	}
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

// The schema we create is the one Optuna creates.
func TestInteropSchemaMatchesOptuna(t *testing.T) {
	optunaBin(t)
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.db")
	st, err := OpenSQLite(context.Background(), ours)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	theirs := filepath.Join(dir, "theirs.db")
	python(t, "create", theirs, "x")
	var a, b []string
	if err := json.Unmarshal(python(t, "schema", ours), &a); err != nil {
		t.Fatalf("our schema: %v", err)
	}
	if err := json.Unmarshal(python(t, "schema", theirs), &b); err != nil {
		t.Fatalf("optuna's schema: %v", err)
	}
	// Two empty dumps would compare equal: each must hold every statement
	// we issue (tables and explicit indexes; SQLite's own autoindexes have
	// no SQL and are not listed).
	for who, dump := range map[string][]string{"ours": a, "optuna's": b} {
		if len(dump) != len(sqliteDDL) {
			t.Fatalf("%s schema dump has %d statements, want %d:\n%s", who, len(dump), len(sqliteDDL), strings.Join(dump, "\n"))
		}
	}
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("schema differs:\nours:\n%s\n\noptuna's:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// optuna-dashboard serves a study we wrote.
func TestInteropDashboardServesOurStudy(t *testing.T) {
	bin := optunaBin(t)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "d.db")
	st, err := OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	writeStudy(t, st, "dash", []Direction{Maximize, Minimize}, []goTrial{
		{Complete, map[string]any{"max_num_seqs": int64(64)}, []float64{1000, 120}, nil, nil},
		{Fail, map[string]any{"max_num_seqs": int64(16)}, nil, nil, nil},
	})
	st.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(filepath.Join(bin, "optuna-dashboard"), "sqlite:///"+db, "--host", "127.0.0.1", "--port", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/studies", port))
		if err == nil {
			var body struct {
				Studies []struct {
					StudyName  string   `json:"study_name"`
					Directions []string `json:"directions"`
				} `json:"study_summaries"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(body.Studies) != 1 || body.Studies[0].StudyName != "dash" || len(body.Studies[0].Directions) != 2 {
				t.Fatalf("dashboard: HTTP %d %+v", resp.StatusCode, body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("optuna-dashboard did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A study written by Go on PostgreSQL loads in Optuna; the schema we create
// is the one Optuna creates there.
func TestInteropPostgres(t *testing.T) {
	optunaBin(t)
	srv := pgtest.Start(t)
	ctx := context.Background()
	ours := srv.NewDB(t)
	st, err := Open(ctx, ours)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	writeStudy(t, st, "pg", []Direction{Maximize, Minimize}, []goTrial{
		{Complete, map[string]any{"max_num_seqs": int64(64), "kv_cache_dtype": nil}, []float64{1000, 120}, []float64{-1}, nil},
		{Complete, map[string]any{"max_num_seqs": int64(128), "enable_prefix_caching": true}, []float64{1500, math.Inf(1)}, nil, nil},
		{Fail, map[string]any{"max_num_seqs": int64(16)}, nil, nil, map[string]any{"error_type": "oom"}},
		{Complete, map[string]any{"max_num_seqs": int64(200)}, []float64{5000, 10}, []float64{3}, nil},
	})
	got := pyRead(t, ours, "pg")
	if len(got.Trials) != 4 || got.Trials[1].Values[1] != "inf" || got.Trials[2].State != "FAIL" || fmt.Sprint(got.BestTrials) != "[0 1]" ||
		got.Trials[0].Params["kv_cache_dtype"] != nil || got.Trials[1].Params["enable_prefix_caching"] != true {
		t.Errorf("python reads %+v", got)
	}
	theirs := srv.NewDB(t)
	python(t, "create", theirs, "x")
	if a, b := pgSchema(t, ours), pgSchema(t, theirs); a != b {
		t.Errorf("schema differs:\nours:\n%s\n\noptuna's:\n%s", a, b)
	}
}

// pgSchema describes tables, columns, constraints, indexes and enums.
func pgSchema(t *testing.T, url string) string {
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lines []string
	for _, q := range []string{
		`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || udt_name || ' ' || is_nullable || ' ' || coalesce(character_maximum_length::text, '') || ' ' || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'`,
		`SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace`,
		`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'`,
		`SELECT t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var l string
			rows.Scan(&l)
			lines = append(lines, l)
		}
		rows.Close()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
