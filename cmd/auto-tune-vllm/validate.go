package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

type validateCmd struct {
	Config string `help:"Study config (YAML)." required:"" placeholder:"FILE" short:"c"`
	JSON   bool   `help:"Print the resolved study as JSON." name:"json"`
}

func (c *validateCmd) Help() string { return exitCodesHelp }

func (c *validateCmd) Run(ctx context.Context, g *globals) error {
	s, err := config.Load(c.Config, g.io.Getenv)
	if err != nil {
		if config.IsErrors(err) {
			fmt.Fprintf(g.io.Stderr, "%s is not valid:\n%v\n", c.Config, err)
			return &exitError{code: exitFailure}
		}
		return &exitError{code: exitFailure, err: err}
	}
	for _, w := range s.Warnings {
		g.log.Warn(w)
	}
	if c.JSON {
		return printJSON(g.io, resolvedJSON(s))
	}
	printStudy(g.io.Stdout, s)
	return nil
}

func storageOf(s *config.Study) string {
	where, _ := tune.Where(s)
	if s.DatabaseURL != "" {
		return study.Redact(where)
	}
	return "sqlite " + where
}

func studyName(s *config.Study) string {
	switch {
	case s.Name != "":
		return s.Name
	case s.NamePrefix != "":
		return s.NamePrefix + "_<n> (generated once, then kept for resume)"
	}
	return "study_<n> (generated once, then kept for resume)"
}

func printStudy(out interface{ Write([]byte) (int, error) }, s *config.Study) {
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	fmt.Fprintf(out, "Configuration is valid: %s\n\n", s.File)
	row("Study", studyName(s))
	row("Storage", storageOf(s))
	var objs []string
	for _, o := range s.Objectives {
		objs = append(objs, o.String())
	}
	kind := "single-objective"
	if s.MultiObjective() {
		kind = "multi-objective"
	}
	if s.Preset != "" {
		kind += ", preset " + s.Preset
	}
	row("Objectives", strings.Join(objs, "; ")+"  ["+kind+"]")
	sampler := s.Sampler
	if s.Sampler == "tpe" {
		sampler += fmt.Sprintf(" (%d random startup trials)", s.NStartupTrials)
	}
	if s.Seed != nil {
		sampler += fmt.Sprintf(", seed %d", *s.Seed)
	}
	row("Sampler", sampler)
	row("Trials", fmt.Sprintf("%d, up to %d at a time", s.NTrials, s.MaxConcurrent))
	row("Pruning", pruningText(s))
	confirm := "off"
	if c := s.Confirm; c.On() {
		confirm = fmt.Sprintf("after the search, the best %d trials and the baseline started again, %d runs each", c.Top, c.Runs)
	}
	row("Confirmation", confirm)
	if s.Server != nil {
		row("Server", fmt.Sprintf("%s on %s, ready at %s within %s", strings.Join(s.Server.Command, " "), s.Server.Host, s.Server.ReadinessPath, s.Server.StartupTimeout))
	} else {
		row("Server", "none (the benchmark command is the whole trial)")
	}
	b := s.Benchmark
	repeats := ""
	if b.Repeats > 1 {
		repeats = fmt.Sprintf(", %d runs per trial", b.Repeats)
	}
	row("Benchmark", fmt.Sprintf("%s, model %s, rate %d, %ds, %d→%d tokens%s", b.Type, b.Model, b.Rate, b.MaxSeconds, b.PromptTokens, b.OutputTokens, repeats))
	if s.Baseline != nil {
		row("Baseline", fmt.Sprintf("trial 0 at concurrency %v", s.Baseline.ConcurrencyLevels))
	} else {
		row("Baseline", "disabled")
	}
	size := s.Space().Size()
	sizeText := "continuous"
	if !math.IsInf(size, 1) {
		sizeText = fmt.Sprintf("%.0f configurations", size)
	}
	row("Space", fmt.Sprintf("%d parameters, %s", len(s.Parameters), sizeText))
	tw.Flush()
	tw = tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	for _, p := range s.Parameters {
		where := p.Flag
		if p.Env {
			where = "env " + p.Name
		}
		n := "∞"
		if sz := p.Dist.Size(); !math.IsInf(sz, 1) {
			n = fmt.Sprintf("%.0f", sz)
		}
		from := "from " + p.Source
		if p.Default != "" {
			// The table's defaults are one release's; the server a study
			// starts may be another, whose defaults differ.
			from += "; vLLM " + config.VLLMVersion + "'s default: " + p.Default
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s values\t%s\t%s\n", p.Name, p.Dist, n, where, from)
	}
	tw.Flush()
	for _, v := range s.Static {
		fmt.Fprintf(out, "Static      %s = %v\n", v.Name, v.Value)
	}
	for _, v := range s.StaticEnv {
		fmt.Fprintf(out, "Static env  %s=%v\n", v.Name, v.Value)
	}
	for _, c := range s.Constraints {
		fmt.Fprintf(out, "Constraint  %s  (> 0 = infeasible)\n", c.Source)
	}
	for _, l := range s.SLOs {
		fmt.Fprintf(out, "SLO         %s  (else infeasible)\n", l)
	}
}

func resolvedJSON(s *config.Study) any {
	type param struct {
		Name         string  `json:"name"`
		Flag         string  `json:"flag,omitempty"`
		Env          bool    `json:"env,omitempty"`
		Distribution any     `json:"distribution"`
		Size         float64 `json:"size,omitempty"`
		Source       string  `json:"source"`
		VLLMDefault  string  `json:"vllm_default,omitempty"`
	}
	var params []param
	for _, p := range s.Parameters {
		pp := param{Name: p.Name, Flag: p.Flag, Env: p.Env, Distribution: rawJSON(p.Dist.JSON()), Source: p.Source, VLLMDefault: p.Default}
		if sz := p.Dist.Size(); !math.IsInf(sz, 1) {
			pp.Size = sz
		}
		params = append(params, pp)
	}
	var constraints []string
	for _, c := range s.Constraints {
		constraints = append(constraints, c.Source)
	}
	static := map[string]any{}
	for _, v := range s.Static {
		static[v.Name] = v.Value
	}
	staticEnv := map[string]any{}
	for _, v := range s.StaticEnv {
		staticEnv[v.Name] = v.Value
	}
	return map[string]any{
		"file": s.File, "study": studyName(s), "storage": storageOf(s), "objectives": s.Objectives,
		"sampler": s.Sampler, "seed": s.Seed, "n_trials": s.NTrials, "n_startup_trials": s.NStartupTrials,
		"max_concurrent_trials": s.MaxConcurrent, "benchmark": s.Benchmark, "server": s.Server,
		"parameters": params, "static_parameters": static, "static_environment_variables": staticEnv,
		"baseline": s.Baseline, "constraints": constraints, "slo": s.SLOs, "warnings": s.Warnings,
	}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func pruningText(s *config.Study) string {
	switch p := s.Pruner; {
	case !p.Median:
		return "off"
	case s.MultiObjective():
		return "off (pruning needs a single objective)"
	default:
		return fmt.Sprintf("median: a trial worse than the median of at least %d completed trials at the same second of measurement, after %d s, is stopped", p.Startup, p.Warmup)
	}
}
