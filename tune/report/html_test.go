package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/third_party/echarts"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// pageOf renders trials as a page and returns it with its data read back.
func pageOf(t *testing.T, trials []study.Trial, o HTMLOptions, objs ...Objective) (string, map[string]any) {
	t.Helper()
	m := Build(trials, options(objs...))
	var buf bytes.Buffer
	if err := m.HTML(&buf, trials, o); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	const open = `<script type="application/json" id="report-data">`
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatal("no data block in the page")
	}
	rest := page[i+len(open):]
	j := strings.Index(rest, "</script>")
	var data map[string]any
	if err := json.Unmarshal([]byte(rest[:j]), &data); err != nil {
		t.Fatalf("the data block is not JSON: %v", err)
	}
	return page, data
}

func TestHTML(t *testing.T) {
	t.Parallel()
	hostile := `</script><script>alert(1)</script><!--`
	crashed := failed(4)
	crashed.UserAttrs = map[string]any{study.AttrErrorType: "vllm_crash", study.AttrErrorMessage: hostile}
	odd := search(5, math.NaN(), math.Inf(1))
	odd.Params["gpu-memory-utilization"] = math.NaN()
	odd.Dists["gpu-memory-utilization"] = &space.Float{Low: 0.5, High: 0.9}
	trials := []study.Trial{base(0, 100, 2), search(1, 120, 1.5), search(2, 90, 1), pruned(3), crashed, odd}
	// first keeps the first objective's value of each trial.
	first := func(ts []study.Trial) []study.Trial {
		out := make([]study.Trial, len(ts))
		for i, t := range ts {
			out[i] = t
			if t.Values != nil {
				out[i].Values = t.Values[:1]
			}
		}
		return out
	}

	cases := []struct {
		name       string
		objs       []Objective
		importance []ParamImportance
		want       []string // fragments of the page
		notWant    []string
		check      func(t *testing.T, data map[string]any)
	}{
		{
			name: "two objectives: Pareto chart, every trial a row, hostile text inert",
			objs: []Objective{throughput, latency},
			want: []string{`id="chart-pareto"`, `id="chart-history-0"`, `id="chart-history-1"`, `id="chart-parallel"`, "Not computed:",
				`<tr data-trial="4" class="failed">`, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--", "All trials (6)"},
			notWant: []string{hostile, `id="chart-importance"`, `id="chart-confirm"`},
			check: func(t *testing.T, data map[string]any) {
				ts := data["trials"].([]any)
				if len(ts) != len(trials) {
					t.Fatalf("%d trials in the data, want %d", len(ts), len(trials))
				}
				if got := ts[4].(map[string]any)["error"]; got != hostile {
					t.Errorf("error message read back as %q", got)
				}
				if ts[4].(map[string]any)["status"] != "failed" || ts[3].(map[string]any)["status"] != "infeasible" || ts[0].(map[string]any)["status"] != "baseline" {
					t.Errorf("statuses: %v", ts)
				}
				if got := ts[5].(map[string]any)["params"].(map[string]any)["gpu-memory-utilization"]; got != nil {
					t.Errorf("a NaN parameter reads back as %v, want null", got)
				}
				if got := ts[5].(map[string]any)["values"]; got == nil || got.([]any)[0] != nil {
					t.Errorf("NaN values read back as %v, want [null, null]", got)
				}
			},
		},
		{
			name:       "one objective: no Pareto chart; importance drawn when given",
			objs:       []Objective{throughput},
			importance: []ParamImportance{{Name: "max-num-seqs", Value: 0.7}, {Name: "kv-cache-dtype", Value: math.NaN()}},
			want:       []string{`id="chart-importance"`, `id="chart-history-0"`, "Trial 1"},
			notWant:    []string{`id="chart-pareto"`, "Not computed:"},
			check: func(t *testing.T, data map[string]any) {
				imp := data["importance"].([]any)
				if len(imp) != 2 || imp[1].(map[string]any)["value"] != 0.0 {
					t.Errorf("importance read back as %v", imp)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts := trials
			if len(c.objs) == 1 {
				ts = first(trials)
			}
			page, data := pageOf(t, ts, HTMLOptions{Importance: c.importance}, c.objs...)
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(page, w) {
					t.Errorf("the page holds %q", w)
				}
			}
			if !strings.Contains(page, echarts.JS) {
				t.Error("the chart library is not inlined")
			}
			if strings.Contains(page, "://cdn") || strings.Contains(page, `src="http`) {
				t.Error("the page loads something from the network")
			}
			if got := strings.Count(page, "<tr data-trial="); got != len(trials) {
				t.Errorf("%d table rows, want %d", got, len(trials))
			}
			c.check(t, data)
		})
	}
}

// The library is inlined in a <script> element: it must not be able to
// close it.
func TestEChartsInlinable(t *testing.T) {
	t.Parallel()
	lib := strings.ToLower(echarts.JS)
	if len(lib) < 100_000 || strings.Contains(lib, "</script") || strings.Contains(lib, "<!--") {
		t.Errorf("third_party/echarts/echarts.min.js (%d bytes) is missing or holds </script or <!--", len(lib))
	}
}

// A failure that quotes pages of server output shows its start in the trial
// table and all of it in the cell's tooltip; a confirmed trial that misses an
// SLO is shown as such in the comparison.
func TestHTMLLongMessageAndMissedSLO(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("RuntimeError: CUDA error ", 60)
	crashed := failed(2)
	crashed.UserAttrs = map[string]any{study.AttrErrorType: "vllm_crash", study.AttrErrorMessage: long}
	ttft, limit := "time_to_first_token_ms_p95", 1000.0
	trials := []study.Trial{
		alsoMeasured(confirmedRuns(base(0, 100), throughput.Key, 100, 110, 90), ttft, 500, 500, 500),
		alsoMeasured(confirmedRuns(search(1, 130), throughput.Key, 120, 133, 108), ttft, 1200, 1300, 1250),
		crashed,
	}
	m := Build(trials, Options{Study: "s", Objectives: []Objective{throughput}, Command: cmdline, BaselineCommand: []string{"vllm", "serve", "m"},
		SLOs: []Limit{{Key: ttft, Max: &limit, Name: "p95 ttft ≤ 1000"}}})
	var b strings.Builder
	if err := m.HTML(&b, trials, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	short := string([]rune(long)[:msgChars]) + "…"
	for _, want := range []string{`title="` + long + `"`, ">" + short + "</td>", `missed SLO`, "misses p95 ttft ≤ 1000: 1250 on average: not recommended"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
