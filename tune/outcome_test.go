package tune

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

func TestOutcome(t *testing.T) {
	ttft := metric.Key(metric.TTFT, metric.P95)
	tput := metric.OutputThroughput
	one := 1.0
	maxTTFT := 500.0
	cfg := &config.Study{
		Objectives: []config.Objective{{Metric: metric.OutputThroughput, Direction: "maximize", Percentile: metric.Median}},
		SLOs:       []config.SLO{{Metric: metric.TTFT, Percentile: metric.P95, Max: &maxTTFT}},
	}
	start := time.Unix(1700000000, 0)
	base := trial.Result{Command: []string{"vllm", "serve", "m"}, Startup: 1234 * time.Millisecond, Bench: 5 * time.Second,
		Total: 6234 * time.Millisecond, Start: start, End: start.Add(6234 * time.Millisecond), LogDir: "logs/s/trial_3"}
	with := func(f func(*trial.Result)) *trial.Result {
		r := base
		f(&r)
		return &r
	}
	tests := []struct {
		name        string
		res         *trial.Result
		pre         []float64 // the configuration's own constraints
		state       study.State
		verdict     verdict
		values      []float64
		constraints []float64
		attrs       map[string]any // checked keys only
	}{
		{"measured, SLO met", with(func(r *trial.Result) { r.Metrics = map[string]float64{tput: 900, ttft: 400} }), nil,
			study.Complete, succeeded, []float64{900}, []float64{-1}, // met: -1, as the Python tool
			map[string]any{study.AttrTrialStatus: "success", study.MetricAttrPrefix + tput: 900.0, study.AttrStartupSeconds: 1.23, study.AttrCommand: "vllm serve m"}},
		{"repeated: each run's objective and SLO kept", with(func(r *trial.Result) {
			r.Metrics = map[string]float64{tput: 900, ttft: 400}
			r.Runs = []map[string]float64{{tput: 850, ttft: 380, "requests": 9}, {tput: 950, ttft: 420, "requests": 10}}
		}), nil, study.Complete, succeeded, []float64{900}, []float64{-1},
			map[string]any{study.AttrRepeats: []map[string]float64{{tput: 850, ttft: 380}, {tput: 950, ttft: 420}}}},
		{"measured, SLO violated", with(func(r *trial.Result) { r.Metrics = map[string]float64{tput: 900, ttft: 650} }), []float64{-2},
			study.Complete, succeeded, []float64{900}, []float64{-2, 150}, map[string]any{study.AttrTrialStatus: "success"}},
		{"SLO metric not reported: violated", with(func(r *trial.Result) { r.Metrics = map[string]float64{tput: 900} }), nil,
			study.Complete, succeeded, []float64{900}, []float64{1}, nil},
		{"objective missing", with(func(r *trial.Result) { r.Metrics = map[string]float64{ttft: 1} }), nil,
			study.Fail, failed, nil, nil,
			map[string]any{study.AttrErrorType: trial.BenchmarkFailed, study.AttrErrorMessage: "the benchmark reported no " + tput, study.AttrTrialStatus: "benchmark_crash"}},
		{"objective NaN", with(func(r *trial.Result) { r.Metrics = map[string]float64{tput: math.NaN(), ttft: 1} }), nil,
			study.Fail, failed, nil, nil, map[string]any{study.AttrErrorType: trial.BenchmarkFailed}},
		{"server crash", with(func(r *trial.Result) { r.Failure = &trial.Failure{Class: trial.Crash, Message: "boom"} }), nil,
			study.Fail, failed, nil, nil,
			map[string]any{study.AttrErrorType: trial.Crash, study.AttrErrorMessage: "boom", study.AttrTrialStatus: "vllm_crash"}},
		{"benchmark failed", with(func(r *trial.Result) { r.Failure = &trial.Failure{Class: trial.BenchmarkFailed, Message: "x"} }), nil,
			study.Fail, failed, nil, nil, map[string]any{study.AttrTrialStatus: "benchmark_crash"}},
		{"out of memory: infeasible", with(func(r *trial.Result) { r.Failure = &trial.Failure{Class: trial.OOM, Message: "oom"} }), []float64{-one},
			study.Pruned, failed, nil, []float64{-1, 1}, map[string]any{study.AttrErrorType: trial.OOM}},
		{"stopped by the observer", with(func(r *trial.Result) { r.Metrics = map[string]float64{tput: 100}; r.Stopped = true }), nil,
			study.Pruned, stopped, nil, nil, map[string]any{study.AttrTrialStatus: "pruned", study.MetricAttrPrefix + tput: 100.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pre := append([]float64(nil), tt.pre...)
			got, v := outcome(cfg, tt.res, tt.pre)
			if got.State != tt.state || v != tt.verdict {
				t.Errorf("state %v verdict %v, want %v %v", got.State, v, tt.state, tt.verdict)
			}
			if !reflect.DeepEqual(got.Values, tt.values) || !reflect.DeepEqual(got.Constraints, tt.constraints) {
				t.Errorf("values %v constraints %v, want %v %v", got.Values, got.Constraints, tt.values, tt.constraints)
			}
			for k, want := range tt.attrs {
				if !reflect.DeepEqual(got.UserAttrs[k], want) {
					t.Errorf("attr %s = %v, want %v", k, got.UserAttrs[k], want)
				}
			}
			if !got.Start.Equal(start) || got.End.Sub(got.Start) != 6234*time.Millisecond {
				t.Errorf("times %v..%v", got.Start, got.End)
			}
			if !reflect.DeepEqual(tt.pre, pre) {
				t.Errorf("the caller's constraints were changed: %v", tt.pre)
			}
		})
	}
}

// An infeasible configuration's constraints sit where a completed trial's
// do: its own, then every SLO missed; without SLOs, one value.
func TestInfeasibleConstraints(t *testing.T) {
	t.Parallel()
	limit := 1.0
	slo := func(m string) config.SLO { return config.SLO{Metric: m, Percentile: metric.P95, Max: &limit} }
	oom := &trial.Result{Failure: &trial.Failure{Class: trial.OOM, Message: "oom"}}
	for _, tt := range []struct {
		name string
		slos []config.SLO
		pre  []float64
		want []float64
	}{
		{"no SLOs", nil, nil, []float64{1}},
		{"no SLOs, a config constraint", nil, []float64{-3}, []float64{-3, 1}},
		{"one SLO", []config.SLO{slo(metric.TTFT)}, nil, []float64{1}},
		{"two SLOs and a config constraint", []config.SLO{slo(metric.TTFT), slo(metric.ITL)}, []float64{-3}, []float64{-3, 1, 1}},
	} {
		cfg := &config.Study{Objectives: []config.Objective{{Metric: metric.OutputThroughput, Direction: "maximize"}}, SLOs: tt.slos}
		got, _ := outcome(cfg, oom, tt.pre)
		if got.State != study.Pruned || !reflect.DeepEqual(got.Constraints, tt.want) {
			t.Errorf("%s: %v %v, want PRUNED %v", tt.name, got.State, got.Constraints, tt.want)
		}
	}
}

func TestParamConstraints(t *testing.T) {
	parse := func(s string) *config.Expr {
		c, err := config.ParseExpr(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfg := &config.Study{Constraints: []*config.Expr{parse("max_num_seqs - max_num_batched_tokens"), parse("nope * 2")}}
	got := paramConstraints(cfg, []trial.Flag{{Name: "max_num_seqs", Value: int64(512)}, {Name: "max_num_batched_tokens", Value: 256.0}, {Name: "kv_cache_dtype", Value: "fp8"}})
	if want := []float64{256, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v (an expression that cannot be evaluated is violated)", got, want)
	}
	if got := paramConstraints(&config.Study{}, nil); got != nil {
		t.Errorf("no constraints: got %v", got)
	}
}

func TestInterruptedResult(t *testing.T) {
	err := errors.New("dial: refused")
	for _, tt := range []struct {
		cause       error
		class, text string
	}{
		{nil, "internal", "dial: refused"},
		{errors.New("signal: interrupt"), trial.Interrupted, "interrupted: signal: interrupt"},
	} {
		got := interruptedResult(err, tt.cause)
		if got.State != study.Fail || got.UserAttrs[study.AttrErrorType] != tt.class || got.UserAttrs[study.AttrErrorMessage] != tt.text {
			t.Errorf("cause %v: %+v", tt.cause, got)
		}
	}
}
