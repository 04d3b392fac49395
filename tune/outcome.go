package tune

import (
	"math"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// verdict is what a trial's outcome means for the study loop.
type verdict int

const (
	succeeded verdict = iota // measured; feasible or not, it resets the failure count
	failed                   // counts towards MaxConsecutiveFailures
	stopped                  // pruned while benchmarking: neither
)

// outcome is what the study is told of a trial that ran, and its verdict.
// constraints are the configuration's own (from paramConstraints), to which
// the SLOs' are appended. Pure: the study loop does the telling and logging.
func outcome(cfg *config.Study, res *trial.Result, constraints []float64) (study.Result, verdict) {
	attrs := map[string]any{
		study.AttrStartupSeconds: round2(res.Startup.Seconds()),
		study.AttrBenchSeconds:   round2(res.Bench.Seconds()),
		study.AttrTotalSeconds:   round2(res.Total.Seconds()),
		study.AttrCommand:        strings.Join(res.Command, " "),
		study.AttrLogDir:         res.LogDir,
	}
	out := study.Result{UserAttrs: attrs, Start: res.Start, End: res.End}
	constraints = append([]float64(nil), constraints...)
	if f := res.Failure; f != nil {
		attrs[study.AttrErrorType] = f.Class
		attrs[study.AttrErrorMessage] = f.Message
		attrs[study.AttrTrialStatus] = "vllm_crash"
		if f.Class == trial.BenchmarkFailed {
			attrs[study.AttrTrialStatus] = "benchmark_crash"
		}
		out.State = study.Fail
		if trial.Infeasible(f.Class) {
			// Told as infeasible, so the sampler learns the region: every
			// SLO missed, at the places completed trials tell them (a study
			// without SLOs gets one value, which completed trials meet by
			// not telling it).
			out.State = study.Pruned
			for range max(len(cfg.SLOs), 1) {
				constraints = append(constraints, 1)
			}
			out.Constraints = constraints
		}
		return out, failed
	}
	for k, v := range res.Metrics {
		attrs[study.MetricAttrPrefix+k] = v
	}
	if len(res.Runs) > 1 {
		attrs[study.AttrRepeats] = runValues(cfg, res.Runs)
	}
	if res.Stopped {
		// Stopped while benchmarking: Optuna's PRUNED, its last intermediate
		// value kept with the trial.
		attrs[study.AttrTrialStatus] = study.StatusPruned
		out.State = study.Pruned
		return out, stopped
	}
	var missing []string
	for _, obj := range cfg.Objectives {
		v, ok := res.Metrics[obj.Key()]
		if !ok || math.IsNaN(v) {
			missing = append(missing, obj.Key())
			continue
		}
		out.Values = append(out.Values, v)
	}
	if len(missing) > 0 {
		attrs[study.AttrErrorType] = trial.BenchmarkFailed
		attrs[study.AttrErrorMessage] = "the benchmark reported no " + strings.Join(missing, ", ")
		attrs[study.AttrTrialStatus] = "benchmark_crash"
		out.State, out.Values = study.Fail, nil
		return out, failed
	}
	constraints = append(constraints, sloConstraints(cfg.SLOs, res.Metrics)...)
	attrs[study.AttrTrialStatus] = "success"
	out.State = study.Complete
	if len(constraints) > 0 {
		out.Constraints = constraints
	}
	return out, succeeded
}

// runValues is what each repeated run measured of the objectives and SLOs:
// the spread a reader of the study needs, without every statistic of every run.
func runValues(cfg *config.Study, runs []map[string]float64) []map[string]float64 {
	out := make([]map[string]float64, len(runs))
	for i, r := range runs {
		out[i] = measured(cfg, r)
	}
	return out
}

// measured is what a run measured of the objectives and SLOs, the values
// JSON can hold (what is stored of a repeat or a confirmation run).
func measured(cfg *config.Study, metrics map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, k := range cfg.MeasuredKeys() {
		if v, ok := metrics[k]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// sloConstraints are Optuna-style constraint values (> 0: violated, by how
// much) of the SLOs on the measured metrics. A metric the benchmark did not
// report violates its SLO.
func sloConstraints(slos []config.SLO, metrics map[string]float64) []float64 {
	var out []float64
	for _, slo := range slos {
		v, ok := metrics[slo.Key()]
		if !ok || math.IsNaN(v) {
			out = append(out, 1)
			continue
		}
		c := -1.0
		if slo.Max != nil {
			c = math.Max(c, v-*slo.Max)
		}
		if slo.Min != nil {
			c = math.Max(c, *slo.Min-v)
		}
		out = append(out, c)
	}
	return out
}

// paramConstraints evaluates the config's constraints on a configuration's
// flags (> 0: violated; an expression that cannot be evaluated counts as
// violated).
func paramConstraints(cfg *config.Study, flags []trial.Flag) []float64 {
	if len(cfg.Constraints) == 0 {
		return nil
	}
	vars := map[string]float64{}
	for _, f := range flags {
		if v, ok := trial.Number(f.Value); ok {
			vars[f.Name] = v
		}
	}
	out := make([]float64, 0, len(cfg.Constraints))
	for _, c := range cfg.Constraints {
		v, err := c.Eval(vars)
		if err != nil || math.IsNaN(v) {
			v = 1
		}
		out = append(out, v)
	}
	return out
}

// violated reports whether any constraint value is > 0.
func violated(constraints []float64) bool {
	for _, c := range constraints {
		if c > 0 {
			return true
		}
	}
	return false
}

// interruptedResult is what the study is told of a trial whose backend
// returned an error: interrupted when the study was cancelled (cause is
// why), an internal error otherwise.
func interruptedResult(err, cause error) study.Result {
	class, reason := "internal", err.Error()
	if cause != nil {
		class, reason = trial.Interrupted, "interrupted: "+cause.Error()
	}
	return study.Result{State: study.Fail, UserAttrs: map[string]any{study.AttrErrorType: class, study.AttrErrorMessage: reason}}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
