package tune

import (
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// ReportObjectives are the config's objectives as the report names them.
func ReportObjectives(cfg *config.Study) []report.Objective {
	objs := make([]report.Objective, len(cfg.Objectives))
	for i, o := range cfg.Objectives {
		objs[i] = report.Objective{Key: o.Key(), Maximize: o.Direction == "maximize"}
	}
	return objs
}

// ReportOptions describe a study of this config to the report. self is
// this program, put in for {self} in the commands printed.
func ReportOptions(cfg *config.Study, name, self string) report.Options {
	o := report.Options{Study: name, Objectives: ReportObjectives(cfg), Concurrency: cfg.Benchmark.Rate, Defaults: map[string]any{}}
	o.Command = func(params map[string]any) []string {
		argv := Command(cfg, params)
		trial.Self(argv, self)
		return argv
	}
	if cfg.Baseline != nil {
		flags, _ := baselineFlags(cfg)
		o.BaselineCommand = trial.Argv(commandTemplate(cfg), cfg.Benchmark.Model, flags, "", 0)
		trial.Self(o.BaselineCommand, self)
		// The baseline's parameters are vLLM's defaults as the config
		// states them.
		for _, v := range cfg.Baseline.Parameters {
			o.Defaults[v.Name] = v.Value
		}
	}
	return o
}
