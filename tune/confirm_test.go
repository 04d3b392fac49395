package tune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// roundsBackend measures throughput = max_num_seqs (20 for the baseline,
// which has none) times a factor of the request seed, as a machine whose
// speed drifts between rounds would; OOM above 48. It records which
// trials each confirmation round ran, and can cancel the study at its n-th
// confirmation run.
type roundsBackend struct {
	mu       sync.Mutex
	runs     int
	rounds   map[uint64][]int // confirmation seed → trial numbers
	cancelAt int
	cancel   context.CancelFunc
}

func (b *roundsBackend) Run(ctx context.Context, s trial.Spec) (*trial.Result, error) {
	b.mu.Lock()
	b.runs++
	if s.Bench.Seed >= 1<<40 {
		if b.rounds == nil {
			b.rounds = map[uint64][]int{}
		}
		b.rounds[s.Bench.Seed] = append(b.rounds[s.Bench.Seed], s.Number)
		if n := len(b.rounds[1<<40+1]) + len(b.rounds[1<<40+2]) + len(b.rounds[1<<40+3]); n == b.cancelAt {
			b.mu.Unlock()
			b.cancel()
			return nil, context.Canceled
		}
	}
	b.mu.Unlock()
	seqs := maxNumSeqs(s.Flags, 20)
	if seqs > 48 {
		return &trial.Result{Failure: &trial.Failure{Class: trial.OOM, Message: "CUDA out of memory"}}, nil
	}
	drift := 1 + float64(s.Bench.Seed%5)/10
	return &trial.Result{Metrics: map[string]float64{"output_tokens_per_second_mean": float64(seqs) * drift}}, nil
}
func (b *roundsBackend) Slots(context.Context) (int, error) { return 2, nil }
func (b *roundsBackend) Close(context.Context) error        { return nil }

func TestConfirmPhase(t *testing.T) {
	t.Chdir(t.TempDir())
	src := `
study: {name: confirm}
optimization: {preset: high_throughput, n_trials: 6, n_startup_trials: 6, max_concurrent_trials: 2, confirm: {top: 2, runs: 3}}
benchmark: {model: m, rate: 8}
parameters:
  max_num_seqs: {min: 8, max: 64, step: 8}
`
	cfg, o := openStudy(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Interrupted at the 5th confirmation run: what was measured stays,
	// resume runs only the rest.
	b := &roundsBackend{cancelAt: 5, cancel: cancel}
	err := Run(ctx, RunOptions{Config: cfg, Study: o.Study, Backend: b, MaxConsecutiveFailures: 50})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted study: %v", err)
	}
	b2 := &roundsBackend{}
	if err := Run(context.Background(), RunOptions{Config: cfg, Study: o.Study, Backend: b2, MaxConsecutiveFailures: 50}); err != nil {
		t.Fatal(err)
	}
	trials, _ := o.Study.Trials(context.Background())
	best := study.Candidates(trials, o.Study.Directions(), 2)
	base := study.Reference(trials, 8)
	if len(best) != 2 || base == nil {
		t.Fatalf("%d candidates, baseline %v", len(best), base)
	}
	// Each round ran each entrant once; the two studies' runs add up to 9
	// (4 before the interruption, the cancelled one again, 4 more).
	stored := 0
	for _, tr := range append(best, *base) {
		for round := 1; round <= 3; round++ {
			if confirmed(tr, round) {
				stored++
			}
		}
	}
	if stored != 9 {
		t.Errorf("%d confirmation runs stored, want 9", stored)
	}
	total := 0
	for seed, nums := range b2.rounds {
		total += len(nums)
		_ = seed
	}
	if done := 4; total != 9-done {
		t.Errorf("resume ran %d confirmation runs (%v), want %d", total, b2.rounds, 9-done)
	}
	// A third run finds nothing to do.
	b3 := &roundsBackend{}
	if err := Run(context.Background(), RunOptions{Config: cfg, Study: o.Study, Backend: b3}); err != nil || b3.runs != 0 {
		t.Errorf("third run: %v, %d runs", err, b3.runs)
	}
	// Paired by round, the drift cancels: the trial with the most sequences
	// is recommended, whichever the search's single noisy runs favoured, and
	// its change from the baseline is exact.
	rep := report.Build(trials, report.Options{Study: "confirm", Objectives: []report.Objective{{Key: "output_tokens_per_second_mean", Maximize: true}},
		Command: func(p map[string]any) []string { return Command(cfg, p) }})
	c := rep.Confirmation
	most, seqs := 0, int64(0)
	for _, tr := range best {
		if v := tr.External("max_num_seqs").(int64); v > seqs {
			most, seqs = tr.Number, v
		}
	}
	if c == nil || c.Recommended == nil || *c.Recommended != most || c.Trials[0].Number != most || c.Verdict != "better" {
		t.Fatalf("confirmation %+v, want trial %d recommended", c, most)
	}
	if ch := c.Trials[0].VsBaseline[0]; ch == nil || ch.Low == nil || math.Abs(ch.Percent-(float64(seqs)/20-1)*100) > 1e-6 || *ch.High-*ch.Low > 1e-6 {
		t.Errorf("change from the baseline: %+v, want exactly %g %%", ch, (float64(seqs)/20-1)*100)
	}
	var text strings.Builder
	rep.Text(&text)
	if !strings.Contains(text.String(), fmt.Sprintf("Recommended: trial %d: %.1f %% higher output_tokens_per_second_mean than vLLM's defaults (95 %% CI", most, (float64(seqs)/20-1)*100)) {
		t.Errorf("report:\n%s", text.String())
	}
	t.Log("\n" + text.String())
	if got := study.AttrConfirmPrefix; got != "confirm_run_" {
		t.Errorf("attribute prefix %q", got)
	}
}
