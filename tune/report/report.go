// Package report summarises a study: the best trial (or the Pareto set of
// the feasible trials for several objectives), its improvement over the
// baseline, and the command to run it; as text or JSON.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// Objective names one objective of the study.
type Objective struct {
	Key      string `json:"metric"`
	Maximize bool   `json:"maximize"`
}

// Options describe the study being reported.
type Options struct {
	Study      string
	Objectives []Objective
	// Command renders a trial's parameters as the server command to run.
	Command func(params map[string]any) []string
	// BaselineCommand is the command of vLLM's defaults, what to run when
	// no trial beats them.
	BaselineCommand []string
	// Defaults are vLLM's defaults of the parameters, where known (the
	// baseline's parameters): a trial's command leaves out a flag at its
	// default.
	Defaults map[string]any
	// Concurrency is the load the search trials ran at: of several baselines
	// (one per concurrency level), the one measured at it is the reference.
	Concurrency int
	// SLOs are the limits a trial must meet; a confirmed trial whose mean
	// over its confirmation runs misses one is not recommended.
	SLOs []Limit
}

// Limit is an SLO: a stored metric's bounds.
type Limit struct {
	Key      string
	Max, Min *float64
	Name     string // as people read it: "p95 time_to_first_token_ms ≤ 1000"
}

// miss says how v misses the limit ("" when it meets it).
func (l Limit) miss(v float64, measured bool) string {
	switch {
	case !measured:
		return fmt.Sprintf("%s: not measured", l.Name)
	case l.Max != nil && v > *l.Max, l.Min != nil && v < *l.Min:
		return fmt.Sprintf("%s: %s on average", l.Name, number(v))
	}
	return ""
}

// Entry is one reported trial.
type Entry struct {
	Number int            `json:"number"`
	Values numbers        `json:"values"`
	Params map[string]any `json:"params"`
	// Changed: the parameters whose values differ from vLLM's defaults (or
	// whose defaults are not known); the command carries only these.
	Changed []string `json:"changed_flags"`
	// Improvement over the baseline per objective, in percent; positive is
	// better whatever the direction. Nil without a baseline.
	Improvement numbers `json:"improvement_percent,omitempty"`
	Command     string  `json:"command"`
}

// numbers encode a value JSON cannot hold (NaN, ±Inf: a trial may store
// them) as null, so one odd value does not lose the whole report.
type numbers []float64

func (ns numbers) MarshalJSON() ([]byte, error) {
	if ns == nil {
		return []byte("null"), nil
	}
	out := make([]any, len(ns))
	for i, v := range ns {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[i] = v
		}
	}
	return json.Marshal(out)
}

// Model is the report.
type Model struct {
	Study      string      `json:"study"`
	Objectives []Objective `json:"objectives"`
	Baseline   *Entry      `json:"baseline,omitempty"`
	Best       []Entry     `json:"best"`
	// Confirmation: the best trials and the baseline measured again; nil
	// when the study did not confirm.
	Confirmation    *Confirmation `json:"confirmation,omitempty"`
	BaselineCommand string        `json:"baseline_command,omitempty"`
	// BaselineWins: no trial beat vLLM's defaults in any objective.
	BaselineWins bool `json:"baseline_wins"`
	Complete     int  `json:"complete"`
	Infeasible   int  `json:"infeasible"`
	Pruned       int  `json:"pruned"` // stopped early by the pruner, feasible as far as measured
	Failed       int  `json:"failed"`
}

// Build makes the report from the stored trials.
func Build(trials []study.Trial, o Options) *Model {
	m := &Model{Study: o.Study, Objectives: o.Objectives, BaselineCommand: strings.Join(o.BaselineCommand, " ")}
	var candidates []study.Trial
	for _, t := range trials {
		baseline := t.Kind() == study.Baseline
		switch {
		case baseline && t.State == study.Complete:
			// The reference (study.Reference, below), not a candidate.
		case t.State == study.Complete && t.Feasible() && finite(t.Values):
			m.Complete++
			candidates = append(candidates, t)
		case t.State == study.Complete || t.State == study.Pruned && !t.Feasible():
			m.Infeasible++
		case t.State == study.Pruned:
			m.Pruned++
		case t.State == study.Fail:
			m.Failed++
		}
	}
	base := study.Reference(trials, o.Concurrency)
	if base != nil {
		m.Baseline = entry(*base, o, nil)
	}
	for _, t := range front(candidates, o.Objectives) {
		m.Best = append(m.Best, *entry(t, o, m.Baseline))
	}
	m.BaselineWins = m.Baseline != nil && len(m.Best) > 0
	for _, e := range m.Best {
		if e.Improvement == nil {
			m.BaselineWins = false
		}
		for _, imp := range e.Improvement {
			if imp > 0 {
				m.BaselineWins = false
			}
		}
	}
	m.Confirmation = confirmation(trials, base, o)
	return m
}

// finite: values a trial can be ranked by (a missing value reads as NaN).
func finite(vs []float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) {
			return false
		}
	}
	return len(vs) > 0
}

func entry(t study.Trial, o Options, base *Entry) *Entry {
	e := &Entry{Number: t.Number, Values: t.Values, Params: map[string]any{}}
	names := make([]string, 0, len(t.Dists))
	for name := range t.Dists {
		names = append(names, name)
	}
	sort.Strings(names)
	changed := map[string]any{}
	for _, name := range names {
		v := t.External(name)
		e.Params[name] = v
		if d, ok := o.Defaults[name]; !ok || fmt.Sprint(d) != fmt.Sprint(v) {
			changed[name] = v
			e.Changed = append(e.Changed, name)
		}
	}
	if o.Command != nil {
		e.Command = strings.Join(o.Command(changed), " ")
	}
	if base != nil {
		for i, v := range t.Values {
			b := base.Values[i]
			if b == 0 || math.IsInf(b, 0) || math.IsInf(v, 0) {
				e.Improvement = nil // no meaningful percentage
				break
			}
			imp := (v - b) / math.Abs(b) * 100
			if !o.Objectives[i].Maximize {
				imp = -imp
			}
			e.Improvement = append(e.Improvement, imp)
		}
	}
	return e
}

// loss is value i made smaller-is-better.
func loss(values []float64, objs []Objective, i int) float64 {
	if objs[i].Maximize {
		return -values[i]
	}
	return values[i]
}

// front is the best trial for one objective, else the non-dominated set,
// by the first objective.
func front(ts []study.Trial, objs []Objective) []study.Trial {
	losses := make([][]float64, len(ts))
	for k, t := range ts {
		losses[k] = make([]float64, len(objs))
		for i := range objs {
			losses[k][i] = loss(t.Values, objs, i)
		}
	}
	var out []study.Trial
	for _, k := range sampler.Front(losses) {
		out = append(out, ts[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return loss(out[i].Values, objs, 0) < loss(out[j].Values, objs, 0) })
	if len(objs) == 1 && len(out) > 1 {
		out = out[:1]
	}
	return out
}

// Text writes the report for people.
func (m *Model) Text(w io.Writer) {
	pruned := ""
	if m.Pruned > 0 {
		pruned = fmt.Sprintf(", %d pruned", m.Pruned)
	}
	fmt.Fprintf(w, "Study %s: %d complete, %d infeasible%s, %d failed trials\n", m.Study, m.Complete, m.Infeasible, pruned, m.Failed)
	if len(m.Best) == 0 {
		fmt.Fprintln(w, "No feasible trial completed.")
		return
	}
	names := make([]string, len(m.Objectives))
	for i, o := range m.Objectives {
		dir := "min"
		if o.Maximize {
			dir = "max"
		}
		names[i] = fmt.Sprintf("%s (%s)", o.Key, dir)
	}
	if m.Baseline != nil {
		fmt.Fprintf(w, "Baseline (vLLM defaults, trial %d): %s\n", m.Baseline.Number, values(m.Baseline.Values, nil, nil))
	}
	title := "Best trial"
	if len(m.Objectives) > 1 {
		title = fmt.Sprintf("Pareto-optimal trials (%d)", len(m.Best))
	}
	if m.Confirmation != nil {
		title += " of the search (one run each)"
	}
	fmt.Fprintf(w, "%s — %s:\n", title, strings.Join(names, ", "))
	for _, e := range m.Best {
		fmt.Fprintf(w, "  trial %d: %s\n", e.Number, values(e.Values, e.Improvement, m.Objectives))
		fmt.Fprintf(w, "    %s\n", e.Command)
	}
	if m.BaselineWins && m.Confirmation == nil {
		fmt.Fprintf(w, "No trial beat vLLM's defaults (trial %d) in any objective: keep the defaults.\n", m.Baseline.Number)
		if m.BaselineCommand != "" {
			fmt.Fprintf(w, "    %s\n", m.BaselineCommand)
		}
	}
	if m.Confirmation != nil {
		m.Confirmation.text(w, m)
	}
}

// values shows a trial's values, each beside its change from the baseline's
// (if imp, the improvements, is set), worded by the direction of the value
// itself: "1.5 (25.0 % lower than the baseline)" reads the same whether lower
// is better or worse.
func values(vs, imp []float64, objs []Objective) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = number(v)
		if imp == nil {
			continue
		}
		change := imp[i] // an improvement is the change, negated where lower is better
		if !objs[i].Maximize {
			change = -change
		}
		switch {
		case math.Abs(change) < 0.05:
			parts[i] += " (same as the baseline)"
		case change > 0:
			parts[i] += fmt.Sprintf(" (%.1f %% higher than the baseline)", change)
		default:
			parts[i] += fmt.Sprintf(" (%.1f %% lower than the baseline)", -change)
		}
	}
	return strings.Join(parts, ", ")
}

// number shows 4 significant digits, without an exponent for the thousands
// of tokens per second a throughput is.
func number(v float64) string {
	if math.Abs(v) >= 1000 && !math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// JSON writes the report for scripts.
func (m *Model) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}
