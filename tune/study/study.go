package study

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// Keys of trial user attributes, as the Python auto-tune-vllm names them.
const (
	AttrIsBaseline          = "is_baseline"
	AttrBaselineConcurrency = "baseline_concurrency"
	AttrErrorType           = "error_type"
	AttrErrorMessage        = "error_message"
	AttrTrialStatus         = "trial_status"
	AttrStartTime           = "trial_start_time"
	AttrEndTime             = "trial_end_time"
	AttrDuplicateOf         = "duplicate_of"
	// What a trial's run measured besides its metrics.
	AttrStartupSeconds = "vllm_startup_duration_seconds"
	AttrBenchSeconds   = "benchmark_duration_seconds"
	AttrTotalSeconds   = "total_duration_seconds"
	AttrCommand        = "command"
	AttrLogDir         = "log_dir"
	// AttrRepeats holds each repeated benchmark run's objective and SLO
	// values (benchmark.repeats > 1); the metrics are their means.
	AttrRepeats = "benchmark_runs"
	// AttrConfirmPrefix prefixes the confirmation runs of a trial
	// (confirm_run_1, …), each {round, values, error, log_dir}.
	AttrConfirmPrefix = "confirm_run_"
	// MetricAttrPrefix prefixes every benchmark metric stored on a trial.
	MetricAttrPrefix = "metric_"
	// metricNamesKey is where Optuna (and optuna-dashboard) read objective names.
	metricNamesKey = "study:metric_names"
)

// Kind says what a trial is for: the search proper, or the reference run
// of vLLM's defaults that results are compared with.
type Kind string

const (
	Search   Kind = "search"
	Baseline Kind = "baseline"
)

// Kind reads the trial's kind from the user attribute the Python tool
// writes, so studies it made read the same.
func (t *Trial) Kind() Kind {
	if t.UserAttrs[AttrIsBaseline] == true {
		return Baseline
	}
	return Search
}

// BaselineConcurrency is the load level a baseline ran at (0 if not one).
func (t *Trial) BaselineConcurrency() int {
	if t.Kind() != Baseline {
		return 0
	}
	c, _ := t.UserAttrs[AttrBaselineConcurrency].(float64)
	return int(c)
}

// Study is a study opened for work: ask/tell over a Storage with a Sampler.
type Study struct {
	st      Storage
	info    *Info
	sampler sampler.Sampler
	space   space.Space

	// mu guards cache, upTo and hist: the study loop, running trials'
	// pruner and concurrent confirmation runs read and renew them at once.
	mu sync.Mutex
	// Finished trials never change, so they are read once: every trial with
	// an ID ≤ upTo is finished and held in cache, by number.
	cache []Trial
	upTo  int64
	// hist is the sampler's view of cache (baseline and WAITING trials left out).
	hist []sampler.Trial
}

// Options open or create a study.
type Options struct {
	// Name is exact; with Prefix instead, Create makes <prefix>_<n> with the
	// next free n and Resume picks the newest <prefix>_<n>.
	Name        string
	Prefix      string
	Directions  []Direction
	MetricNames []string
	Space       space.Space
	Sampler     sampler.Sampler
}

// Create makes a new study; an existing name is an error (resume it instead).
func Create(ctx context.Context, st Storage, o Options) (*Study, error) {
	name := o.Name
	if name == "" {
		var err error
		if name, err = nextName(ctx, st, o.Prefix); err != nil {
			return nil, err
		}
	}
	info, err := st.CreateStudy(ctx, name, o.Directions)
	if err != nil {
		if errors.Is(err, ErrStudyExists) {
			return nil, fmt.Errorf("%w: use `auto-tune-vllm resume` to continue it, or give another name", err)
		}
		return nil, err
	}
	if len(o.MetricNames) == len(o.Directions) {
		if err := st.SetStudyAttr(ctx, info.ID, true, metricNamesKey, o.MetricNames); err != nil {
			return nil, err
		}
		info.SystemAttrs[metricNamesKey] = o.MetricNames
	}
	return &Study{st: st, info: info, sampler: o.Sampler, space: o.Space}, nil
}

// Resume opens an existing study (the newest with the prefix if no name is
// given) and fails the trials a crash left RUNNING, with reason "interrupted".
func Resume(ctx context.Context, st Storage, o Options) (*Study, int, error) {
	name := o.Name
	if name == "" {
		var err error
		if name, err = Newest(ctx, st, o.Prefix); err != nil {
			return nil, 0, err
		}
	}
	info, err := st.LoadStudy(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	if len(o.Directions) > 0 && !sameDirections(info.Directions, o.Directions) {
		return nil, 0, fmt.Errorf("study %q optimises %v, but the config asks for %v: use a new study name", name, info.Directions, o.Directions)
	}
	n, err := st.FailRunning(ctx, info.ID, "interrupted: auto-tune-vllm stopped before this trial finished")
	if err != nil {
		return nil, 0, err
	}
	return &Study{st: st, info: info, sampler: o.Sampler, space: o.Space}, n, nil
}

func sameDirections(a, b []Direction) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Newest is the name of the study a config's prefix last made
// (<prefix>_<n> with the highest n).
func Newest(ctx context.Context, st Storage, prefix string) (string, error) {
	names, err := prefixed(ctx, st, prefix)
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%w: no study named %s_<n> yet; run optimize first", ErrStudyNotFound, prefix)
	}
	return names[len(names)-1], nil
}

func prefixed(ctx context.Context, st Storage, prefix string) ([]string, error) {
	if prefix == "" {
		prefix = "study"
	}
	all, err := st.StudyNames(ctx)
	if err != nil {
		return nil, err
	}
	type nn struct {
		name string
		n    int
	}
	var out []nn
	for _, name := range all {
		rest, ok := strings.CutPrefix(name, prefix+"_")
		if n, err := strconv.Atoi(rest); ok && err == nil {
			out = append(out, nn{name, n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	names := make([]string, len(out))
	for i, x := range out {
		names[i] = x.name
	}
	return names, nil
}

func nextName(ctx context.Context, st Storage, prefix string) (string, error) {
	if prefix == "" {
		prefix = "study"
	}
	names, err := prefixed(ctx, st, prefix)
	if err != nil {
		return "", err
	}
	n := 1
	if len(names) > 0 {
		last := names[len(names)-1]
		k, _ := strconv.Atoi(strings.TrimPrefix(last, prefix+"_"))
		n = k + 1
	}
	return fmt.Sprintf("%s_%d", prefix, n), nil
}

// SetSampler sets the sampler used by Ask.
func (s *Study) SetSampler(smp sampler.Sampler) { s.sampler = smp }

// SystemAttr returns a study system attribute (nil if unset).
func (s *Study) SystemAttr(key string) any { return s.info.SystemAttrs[key] }

// SetSystemAttr stores a study system attribute.
func (s *Study) SetSystemAttr(ctx context.Context, key string, v any) error {
	if err := s.st.SetStudyAttr(ctx, s.info.ID, true, key, v); err != nil {
		return err
	}
	s.info.SystemAttrs[key] = v
	return nil
}

// Name is the study's name.
func (s *Study) Name() string { return s.info.Name }

// Directions of the objectives.
func (s *Study) Directions() []Direction { return s.info.Directions }

// Trials returns every stored trial, by number.
func (s *Study) Trials(ctx context.Context) ([]Trial, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trials(ctx)
}

func (s *Study) trials(ctx context.Context) ([]Trial, error) {
	fresh, err := s.st.TrialsAfter(ctx, s.info.ID, s.upTo)
	if err != nil {
		return nil, err
	}
	all := make([]Trial, 0, len(s.cache)+len(fresh))
	all = append(append(all, s.cache...), fresh...)
	// Advance the watermark over the leading run of finished trials.
	for _, t := range fresh {
		if !t.State.Finished() {
			break
		}
		s.cache = append(s.cache, t)
		s.upTo = t.ID
		if h, ok := samplerTrial(t); ok {
			s.hist = append(s.hist, h)
		}
	}
	return all, nil
}

// SetUserAttr stores a user attribute on a trial, finished or not (what
// the confirmation phase measures later of a finished trial belongs to it).
func (s *Study) SetUserAttr(ctx context.Context, t *Trial, key string, v any) error {
	if err := s.st.SetTrialAttr(ctx, t.ID, false, key, jsonSafe(v)); err != nil {
		return err
	}
	// The cached copy is renewed, not changed: callers may hold the old one.
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.cache {
		if s.cache[i].ID == t.ID {
			attrs := make(map[string]any, len(s.cache[i].UserAttrs)+1)
			for k, x := range s.cache[i].UserAttrs {
				attrs[k] = x
			}
			attrs[key] = roundTrip(v)
			s.cache[i].UserAttrs = attrs
		}
	}
	return nil
}

// roundTrip is v as it reads back from storage (JSON), so the cache and a
// fresh read agree.
func roundTrip(v any) any {
	b, err := json.Marshal(jsonSafe(v))
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// StatusPruned is the trial_status of a trial the pruner stopped.
const StatusPruned = "pruned"

// Completed counts the search trials that ran their course: COMPLETE, or
// stopped by the pruner (as Optuna counts them, or pruning would save no
// time: each pruned trial would be made up by another). What n_trials counts.
func Completed(trials []Trial) int {
	n := 0
	for _, t := range trials {
		if t.Kind() == Search && (t.State == Complete || t.State == Pruned && t.UserAttrs[AttrTrialStatus] == StatusPruned) {
			n++
		}
	}
	return n
}

// Asked is a trial handed out by Ask.
type Asked struct {
	ID       int64
	Number   int
	Kind     Kind
	Params   map[string]float64 // internal values
	External map[string]any
	// Duplicate is an earlier COMPLETE trial with the same configuration;
	// its result can be told again instead of running the trial.
	Duplicate *Trial
}

// AskBaseline starts the baseline trial (vLLM's defaults: no sampled params).
func (s *Study) AskBaseline(ctx context.Context, concurrency int) (*Asked, error) {
	id, number, err := s.st.CreateTrial(ctx, s.info.ID, Running)
	if err != nil {
		return nil, err
	}
	if err := s.st.SetTrialAttr(ctx, id, false, AttrIsBaseline, true); err != nil {
		return nil, err
	}
	if err := s.st.SetTrialAttr(ctx, id, false, AttrBaselineConcurrency, concurrency); err != nil {
		return nil, err
	}
	return &Asked{ID: id, Number: number, Kind: Baseline, Params: map[string]float64{}, External: map[string]any{}}, nil
}

// Ask starts a trial with sampled parameters. The sampler sees every other
// trial, RUNNING ones included (the constant liar), but not the baseline.
func (s *Study) Ask(ctx context.Context) (*Asked, error) {
	id, number, err := s.st.CreateTrial(ctx, s.info.ID, Running)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	trials, err := s.trials(ctx)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	h := s.history(trials[len(s.cache):])
	s.mu.Unlock()
	params, err := s.sampler.Sample(h, s.space, number)
	if err != nil {
		// Nothing was sampled: this trial never ran.
		s.st.SetTrialAttr(ctx, id, false, AttrErrorType, "sampler")
		s.st.SetTrialAttr(ctx, id, false, AttrErrorMessage, err.Error())
		s.st.FinishTrial(ctx, id, Fail, nil)
		return nil, err
	}
	a := &Asked{ID: id, Number: number, Kind: Search, Params: params, External: map[string]any{}}
	rows := make([]Param, 0, len(s.space))
	for _, p := range s.space {
		v := params[p.Name]
		rows = append(rows, Param{Name: p.Name, Internal: v, Dist: p.Dist})
		a.External[p.Name] = p.Dist.External(v)
	}
	if err := s.st.SetParams(ctx, id, rows); err != nil {
		return nil, err
	}
	for i := range trials {
		t := &trials[i]
		if t.State == Complete && t.Number != number && t.Kind() == Search && sameParams(t.Params, params) {
			a.Duplicate = t
			break
		}
	}
	return a, nil
}

func sameParams(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || math.Abs(v-w) > 1e-12*math.Max(1, math.Abs(v)) {
			return false
		}
	}
	return true
}

// history is the sampler's view: the cached finished prefix, then fresh
// (the trials after it).
func (s *Study) history(fresh []Trial) *sampler.History {
	h := &sampler.History{Directions: make([]sampler.Direction, len(s.info.Directions))}
	for i, d := range s.info.Directions {
		h.Directions[i] = sampler.Direction(d == Maximize)
	}
	h.Trials = make([]sampler.Trial, 0, len(s.hist)+len(fresh))
	h.Trials = append(h.Trials, s.hist...)
	for _, t := range fresh {
		if st, ok := samplerTrial(t); ok {
			h.Trials = append(h.Trials, st)
		}
	}
	return h
}

// samplerTrial converts a stored trial; the baseline and enqueued (WAITING)
// trials are not part of what samplers learn from.
func samplerTrial(t Trial) (sampler.Trial, bool) {
	if t.Kind() != Search || t.State == Waiting {
		return sampler.Trial{}, false
	}
	st := sampler.Failed
	switch t.State {
	case Complete:
		st = sampler.Complete
	case Pruned:
		st = sampler.Pruned
	case Running:
		st = sampler.Running
	}
	return sampler.Trial{Number: t.Number, State: st, Params: t.Params, Values: t.Values, Constraints: constraintsOf(t)}, true
}

// constraintsOf reads Optuna's constraint formats: a list under
// "constraints", or one value per "constraints:<name>" key (Optuna 5,
// trial.set_constraint), in the order of their names (numbers by value), so
// every trial lists the same constraint at the same index: the samplers fit
// one model per index. A name the list already has ("0", …) replaces its
// value, as in Optuna.
func constraintsOf(t Trial) []float64 {
	var out []float64
	if list, ok := t.SystemAttrs[ConstraintsKey].([]any); ok {
		for _, c := range list {
			if f, ok := c.(float64); ok {
				out = append(out, f)
			}
		}
	}
	var names []string
	for k := range t.SystemAttrs {
		if name, ok := strings.CutPrefix(k, ConstraintsKey+":"); ok {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, errA := strconv.Atoi(names[i])
		b, errB := strconv.Atoi(names[j])
		if errA == nil && errB == nil {
			return a < b
		}
		if (errA == nil) != (errB == nil) {
			return errA == nil
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		f, ok := t.SystemAttrs[ConstraintsKey+":"+name].(float64)
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(out) && strconv.Itoa(i) == name {
			out[i] = f
			continue
		}
		out = append(out, f)
	}
	return out
}

// Result is what a trial produced.
type Result struct {
	State       State     // Complete, Pruned or Fail
	Values      []float64 // Complete only, one per objective
	Constraints []float64 // > 0 = violated (SLOs, constraints)
	UserAttrs   map[string]any
	Start, End  time.Time
}

// Tell stores the result of an asked trial.
func (s *Study) Tell(ctx context.Context, a *Asked, r Result) error {
	if r.State == Complete && len(r.Values) != len(s.info.Directions) {
		return fmt.Errorf("trial %d: %d values for %d objectives", a.Number, len(r.Values), len(s.info.Directions))
	}
	if r.Constraints != nil {
		if err := s.st.SetTrialAttr(ctx, a.ID, true, ConstraintsKey, r.Constraints); err != nil {
			return err
		}
	}
	attrs := map[string]any{}
	for k, v := range r.UserAttrs {
		attrs[k] = v
	}
	if !r.Start.IsZero() {
		attrs[AttrStartTime] = r.Start.UTC().Format(time.RFC3339Nano)
	}
	if !r.End.IsZero() {
		attrs[AttrEndTime] = r.End.UTC().Format(time.RFC3339Nano)
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := s.st.SetTrialAttr(ctx, a.ID, false, k, jsonSafe(attrs[k])); err != nil {
			return err
		}
	}
	values := r.Values
	if r.State != Complete {
		values = nil
	}
	return s.st.FinishTrial(ctx, a.ID, r.State, values)
}

// Report stores an intermediate value of a running trial.
func (s *Study) Report(ctx context.Context, a *Asked, step int, value float64) error {
	return s.st.SetIntermediate(ctx, a.ID, step, value)
}

// TellDuplicate completes a trial with the result of the earlier identical one.
func (s *Study) TellDuplicate(ctx context.Context, a *Asked) error {
	d := a.Duplicate
	attrs := map[string]any{AttrDuplicateOf: d.Number}
	for k, v := range d.UserAttrs {
		if strings.HasPrefix(k, MetricAttrPrefix) {
			attrs[k] = v
		}
	}
	return s.Tell(ctx, a, Result{State: Complete, Values: d.Values, Constraints: constraintsOf(*d), UserAttrs: attrs})
}

// jsonSafe replaces non-finite floats, which JSON cannot hold, by strings.
func jsonSafe(v any) any {
	if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return v
}
