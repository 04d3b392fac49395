package study

import "math"

// Summary is a study at a glance, as `studies` lists it.
type Summary struct {
	Name       string      `json:"name"`
	Directions []Direction `json:"directions"`
	// Metrics names the objectives, when the study recorded their names.
	Metrics  []string `json:"metrics,omitempty"`
	Trials   int      `json:"trials"`
	Complete int      `json:"complete"`
	Pruned   int      `json:"pruned"`
	Failed   int      `json:"failed"`
	Running  int      `json:"running"` // RUNNING or WAITING
	// Best is the best feasible completed value per objective: for one
	// objective the best trial's, for several each objective's own best
	// (no single trial need hold them all; ParetoSize says how many trials
	// trade them off).
	Best       []float64 `json:"best,omitempty"`
	BestTrial  *int      `json:"best_trial,omitempty"` // one objective only
	ParetoSize int       `json:"pareto_size,omitempty"`
	// State is empty (no trials), running (a trial not finished: a run in
	// progress, or one that crashed and is failed by the next resume) or
	// finished.
	State string `json:"state"`
}

// Summarize counts a study's trials by state and finds its best values.
// Baseline and search trials count alike: both are trials of the study.
func Summarize(info *Info, trials []Trial) Summary {
	s := Summary{Name: info.Name, Directions: info.Directions, Trials: len(trials), State: "finished"}
	if names, ok := info.SystemAttrs[metricNamesKey].([]any); ok && len(names) == len(info.Directions) {
		for _, n := range names {
			name, _ := n.(string)
			s.Metrics = append(s.Metrics, name)
		}
	}
	var pool []Trial
	for _, t := range trials {
		switch t.State {
		case Complete:
			s.Complete++
			if t.Feasible() && len(t.Values) == len(info.Directions) && finite(t.Values) {
				pool = append(pool, t)
			}
		case Pruned:
			s.Pruned++
		case Fail:
			s.Failed++
		default:
			s.Running++
		}
	}
	switch {
	case len(trials) == 0:
		s.State = "empty"
	case s.Running > 0:
		s.State = "running"
	}
	if len(pool) == 0 {
		return s
	}
	dirs := info.Directions
	s.Best = make([]float64, len(dirs))
	for i := range dirs {
		best := math.Inf(1)
		for _, t := range pool {
			if l := loss(t.Values, dirs, i); l < best {
				best = l
				if len(dirs) == 1 {
					n := t.Number
					s.BestTrial = &n
				}
			}
		}
		if dirs[i] == Maximize {
			best = -best
		}
		s.Best[i] = best
	}
	if len(dirs) > 1 {
		s.ParetoSize = len(paretoFront(pool, dirs))
	}
	return s
}

// finite: NaN and ±Inf (a failed measurement) are nobody's best, and JSON
// has no way to write them.
func finite(vs []float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
