package report

import "fmt"

// Answer is one configuration to run: a trial, or vLLM's defaults.
type Answer struct {
	Trial    int            `json:"trial"`
	Defaults bool           `json:"defaults,omitempty"` // no trial beat vLLM's defaults: run them
	Params   map[string]any `json:"params"`
	Changed  []string       `json:"changed_flags"`
	Command  string         `json:"command"`
}

// Answers is what to run, and why: the confirmed recommendation when the
// study confirmed its best trials, else the search's best (or Pareto set);
// vLLM's defaults when nothing beat them. No answer when no feasible trial
// completed (why says so).
func (m *Model) Answers() ([]Answer, string) {
	defaults := func(why string) ([]Answer, string) {
		if m.BaselineCommand == "" {
			return nil, why + ", and the study has no baseline command"
		}
		return []Answer{{Trial: m.Baseline.Number, Defaults: true, Params: map[string]any{}, Command: m.BaselineCommand}}, why
	}
	confirmed := func(t Confirmed) Answer {
		return Answer{Trial: t.Number, Params: t.Params, Changed: t.Changed, Command: t.Command}
	}
	if c := m.Confirmation; c != nil {
		switch {
		case c.Recommended != nil:
			return []Answer{confirmed(*c.Trial(*c.Recommended))}, fmt.Sprintf("trial %d, recommended by the confirmation runs", *c.Recommended)
		case c.Verdict == "slo_missed" && m.Baseline != nil:
			return defaults("every confirmed trial missed an SLO over its confirmation runs")
		case c.Verdict == "slo_missed":
			// The search's best is one of them: never offered.
			return nil, "every confirmed trial missed an SLO over its confirmation runs, and the study has no baseline: relax the SLO, or search further"
		case c.Verdict == "worse" && m.Baseline != nil:
			return defaults("vLLM's defaults beat the confirmed trials")
		case c.Verdict == "indistinguishable" && m.Baseline != nil:
			return defaults("no confirmed trial is distinguishable from vLLM's defaults")
		case c.Verdict == "better":
			var out []Answer
			for _, t := range c.Trials {
				if t.Wins(m.Objectives) {
					out = append(out, confirmed(t))
				}
			}
			return out, "confirmed better than vLLM's defaults in an objective and worse in none"
		case len(c.Trials) > 0:
			var out []Answer
			for _, t := range c.Trials {
				out = append(out, confirmed(t))
			}
			return out, "the confirmed trials, best first (no baseline to compare with)"
		}
	}
	if m.BaselineWins && m.Baseline != nil {
		return defaults("no trial beat vLLM's defaults")
	}
	if len(m.Best) == 0 {
		return nil, "no feasible trial completed"
	}
	var out []Answer
	for _, e := range m.Best {
		out = append(out, Answer{Trial: e.Number, Params: e.Params, Changed: e.Changed, Command: e.Command})
	}
	why := fmt.Sprintf("trial %d, the best of the search (not confirmed: one run each)", out[0].Trial)
	if len(out) > 1 {
		why = "the Pareto-optimal trials of the search (not confirmed: one run each)"
	}
	return out, why
}
