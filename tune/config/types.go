// Package config loads a study config: the Python auto-tune-vllm's YAML
// (every section and key, with its defaults) plus our own `server` and `slo`
// sections. Loading is strict: an unknown key, a wrong type or a bad value is
// an error naming the file, line, column and field, with what is allowed.
// Nothing outside this package sees the raw YAML.
package config

import (
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// Study is a resolved, validated study config.
type Study struct {
	File string

	// Name is the exact study name, or "" when NamePrefix asks for a
	// generated name (<prefix>_<n>, persisted by the study store).
	Name       string
	NamePrefix string
	// DatabaseURL (PostgreSQL) or StorageFile (SQLite); both empty means the
	// default ./optuna_studies/<study>/study.db.
	DatabaseURL string
	StorageFile string

	Objectives     []Objective
	Preset         string
	Sampler        string
	Seed           *int64
	NTrials        int
	NStartupTrials int
	MaxConcurrent  int
	// Confirm re-measures the best trials and the baseline after the search
	// (optimization.confirm); zero Top: off.
	Confirm Confirm
	// Pruner stops losing trials' benchmarks early (optimization.pruner).
	Pruner Pruner

	Benchmark Benchmark
	Server    *Server // nil: `server: none`, the benchmark command is the whole trial

	Parameters  []Parameter
	Static      []Value // static_parameters, in file order
	StaticEnv   []Value // static_environment_variables, stringified
	Baseline    *Baseline
	Constraints []*Expr
	SLOs        []SLO
	Logging     Logging

	// Warnings are non-fatal findings (e.g. an unset ${VAR}).
	Warnings []string
}

// MultiObjective reports whether the study has more than one objective.
func (s *Study) MultiObjective() bool { return len(s.Objectives) > 1 }

// MeasuredKeys are the metrics the study judges trials by: the objectives',
// then the SLOs', each once.
func (s *Study) MeasuredKeys() []string {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, o := range s.Objectives {
		add(o.Key())
	}
	for _, slo := range s.SLOs {
		add(slo.Key())
	}
	return out
}

// Space is the search space of the sampled parameters.
func (s *Study) Space() space.Space {
	out := make(space.Space, len(s.Parameters))
	for i, p := range s.Parameters {
		out[i] = space.Param{Name: p.Name, Dist: p.Dist}
	}
	return out
}

// Objective is one optimisation target.
type Objective struct {
	Metric     string `json:"metric"`
	Direction  string `json:"direction"` // maximize | minimize
	Percentile string `json:"percentile"`
}

// Key is the metric key the Python tool stores: the bare metric for the
// median, else <metric>_<percentile>.
func (o Objective) Key() string { return metric.Key(o.Metric, o.Percentile) }

func (o Objective) String() string {
	return fmt.Sprintf("%s %s (%s)", o.Direction, o.Metric, o.Percentile)
}

// Benchmark configures the load test of a trial.
type Benchmark struct {
	Type         string   `json:"benchmark_type"` // builtin | guidellm | vllm-bench | command
	Model        string   `json:"model"`
	MaxSeconds   int      `json:"max_seconds"`
	Dataset      string   `json:"dataset,omitempty"`
	PromptTokens int      `json:"prompt_tokens"`
	OutputTokens int      `json:"output_tokens"`
	Samples      int      `json:"samples"`
	PromptStdev  *int     `json:"prompt_tokens_stdev,omitempty"`
	PromptMin    *int     `json:"prompt_tokens_min,omitempty"`
	PromptMax    *int     `json:"prompt_tokens_max,omitempty"`
	OutputStdev  *int     `json:"output_tokens_stdev,omitempty"`
	OutputMin    *int     `json:"output_tokens_min,omitempty"`
	OutputMax    *int     `json:"output_tokens_max,omitempty"`
	Rate         int      `json:"rate"`
	Processor    string   `json:"processor,omitempty"`
	LoggingLevel string   `json:"logging_level"`
	Command      []string `json:"command,omitempty"` // benchmark_type: command
	// Executable is GuideLLM's or vLLM's program (default guidellm / vllm
	// from PATH) for benchmark_type guidellm / vllm-bench.
	Executable string `json:"executable,omitempty"`
	// RequestRate > 0 sends requests as a Poisson process at that many per
	// second; Rate then caps the requests in flight.
	RequestRate float64       `json:"request_rate,omitempty"`
	MaxRequests int           `json:"max_requests,omitempty"` // stop after this many (0: max_seconds only)
	Chat        bool          `json:"chat,omitempty"`         // endpoint: chat (built-in only)
	Warmup      time.Duration `json:"warmup,omitempty"`
	// Repeats runs the benchmark of one trial this many times against the
	// same server; the trial's metrics are the runs' means.
	Repeats int `json:"repeats"`
}

// Confirm is the confirmation phase: the Top best trials (at most Top of the
// Pareto set for several objectives) and the baseline, each started again
// and measured Runs times, interleaved.
type Confirm struct {
	Top  int `json:"top"`
	Runs int `json:"runs"`
}

// Pruner is the median pruner's settings (Optuna's MedianPruner): a trial's
// benchmark is stopped at a step (a second of measurement) once its value,
// allowing for how far values at that step moved by the end, is worse than
// the median of the completed trials at that step. Off when Median is false.
type Pruner struct {
	Median bool `json:"median"`
	// Startup: completed trials needed at a step before any is pruned.
	Startup int `json:"n_startup_trials"`
	// Warmup: steps (seconds) of a trial's measurement never pruned.
	Warmup int `json:"n_warmup_steps"`
	// Explicit: the config asked for it (else the default for long studies).
	Explicit bool `json:"-"`
}

// On reports whether the study confirms its best trials.
func (c Confirm) On() bool { return c.Top > 0 && c.Runs > 0 }

// Server configures the inference server each trial starts.
type Server struct {
	// Command is the argv template; {model} is replaced by benchmark.model.
	Command []string `json:"command"`
	Host    string   `json:"host"`
	// HostArg passes --host to the server (default); some servers lack it.
	HostArg        bool          `json:"host_arg"`
	ReadinessPath  string        `json:"readiness_path"`
	StartupTimeout time.Duration `json:"startup_timeout"`
	ExtraArgs      []string      `json:"extra_args,omitempty"`
}

// Parameter is a sampled vLLM flag or environment variable.
type Parameter struct {
	Name string
	// Flag is the vLLM flag (--max-num-seqs); empty for environment parameters.
	Flag string
	Env  bool
	Bool bool // exactly [true, false]: rendered as --x / --no-x
	Dist space.Distribution
	Line int
	// Source says where the range came from: "file:line", or the built-in
	// flag table (with its vLLM version) for `enabled: true` alone.
	Source string
	// Default is vLLM's own default for the flag, when the built-in table
	// knows it; a baseline keeps it because it never passes the flag.
	Default string
}

// Value is a named static value, kept in file order.
type Value struct {
	Name  string
	Value any // string, int64, float64, bool
}

// Baseline is the default-configuration reference run (trial 0).
type Baseline struct {
	ConcurrencyLevels []int
	Parameters        []Value
}

// SLO is a limit a trial must meet to be feasible.
type SLO struct {
	Metric     string   `json:"metric"`
	Percentile string   `json:"percentile"`
	Max        *float64 `json:"max,omitempty"`
	Min        *float64 `json:"min,omitempty"`
}

// Key is the stored metric the SLO limits.
func (s SLO) Key() string { return metric.Key(s.Metric, s.Percentile) }

func (s SLO) String() string {
	var parts []string
	if s.Max != nil {
		parts = append(parts, fmt.Sprintf("≤ %g", *s.Max))
	}
	if s.Min != nil {
		parts = append(parts, fmt.Sprintf("≥ %g", *s.Min))
	}
	return fmt.Sprintf("%s %s %s", s.Percentile, s.Metric, strings.Join(parts, " and "))
}

// Logging is the Python tool's logging section.
type Logging struct {
	FilePath    string `json:"file_path,omitempty"`
	DatabaseURL string `json:"database_url,omitempty"`
	LogLevel    string `json:"log_level"`
}
