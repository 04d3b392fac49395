package report

import (
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// The report's importance explains each objective by the search trials:
// throughput here follows max-num-seqs alone, so it dominates; the baseline
// and failed trials are left out.
func TestImportanceOf(t *testing.T) {
	var trials []study.Trial
	trials = append(trials, base(0, 50))
	for n := 1; n <= 30; n++ {
		tr := search(n, float64(64*(n+1)))
		tr.Params["kv-cache-dtype"] = float64((n * 7 / 3) % 2)
		trials = append(trials, tr)
	}
	failed := search(31)
	failed.State = study.Fail
	trials = append(trials, failed)

	m := Build(trials, Options{Study: "s", Objectives: []Objective{throughput}})
	got := m.ImportanceOf(trials)
	if len(got) != 2 || got[0].Name != "max-num-seqs" || got[0].Value <= got[1].Value || got[0].Objective != "" {
		t.Fatalf("importance %+v: want max-num-seqs first, of one unnamed objective", got)
	}
	if sum := got[0].Value + got[1].Value; sum < 0.999 || sum > 1.001 {
		t.Errorf("importances sum to %g, want 1", sum)
	}
	if few := m.ImportanceOf(trials[:2]); few != nil {
		t.Errorf("importance of one search trial: %+v, want none", few)
	}
	two := Build(trials[:1], Options{Study: "s", Objectives: []Objective{throughput, latency}})
	if got := two.ImportanceOf(trials); got != nil {
		t.Errorf("trials with one value for two objectives: %+v, want none", got)
	}
}
