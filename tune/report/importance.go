package report

import (
	"fmt"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/importance"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// Importances is PED-ANOVA's parameter importance for the given objective
// (an index into the study's directions), over the COMPLETE trials, as
// optuna.importance.get_param_importances gives it for the same study (for
// several objectives, with target=lambda t: ±t.values[objective]). Every
// complete trial counts, the baseline too, as it does for Optuna; callers
// that want the search trials alone pass only those.
func Importances(trials []study.Trial, objective int, dir study.Direction, o importance.Options) ([]importance.Param, error) {
	in := make([]importance.Trial, 0, len(trials))
	for _, t := range trials {
		if t.State != study.Complete {
			continue
		}
		if objective < 0 || objective >= len(t.Values) {
			return nil, fmt.Errorf("importance: trial %d has %d values, no objective %d", t.Number, len(t.Values), objective)
		}
		in = append(in, importance.Trial{Number: t.Number, Params: t.Params, Dists: t.Dists, Value: t.Values[objective]})
	}
	out, err := importance.Evaluate(in, importance.Direction(dir == study.Maximize), o)
	if err != nil {
		return nil, fmt.Errorf("importance of objective %d: %w", objective, err)
	}
	return out, nil
}

// ImportanceOf is the parameters' importance for each objective of the
// model, over its complete, feasible search trials (the baseline samples nothing), for
// the HTML report; nil below two such trials. An objective PED-ANOVA cannot
// evaluate is left out rather than failing the report.
func (m *Model) ImportanceOf(trials []study.Trial) []ParamImportance {
	var search []study.Trial
	for _, t := range trials {
		// Infeasible trials are left out: the page explains what reaches
		// the best configurations the study could recommend.
		if t.Kind() == study.Search && t.State == study.Complete && t.Feasible() && len(t.Values) == len(m.Objectives) {
			search = append(search, t)
		}
	}
	if len(search) < 2 {
		return nil
	}
	var out []ParamImportance
	for i, obj := range m.Objectives {
		dir := study.Minimize
		if obj.Maximize {
			dir = study.Maximize
		}
		ps, err := Importances(search, i, dir, importance.Options{})
		if err != nil {
			continue
		}
		for _, p := range ps {
			pi := ParamImportance{Name: p.Name, Value: p.Importance}
			if len(m.Objectives) > 1 {
				pi.Objective = obj.Key
			}
			out = append(out, pi)
		}
	}
	return out
}
