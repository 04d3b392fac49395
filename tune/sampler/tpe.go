package sampler

import (
	"fmt"
	"math"
	"slices"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// TPEOptions are Optuna's TPESampler settings, with its current defaults
// (see NewTPE).
type TPEOptions struct {
	Seed         uint64
	NStartup     int  // random trials before TPE (0: the default, 10)
	NoStartup    bool // no random trials at all (n_startup_trials: 0)
	NCandidates  int  // candidates drawn from l(x) per ask (default 24)
	Multivariate *bool
	// NoConstantLiar stops counting RUNNING trials as bad ones. By default
	// (Optuna's constant_liar=True here) they count, so parallel asks spread
	// out instead of proposing the same point.
	NoConstantLiar    bool
	PriorWeight       float64 // default 1
	ConsiderEndpoints bool    // default false
	NoMagicClip       bool    // default: magic clip on
}

// TPE is the Tree-structured Parzen Estimator as in Optuna 5: split the
// history into good (below) and bad (above) trials — feasible completed
// trials by value, then pruned, then infeasible ones by violation; running
// ones count as bad under the constant liar — fit a Parzen mixture to each,
// draw candidates from the good one and keep the one with the best l(x)/g(x).
type TPE struct {
	o TPEOptions
}

var _ Sampler = (*TPE)(nil)

// NewTPE applies Optuna's defaults to unset fields.
func NewTPE(o TPEOptions) *TPE {
	o.NStartup = startupTrials(o.NoStartup, o.NStartup)
	if o.NCandidates <= 0 {
		o.NCandidates = 24
	}
	if o.PriorWeight == 0 {
		o.PriorWeight = 1
	}
	return &TPE{o: o}
}

func gamma(n int, multi bool) int {
	g := int(math.Ceil(0.1 * float64(n)))
	if !multi && g > 25 {
		g = 25
	}
	return g
}

func (t *TPE) Sample(h *History, sp space.Space, number int) (map[string]float64, error) {
	rng := rngFor(t.o.Seed, number)
	out, free := splitFixed(sp)
	done := 0
	for i := range h.Trials {
		tr := &h.Trials[i]
		if tr.Number != number && (tr.State == Complete || tr.State == Pruned) {
			done++
		}
	}
	if done < t.o.NStartup || len(free) == 0 {
		for _, p := range free {
			out[p.Name] = randomValue(rng, p.Dist)
		}
		return out, nil
	}
	var trials []*Trial
	for i := range h.Trials {
		tr := &h.Trials[i]
		if tr.Number == number {
			continue
		}
		if tr.State == Complete || tr.State == Pruned || !t.o.NoConstantLiar && tr.State == Running {
			trials = append(trials, tr)
		}
	}
	multi := len(h.Directions) > 1
	n := 0
	for _, tr := range trials {
		if tr.State != Running {
			n++
		}
	}
	below, above := split(trials, h.Directions, gamma(n, multi))
	multivariate := !multi
	if t.o.Multivariate != nil {
		multivariate = *t.o.Multivariate
	}
	if multivariate {
		vals, err := t.sampleGroup(rng, free, below, above, multi)
		if err != nil {
			return nil, err
		}
		for k, v := range vals {
			out[k] = v
		}
		return out, nil
	}
	for _, p := range free {
		vals, err := t.sampleGroup(rng, space.Space{p}, below, above, multi)
		if err != nil {
			return nil, err
		}
		out[p.Name] = vals[p.Name]
	}
	return out, nil
}

// sampleGroup fits l(x) and g(x) over the parameters of sp (trials lacking
// one of them are left out) and returns the best of the candidates.
func (t *TPE) sampleGroup(rng randSource, sp space.Space, below, above []*Trial, multi bool) (map[string]float64, error) {
	po := parzenOptions{priorWeight: t.o.PriorWeight, considerMagicClip: !t.o.NoMagicClip, considerEndpoints: t.o.ConsiderEndpoints}
	obsBelow := observations(below, sp)
	var wBelow []float64
	if multi {
		wBelow = make([]float64, len(obsBelow[0]))
		for i := range wBelow {
			wBelow[i] = 1
		}
	}
	l := newParzen(obsBelow, sp, wBelow, po)
	g := newParzen(observations(above, sp), sp, nil, po)
	cands := l.sample(rng, t.o.NCandidates)
	ll, lg := l.logPDF(cands), g.logPDF(cands)
	best, bestScore := -1, math.Inf(-1)
	for i := range ll {
		if s := ll[i] - lg[i]; s > bestScore || best < 0 {
			best, bestScore = i, s
		}
	}
	out := make(map[string]float64, len(sp))
	for d, p := range sp {
		v := cands[d][best]
		if !p.Dist.Contains(v) {
			return nil, fmt.Errorf("tpe: sampled %v outside %s for %s", v, p.Dist, p.Name)
		}
		out[p.Name] = v
	}
	return out, nil
}

// observations lays out internal values per dimension, for the trials that
// have every parameter of sp.
func observations(trials []*Trial, sp space.Space) [][]float64 {
	obs := make([][]float64, len(sp))
	for d := range obs {
		obs[d] = []float64{}
	}
	row := make([]float64, len(sp))
	for _, tr := range trials {
		ok := true
		for d, p := range sp {
			v, has := tr.Params[p.Name]
			if !has || !p.Dist.Contains(v) {
				ok = false
				break
			}
			row[d] = v
		}
		if !ok {
			continue
		}
		for d := range sp {
			obs[d] = append(obs[d], row[d])
		}
	}
	return obs
}

// loss turns values into minimisation losses.
func loss(values []float64, dirs []Direction) []float64 {
	out := make([]float64, len(values))
	for i, v := range values {
		if i < len(dirs) && dirs[i] == Maximize {
			v = -v
		}
		out[i] = v
	}
	return out
}

// split is Optuna's _split_trials: nBelow good trials from the feasible
// completed ones, then pruned, then the least infeasible; RUNNING ones and
// the rest are bad. Both sides keep the order of trials (by number).
func split(trials []*Trial, dirs []Direction, nBelow int) (below, above []*Trial) {
	var complete, pruned, infeasible []*Trial
	for _, tr := range trials {
		switch {
		case tr.State == Running:
		case tr.Infeasibility() > 0:
			infeasible = append(infeasible, tr)
		case tr.State == Complete:
			complete = append(complete, tr)
		case tr.State == Pruned:
			pruned = append(pruned, tr)
		}
	}
	good := make(map[*Trial]bool, nBelow)
	b := splitComplete(complete, dirs, nBelow)
	for _, t := range b {
		good[t] = true
	}
	nBelow = max(0, nBelow-len(b))
	for _, t := range pruned[:min(nBelow, len(pruned))] {
		good[t] = true
	}
	nBelow = max(0, nBelow-min(nBelow, len(pruned)))
	sortStable(infeasible, func(t *Trial) float64 { return t.Infeasibility() })
	for _, t := range infeasible[:min(nBelow, len(infeasible))] {
		good[t] = true
	}
	below = make([]*Trial, 0, len(good))
	above = make([]*Trial, 0, len(trials)-len(good))
	for _, tr := range trials {
		if good[tr] {
			below = append(below, tr)
		} else {
			above = append(above, tr)
		}
	}
	return below, above
}

// sortStable orders ts by key, ties kept in their order; each key is
// computed once.
func sortStable(ts []*Trial, key func(*Trial) float64) {
	keyed := make([]indexed, len(ts))
	for i, t := range ts {
		keyed[i] = indexed{key(t), i}
	}
	slices.SortFunc(keyed, compareIndexed)
	sorted := make([]*Trial, len(ts))
	for i, k := range keyed {
		sorted[i] = ts[k.i]
	}
	copy(ts, sorted)
}

// splitComplete picks the nBelow best completed trials.
func splitComplete(trials []*Trial, dirs []Direction, nBelow int) []*Trial {
	nBelow = min(nBelow, len(trials))
	if len(dirs) <= 1 {
		sorted := append([]*Trial{}, trials...)
		sortStable(sorted, func(t *Trial) float64 { return loss(t.Values, dirs)[0] })
		return sorted[:nBelow]
	}
	if nBelow == 0 {
		return nil
	}
	if nBelow == len(trials) {
		return trials
	}
	losses := make([][]float64, len(trials))
	for i, t := range trials {
		losses[i] = loss(t.Values, dirs)
	}
	ranks := nonDominationRanks(losses, nBelow)
	// Whole fronts while they fit, then a hypervolume tie-break in the next.
	count := map[int]int{}
	for _, r := range ranks {
		count[r]++
	}
	last, covered := -1, 0
	for r := 0; ; r++ {
		if covered+count[r] > nBelow || count[r] == 0 {
			break
		}
		covered += count[r]
		last = r
	}
	var below []*Trial
	for i, r := range ranks {
		if r <= last {
			below = append(below, trials[i])
		}
	}
	if covered < nBelow {
		var idx []int
		var tie [][]float64
		for i, r := range ranks {
			if r == last+1 {
				idx = append(idx, i)
				tie = append(tie, losses[i])
			}
		}
		for _, j := range hssp(tie, nBelow-covered, referencePoint(tie)) {
			below = append(below, trials[idx[j]])
		}
	}
	return below
}
