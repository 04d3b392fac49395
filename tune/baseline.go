package tune

import (
	"context"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// baseline runs vLLM's defaults once per configured concurrency level; a
// level already measured (on resume) is not run again.
func (r *runner) baseline(ctx context.Context) error {
	cfg := r.o.Config
	if cfg.Baseline == nil {
		return nil
	}
	trials, err := r.o.Study.Trials(ctx)
	if err != nil {
		return err
	}
	done := map[int]bool{}
	for _, t := range trials {
		if t.Kind() == study.Baseline && t.State == study.Complete {
			done[t.BaselineConcurrency()] = true
		}
	}
	flags, env := baselineFlags(cfg)
	var todo []int
	for _, c := range cfg.Baseline.ConcurrencyLevels {
		if !done[c] {
			todo = append(todo, c)
		}
	}
	if len(todo) > 0 {
		n := len(cfg.Baseline.ConcurrencyLevels)
		r.phase(PhaseBaseline, n, n-len(todo))
	}
	for _, c := range todo {
		a, err := r.o.Study.AskBaseline(ctx, c)
		if err != nil {
			return err
		}
		r.log.Info("Running baseline (vLLM defaults)", "trial", a.Number, "concurrency", c)
		if err := r.runOne(ctx, a, flags, env, c); err != nil {
			return err
		}
	}
	return nil
}
