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
}

// Entry is one reported trial.
type Entry struct {
	Number int            `json:"number"`
	Values []float64      `json:"values"`
	Params map[string]any `json:"params"`
	// Improvement over the baseline per objective, in percent; positive is
	// better whatever the direction. Nil without a baseline.
	Improvement []float64 `json:"improvement_percent,omitempty"`
	Command     string    `json:"command"`
}

// Model is the report.
type Model struct {
	Study      string      `json:"study"`
	Objectives []Objective `json:"objectives"`
	Baseline   *Entry      `json:"baseline,omitempty"`
	Best       []Entry     `json:"best"`
	Complete   int         `json:"complete"`
	Infeasible int         `json:"infeasible"`
	Failed     int         `json:"failed"`
}

// Build makes the report from the stored trials.
func Build(trials []study.Trial, o Options) *Model {
	m := &Model{Study: o.Study, Objectives: o.Objectives}
	var candidates []study.Trial
	for _, t := range trials {
		baseline := t.Kind() == study.Baseline
		switch {
		case t.State == study.Complete && baseline:
			if m.Baseline == nil {
				m.Baseline = entry(t, o, nil)
			}
		case t.State == study.Complete && t.Feasible():
			m.Complete++
			candidates = append(candidates, t)
		case t.State == study.Complete || t.State == study.Pruned:
			m.Infeasible++
		case t.State == study.Fail:
			m.Failed++
		}
	}
	for _, t := range front(candidates, o.Objectives) {
		m.Best = append(m.Best, *entry(t, o, m.Baseline))
	}
	return m
}

func entry(t study.Trial, o Options, base *Entry) *Entry {
	e := &Entry{Number: t.Number, Values: t.Values, Params: map[string]any{}}
	names := make([]string, 0, len(t.Dists))
	for name := range t.Dists {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e.Params[name] = t.External(name)
	}
	if o.Command != nil {
		e.Command = strings.Join(o.Command(e.Params), " ")
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

// front is the best trial for one objective, else the non-dominated set,
// by the first objective.
func front(ts []study.Trial, objs []Objective) []study.Trial {
	loss := func(t study.Trial, i int) float64 {
		if objs[i].Maximize {
			return -t.Values[i]
		}
		return t.Values[i]
	}
	losses := make([][]float64, len(ts))
	for k, t := range ts {
		losses[k] = make([]float64, len(objs))
		for i := range objs {
			losses[k][i] = loss(t, i)
		}
	}
	var out []study.Trial
	for _, k := range sampler.Front(losses) {
		out = append(out, ts[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return loss(out[i], 0) < loss(out[j], 0) })
	if len(objs) == 1 && len(out) > 1 {
		out = out[:1]
	}
	return out
}

// Text writes the report for people.
func (m *Model) Text(w io.Writer) {
	fmt.Fprintf(w, "Study %s: %d complete, %d infeasible, %d failed trials\n", m.Study, m.Complete, m.Infeasible, m.Failed)
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
		fmt.Fprintf(w, "Baseline (vLLM defaults, trial %d): %s\n", m.Baseline.Number, values(m.Baseline.Values, nil))
	}
	title := "Best trial"
	if len(m.Objectives) > 1 {
		title = fmt.Sprintf("Pareto-optimal trials (%d)", len(m.Best))
	}
	fmt.Fprintf(w, "%s — %s:\n", title, strings.Join(names, ", "))
	for _, e := range m.Best {
		fmt.Fprintf(w, "  trial %d: %s\n", e.Number, values(e.Values, e.Improvement))
		fmt.Fprintf(w, "    %s\n", e.Command)
	}
}

func values(vs, imp []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.4g", v)
		if imp != nil {
			parts[i] += fmt.Sprintf(" (%+.1f%% vs baseline)", imp[i])
		}
	}
	return strings.Join(parts, ", ")
}

// JSON writes the report for scripts.
func (m *Model) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}
