package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

var (
	throughput = Objective{Key: metric.OutputThroughput, Maximize: true}
	latency    = Objective{Key: metric.RequestLatency}

	seqsDist  = &space.Int{Low: 1, High: 1024, Step: 1}
	dtypeDist = &space.Categorical{Choices: []any{"auto", "fp8"}}
)

// search is a completed search trial. Its parameters follow from its number
// so that every trial has its own command and a wrong pick shows in it.
func search(n int, values ...float64) study.Trial {
	return study.Trial{
		ID: int64(n + 1), Number: n, State: study.Complete, Values: values,
		Params:      map[string]float64{"max-num-seqs": float64(64 * (n + 1)), "kv-cache-dtype": float64(n % 2)},
		Dists:       map[string]space.Distribution{"max-num-seqs": seqsDist, "kv-cache-dtype": dtypeDist},
		UserAttrs:   map[string]any{},
		SystemAttrs: map[string]any{},
	}
}

// base is a completed baseline, marked as the Python tool marks it: vLLM's
// defaults, so no sampled parameters.
func base(n int, values ...float64) study.Trial {
	t := search(n, values...)
	t.Params, t.Dists = map[string]float64{}, map[string]space.Distribution{}
	t.UserAttrs = map[string]any{study.AttrIsBaseline: true, study.AttrBaselineConcurrency: 32.0}
	return t
}

// violating gives t a violated constraint as storage reads it back (a JSON
// list, hence []any), next to a satisfied one.
func violating(t study.Trial) study.Trial {
	t.SystemAttrs = map[string]any{study.ConstraintsKey: []any{-1.0, 0.5}}
	return t
}

// withState finishes t otherwise; only COMPLETE trials keep values.
// atConcurrency moves a baseline to another concurrency level.
func atConcurrency(t study.Trial, c int) study.Trial {
	t.UserAttrs = map[string]any{study.AttrIsBaseline: true, study.AttrBaselineConcurrency: float64(c)}
	return t
}

func withState(t study.Trial, s study.State) study.Trial {
	t.State = s
	if s != study.Complete {
		t.Values = nil
	}
	return t
}

func failed(n int) study.Trial { return withState(search(n), study.Fail) }

// pruned is the infeasible kind of PRUNED trial (e.g. out of memory, or a
// configuration constraint), told with a violated constraint.
func pruned(n int) study.Trial { return violating(withState(search(n), study.Pruned)) }

func cmdline(params map[string]any) []string {
	argv := []string{"vllm", "serve", "m"}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		argv = append(argv, "--"+k, fmt.Sprint(params[k]))
	}
	return argv
}

func options(objs ...Objective) Options {
	return Options{Study: "s", Objectives: objs, Command: cmdline}
}

func numberOf(e *Entry) int {
	if e == nil {
		return -1
	}
	return e.Number
}

// near compares improvements, which are computed in floating point (a 30%
// gain comes out as 30.000000000000004).
func near(got, want []float64) bool {
	if want == nil || got == nil {
		return want == nil && got == nil
	}
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
			return false
		}
	}
	return true
}

type buildCase struct {
	name   string
	objs   []Objective
	trials []study.Trial
	// baseline is the number of the reference trial, -1 for none.
	baseline int
	// best are the numbers reported, in order; imp their improvements (nil:
	// no comparison).
	best                         []int
	imp                          [][]float64
	complete, infeasible, failed int
	prunedN                      int // stopped by the pruner
	conc                         int // Options.Concurrency
	// text holds fragments the text must contain (exact where it rounds:
	// values to 4 significant digits, percentages to 0.1); exact, when set,
	// is the whole text.
	text    []string
	notText []string
	exact   string
}

func cases() []buildCase {
	return []buildCase{
		{
			name: "maximise: the best trial and its gain",
			objs: []Objective{throughput},
			trials: []study.Trial{
				base(0, 1000), search(1, 1100), search(2, 1234.56), search(3, 900),
				failed(4),
				// Far above every feasible trial: would win if constraints were ignored.
				violating(search(5, 5000)),
				pruned(6),
				// Still running when the report is made: not counted anywhere.
				withState(search(7), study.Running),
			},
			baseline: 0, best: []int{2}, imp: [][]float64{{23.456}},
			complete: 3, infeasible: 2, failed: 1,
			exact: "Study s: 3 complete, 2 infeasible, 1 failed trials\n" +
				"Baseline (vLLM defaults, trial 0): 1000\n" +
				"Best trial — output_tokens_per_second (max):\n" +
				"  trial 2: 1235 (23.5 % higher than the baseline)\n" +
				"    vllm serve m --kv-cache-dtype auto --max-num-seqs 192\n",
		},
		{
			// Improvement is documented as positive when better whatever the
			// direction, so a fall in latency is a positive improvement. How the
			// text shows that sign is TestTextPercentAgreesWithValue's concern.
			name:     "minimise: lower latency is the gain",
			objs:     []Objective{latency},
			trials:   []study.Trial{base(0, 2.0), search(1, 2.5), search(2, 1.5), search(3, 1.8)},
			baseline: 0, best: []int{2}, imp: [][]float64{{25}},
			complete: 3,
			text: []string{
				"Baseline (vLLM defaults, trial 0): 2\n",
				"Best trial — request_latency (min):\n",
				"  trial 2: 1.5 (25.0 % lower than the baseline)\n",
				"    vllm serve m --kv-cache-dtype auto --max-num-seqs 192\n",
			},
			notText: []string{"trial 1:", "trial 3:"},
		},
		{
			// One objective reports one trial, the first of equals, as
			// Optuna's best_trial does.
			name:     "single objective: a tie reports the earlier trial only",
			objs:     []Objective{throughput},
			trials:   []study.Trial{base(0, 1000), search(1, 1200), search(2, 1200), search(3, 1100)},
			baseline: 0, best: []int{1}, imp: [][]float64{{20}},
			complete: 3,
			text:     []string{"  trial 1: 1200 (20.0 % higher than the baseline)\n", "    vllm serve m --kv-cache-dtype fp8 --max-num-seqs 128\n"},
			notText:  []string{"trial 2:"},
		},
		{
			name: "two objectives: the Pareto front of the feasible trials",
			objs: []Objective{throughput, latency},
			trials: []study.Trial{
				// The lowest latency of all: non-dominated, yet the reference,
				// never a result.
				base(0, 1000, 60),
				search(1, 1200, 120),
				search(2, 1100, 90),
				search(3, 1050, 95), // dominated by 2
				search(4, 1300, 150),
				search(5, 1200, 120), // equal to 1: equal vectors are all on the front
				search(6, 1000, 200), // dominated by every other
				violating(search(7, 1500, 50)),
				failed(8),
				pruned(9),
			},
			baseline: 0,
			// By the first objective, best first; equals keep their order.
			best:     []int{4, 1, 5, 2},
			imp:      [][]float64{{30, -150}, {20, -100}, {20, -100}, {10, -50}},
			complete: 6, infeasible: 2, failed: 1,
			text: []string{
				"Baseline (vLLM defaults, trial 0): 1000, 60\n",
				"Pareto-optimal trials (4) — output_tokens_per_second (max), request_latency (min):\n",
				"  trial 4: 1300 (30.0 % higher than the baseline), 150 (150.0 % higher than the baseline)\n" +
					"    vllm serve m --kv-cache-dtype auto --max-num-seqs 320\n",
				"  trial 1: 1200 (20.0 % higher than the baseline), 120 (100.0 % higher than the baseline)\n",
				"  trial 5: 1200 (20.0 % higher than the baseline), 120 (100.0 % higher than the baseline)\n",
				"  trial 2: 1100 (10.0 % higher than the baseline), 90 (50.0 % higher than the baseline)\n" +
					"    vllm serve m --kv-cache-dtype auto --max-num-seqs 192\n",
			},
			notText: []string{"trial 0:", "trial 3:", "trial 6:", "trial 7:", "trial 8:", "trial 9:"},
		},
		{
			name:     "no baseline: no comparison",
			objs:     []Objective{throughput},
			trials:   []study.Trial{search(0, 1000), search(1, 1100)},
			baseline: -1, best: []int{1}, imp: [][]float64{nil},
			complete: 2,
			text:     []string{"Best trial — output_tokens_per_second (max):\n", "  trial 1: 1100\n"},
			notText:  []string{"Baseline", "than the baseline"},
		},
		{
			name:     "failed baseline: no comparison, counted as failed",
			objs:     []Objective{throughput},
			trials:   []study.Trial{withState(base(0), study.Fail), search(1, 1000)},
			baseline: -1, best: []int{1}, imp: [][]float64{nil},
			complete: 1, failed: 1,
			text:    []string{"  trial 1: 1000\n"},
			notText: []string{"Baseline", "than the baseline"},
		},
		{
			// A resumed study runs a failed baseline again, under a new number.
			name:     "retried baseline: the completed one is the reference",
			objs:     []Objective{throughput},
			trials:   []study.Trial{withState(base(0), study.Fail), base(1, 1000), search(2, 1100)},
			baseline: 1, best: []int{2}, imp: [][]float64{{10}},
			complete: 1, failed: 1,
			text: []string{"Baseline (vLLM defaults, trial 1): 1000\n", "  trial 2: 1100 (10.0 % higher than the baseline)\n"},
		},
		{
			// The defaults are measured to compare with, not to be chosen: an
			// SLO they miss does not make the comparison meaningless.
			name:     "baseline violating an SLO is still the reference",
			objs:     []Objective{throughput},
			trials:   []study.Trial{violating(base(0, 1000)), search(1, 1100)},
			baseline: 0, best: []int{1}, imp: [][]float64{{10}},
			complete: 1,
			text:     []string{"Baseline (vLLM defaults, trial 0): 1000\n", "  trial 1: 1100 (10.0 % higher than the baseline)\n"},
		},
		{
			// A percentage of zero is no number.
			name:     "baseline of zero: values without a percentage",
			objs:     []Objective{throughput},
			trials:   []study.Trial{base(0, 0), search(1, 500)},
			baseline: 0, best: []int{1}, imp: [][]float64{nil},
			complete: 1,
			text:     []string{"Baseline (vLLM defaults, trial 0): 0\n", "  trial 1: 500\n"},
			notText:  []string{"than the baseline"},
		},
		{
			// The best trial is still shown, and the report says the defaults
			// did better.
			name:     "maximise, baseline better than every trial: a loss, not a gain",
			objs:     []Objective{throughput},
			trials:   []study.Trial{base(0, 1000), search(1, 900), search(2, 950)},
			baseline: 0, best: []int{2}, imp: [][]float64{{-5}},
			complete: 2,
			text:     []string{"  trial 2: 950 (5.0 % lower than the baseline)\n", "No trial beat vLLM's defaults (trial 0) in any objective: keep the defaults.\n"},
			notText:  []string{"+"},
		},
		{
			// Latency rose: the text says so, and that the defaults did better.
			name:     "minimise, baseline better than every trial: a loss, not a gain",
			objs:     []Objective{latency},
			trials:   []study.Trial{base(0, 1.0), search(1, 1.2), search(2, 1.1)},
			baseline: 0, best: []int{2}, imp: [][]float64{{-10}},
			complete: 2,
			text: []string{"Baseline (vLLM defaults, trial 0): 1\n", "  trial 2: 1.1 (10.0 % higher than the baseline)\n",
				"No trial beat vLLM's defaults (trial 0) in any objective: keep the defaults.\n"},
		},
		{
			// Thousands of tokens per second print whole, never as 2.5e+04.
			name:     "large values print without an exponent",
			objs:     []Objective{throughput},
			trials:   []study.Trial{base(0, 20000), search(1, 25000.4)},
			baseline: 0, best: []int{1}, imp: [][]float64{{25.002}},
			complete: 1,
			text:     []string{"Baseline (vLLM defaults, trial 0): 20000\n", "  trial 1: 25000 (25.0 % higher than the baseline)\n"},
			notText:  []string{"No trial beat"},
		},
		{
			// Baselines run once per concurrency level; the trials ran at 32,
			// so the baseline at 32 is the reference, not the first one.
			name:     "the baseline at the trials' concurrency is the reference",
			objs:     []Objective{throughput},
			conc:     32,
			trials:   []study.Trial{atConcurrency(base(0, 100), 1), base(1, 1000), search(2, 1100)},
			baseline: 1, best: []int{2}, imp: [][]float64{{10}},
			complete: 1,
			text:     []string{"Baseline (vLLM defaults, trial 1): 1000\n"},
		},
		{
			// A trial the pruner stopped was not shown infeasible: counted apart.
			name:     "pruned trials are counted apart from infeasible ones",
			objs:     []Objective{throughput},
			trials:   []study.Trial{base(0, 1000), search(1, 1100), withState(search(2), study.Pruned), pruned(3)},
			baseline: 0, best: []int{1}, imp: [][]float64{{10}},
			complete: 1, infeasible: 1, prunedN: 1,
			text: []string{"Study s: 1 complete, 1 infeasible, 1 pruned, 0 failed trials\n"},
		},
		{
			name: "every trial failed: nothing is best",
			objs: []Objective{throughput},
			trials: []study.Trial{
				base(0, 1000), failed(1), pruned(2), violating(search(3, 2000)), failed(4),
			},
			baseline: 0, infeasible: 2, failed: 2,
			exact: "Study s: 0 complete, 2 infeasible, 2 failed trials\nNo feasible trial completed.\n",
		},
		{
			name:     "empty study",
			objs:     []Objective{throughput, latency},
			baseline: -1,
			exact:    "Study s: 0 complete, 0 infeasible, 0 failed trials\nNo feasible trial completed.\n",
		},
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if len(c.imp) != len(c.best) {
				t.Fatalf("bad case: %d improvements for %d best trials", len(c.imp), len(c.best))
			}
			o := options(c.objs...)
			o.Concurrency = c.conc
			m := Build(c.trials, o)
			if got := numberOf(m.Baseline); got != c.baseline {
				t.Errorf("baseline = trial %d, want %d", got, c.baseline)
			}
			if m.Complete != c.complete || m.Infeasible != c.infeasible || m.Failed != c.failed || m.Pruned != c.prunedN {
				t.Errorf("counts = %d complete, %d infeasible, %d failed, %d pruned; want %d, %d, %d, %d",
					m.Complete, m.Infeasible, m.Failed, m.Pruned, c.complete, c.infeasible, c.failed, c.prunedN)
			}
			var got []int
			for _, e := range m.Best {
				got = append(got, e.Number)
			}
			if !slices.Equal(got, c.best) {
				t.Fatalf("best = %v, want %v", got, c.best)
			}
			for i, e := range m.Best {
				if !near(e.Improvement, c.imp[i]) {
					t.Errorf("trial %d: improvement = %v, want %v", e.Number, e.Improvement, c.imp[i])
				}
			}
			var b strings.Builder
			m.Text(&b)
			text := b.String()
			if c.exact != "" && text != c.exact {
				t.Errorf("text:\n%s\nwant:\n%s", text, c.exact)
			}
			for _, s := range c.text {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
			}
			for _, s := range c.notText {
				if strings.Contains(text, s) {
					t.Errorf("text has %q:\n%s", s, text)
				}
			}
		})
	}
}

// The JSON form as scripts read it, spelled out here so that a renamed field
// fails the test instead of following the Model.
type wireEntry struct {
	Number      int            `json:"number"`
	Values      []float64      `json:"values"`
	Params      map[string]any `json:"params"`
	Improvement []float64      `json:"improvement_percent"`
	Command     string         `json:"command"`
}

type wire struct {
	Study      string `json:"study"`
	Objectives []struct {
		Metric   string `json:"metric"`
		Maximize bool   `json:"maximize"`
	} `json:"objectives"`
	Baseline   *wireEntry  `json:"baseline"`
	Best       []wireEntry `json:"best"`
	Complete   int         `json:"complete"`
	Infeasible int         `json:"infeasible"`
	Failed     int         `json:"failed"`
}

func TestJSON(t *testing.T) {
	t.Parallel()
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := Build(c.trials, options(c.objs...))
			var tb strings.Builder
			m.Text(&tb)
			text := tb.String()
			var jb bytes.Buffer
			if err := m.JSON(&jb); err != nil {
				t.Fatal(err)
			}
			var w wire
			if err := json.Unmarshal(jb.Bytes(), &w); err != nil {
				t.Fatalf("decode: %v\n%s", err, jb.String())
			}
			if w.Study != "s" || len(w.Objectives) != len(c.objs) {
				t.Fatalf("study %q with %d objectives, want s with %d", w.Study, len(w.Objectives), len(c.objs))
			}
			for i, o := range w.Objectives {
				if o.Metric != c.objs[i].Key || o.Maximize != c.objs[i].Maximize {
					t.Errorf("objective %d = %+v, want %+v", i, o, c.objs[i])
				}
			}
			if w.Complete != m.Complete || w.Infeasible != m.Infeasible || w.Failed != m.Failed {
				t.Errorf("counts = %d/%d/%d, want %d/%d/%d", w.Complete, w.Infeasible, w.Failed, m.Complete, m.Infeasible, m.Failed)
			}
			if (w.Baseline == nil) != (m.Baseline == nil) {
				t.Fatalf("baseline = %+v, want %+v", w.Baseline, m.Baseline)
			}
			if w.Baseline != nil {
				if w.Baseline.Number != m.Baseline.Number || !slices.Equal(w.Baseline.Values, []float64(m.Baseline.Values)) ||
					w.Baseline.Command != "vllm serve m" || len(w.Baseline.Params) != 0 {
					t.Errorf("baseline = %+v, want %+v", *w.Baseline, *m.Baseline)
				}
				// The text leaves the baseline out when there is nothing to compare.
				line := fmt.Sprintf("Baseline (vLLM defaults, trial %d): %s\n", w.Baseline.Number, values(w.Baseline.Values, nil, nil))
				if len(w.Best) > 0 && !strings.Contains(text, line) {
					t.Errorf("text lacks %q:\n%s", line, text)
				}
			}
			if len(w.Best) != len(m.Best) {
				t.Fatalf("%d best in JSON, %d in the model", len(w.Best), len(m.Best))
			}
			for i, e := range w.Best {
				me := m.Best[i]
				// JSON carries float64s exactly.
				if e.Number != me.Number || !slices.Equal(e.Values, []float64(me.Values)) ||
					!slices.Equal(e.Improvement, []float64(me.Improvement)) || e.Command != me.Command {
					t.Errorf("best[%d] = %+v, want %+v", i, e, me)
				}
				for k, v := range me.Params {
					if n, ok := v.(int64); ok {
						v = float64(n) // every JSON number decodes as float64
					}
					if e.Params[k] != v {
						t.Errorf("trial %d: param %s = %v, want %v", e.Number, k, e.Params[k], v)
					}
				}
				line := fmt.Sprintf("  trial %d: %s\n    %s\n", e.Number, values(e.Values, e.Improvement, m.Objectives), e.Command)
				if !strings.Contains(text, line) {
					t.Errorf("text lacks %q:\n%s", line, text)
				}
			}
			// Absent, not empty, where there is nothing to compare with.
			var raw map[string]any
			if err := json.Unmarshal(jb.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			if _, has := raw["baseline"]; has != (c.baseline >= 0) {
				t.Errorf("baseline key present = %v, want %v", has, c.baseline >= 0)
			}
			best, _ := raw["best"].([]any)
			for i, x := range best {
				if i >= len(c.imp) {
					break // TestBuild reports the wrong count
				}
				_, has := x.(map[string]any)["improvement_percent"]
				if has != (c.imp[i] != nil) {
					t.Errorf("best[%d]: improvement_percent present = %v, want %v", i, has, c.imp[i] != nil)
				}
			}
		})
	}
}

// The text words a change by the direction of the value shown, whichever
// direction is better: a latency that rose never reads as a fall.
func TestTextPercentAgreesWithValue(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		base, best float64
		misleading string
	}{
		{"lower latency is not shown as a rise", 2.0, 1.5, "1.5 (25.0 % higher"},
		{"higher latency is not shown as a fall", 1.0, 1.1, "1.1 (10.0 % lower"},
		{"no change is not negative", 2.0, 2.0, "-0.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := Build([]study.Trial{base(0, c.base), search(1, c.best)}, options(latency))
			var b strings.Builder
			m.Text(&b)
			if strings.Contains(b.String(), c.misleading) {
				t.Errorf("text has %q:\n%s", c.misleading, b.String())
			}
		})
	}
}

// Values may be ±Inf (a stored trial's may), which encoding/json refuses: the
// report is still written, the odd value as null.
func TestJSONNonFiniteValue(t *testing.T) {
	t.Parallel()
	m := Build([]study.Trial{base(0, math.Inf(1)), search(1, 1.5)}, options(latency))
	if len(m.Best) != 1 || m.Best[0].Improvement != nil {
		t.Fatalf("best = %+v, want trial 1 without a percentage", m.Best)
	}
	var b bytes.Buffer
	if err := m.JSON(&b); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatalf("decode: %v\n%s", err, b.String())
	}
	best, _ := raw["best"].([]any)
	if len(best) != 1 || best[0].(map[string]any)["number"] != 1.0 {
		t.Errorf("best = %v, want trial 1", raw["best"])
	}
}
