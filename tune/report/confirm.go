package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// Confirmation is what the confirmation phase found: the best trials and
// the baseline measured again, in rounds, and which configuration to use.
type Confirmation struct {
	Baseline *Confirmed `json:"baseline,omitempty"`
	// Trials, best confirmed mean first (for several objectives, the
	// confirmed Pareto set first).
	Trials []Confirmed `json:"trials"`
	// Unmeasured: trials whose every confirmation run failed.
	Unmeasured []Confirmed `json:"unmeasured,omitempty"`
	// MissedSLO: trials that met the SLOs in the search but miss one on
	// average over their confirmation runs; never recommended.
	MissedSLO []Confirmed `json:"missed_slo,omitempty"`
	// Recommended is the trial to use (one objective); nil when the
	// defaults are as good, or for several objectives.
	Recommended *int `json:"recommended"`
	// Verdict against vLLM's defaults: better (the best confirmed trial,
	// or for several objectives any, is surely better in an objective),
	// worse, indistinguishable, no_baseline, unmeasured (every
	// confirmation run failed), or slo_missed (every measured trial missed
	// an SLO in its confirmation runs).
	Verdict string `json:"verdict"`
	// Why the recommendation is not simply the best mean, if it is not.
	Note string `json:"note,omitempty"`
}

// Confirmed is one configuration's confirmation runs.
type Confirmed struct {
	Number int            `json:"number"`
	Runs   int            `json:"runs"` // measured
	Errors []string       `json:"errors,omitempty"`
	Mean   numbers        `json:"mean"` // per objective, over the measured runs
	Params map[string]any `json:"params,omitempty"`
	// Changed: the parameters whose values differ from vLLM's defaults (or
	// whose defaults are not known); the command carries only these.
	Changed []string `json:"changed_flags,omitempty"`
	Command string   `json:"command,omitempty"`
	// VsBaseline is the change from the baseline per objective, from the
	// runs of the same round; nil without a measured baseline.
	VsBaseline []*Change `json:"vs_baseline,omitempty"`
	// Misses: the SLOs its confirmation runs' mean misses.
	Misses []string `json:"slo_misses,omitempty"`
	runs   map[int]run
}

// Change is a value's relative change from a reference, in percent
// (positive: higher), with its 95 % interval from paired runs (nil bounds
// below two pairs).
type Change struct {
	Percent float64  `json:"percent"`
	Low     *float64 `json:"ci95_low"`
	High    *float64 `json:"ci95_high"`
	Pairs   int      `json:"pairs"`
}

// Sure reports whether the interval excludes no change: the two differ.
func (c *Change) Sure() bool {
	return c != nil && c.Low != nil && (*c.Low > 0 || *c.High < 0)
}

// run is one stored confirmation run.
type run struct {
	values map[string]float64
	err    string
}

// runs reads a trial's confirmation runs by round.
func runs(t study.Trial) map[int]run {
	out := map[int]run{}
	for k, v := range t.UserAttrs {
		rest, ok := strings.CutPrefix(k, study.AttrConfirmPrefix)
		if !ok {
			continue
		}
		round, err := strconv.Atoi(rest)
		rec, ok := v.(map[string]any)
		if err != nil || !ok {
			continue
		}
		var r run
		if e, ok := rec["error"].(string); ok {
			r.err = e
		} else if vals, ok := rec["values"].(map[string]any); ok {
			r.values = map[string]float64{}
			for name, x := range vals {
				if f, ok := x.(float64); ok {
					r.values[name] = f
				}
			}
		} else {
			continue
		}
		out[round] = r
	}
	return out
}

// paired is the change of key in a from b over the rounds both measured.
// It is worked out on log ratios, so the interval is that of a ratio (it
// never reaches below −100 %) and a change and its reverse are symmetric.
func paired(a, b map[int]run, key string) *Change {
	var ds []float64
	for round, ra := range a {
		rb, ok := b[round]
		if !ok || ra.values == nil || rb.values == nil {
			continue
		}
		va, okA := ra.values[key]
		vb, okB := rb.values[key]
		if !okA || !okB || va <= 0 || vb <= 0 || math.IsInf(va, 0) || math.IsInf(vb, 0) {
			continue
		}
		ds = append(ds, math.Log(va/vb))
	}
	if len(ds) == 0 {
		return nil
	}
	m, half := stats.CI95(ds)
	pct := func(x float64) float64 { return math.Expm1(x) * 100 }
	c := &Change{Percent: pct(m), Pairs: len(ds)}
	if !math.IsNaN(half) {
		lo, hi := pct(m-half), pct(m+half)
		c.Low, c.High = &lo, &hi
	}
	return c
}

// confirmed reads the confirmation of one trial; ok is false when it has
// no confirmation runs.
func confirmed(t study.Trial, o Options) (Confirmed, bool) {
	rs := runs(t)
	if len(rs) == 0 {
		return Confirmed{}, false
	}
	c := Confirmed{Number: t.Number, runs: rs, Mean: make(numbers, len(o.Objectives))}
	rounds := make([]int, 0, len(rs))
	for round := range rs {
		rounds = append(rounds, round)
	}
	sort.Ints(rounds)
	for _, round := range rounds {
		if r := rs[round]; r.err != "" {
			c.Errors = append(c.Errors, fmt.Sprintf("run %d: %s", round, r.err))
		} else {
			c.Runs++
		}
	}
	for i, obj := range o.Objectives {
		var xs []float64
		for _, r := range rs {
			if v, ok := r.values[obj.Key]; ok {
				xs = append(xs, v)
			}
		}
		c.Mean[i] = stats.Mean(xs)
	}
	for _, l := range o.SLOs {
		var xs []float64
		for _, r := range rs {
			if v, ok := r.values[l.Key]; ok {
				xs = append(xs, v)
			}
		}
		if m := l.miss(stats.Mean(xs), len(xs) > 0); m != "" && c.Runs > 0 {
			c.Misses = append(c.Misses, m)
		}
	}
	if t.Kind() == study.Search {
		e := entry(t, o, nil)
		c.Params, c.Changed, c.Command = e.Params, e.Changed, e.Command
	}
	return c, true
}

// confirmation builds the Confirmation of the stored runs; nil when no
// search trial was confirmed.
func confirmation(trials []study.Trial, base *study.Trial, o Options) *Confirmation {
	out := &Confirmation{}
	for _, t := range trials {
		if t.Kind() != study.Search {
			continue
		}
		c, ok := confirmed(t, o)
		switch {
		case ok && len(c.Misses) > 0:
			out.MissedSLO = append(out.MissedSLO, c)
		case ok && c.Runs > 0:
			out.Trials = append(out.Trials, c)
		case ok:
			out.Unmeasured = append(out.Unmeasured, c)
		}
	}
	if len(out.Trials) == 0 && len(out.Unmeasured) == 0 && len(out.MissedSLO) == 0 {
		return nil
	}
	switch {
	case len(out.Trials) == 0 && len(out.MissedSLO) > 0:
		out.Verdict = "slo_missed"
		return out
	case len(out.Trials) == 0:
		out.Verdict = "unmeasured"
		return out
	}
	if base != nil {
		if c, ok := confirmed(*base, o); ok && c.Runs > 0 {
			out.Baseline = &c
			for i := range out.Trials {
				for _, obj := range o.Objectives {
					out.Trials[i].VsBaseline = append(out.Trials[i].VsBaseline, paired(out.Trials[i].runs, c.runs, obj.Key))
				}
			}
		}
	}
	objs := o.Objectives
	// Best confirmed mean first; for several objectives the Pareto set of
	// the means first, each part by the first objective.
	rank := map[int]int{}
	if len(objs) > 1 {
		losses := make([][]float64, len(out.Trials))
		for k, c := range out.Trials {
			losses[k] = make([]float64, len(objs))
			for i := range objs {
				losses[k][i] = loss(c.Mean, objs, i)
			}
		}
		inFront := map[int]bool{}
		for _, k := range sampler.Front(losses) {
			inFront[k] = true
		}
		for k, c := range out.Trials {
			if !inFront[k] {
				rank[c.Number] = 1
			}
		}
	}
	sort.SliceStable(out.Trials, func(i, j int) bool {
		a, b := out.Trials[i], out.Trials[j]
		if rank[a.Number] != rank[b.Number] {
			return rank[a.Number] < rank[b.Number]
		}
		return loss(a.Mean, objs, 0) < loss(b.Mean, objs, 0)
	})
	out.Verdict = verdict(out.Trials, objs, out.Baseline != nil)
	if len(objs) == 1 {
		out.recommend(objs[0])
	}
	return out
}

// Trial is confirmed trial n (nil if not confirmed).
func (c *Confirmation) Trial(n int) *Confirmed {
	for i := range c.Trials {
		if c.Trials[i].Number == n {
			return &c.Trials[i]
		}
	}
	return nil
}

// verdict on the confirmed trials against the baseline. One objective:
// the best's, better or worse when its interval excludes no change, else
// indistinguishable. Several: better when a trial is surely better in one
// objective and surely worse in none, worse when every sure change is for
// the worse, else indistinguishable.
func verdict(ts []Confirmed, objs []Objective, haveBase bool) string {
	if !haveBase {
		return "no_baseline"
	}
	if len(objs) == 1 {
		ts = ts[:1]
	}
	out := "indistinguishable"
	for _, t := range ts {
		switch better, worse := sureChanges(t, objs); {
		case better && !worse:
			return "better"
		case worse:
			out = "worse"
		}
	}
	return out
}

// Wins reports whether t is surely better than the baseline in an
// objective and surely worse in none.
func (t Confirmed) Wins(objs []Objective) bool {
	better, worse := sureChanges(t, objs)
	return better && !worse
}

// sureChanges: whether t is surely better than the baseline in some
// objective, and whether surely worse in some.
func sureChanges(t Confirmed, objs []Objective) (better, worse bool) {
	for i, ch := range t.VsBaseline {
		if !ch.Sure() {
			continue
		}
		if (ch.Percent > 0) == objs[i].Maximize {
			better = true
		} else {
			worse = true
		}
	}
	return better, worse
}

// tieMargin: confirmed means within 1 % are treated as equal (vLLM's own
// recipe sweep prefers fewer overrides among candidates within 1 %).
const tieMargin = 1.0

// recommend picks, among the trials not distinguishable from the best
// confirmed one (within 1 % of its mean, and no paired interval that says
// otherwise), the one that changes the fewest flags; none when the best is
// not better than vLLM's defaults.
func (c *Confirmation) recommend(obj Objective) {
	if c.Verdict != "better" && c.Verdict != "no_baseline" {
		return
	}
	best := c.Trials[0]
	pick := best
	for _, t := range c.Trials[1:] {
		if t.Runs == 0 || len(t.Changed) >= len(pick.Changed) {
			continue
		}
		if math.Abs(t.Mean[0]-best.Mean[0]) > tieMargin/100*math.Abs(best.Mean[0]) {
			continue
		}
		if paired(t.runs, best.runs, obj.Key).Sure() {
			continue
		}
		pick = t
	}
	n := pick.Number
	c.Recommended = &n
	if pick.Number != best.Number {
		c.Note = fmt.Sprintf("trial %d changes %d flags from vLLM's defaults and is within %g %% of trial %d (%d flags), indistinguishable from it", pick.Number, len(pick.Changed), tieMargin, best.Number, len(best.Changed))
	}
}

// text writes the confirmation for people.
func (c *Confirmation) text(w io.Writer, m *Model) {
	all := append(append(append([]Confirmed{}, c.Trials...), c.MissedSLO...), c.Unmeasured...)
	runsEach := 0
	for _, t := range all {
		runsEach = max(runsEach, t.Runs+len(t.Errors))
	}
	who := fmt.Sprintf("%d trials", len(all))
	if len(all) == 1 {
		who = fmt.Sprintf("trial %d", all[0].Number)
	}
	if c.Baseline != nil {
		who += " and the baseline"
	}
	fmt.Fprintf(w, "Confirmed: %s started again, %d runs each in rounds (95 %% intervals from the rounds' paired differences):\n", who, runsEach)
	if b := c.Baseline; b != nil {
		fmt.Fprintf(w, "  baseline (trial %d): %s%s\n", b.Number, values(b.Mean, nil, nil), runErrors(*b))
	} else {
		fmt.Fprintln(w, "  baseline: not measured; no comparison with vLLM's defaults")
	}
	for _, t := range c.Trials {
		parts := make([]string, len(m.Objectives))
		for i, obj := range m.Objectives {
			parts[i] = fmt.Sprintf("%s %s", obj.Key, number(t.Mean[i]))
			if t.VsBaseline != nil {
				parts[i] += ", " + changeText(t.VsBaseline[i], "", "the baseline")
			}
		}
		fmt.Fprintf(w, "  trial %d: %s%s\n", t.Number, strings.Join(parts, "; "), runErrors(t))
	}
	for _, t := range c.MissedSLO {
		fmt.Fprintf(w, "  trial %d: misses %s over its confirmation runs: not recommended%s\n", t.Number, strings.Join(t.Misses, "; "), runErrors(t))
	}
	for _, t := range c.Unmeasured {
		fmt.Fprintf(w, "  trial %d: every confirmation run failed (%s)\n", t.Number, t.Errors[0])
	}
	if c.Verdict == "slo_missed" {
		fmt.Fprintln(w, "Every confirmed trial missed an SLO on average over its confirmation runs: keep vLLM's defaults, or relax the SLO.")
		if m.BaselineCommand != "" {
			fmt.Fprintf(w, "    %s\n", m.BaselineCommand)
		}
		return
	}
	if len(c.Trials) == 0 {
		fmt.Fprintln(w, "No confirmed figure: every confirmation run failed; see the logs under confirm_<round>.")
		return
	}
	best := c.Trials[0]
	switch {
	case len(m.Objectives) > 1 && c.Verdict == "no_baseline":
		for _, t := range c.Trials {
			fmt.Fprintf(w, "  trial %d: %s\n", t.Number, t.Command)
		}
	case len(m.Objectives) > 1 && c.Verdict == "better":
		fmt.Fprintln(w, "Better than vLLM's defaults in an objective and worse in none:")
		for _, t := range c.Trials {
			if t.Wins(m.Objectives) {
				fmt.Fprintf(w, "  trial %d (changes %s): %s\n", t.Number, flagsText(t.Changed), t.Command)
			}
		}
	case len(m.Objectives) > 1 && c.Verdict == "worse":
		fmt.Fprintln(w, "No confirmed trial beat vLLM's defaults in any objective: keep the defaults.")
		if m.BaselineCommand != "" {
			fmt.Fprintf(w, "    %s\n", m.BaselineCommand)
		}
	case len(m.Objectives) > 1:
		fmt.Fprintln(w, "No confirmed trial is distinguishable from vLLM's defaults in any objective: keep the defaults, or measure with more confirmation runs.")
		if m.BaselineCommand != "" {
			fmt.Fprintf(w, "    %s\n", m.BaselineCommand)
		}
	case c.Recommended != nil:
		pick := *c.Trial(*c.Recommended)
		head := fmt.Sprintf("Recommended: trial %d", pick.Number)
		if pick.VsBaseline != nil {
			head += ": " + changeText(pick.VsBaseline[0], m.Objectives[0].Key, "vLLM's defaults")
		}
		fmt.Fprintf(w, "%s; it changes %s:\n    %s\n", head, flagsText(pick.Changed), pick.Command)
		if c.Note != "" {
			fmt.Fprintf(w, "  (%s)\n", c.Note)
		}
	case c.Verdict == "worse":
		fmt.Fprintf(w, "vLLM's defaults beat the best confirmed trial (%d): keep the defaults.\n", best.Number)
		if m.BaselineCommand != "" {
			fmt.Fprintf(w, "    %s\n", m.BaselineCommand)
		}
	default:
		fmt.Fprintf(w, "The best confirmed trial (%d) is not distinguishable from vLLM's defaults: keep the defaults, or measure with more confirmation runs.\n", best.Number)
		if m.BaselineCommand != "" {
			fmt.Fprintf(w, "    %s\n", m.BaselineCommand)
		}
	}
}

func runErrors(c Confirmed) string {
	if len(c.Errors) == 0 {
		return ""
	}
	return fmt.Sprintf(" — %d of %d runs failed (%s)", len(c.Errors), len(c.Errors)+c.Runs, c.Errors[0])
}

func flagsText(changed []string) string {
	switch len(changed) {
	case 0:
		return "no flag"
	case 1:
		return "1 flag"
	}
	return fmt.Sprintf("%d flags", len(changed))
}

// changeText words a change of what (a metric, or "" to leave it out) from
// ref by its direction, with its interval: "12.4 % higher throughput than
// vLLM's defaults (95 % CI 9.8 to 15.1 % higher)"; an interval that holds no
// change reads "not distinguishable from vLLM's defaults".
func changeText(c *Change, what, ref string) string {
	if c == nil {
		return "no run paired with " + ref
	}
	if what != "" {
		what += " "
	}
	p := pct(c.Percent)
	if c.Low == nil {
		return fmt.Sprintf("%s %sthan %s, from one paired run: no interval", p, what, ref)
	}
	lo, hi := *c.Low, *c.High
	switch {
	case lo > 0:
		return fmt.Sprintf("%s %sthan %s (95 %% CI %.1f to %.1f %% higher)", p, what, ref, lo, hi)
	case hi < 0:
		return fmt.Sprintf("%s %sthan %s (95 %% CI %.1f to %.1f %% lower)", p, what, ref, -hi, -lo)
	}
	return fmt.Sprintf("%snot distinguishable from %s (%s on average, 95 %% CI %s to %s)", what, ref, p, pct(lo), pct(hi))
}

// pct words a percentage change by its direction: "3.1 % higher".
func pct(p float64) string {
	switch {
	case math.Abs(p) < 0.05:
		return "0.0 % (the same)"
	case p > 0:
		return fmt.Sprintf("%.1f %% higher", p)
	}
	return fmt.Sprintf("%.1f %% lower", -p)
}
