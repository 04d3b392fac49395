package config

import (
	"errors"
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of the Python tool (reference §2), and of our own sections.
const (
	DefaultModel          = "RedHatAI/Qwen3-30B-A3B-FP8-dynamic"
	DefaultNTrials        = 100
	DefaultStartupTrials  = 10
	DefaultRate           = 50
	DefaultStartupTimeout = 300 * time.Second
)

// The median pruner is on by default from this many trials (a short study
// has too few to compare with), with Optuna's MedianPruner default for the
// startup trials and the first second never judged: a closed-loop load's
// first second after the ramp-up is its least steady (on the simulator a
// trial's throughput then was 22 % (RMS), once 60 %, from where it ended).
const (
	DefaultPrunerFrom    = 10
	DefaultPrunerStartup = 5
	DefaultPrunerWarmup  = 1
)

// DefaultConfirm re-measures the best 3 trials and the baseline 3 times
// each: the fewest runs that give a paired confidence interval with some
// power, at 12 server starts.
var DefaultConfirm = Confirm{Top: 3, Runs: 3}

// Samplers we implement. The Python tool's botorch is read as gp.
var Samplers = []string{"tpe", "random", "grid", "nsga2", "gp"}

// BenchmarkTypes are the load generators a trial can use.
var BenchmarkTypes = []string{"builtin", "guidellm", "vllm-bench", "command"}

// Presets map to exactly the Python tool's objectives.
var Presets = map[string][]Objective{
	"high_throughput": {{metric.OutputThroughput, "maximize", "mean"}},
	"low_latency":     {{metric.RequestLatency, "minimize", "p95"}},
	"balanced":        {{metric.OutputThroughput, "maximize", "mean"}, {metric.RequestLatency, "minimize", "median"}},
}

// Load reads and validates a study config. getenv serves ${VAR} expansion
// (os.Getenv in production). The error, if any, is an Errors listing every
// problem found.
func Load(path string, getenv func(string) string) (*Study, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, getenv)
}

// Parse is Load for a config already in memory; name is used in messages.
func Parse(name string, data []byte, getenv func(string) string) (*Study, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	s := &Study{File: name}
	data = expand(data, getenv, &s.Warnings)

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{syntaxError(name, data, err)}
	}
	d := &dec{file: name, bad: map[string]bool{}}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: name, Msg: "the file is empty; a study needs at least `optimization` and `benchmark` sections"}}
	}
	root := resolve(doc.Content[0])
	var raw rawStudy
	d.mapping(root, "", map[string]handler{
		"study":                        func(_, v *yaml.Node, f string) { d.study(v, f, s) },
		"optimization":                 func(k, v *yaml.Node, f string) { raw.optimization = v; raw.optKey = k },
		"benchmark":                    func(k, v *yaml.Node, f string) { raw.benchmark = v; raw.benchKey = k },
		"server":                       func(_, v *yaml.Node, f string) { raw.server = v },
		"parameters":                   func(_, v *yaml.Node, f string) { raw.parameters = v },
		"static_parameters":            func(_, v *yaml.Node, f string) { s.Static = d.values(v, f, false) },
		"static_environment_variables": func(_, v *yaml.Node, f string) { s.StaticEnv = d.values(v, f, true) },
		"baseline":                     func(_, v *yaml.Node, f string) { raw.baseline = v; raw.hasBaseline = true },
		"constraints":                  func(_, v *yaml.Node, f string) { raw.constraints = v },
		"slo":                          func(_, v *yaml.Node, f string) { raw.slo = v },
		"logging":                      func(_, v *yaml.Node, f string) { d.logging(v, f, s) },
	})
	if root.Kind == yaml.MappingNode {
		if raw.optimization == nil {
			d.fail(root, "optimization", "section missing: it names the objectives (or a preset), the sampler and the number of trials")
		}
		if raw.benchmark == nil {
			d.fail(root, "benchmark", "section missing: it names the model and the load to apply")
		}
	}
	d.optimization(raw.optimization, "optimization", s)
	d.benchmark(raw.benchmark, "benchmark", s)
	d.server(raw.server, "server", s)
	d.parameters(raw.parameters, "parameters", s)
	d.baseline(raw.baseline, raw.hasBaseline, "baseline", s)
	d.constraints(raw.constraints, "constraints", s)
	d.slos(raw.slo, "slo", s)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	s.Warnings = append(s.Warnings, d.warns...)
	return s, nil
}

type rawStudy struct {
	optimization, benchmark, server, parameters, baseline, constraints, slo *yaml.Node
	optKey, benchKey                                                        *yaml.Node
	hasBaseline                                                             bool
}

func (d *dec) study(n *yaml.Node, field string, s *Study) {
	var nameNode, urlNode *yaml.Node
	d.mapping(n, field, map[string]handler{
		"name":         func(k, v *yaml.Node, f string) { s.Name, _ = d.str(v, f); nameNode = k },
		"prefix":       func(k, v *yaml.Node, f string) { s.NamePrefix, _ = d.str(v, f) },
		"database_url": func(k, v *yaml.Node, f string) { s.DatabaseURL, _ = d.str(v, f); urlNode = k },
		"storage_file": func(k, v *yaml.Node, f string) { s.StorageFile, _ = d.str(v, f) },
	})
	if s.Name != "" && s.NamePrefix != "" {
		d.fail(nameNode, field, "give either name (an exact name, resumable) or prefix (a new generated name per study), not both")
	}
	if s.DatabaseURL != "" && s.StorageFile != "" {
		d.fail(urlNode, field, "give either database_url (PostgreSQL) or storage_file (SQLite), not both")
	}
	if s.DatabaseURL != "" && !strings.HasPrefix(s.DatabaseURL, "postgresql://") && !strings.HasPrefix(s.DatabaseURL, "postgres://") && !strings.HasPrefix(s.DatabaseURL, "sqlite:///") {
		d.fail(urlNode, join(field, "database_url"), "%q is not supported: use postgresql://user:pass@host/db, sqlite:///path, or storage_file", s.DatabaseURL)
	}
}

func (d *dec) optimization(n *yaml.Node, field string, s *Study) {
	s.Sampler, s.NTrials, s.NStartupTrials, s.MaxConcurrent = "tpe", DefaultNTrials, DefaultStartupTrials, 1
	s.Confirm = DefaultConfirm
	s.Pruner = Pruner{Startup: DefaultPrunerStartup, Warmup: DefaultPrunerWarmup}
	prunerSet := false
	var approach string
	var approachNode, presetNode, objectiveNode, objectivesNode, concNode *yaml.Node
	var objectives []Objective
	// objBad: an objective was reported already; checks that need the
	// objectives would only repeat that error in other words.
	legacy, objBad := false, false
	d.mapping(n, field, map[string]handler{
		"preset": func(k, v *yaml.Node, f string) {
			presetNode = k
			s.Preset, _ = d.oneOf(v, f, "high_throughput", "low_latency", "balanced")
		},
		"approach": func(k, v *yaml.Node, f string) {
			approachNode = k
			approach, _ = d.oneOf(v, f, "single_objective", "multi_objective")
		},
		"objective": func(k, v *yaml.Node, f string) {
			objectiveNode = k
			before := len(d.errs)
			objectives, legacy = d.legacyObjective(v, f)
			objBad = objBad || len(d.errs) > before
		},
		"objectives": func(k, v *yaml.Node, f string) {
			objectivesNode = k
			before := len(d.errs)
			defer func() { objBad = objBad || len(d.errs) > before }()
			if v.Kind != yaml.SequenceNode {
				d.fail(v, f, "must be a list of {metric, direction, percentile}, got %s", describe(v))
				return
			}
			for i, c := range v.Content {
				if o, ok := d.objective(resolve(c), fmt.Sprintf("%s[%d]", f, i)); ok {
					objectives = append(objectives, o)
				}
			}
		},
		"sampler": func(_, v *yaml.Node, f string) {
			if str, ok := d.str(v, f); ok && strings.EqualFold(str, "botorch") {
				s.Sampler = "gp"
				d.warn(v, f, "botorch is read as gp (Gaussian-process Bayesian optimisation after Optuna's GPSampler)")
				return
			}
			s.Sampler, _ = d.oneOf(v, f, Samplers...)
		},
		"seed": func(_, v *yaml.Node, f string) {
			if i, ok := d.integer(v, f, 0); ok {
				seed := int64(i)
				s.Seed = &seed
			}
		},
		"n_trials":         func(_, v *yaml.Node, f string) { s.NTrials, _ = d.integer(v, f, 1) },
		"n_startup_trials": func(_, v *yaml.Node, f string) { s.NStartupTrials, _ = d.integer(v, f, 0) },
		"max_concurrent": func(k, v *yaml.Node, f string) {
			if concNode != nil {
				d.fail(k, f, "max_concurrent and max_concurrent_trials mean the same; give one")
			}
			concNode = k
			s.MaxConcurrent, _ = d.integer(v, f, 1)
		},
		"confirm": func(_, v *yaml.Node, f string) { d.confirm(v, f, s) },
		"pruner":  func(_, v *yaml.Node, f string) { prunerSet = true; d.pruner(v, f, s) },
		"max_concurrent_trials": func(k, v *yaml.Node, f string) {
			if concNode != nil {
				d.fail(k, f, "max_concurrent and max_concurrent_trials mean the same; give one")
			}
			concNode = k
			s.MaxConcurrent, _ = d.integer(v, f, 1)
		},
	})
	switch {
	case s.Preset != "":
		// The Python tool let a preset silently override explicit objectives.
		if objectivesNode != nil || objectiveNode != nil || approachNode != nil {
			at := objectivesNode
			if at == nil {
				at = objectiveNode
			}
			if at == nil {
				at = approachNode
			}
			d.fail(at, field, "preset %q already sets the objectives; remove the preset or the objective settings", s.Preset)
		}
		s.Objectives = Presets[s.Preset]
	case objBad:
		return
	case len(objectives) > 0:
		// Unlike the Python tool, objectives are honoured without `approach`.
		s.Objectives = objectives
		if approach == "single_objective" && len(objectives) != 1 && !legacy {
			d.fail(approachNode, join(field, "approach"), "single_objective needs exactly one objective, got %d", len(objectives))
		}
		if approach == "multi_objective" && len(objectives) < 2 {
			d.fail(approachNode, join(field, "approach"), "multi_objective needs at least two objectives, got %d", len(objectives))
		}
	case approach != "":
		d.fail(approachNode, field, "approach %s needs objectives: add `objectives:` with metric, direction and percentile", approach)
	default:
		s.Objectives = []Objective{{metric.OutputThroughput, "maximize", "mean"}}
	}
	_ = presetNode
	if !prunerSet {
		s.Pruner.Median = s.NTrials >= DefaultPrunerFrom
	}
	if s.Sampler == "nsga2" && len(s.Objectives) == 1 {
		d.fail(n, join(field, "sampler"), "nsga2 is a multi-objective sampler; use tpe for a single objective")
	}
	if (s.Sampler == "tpe" || s.Sampler == "gp") && s.NStartupTrials >= s.NTrials && n != nil {
		// Not an error: the whole study is then random search, which is legal.
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: n_startup_trials (%d) ≥ n_trials (%d): every trial will be sampled at random", field, s.NStartupTrials, s.NTrials))
	}
}

// confirm reads optimization.confirm: false (off), true (the defaults), or
// {top, runs}.
func (d *dec) confirm(v *yaml.Node, f string, s *Study) {
	if v.Kind == yaml.ScalarNode {
		if on, ok := d.boolean(v, f); ok && !on {
			s.Confirm = Confirm{}
		}
		return
	}
	d.mapping(v, f, map[string]handler{
		"top": func(_, v *yaml.Node, f string) { s.Confirm.Top, _ = d.integer(v, f, 1) },
		"runs": func(_, v *yaml.Node, f string) {
			if n, ok := d.integer(v, f, 0); ok {
				if n < 2 {
					d.fail(v, f, "must be at least 2: a confidence interval needs two paired runs (to turn confirmation off, write confirm: false)")
				}
				s.Confirm.Runs = n
			}
		},
	})
}

// pruner reads optimization.pruner: median | none, or {type: median,
// n_startup_trials, n_warmup_steps}.
func (d *dec) pruner(v *yaml.Node, f string, s *Study) {
	s.Pruner.Explicit = true
	if v.Kind == yaml.ScalarNode {
		kind, ok := d.oneOf(v, f, "median", "none")
		s.Pruner.Median = ok && kind == "median"
		return
	}
	s.Pruner.Median = true
	d.mapping(v, f, map[string]handler{
		"type": func(_, v *yaml.Node, f string) {
			kind, ok := d.oneOf(v, f, "median", "none")
			s.Pruner.Median = ok && kind == "median"
		},
		"n_startup_trials": func(_, v *yaml.Node, f string) { s.Pruner.Startup, _ = d.integer(v, f, 1) },
		"n_warmup_steps":   func(_, v *yaml.Node, f string) { s.Pruner.Warmup, _ = d.integer(v, f, 0) },
	})
}

func (d *dec) benchmark(n *yaml.Node, field string, s *Study) {
	b := &s.Benchmark
	*b = Benchmark{Type: "builtin", Model: DefaultModel, MaxSeconds: 300, PromptTokens: 1000, OutputTokens: 1000, Samples: 1000, Rate: DefaultRate, LoggingLevel: "INFO", Repeats: 1}
	var chatNode *yaml.Node
	optInt := func(dst **int) handler {
		return func(_, v *yaml.Node, f string) {
			if i, ok := d.integer(v, f, 0); ok {
				*dst = &i
			}
		}
	}
	d.mapping(n, field, map[string]handler{
		"benchmark_type": func(_, v *yaml.Node, f string) { b.Type, _ = d.oneOf(v, f, BenchmarkTypes...) },
		"model": func(_, v *yaml.Node, f string) {
			var ok bool
			if b.Model, ok = d.str(v, f); !ok {
				b.Model = DefaultModel // reported; keep "must not be empty" from repeating it
			}
		},
		"max_seconds":   func(_, v *yaml.Node, f string) { b.MaxSeconds, _ = d.integer(v, f, 1) },
		"dataset":       func(_, v *yaml.Node, f string) { b.Dataset, _ = d.str(v, f) },
		"prompt_tokens": func(_, v *yaml.Node, f string) { b.PromptTokens, _ = d.integer(v, f, 1) },
		"output_tokens": func(_, v *yaml.Node, f string) { b.OutputTokens, _ = d.integer(v, f, 1) },
		"samples":       func(_, v *yaml.Node, f string) { b.Samples, _ = d.integer(v, f, 1) },
		"rate":          func(_, v *yaml.Node, f string) { b.Rate, _ = d.integer(v, f, 1) },
		// An unused legacy field of the Python tool, accepted for compatibility.
		"concurrency": func(_, v *yaml.Node, f string) { d.integer(v, f, 1) },
		"processor":   func(_, v *yaml.Node, f string) { b.Processor, _ = d.str(v, f) },
		"logging_level": func(_, v *yaml.Node, f string) {
			b.LoggingLevel, _ = d.oneOf(v, f, "TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
		},
		"prompt_tokens_stdev": optInt(&b.PromptStdev),
		"prompt_tokens_min":   optInt(&b.PromptMin),
		"prompt_tokens_max":   optInt(&b.PromptMax),
		"output_tokens_stdev": optInt(&b.OutputStdev),
		"output_tokens_min":   optInt(&b.OutputMin),
		"output_tokens_max":   optInt(&b.OutputMax),
		"command":             func(_, v *yaml.Node, f string) { b.Command, _ = d.strList(v, f) },
		"executable":          func(_, v *yaml.Node, f string) { b.Executable, _ = d.str(v, f) },
		"request_rate": func(_, v *yaml.Node, f string) {
			if x, ok := d.number(v, f); ok {
				if x <= 0 {
					d.fail(v, f, "must be > 0 (requests per second)")
				}
				b.RequestRate = x
			}
		},
		"max_requests": func(_, v *yaml.Node, f string) { b.MaxRequests, _ = d.integer(v, f, 1) },
		"repeats":      func(_, v *yaml.Node, f string) { b.Repeats, _ = d.integer(v, f, 1) },
		"endpoint": func(_, v *yaml.Node, f string) {
			e, _ := d.oneOf(v, f, "completions", "chat")
			b.Chat = e == "chat"
			chatNode = v
		},
		"warmup_seconds": func(_, v *yaml.Node, f string) {
			if x, ok := d.number(v, f); ok {
				b.Warmup = time.Duration(x * float64(time.Second))
			}
		},
	})
	if b.Model == "" {
		d.fail(n, join(field, "model"), "must not be empty")
	}
	if b.Chat && b.Type != "builtin" {
		d.fail(chatNode, join(field, "endpoint"), "chat is supported by the built-in load generator only")
	}
	if b.Type == "command" && len(b.Command) == 0 {
		d.fail(n, join(field, "command"), "benchmark_type command needs `command:` (the program that prints the metrics as JSON)")
	}
	if b.PromptMin != nil && b.PromptMax != nil && *b.PromptMin > *b.PromptMax {
		d.fail(n, join(field, "prompt_tokens_min"), "is greater than prompt_tokens_max")
	}
	if b.OutputMin != nil && b.OutputMax != nil && *b.OutputMin > *b.OutputMax {
		d.fail(n, join(field, "output_tokens_min"), "is greater than output_tokens_max")
	}
}

func (d *dec) server(n *yaml.Node, field string, s *Study) {
	if n != nil && n.Kind == yaml.ScalarNode && n.Value == "none" {
		if s.Benchmark.Type != "command" && s.Benchmark.Type != "" { // "": a bad benchmark_type, reported
			d.fail(n, field, "server: none needs benchmark_type: command (the command is then the whole trial)")
		}
		return
	}
	sv := &Server{Command: []string{"vllm", "serve", "{model}"}, Host: "127.0.0.1", HostArg: true, ReadinessPath: "/health", StartupTimeout: DefaultStartupTimeout}
	s.Server = sv
	d.mapping(n, field, map[string]handler{
		"command": func(_, v *yaml.Node, f string) {
			if cmd, ok := d.strList(v, f); ok {
				if len(cmd) == 0 {
					d.fail(v, f, "must not be empty")
					return
				}
				sv.Command = cmd
			}
		},
		"host":           func(_, v *yaml.Node, f string) { sv.Host, _ = d.str(v, f) },
		"host_arg":       func(_, v *yaml.Node, f string) { sv.HostArg, _ = d.boolean(v, f) },
		"readiness_path": func(_, v *yaml.Node, f string) { sv.ReadinessPath, _ = d.str(v, f) },
		"startup_timeout": func(_, v *yaml.Node, f string) {
			if x, ok := d.number(v, f); ok && x > 0 {
				sv.StartupTimeout = time.Duration(x * float64(time.Second))
			} else if ok {
				d.fail(v, f, "must be a positive number of seconds")
			}
		},
		"extra_args": func(_, v *yaml.Node, f string) { sv.ExtraArgs, _ = d.strList(v, f) },
	})
	if !strings.HasPrefix(sv.ReadinessPath, "/") {
		d.fail(n, join(field, "readiness_path"), "must start with /, got %q", sv.ReadinessPath)
	}
	// The Python tool's magic variable still sets the start-up timeout.
	for _, e := range s.StaticEnv {
		if e.Name == "VLLM_STARTUP_TIMEOUT" {
			var secs float64
			if _, err := fmt.Sscan(e.Value.(string), &secs); err == nil && secs > 0 {
				sv.StartupTimeout = time.Duration(secs * float64(time.Second))
			}
		}
	}
}

func (d *dec) logging(n *yaml.Node, field string, s *Study) {
	s.Logging.LogLevel = "INFO"
	d.mapping(n, field, map[string]handler{
		"file_path": func(_, v *yaml.Node, f string) { s.Logging.FilePath, _ = d.str(v, f) },
		"database_url": func(k, v *yaml.Node, f string) {
			s.Logging.DatabaseURL, _ = d.str(v, f)
			d.warn(k, f, "ignored: trial logs are files under logging.file_path (or --log-dir); read them with `auto-tune-vllm logs`")
		},
		"log_level": func(_, v *yaml.Node, f string) {
			s.Logging.LogLevel, _ = d.oneOf(v, f, "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
		},
		// Present in a Python example, ignored there too.
		"nfs_path": func(_, v *yaml.Node, f string) {},
	})
}

func (d *dec) baseline(n *yaml.Node, present bool, field string, s *Study) {
	b := &Baseline{ConcurrencyLevels: []int{s.Benchmark.Rate}}
	enabled := true
	d.mapping(n, field, map[string]handler{
		"enabled": func(_, v *yaml.Node, f string) { enabled, _ = d.boolean(v, f) },
		"concurrency_levels": func(_, v *yaml.Node, f string) {
			if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				d.fail(v, f, "must be a non-empty list of positive whole numbers")
				return
			}
			b.ConcurrencyLevels = nil
			for i, c := range v.Content {
				if x, ok := d.integer(resolve(c), fmt.Sprintf("%s[%d]", f, i), 1); ok {
					b.ConcurrencyLevels = append(b.ConcurrencyLevels, x)
				}
			}
		},
		"parameters": func(_, v *yaml.Node, f string) { b.Parameters = d.values(v, f, false) },
		// In the Python tool's examples; the baseline always runs first here.
		"run_first": func(_, v *yaml.Node, f string) { d.boolean(v, f) },
	})
	_ = present
	if enabled {
		s.Baseline = b
	}
}

// IsErrors reports whether err lists config problems (as opposed to, say, a
// missing file).
func IsErrors(err error) bool {
	var es Errors
	return errors.As(err, &es)
}
