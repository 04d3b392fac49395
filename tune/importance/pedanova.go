// Package importance says which parameters mattered for reaching a study's
// best objective values: a port of Optuna 5's PED-ANOVA evaluator
// (PedAnovaImportanceEvaluator with its defaults, normalised the way
// optuna.importance.get_param_importances returns it), so a report shows the
// same importances as optuna-dashboard. It is pure: trials in, importances
// out, no storage.
//
// For each parameter it compares the density of the parameter's values among
// the top trials (the best TargetQuantile of them) with their density among
// all trials (the region): the further apart the two, the more the good
// trials depended on that parameter. Conditional parameters are handled per
// regime, as Optuna's conditional PED-ANOVA does: the trials are grouped by
// the parameter's distribution (or its absence) and each group contributes
// in proportion to its share of the top and region trials.
package importance

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// Direction of the objective being explained.
type Direction bool

const (
	Minimize Direction = false
	Maximize Direction = true
)

// Trial is one finished (COMPLETE) trial: its parameters' internal values
// (a categorical's choice index) with their distributions, and the value of
// the objective being explained.
type Trial struct {
	Number int // for error messages only
	Params map[string]float64
	Dists  map[string]space.Distribution
	// Value may be ±Inf or NaN: such a trial still names its parameters but
	// takes no part in the estimate, as in Optuna.
	Value float64
}

// Options are PED-ANOVA's settings; the zero value is Optuna's defaults.
type Options struct {
	// TargetQuantile is the share of best trials whose parameters are
	// explained (0 means Optuna's 0.1).
	TargetQuantile float64
	// RegionQuantile restricts the comparison to the best share of trials
	// (0 means Optuna's 1: all of them). Must exceed TargetQuantile.
	RegionQuantile float64
	// Global compares the top trials with a uniform density over the search
	// space instead of with the region's trials (Optuna's
	// evaluate_on_local=False; RegionQuantile then matters only for the
	// regime shares).
	Global bool
}

// Param is one parameter's importance.
type Param struct {
	Name string
	// Importance is normalised: the result sums to 1. When every raw value
	// is 0 (one trial, or the top trials look like all the others) each
	// parameter gets an equal share, as in Optuna.
	Importance float64
	// Raw is PED-ANOVA's unnormalised value (Optuna's normalize=False).
	Raw float64
}

// minRegime is the fewest trials a regime needs to be estimated at all.
const minRegime = 2

// Evaluate returns every parameter's importance for reaching the best
// values of the objective in direction dir, most important first (ties by
// name). Every parameter any trial has is listed.
func Evaluate(trials []Trial, dir Direction, o Options) ([]Param, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, err
	}
	names, err := paramNames(trials)
	if err != nil {
		return nil, err
	}
	raw := make(map[string]float64, len(names))
	for _, name := range names {
		raw[name] = 0
	}
	var kept []*Trial
	for i := range trials {
		if v := trials[i].Value; !math.IsNaN(v) && !math.IsInf(v, 0) {
			kept = append(kept, &trials[i])
		}
	}
	// With a single trial there is nothing to compare: every raw value
	// stays 0, so the normalised importances come out equal.
	if len(kept) > 1 {
		target := topQuantile(kept, o.TargetQuantile, dir)
		region := topQuantile(kept, o.RegionQuantile, dir)
		for _, name := range names {
			v, err := paramImportance(name, target, region, o.Global)
			if err != nil {
				return nil, fmt.Errorf("parameter %q: %w", name, err)
			}
			raw[name] = v
		}
	}
	return normalise(raw), nil
}

func (o Options) resolve() (Options, error) {
	if o.TargetQuantile == 0 {
		o.TargetQuantile = 0.1
	}
	if o.RegionQuantile == 0 {
		o.RegionQuantile = 1
	}
	if !(0 < o.TargetQuantile && o.TargetQuantile < o.RegionQuantile && o.RegionQuantile <= 1) {
		return o, fmt.Errorf("quantiles must satisfy 0 < target (%v) < region (%v) <= 1", o.TargetQuantile, o.RegionQuantile)
	}
	return o, nil
}

// paramNames lists the parameters of all trials, checking that each has a
// distribution and a value the grid can place.
func paramNames(trials []Trial) ([]string, error) {
	seen := map[string]bool{}
	var names []string
	for _, t := range trials {
		for name, v := range t.Params {
			d := t.Dists[name]
			if d == nil {
				return nil, fmt.Errorf("trial %d: parameter %q has no distribution", t.Number, name)
			}
			if err := checkValue(d, v); err != nil {
				return nil, fmt.Errorf("trial %d: parameter %q: %w", t.Number, name, err)
			}
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func checkValue(d space.Distribution, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("value %v is not a finite number", v)
	}
	// Distributions built by hand rather than by the space constructors
	// could make the grid divide by zero or take the log of nothing.
	switch d := d.(type) {
	case *space.Categorical:
		if v != math.Trunc(v) || v < 0 || int(v) >= len(d.Choices) {
			return fmt.Errorf("%v is not a choice index of %s", v, d)
		}
	case *space.Float:
		if !(d.Step >= 0 && d.High >= d.Low) || (d.Log && d.Low <= 0) {
			return fmt.Errorf("invalid distribution %s", d)
		}
		if d.Log && v <= 0 {
			return fmt.Errorf("%v is not positive, in %s", v, d)
		}
	case *space.Int:
		if d.Step < 1 || d.High < d.Low || (d.Log && d.Low < 1) {
			return fmt.Errorf("invalid distribution %s (step %d)", d, d.Step)
		}
		if d.Log && v <= 0 {
			return fmt.Errorf("%v is not positive, in %s", v, d)
		}
	default:
		return fmt.Errorf("unsupported distribution %T", d)
	}
	return nil
}

// topQuantile keeps the trials whose loss is at most the loss of the
// ⌈q·n⌉-th best, so ties at the cut are all kept (Optuna's inverted-CDF
// quantile).
func topQuantile(trials []*Trial, q float64, dir Direction) []*Trial {
	if q == 1 {
		return trials
	}
	loss := func(t *Trial) float64 {
		if dir == Maximize {
			return -t.Value
		}
		return t.Value
	}
	sorted := make([]float64, len(trials))
	for i, t := range trials {
		sorted[i] = loss(t)
	}
	slices.Sort(sorted)
	cut := sorted[int(math.Ceil(q*float64(len(trials))))-1]
	var out []*Trial
	for _, t := range trials {
		if loss(t) <= cut {
			out = append(out, t)
		}
	}
	return out
}

// regime is the region trials sharing one distribution of a parameter (dist
// nil: the trials without it).
type regime struct {
	dist   space.Distribution
	trials []*Trial
}

// paramImportance sums over the parameter's regimes α²/β times the Pearson
// divergence within the regime (α, β: the regime's shares of the target and
// region trials), scaled by (|target|/|region|)², which is Theorem 4.2 of
// the conditional PED-ANOVA paper.
func paramImportance(name string, target, region []*Trial, global bool) (float64, error) {
	inTarget := make(map[*Trial]bool, len(target))
	for _, t := range target {
		inTarget[t] = true
	}
	sum := 0.0
	for _, r := range regimes(name, region) {
		if r.dist == nil || r.dist.Single() {
			continue
		}
		var top []*Trial
		for _, t := range r.trials {
			if inTarget[t] {
				top = append(top, t)
			}
		}
		if len(top) == 0 {
			continue
		}
		div, err := divergence(name, r.dist, top, r.trials, global)
		if err != nil {
			return 0, err
		}
		alpha := float64(len(top)) / float64(len(target))
		beta := float64(len(r.trials)) / float64(len(region))
		sum += alpha * alpha / beta * div
	}
	q := float64(len(target)) / float64(len(region))
	return sum * q * q, nil
}

// regimes groups the trials by the parameter's distribution, in order of
// first appearance, dropping groups too small to estimate a density from.
func regimes(name string, trials []*Trial) []regime {
	var out []regime
	index := map[string]int{}
	for _, t := range trials {
		// Optuna tells distributions apart by type and fields, which is
		// what the distribution_json form spells out.
		d := t.Dists[name]
		key := ""
		if _, ok := t.Params[name]; !ok {
			d = nil
		} else {
			key = d.JSON()
		}
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, regime{dist: d})
		}
		out[i].trials = append(out[i].trials, t)
	}
	return slices.DeleteFunc(out, func(r regime) bool { return len(r.trials) < minRegime })
}

// divergence is the Pearson divergence of the top trials' density of the
// parameter from the region's (or, if global, from uniform).
func divergence(name string, d space.Distribution, top, region []*Trial, global bool) (float64, error) {
	g, err := newGrid(d)
	if err != nil {
		return 0, err
	}
	if g.size < 2 {
		// A range with one grid point is a single value in disguise.
		return 0, nil
	}
	values := func(ts []*Trial) []float64 {
		vs := make([]float64, len(ts))
		for i, t := range ts {
			vs[i] = t.Params[name]
		}
		return vs
	}
	pTop := floored(g.pdf(g.counts(values(top))))
	var ref []float64
	if global {
		ref = make([]float64, g.size)
		for i := range ref {
			ref[i] = 1 / float64(g.size)
		}
	} else {
		ref = floored(g.pdf(g.counts(values(region))))
	}
	return pearson(pTop, ref), nil
}

// normalise scales the raw values to sum 1 (equal shares when all are 0)
// and sorts them, most important first.
func normalise(raw map[string]float64) []Param {
	out := make([]Param, 0, len(raw))
	for name, v := range raw {
		out = append(out, Param{Name: name, Raw: v})
	}
	slices.SortFunc(out, func(a, b Param) int {
		if c := cmp.Compare(b.Raw, a.Raw); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	// Summed in a fixed order, so equal inputs give equal bits.
	total := 0.0
	for _, p := range out {
		total += p.Raw
	}
	for i := range out {
		if total == 0 {
			out[i].Importance = 1 / float64(len(out))
		} else {
			out[i].Importance = out[i].Raw / total
		}
	}
	return out
}
