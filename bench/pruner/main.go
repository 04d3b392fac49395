// Command pruner measures what the median pruner saves (figures, not
// assertions; run with `make bench-pruner`): the same single-objective study
// on the built-in simulator, with and without the pruner, over several
// seeds, run by the real binary; for each, the benchmark seconds spent and
// the best throughput found, and what the same decisions would save on
// longer benchmarks.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/bench/simstudy"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// The quickstart's workload and space, one objective (output tok/s).
const studyYAML = `
study: {name: prune}
optimization: {preset: high_throughput, n_trials: TRIALS, n_startup_trials: 5, seed: SEED, max_concurrent_trials: 2, confirm: false, pruner: PRUNER}
` + simstudy.Body

func main() {
	bin := flag.String("bin", "bin/auto-tune-vllm", "the auto-tune-vllm binary")
	seeds := flag.Int("seeds", 10, "studies per setting, seeds first..first+N-1")
	first := flag.Int("first", 1, "the first seed (to add seeds to an earlier run)")
	trials := flag.Int("trials", 20, "n_trials of each study (the issue's studies are 20 to 50)")
	seconds := flag.Int("seconds", 30, "max_seconds of each trial's benchmark (the Python tool's default is 300; below about 20 s the warm-up every trial spends before it can be judged is most of what a pruned trial costs)")
	keep := flag.String("keep", "", "keep each study's directory under this one (default: removed), and reuse a study kept there by an earlier run with the same settings instead of running it again (to reprint the tables; remove the directory to rerun)")
	long := flag.Int("project", 300, "also work out the share saved had the benchmarks been this long (the Python tool's default max_seconds), from the same decisions: a pruned trial costs what it did, the others the full length")
	baseline := flag.Bool("baseline", true, "run vLLM's defaults first in each study, as a default study does (the pruner counts it among the completed trials); -baseline=false for search trials only")
	together := flag.Bool("together", true, "run a seed's study with and without the pruner at the same time (half the wall time; four trials share the machine)")
	flag.Parse()
	exe, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	before := ", no baseline"
	if *baseline {
		before = ", the baseline first"
	}
	fmt.Printf("## Median pruner: %d seeds, %d trials, %d s benchmarks%s (simulated Llama-3.1-8B on one H100, 128 streams)\n\n", *seeds, *trials, *seconds, before)
	fmt.Println("| seed | benchmark s (none) | benchmark s (median) | saved | missed | ceiling | best tok/s (none) | best tok/s (median) | pruned | at second (median) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	var saved, missedShare, ceilingShare, projected, bestNone, bestMedian []float64
	for seed := *first; seed < *first+*seeds; seed++ {
		var n, m outcome
		if *together {
			done := make(chan struct{})
			go func() { n = run(exe, *keep, seed, *trials, *seconds, *baseline, "none"); close(done) }()
			m = run(exe, *keep, seed, *trials, *seconds, *baseline, "median")
			<-done
		} else {
			n = run(exe, *keep, seed, *trials, *seconds, *baseline, "none")
			m = run(exe, *keep, seed, *trials, *seconds, *baseline, "median")
		}
		s := 100 * (1 - m.seconds/n.seconds)
		saved, bestNone, bestMedian = append(saved, s), append(bestNone, n.best), append(bestMedian, m.best)
		ms := 100 * m.missed / n.seconds
		missedShare = append(missedShare, ms)
		cs := 100 * n.ceiling / n.seconds
		ceilingShare = append(ceilingShare, cs)
		projected = append(projected, 100*(1-m.at(*long, *seconds)/n.at(*long, *seconds)))
		fmt.Printf("| %d | %.0f | %.0f | %.1f %% | %.1f %% | %.1f %% | %.0f | %.0f | %d | %s |\n", seed, n.seconds, m.seconds, s, ms, cs, n.best, m.best, len(m.prunedAt), medianStep(m.prunedAt))
	}
	fmt.Printf("\nMedian saved: %.1f %% of benchmark time; median best: %.0f tok/s without, %.0f with the pruner (%+.1f %%).\n",
		stats.Median(saved), stats.Median(bestNone), stats.Median(bestMedian), 100*(stats.Median(bestMedian)/stats.Median(bestNone)-1))
	// How sure: the share saved varies several-fold from seed to seed (a
	// sampler path with more trials below the median prunes more), so say
	// what another set of seeds could show.
	if mean, half := stats.CI95(saved); len(saved) > 1 {
		fmt.Printf("Mean saved: %.1f %% (95 %% interval %.1f–%.1f %% over the %d seeds).\n", mean, mean-half, mean+half, len(saved))
	}
	fmt.Printf("Missed: %.1f %% (median) of benchmark time, what the median rule would also have cut knowing each trial's end: trials that ended below the median of the %d or more trials completed when they were first judged (second %d), past that second, and pruned trials past it.\n",
		stats.Median(missedShare), startup, judgedAt)
	fmt.Printf("Ceiling: %.1f %% (median), what any pruner that waits as this one does (%d completed trials, judging from second %d) could save on the study run without it: every trial it could judge stopped at its first judged second.\n",
		stats.Median(ceilingShare), startup, judgedAt)
	fmt.Printf("Projected on %d s benchmarks (the same trials and pruning decisions, every trial that ran to its end %d s long): %.1f %% saved (median).\n",
		*long, *long, stats.Median(projected))
}

type outcome struct {
	seconds, best float64
	missed        float64   // benchmark seconds the median rule would also have cut with foresight (see missed)
	ceiling       float64   // benchmark seconds any pruner waiting as ours does could cut (see ceiling)
	prunedAt      []float64 // the last step of each pruned trial
	cut           float64   // benchmark seconds of the trials stopped before their end
}

// at is the benchmark time the study would have taken with benchmarks of
// long seconds instead of the seconds it ran, the same trials stopped at
// the same points.
func (o outcome) at(long, seconds int) float64 {
	return o.cut + (o.seconds-o.cut)*float64(long)/float64(seconds)
}

func medianStep(steps []float64) string {
	if len(steps) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", stats.Median(steps))
}

// run runs one study in a fresh directory and reads what it stored; with
// keep, a study finished there before with the same config is read instead.
func run(exe, keep string, seed, trials, seconds int, baseline bool, pruner string) outcome {
	cfg := strings.NewReplacer("TRIALS", fmt.Sprint(trials), "SEED", fmt.Sprint(seed), "PRUNER", pruner, "SECONDS", fmt.Sprint(seconds), "BASELINE", fmt.Sprint(baseline)).Replace(studyYAML)
	var dir string
	if keep == "" {
		d, err := os.MkdirTemp("", "bench-pruner-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		dir = d
	} else {
		dir = filepath.Join(keep, fmt.Sprintf("%s-%d-trials-%d-s-baseline-%t-seed-%d", pruner, trials, seconds, baseline, seed))
	}
	// The marker is written once the study finished; its content is the
	// config, so a study run with other settings is not mistaken for it.
	done := filepath.Join(dir, "finished-config.yaml")
	if old, err := os.ReadFile(done); err != nil || string(old) != cfg {
		if err := os.RemoveAll(dir); err != nil {
			fail(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "study.yaml"), []byte(cfg), 0o644); err != nil {
			fail(err)
		}
		cmd := exec.Command(exe, "optimize", "--config", "study.yaml")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			fail(fmt.Errorf("seed %d, pruner %s: %v\n%s", seed, pruner, err, out))
		}
		if err := os.WriteFile(done, []byte(cfg), 0o644); err != nil {
			fail(err)
		}
	}
	ctx := context.Background()
	ts, err := tune.StudyTrials(ctx, filepath.Join(dir, "optuna_studies", "prune", "study.db"), "prune")
	if err != nil {
		fail(err)
	}
	var o outcome
	for _, t := range ts {
		if s, ok := t.UserAttrs[study.AttrBenchSeconds].(float64); ok {
			o.seconds += s
			if t.State != study.Complete {
				o.cut += s
			}
		}
		if stopped(t) {
			o.prunedAt = append(o.prunedAt, float64(lastStep(t)))
		}
		if t.State == study.Complete && len(t.Values) == 1 && t.Values[0] > o.best {
			o.best = t.Values[0]
		}
	}
	cut := cuttable(ranTrials(ts))
	o.missed, o.ceiling = missed(cut), ceiling(cut)
	return o
}

// stopped says whether the pruner stopped t (a configuration that could
// not run is stored PRUNED too).
func stopped(t study.Trial) bool {
	return t.State == study.Pruned && t.UserAttrs[study.AttrTrialStatus] == study.StatusPruned
}

func lastStep(t study.Trial) int {
	last := 0
	for step := range t.Intermediate {
		last = max(last, step)
	}
	return last
}

// The pruner's settings in studyYAML: the defaults. A trial is first
// judged at the step after the warm-up.
const (
	startup  = config.DefaultPrunerStartup
	judgedAt = config.DefaultPrunerWarmup + 1
)

// ran is a trial that ran its benchmark, with its last step and the time it
// was first judged.
type ran struct {
	t      study.Trial
	last   float64
	judged time.Time
}

// ranTrials lists the trials that ran (not a duplicate, not failed).
func ranTrials(ts []study.Trial) []ran {
	var out []ran
	for _, t := range ts {
		if _, ok := t.UserAttrs[study.AttrBenchSeconds].(float64); !ok || len(t.Intermediate) == 0 {
			continue
		}
		// A step a second: the first judged one came (last − judgedAt)
		// seconds before the benchmark's end.
		last := lastStep(t)
		out = append(out, ran{t, float64(last), t.Complete.Add(-time.Duration(last-judgedAt) * time.Second)})
	}
	return out
}

// doneBefore lists the values of the trials of runs, other than r, that
// had completed when r was first judged.
func doneBefore(runs []ran, r ran) []float64 {
	var done []float64
	for _, q := range runs {
		if q.t.Number != r.t.Number && q.t.State == study.Complete && len(q.t.Values) == 1 && q.t.Complete.Before(r.judged) {
			done = append(done, q.t.Values[0])
		}
	}
	return done
}

// judgeable is a trial a pruner could have stopped, with the values of the
// trials completed when it was first judged.
type judgeable struct {
	ran
	done []float64
}

// cuttable lists the trials of runs a pruner could have stopped: search
// trials that ran past their first judged second with at least startup
// trials completed by then.
func cuttable(runs []ran) []judgeable {
	var out []judgeable
	for _, r := range runs {
		if r.t.Kind() != study.Search || r.last <= judgedAt {
			continue
		}
		if done := doneBefore(runs, r); len(done) >= startup {
			out = append(out, judgeable{r, done})
		}
	}
	return out
}

// missed is what the median rule, with foresight, would also have cut on a
// study run with the pruner (cut: its cuttable trials): the benchmark seconds past the first judged
// second (judgedAt) of the trials that ended below the median of the
// trials completed by then (at least startup of them) and of the trials
// pruned later than that. Measured on the same run, as the studies with and
// without the pruner soon sample apart (their trials' noise alone moves
// the sampler); saved plus missed is the most the rule could save on it.
// A pruned trial is taken to have been right: its end is not known.
func missed(cut []judgeable) float64 {
	out := 0.0
	for _, r := range cut {
		pruned := stopped(r.t)
		below := r.t.State == study.Complete && len(r.t.Values) == 1 && r.t.Values[0] < stats.Median(r.done)
		if pruned || below {
			out += r.last - judgedAt
		}
	}
	return out
}

// ceiling is the most any pruner that waits as ours does (startup trials
// completed, the warm-up steps run) could save on a study run without one
// (cut: its cuttable trials):
// every trial it could judge stopped at its first judged second. A study
// run with a pruner samples and schedules otherwise, so this bounds it only
// roughly; what it shows is how little short benchmarks leave to save,
// whatever the rule.
func ceiling(cut []judgeable) float64 {
	out := 0.0
	for _, r := range cut {
		out += r.last - judgedAt
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
