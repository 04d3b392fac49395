package report

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// confirmedRuns stores confirmation runs on t as the study does: one user
// attribute per round, read back from JSON (numbers as float64). A NaN
// stands for a failed run.
func confirmedRuns(t study.Trial, key string, vs ...float64) study.Trial {
	attrs := map[string]any{}
	for k, v := range t.UserAttrs {
		attrs[k] = v
	}
	for i, v := range vs {
		rec := map[string]any{"round": float64(i + 1)}
		if v != v {
			rec["error"] = "server_crash: the server exited"
		} else {
			rec["values"] = map[string]any{key: v}
		}
		attrs[study.AttrConfirmPrefix+strconv.Itoa(i+1)] = rec
	}
	t.UserAttrs = attrs
	return t
}

// alsoMeasured adds key's value of each round to t's confirmation runs.
func alsoMeasured(t study.Trial, key string, vs ...float64) study.Trial {
	for i, v := range vs {
		rec := t.UserAttrs[study.AttrConfirmPrefix+strconv.Itoa(i+1)].(map[string]any)
		if vals, ok := rec["values"].(map[string]any); ok {
			vals[key] = v
		}
	}
	return t
}

// withFlags gives a trial n sampled flags, none at a default.
func withFlags(t study.Trial, n int) study.Trial {
	t.Params, t.Dists = map[string]float64{}, map[string]space.Distribution{}
	for i := range n {
		name := "flag-" + strconv.Itoa(i)
		t.Params[name] = float64(t.Number + 2)
		t.Dists[name] = seqsDist
	}
	return t
}

func TestConfirmation(t *testing.T) {
	tp := throughput.Key
	ttft, ttftMax := "time_to_first_token_ms_p95", 1000.0
	nan := func() float64 { var z float64; return z / z }()
	tests := []struct {
		name        string
		trials      []study.Trial
		objs        []Objective
		slos        []Limit
		recommended int // -1: none
		verdict     string
		text        []string // substrings of the text report
	}{
		{
			name: "clear winner: its interval above 0",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100, 110, 90),
				confirmedRuns(search(1, 130), tp, 120, 133, 108),
				confirmedRuns(search(2, 125), tp, 101, 111, 91),
			},
			recommended: 1, verdict: "better",
			text: []string{"Confirmed: 2 trials and the baseline started again, 3 runs each", "Recommended: trial 1: 20.3 % higher output_tokens_per_second than vLLM's defaults (95 % CI 19.0 to 21.6 % higher); it changes 2 flags:", "trial 2: output_tokens_per_second 101, 1.0 % higher than the baseline (95 % CI"},
		},
		{
			name: "search winner was noise: not distinguishable, keep the defaults",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100, 110, 90),
				confirmedRuns(search(1, 140), tp, 104, 106, 92),
			},
			recommended: -1, verdict: "indistinguishable",
			text: []string{"not distinguishable from the baseline (", "The best confirmed trial (1) is not distinguishable from vLLM's defaults: keep the defaults", "vllm serve base"},
		},
		{
			name: "defaults better",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100, 110, 90),
				confirmedRuns(search(1, 120), tp, 90, 99, 81),
			},
			recommended: -1, verdict: "worse",
			text: []string{"10.0 % lower than the baseline (95 % CI", "vLLM's defaults beat the best confirmed trial (1): keep the defaults."},
		},
		{
			name: "within 1 % and indistinguishable: fewer flags win",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100, 110, 90),
				withFlags(confirmedRuns(search(1, 130), tp, 120, 133, 108), 3),
				withFlags(confirmedRuns(search(2, 129), tp, 120.5, 131.5, 108.1), 1),
			},
			recommended: 2, verdict: "better",
			text: []string{"Recommended: trial 2:", "it changes 1 flag:", "trial 2 changes 1 flags from vLLM's defaults and is within 1 % of trial 1 (3 flags)"},
		},
		{
			name: "fewer flags but surely worse: the best stays",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100, 110, 90),
				withFlags(confirmedRuns(search(1, 130), tp, 120, 132, 108), 3),
				withFlags(confirmedRuns(search(2, 129), tp, 119, 130.9, 107), 1),
			},
			recommended: 1, verdict: "better",
		},
		{
			name: "a failed run is left out and said",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100, 110, 90),
				confirmedRuns(search(1, 130), tp, 120, nan, 108),
			},
			recommended: 1, verdict: "better",
			text: []string{"Confirmed: trial 1 and the baseline started again", "1 of 3 runs failed (run 2: server_crash"},
		},
		{
			name: "one paired run: no interval, no claim",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100),
				confirmedRuns(search(1, 130), tp, 150),
			},
			recommended: -1, verdict: "indistinguishable",
			text: []string{"50.0 % higher than the baseline, from one paired run: no interval"},
		},
		{
			name: "every run of a trial failed: said, not ranked",
			trials: []study.Trial{
				confirmedRuns(base(0, 100), tp, 100, 110, 90),
				confirmedRuns(search(1, 130), tp, 120, 133, 108),
				confirmedRuns(search(2, 140), tp, nan, nan, nan),
			},
			recommended: 1, verdict: "better",
			text: []string{"Confirmed: 2 trials and the baseline started again, 3 runs each", "trial 2: every confirmation run failed (run 1: server_crash"},
		},
		{
			name: "the best misses an SLO over its confirmation runs: the next one is recommended",
			trials: []study.Trial{
				alsoMeasured(confirmedRuns(base(0, 100), tp, 100, 110, 90), ttft, 500, 520, 480),
				alsoMeasured(confirmedRuns(search(1, 130), tp, 120, 133, 108), ttft, 900, 1100, 1150),
				alsoMeasured(confirmedRuns(search(2, 125), tp, 115, 127, 104), ttft, 700, 720, 710),
			},
			slos:        []Limit{{Key: ttft, Max: &ttftMax, Name: "p95 ttft ≤ 1000"}},
			recommended: 2, verdict: "better",
			text: []string{"trial 1: misses p95 ttft ≤ 1000: 1050 on average over its confirmation runs: not recommended", "Recommended: trial 2: 15.3 % higher"},
		},
		{
			name: "every confirmed trial misses an SLO: keep the defaults",
			trials: []study.Trial{
				alsoMeasured(confirmedRuns(base(0, 100), tp, 100, 110, 90), ttft, 500, 520, 480),
				alsoMeasured(confirmedRuns(search(1, 130), tp, 120, 133, 108), ttft, 900, 1100, 1150),
				confirmedRuns(search(2, 125), tp, 115, 127, 104),
			},
			slos:        []Limit{{Key: ttft, Max: &ttftMax, Name: "p95 ttft ≤ 1000"}},
			recommended: -1, verdict: "slo_missed",
			text: []string{"trial 2: misses p95 ttft ≤ 1000: not measured", "Every confirmed trial missed an SLO on average over its confirmation runs: keep vLLM's defaults, or relax the SLO.", "vllm serve base"},
		},
		{
			name: "no baseline runs: ranked, not compared",
			trials: []study.Trial{
				base(0, 100),
				confirmedRuns(search(1, 130), tp, 120, 133),
				confirmedRuns(search(2, 131), tp, 110, 111),
			},
			recommended: 1, verdict: "no_baseline",
			text: []string{"baseline: not measured; no comparison with vLLM's defaults", "Recommended: trial 1; it changes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := tt.objs
			if objs == nil {
				objs = []Objective{throughput}
			}
			m := Build(tt.trials, Options{Study: "s", Objectives: objs, SLOs: tt.slos, BaselineCommand: []string{"vllm", "serve", "base"},
				Command: func(p map[string]any) []string { return []string{"vllm", "serve", strconv.Itoa(len(p))} }})
			c := m.Confirmation
			if c == nil {
				t.Fatal("no confirmation")
			}
			if got := -1; c.Recommended != nil {
				got = *c.Recommended
				if got != tt.recommended {
					t.Errorf("recommended %d, want %d", got, tt.recommended)
				}
			} else if tt.recommended != -1 {
				t.Errorf("nothing recommended, want %d", tt.recommended)
			}
			if c.Verdict != tt.verdict {
				t.Errorf("verdict %q, want %q", c.Verdict, tt.verdict)
			}
			var text bytes.Buffer
			m.Text(&text)
			for _, want := range tt.text {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text lacks %q:\n%s", want, text.String())
				}
			}
			var js bytes.Buffer
			if err := m.JSON(&js); err != nil {
				t.Fatal(err)
			}
			var back struct {
				Confirmation *Confirmation `json:"confirmation"`
			}
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Confirmation == nil || back.Confirmation.Verdict != tt.verdict {
				t.Errorf("JSON: %v\n%s", err, js.String())
			}
		})
	}
}

func TestConfirmationMultiObjective(t *testing.T) {
	lat := latency.Key
	both := func(tr study.Trial, tps, l []float64) study.Trial {
		tr = confirmedRuns(tr, throughput.Key, tps...)
		for i := range l {
			rec := tr.UserAttrs[study.AttrConfirmPrefix+strconv.Itoa(i+1)].(map[string]any)
			rec["values"].(map[string]any)[lat] = l[i]
		}
		return tr
	}
	trials := []study.Trial{
		both(base(0, 100, 1), []float64{100, 100}, []float64{1, 1}),
		both(search(1, 130, 2), []float64{130, 131}, []float64{2, 2.1}),
		both(search(2, 110, 0.8), []float64{110, 111}, []float64{0.8, 0.81}),
		both(search(3, 105, 1.5), []float64{105, 104}, []float64{1.5, 1.4}), // dominated by 2
	}
	m := Build(trials, Options{Study: "s", Objectives: []Objective{throughput, latency}})
	c := m.Confirmation
	if c == nil || c.Recommended != nil || len(c.Trials) != 3 || c.Trials[0].Number != 1 || c.Trials[1].Number != 2 || c.Trials[2].Number != 3 {
		t.Fatalf("confirmation %+v", c)
	}
	var text bytes.Buffer
	m.Text(&text)
	if !strings.Contains(text.String(), "trial 2: output_tokens_per_second 110.5, 10.5 % higher than the baseline (95 % CI") ||
		!strings.Contains(text.String(), "request_latency 0.805, 19.5 % lower than the baseline (95 % CI") || c.Verdict != "better" ||
		!strings.Contains(text.String(), "Better than vLLM's defaults in an objective and worse in none:\n  trial 2 (changes 2 flags): ") ||
		strings.Contains(text.String(), "trial 1 (changes") { // faster but slower to answer: a trade, not a win
		t.Errorf("verdict %s, text:\n%s", c.Verdict, text.String())
	}

	// Noise as large as the differences: nothing to claim.
	noisy := []study.Trial{
		both(base(0, 100, 1), []float64{100, 150}, []float64{1, 1.5}),
		both(search(1, 130, 0.9), []float64{140, 110}, []float64{0.9, 1.6}),
	}
	m = Build(noisy, Options{Study: "s", Objectives: []Objective{throughput, latency}, BaselineCommand: []string{"vllm", "serve", "base"}})
	text.Reset()
	m.Text(&text)
	if m.Confirmation.Verdict != "indistinguishable" || !strings.Contains(text.String(), "No confirmed trial is distinguishable from vLLM's defaults in any objective: keep the defaults") ||
		!strings.Contains(text.String(), "vllm serve base") {
		t.Errorf("verdict %s, text:\n%s", m.Confirmation.Verdict, text.String())
	}
}
