package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/testenv"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// chromium is the browser of the HTML report's test (ATV_CHROMIUM, set by
// `make test`).
func chromium(t *testing.T) string {
	t.Helper()
	return testenv.Path(t, "ATV_CHROMIUM", "browser test with real Chromium", "run the tests with `make test`, which installs Chromium (scripts/debian-pkg.sh), or set it to a chromium binary")
}

// storedTrial is one trial to store: its state, values, parameters and
// attributes.
type storedTrial struct {
	state       study.State
	values      []float64
	params      map[string]float64
	attrs       map[string]any
	constraints []float64
}

// storeStudy writes a two-objective study through the SQLite storage, as
// the study loop would: a baseline, feasible and infeasible search trials,
// a crash, an out-of-memory trial, and confirmation runs of the baseline
// and two trials. It returns the trials read back.
func storeStudy(t *testing.T, path string) []study.Trial {
	t.Helper()
	ctx := context.Background()
	st, err := study.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	info, err := st.CreateStudy(ctx, "browser", []study.Direction{study.Maximize, study.Minimize})
	if err != nil {
		t.Fatal(err)
	}
	dists := map[string]space.Distribution{
		"max-num-seqs":           &space.Int{Low: 8, High: 512, Step: 8},
		"kv-cache-dtype":         &space.Categorical{Choices: []any{"auto", "fp8"}},
		"gpu-memory-utilization": &space.Float{Low: 0.5, High: 0.98},
	}
	confirm := func(tput, lat float64) map[string]any {
		out := map[string]any{}
		for r := 1; r <= 3; r++ {
			out[study.AttrConfirmPrefix+fmt.Sprint(r)] = map[string]any{"round": r, "values": map[string]any{
				throughput.Key: tput * (1 + 0.01*float64(r-2)), latency.Key: lat * (1 - 0.01*float64(r-2)),
			}}
		}
		return out
	}
	merge := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	p := func(seqs, dtype, mem float64) map[string]float64 {
		return map[string]float64{"max-num-seqs": seqs, "kv-cache-dtype": dtype, "gpu-memory-utilization": mem}
	}
	trials := []storedTrial{
		{state: study.Complete, values: []float64{1000, 2.0}, attrs: merge(map[string]any{study.AttrIsBaseline: true, study.AttrBaselineConcurrency: 32}, confirm(1000, 2.0))},
		{state: study.Complete, values: []float64{1100, 1.9}, params: p(64, 0, 0.9)},
		{state: study.Complete, values: []float64{1300, 2.2}, params: p(256, 1, 0.95), attrs: confirm(1290, 2.2)},
		{state: study.Complete, values: []float64{900, 1.5}, params: p(32, 0, 0.7), attrs: confirm(905, 1.52)},
		{state: study.Fail, params: p(512, 1, 0.98), attrs: map[string]any{study.AttrErrorType: "startup_failed", study.AttrErrorMessage: "vLLM exited with status 1: </script> ValueError: no KV cache"}},
		{state: study.Pruned, params: p(496, 1, 0.98), attrs: map[string]any{study.AttrErrorType: "oom", study.AttrErrorMessage: "CUDA out of memory"}, constraints: []float64{1}},
		{state: study.Complete, values: []float64{1400, 4.1}, params: p(384, 1, 0.6), constraints: []float64{2.1}},
		{state: study.Complete, values: []float64{1150, 1.8}, params: p(128, 0, 0.85)},
	}
	for _, tr := range trials {
		id, _, err := st.CreateTrial(ctx, info.ID, study.Running)
		if err != nil {
			t.Fatal(err)
		}
		var ps []study.Param
		for name, v := range tr.params {
			ps = append(ps, study.Param{Name: name, Internal: v, Dist: dists[name]})
		}
		if len(ps) > 0 {
			if err := st.SetParams(ctx, id, ps); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range tr.attrs {
			if err := st.SetTrialAttr(ctx, id, false, k, v); err != nil {
				t.Fatal(err)
			}
		}
		if tr.constraints != nil {
			if err := st.SetTrialAttr(ctx, id, true, study.ConstraintsKey, tr.constraints); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.FinishTrial(ctx, id, tr.state, tr.values); err != nil {
			t.Fatal(err)
		}
	}
	out, err := st.Trials(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// renderStatus is what the page records of its own drawing.
type renderStatus struct {
	Errors []string       `json:"errors"`
	Charts map[string]int `json:"charts"`
	Done   bool           `json:"done"`
}

// TestHTMLInChromium opens a report of a stored study from disk in headless
// Chromium and checks that every chart drew, no script failed, and the
// table has a row per trial.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	trials := storeStudy(t, filepath.Join(dir, "study.db"))
	o := Options{Study: "browser", Objectives: []Objective{throughput, latency}, Command: cmdline,
		BaselineCommand: []string{"vllm", "serve", "m"}, Concurrency: 32}
	m := Build(trials, o)
	if m.Confirmation == nil || m.Confirmation.Baseline == nil || m.Baseline == nil {
		t.Fatalf("the study has no confirmed baseline: %+v", m)
	}
	var buf bytes.Buffer
	imp := []ParamImportance{{Name: "max-num-seqs", Value: 0.6}, {Name: "kv-cache-dtype", Value: 0.3}, {Name: "gpu-memory-utilization", Value: 0.1}}
	if err := m.HTML(&buf, trials, HTMLOptions{Importance: imp, Generated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	dom := dumpDOM(t, bin, page)
	st := readStatus(t, dom)
	if len(st.Errors) > 0 {
		t.Errorf("script errors on the page:\n%s", strings.Join(st.Errors, "\n"))
	}
	if !st.Done {
		t.Error("the page did not finish drawing")
	}
	want := []string{"chart-history-0", "chart-history-1", "chart-pareto", "chart-parallel", "chart-importance", "chart-confirm"}
	for _, id := range want {
		// A chart's axes alone draw a few hundred sampled pixels; one with
		// its data, thousands.
		if n, ok := st.Charts[id]; !ok || n < 500 {
			t.Errorf("chart %s drew %d pixels (present: %v); want a drawn chart", id, n, ok)
		}
	}
	if got := len(regexp.MustCompile(`class="chart[ "]`).FindAllString(dom, -1)); got != len(want) {
		t.Errorf("%d charts on the page, want %d", got, len(want))
	}
	if got := strings.Count(dom, "<tr data-trial="); got != len(trials) {
		t.Errorf("the trial table has %d rows, want %d (one per trial)", got, len(trials))
	}
	if !strings.Contains(dom, `id="errors" class="errors" hidden`) {
		t.Error("the page shows its error box")
	}
}

// dumpDOM loads the page in headless Chromium and returns the DOM once its
// scripts have run; no process of the browser is left behind.
func dumpDOM(t *testing.T, bin, page string) string {
	t.Helper()
	profile := t.TempDir()
	var stdout, output bytes.Buffer
	p, err := proc.Start(proc.Spec{
		Argv: []string{bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
			"--user-data-dir=" + profile, "--virtual-time-budget=10000", "--dump-dom", "file://" + page},
		Stdout: &stdout, Output: &output, TailLines: 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Stop(ctx, 5*time.Second); err != nil {
			t.Error(err)
		}
		noLeftovers(t, profile, p.PGID)
	})
	select {
	case <-p.Done():
	case <-time.After(2 * time.Minute):
		t.Fatalf("chromium did not finish in 2 minutes:\n%s", p.Tail())
	}
	if p.ExitCode() != 0 {
		t.Fatalf("chromium: %v", p.Err())
	}
	if stdout.Len() == 0 {
		t.Fatalf("chromium printed no DOM:\n%s", p.Tail())
	}
	return stdout.String()
}

func readStatus(t *testing.T, dom string) renderStatus {
	t.Helper()
	m := regexp.MustCompile(`(?s)<pre id="render-status"[^>]*>(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatal("the DOM has no #render-status")
	}
	var st renderStatus
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &st); err != nil {
		t.Fatalf("#render-status %q: %v", m[1], err)
	}
	return st
}

// noLeftovers fails the test if a process of the browser (in its group,
// or naming its profile) is still there after a bounded wait, and kills it.
func noLeftovers(t *testing.T, profile string, pgid int) {
	t.Helper()
	var left []*proc.Info
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		snap, err := proc.Snapshot(context.Background())
		if err != nil {
			t.Errorf("looking for leftover processes: %v", err)
			return
		}
		left = left[:0]
		for _, p := range snap {
			if !p.Zombie && (p.PGID == pgid || strings.Contains(p.CommandLine(), profile)) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range left {
		t.Errorf("left behind: %d %s", p.PID, p.CommandLine())
		_ = proc.Kill(p.PID, p.StartTime, syscall.SIGKILL)
	}
}
