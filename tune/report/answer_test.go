package report

import (
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// A trial that missed an SLO in its confirmation runs is never the answer:
// with a baseline the defaults are, without one nothing is.
func TestAnswersAfterMissedSLO(t *testing.T) {
	tp, ttft, limit := throughput.Key, "time_to_first_token_ms_p95", 1000.0
	missing := alsoMeasured(confirmedRuns(search(1, 130), tp, 120, 133, 108), ttft, 1200, 1300, 1250)
	tests := []struct {
		name     string
		trials   []study.Trial
		defaults bool // the answer is vLLM's defaults; else none
		why      string
	}{
		{"with a baseline: the defaults", []study.Trial{alsoMeasured(confirmedRuns(base(0, 100), tp, 100, 110, 90), ttft, 500, 500, 500), missing}, true, "every confirmed trial missed an SLO"},
		{"without a baseline: nothing", []study.Trial{missing}, false, "and the study has no baseline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Build(tt.trials, Options{Study: "s", Objectives: []Objective{throughput}, Command: cmdline, BaselineCommand: []string{"vllm", "serve", "m"},
				SLOs: []Limit{{Key: ttft, Max: &limit, Name: "p95 ttft ≤ 1000"}}})
			got, why := m.Answers()
			if !strings.Contains(why, tt.why) {
				t.Errorf("why %q, want %q in it", why, tt.why)
			}
			switch {
			case tt.defaults && (len(got) != 1 || !got[0].Defaults):
				t.Errorf("answers %+v, want vLLM's defaults", got)
			case !tt.defaults && len(got) != 0:
				t.Errorf("answers %+v, want none", got)
			}
		})
	}
}
