package main

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// showProgress starts the study run's progress display, chosen by the
// flags and stdout: none under --quiet; under --json, plain lines on stderr
// (stdout carries the report alone, and stderr is where a script's
// diagnostics go already); on a terminal, the live view, with the log lines
// below warnings moved to <log dir>/<study>/controller.log so they don't
// tear it; else plain lines on stdout. controller.log gets every log line
// in each case. done stops the display and puts the logs back, before the
// report is printed.
func (r *studyRun) showProgress(g *globals, studyName string) (p tune.Progress, done func()) {
	var stops []func()
	done = func() {
		for _, stop := range slices.Backward(stops) {
			stop()
		}
		stops = nil
	}
	sink := sinkOf(g.log)
	var file io.Writer
	if sink != nil {
		path := filepath.Join(r.flags.LogDir, studyName, "controller.log")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			g.log.Warn("no controller log", "error", err)
		} else if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			g.log.Warn("no controller log", "error", err)
		} else {
			file = f
			stops = append(stops, func() { f.Close() })
		}
	}
	redirect := func(term io.Writer, level slog.Level) {
		if sink != nil {
			stops = append(stops, sink.redirect(term, level, file))
		}
	}
	switch {
	case r.flags.Quiet:
		redirect(g.io.Stderr, slog.LevelError)
		return tune.NoProgress{}, done
	case r.flags.JSON:
		redirect(g.io.Stderr, slog.LevelDebug)
		return newPlainProgress(g.io.Stderr, time.Now), done
	case g.io.StdoutTTY:
		t := newTermProgress(g.io.Stdout, time.Now)
		stops = append(stops, t.stop)
		redirect(t, slog.LevelWarn)
		return t, done
	}
	redirect(g.io.Stderr, slog.LevelDebug)
	return newPlainProgress(g.io.Stdout, time.Now), done
}

// board is what both progress views show, kept from what tune.Progress
// hears: the phase and its counts, the best trial so far, and the runs in
// flight. Its methods are safe for the trials' concurrent calls.
type board struct {
	mu      sync.Mutex
	now     func() time.Time
	phase   tune.PhaseInfo
	done    int
	failed  int
	best    string
	busy    time.Duration // the phase's runs' durations, summed
	counted int           // runs the phase finished here (busy's)
	running map[tune.RunID]*flight
}

// flight is a run in progress.
type flight struct {
	start time.Time // on our clock: a Ray trial's elapsed is its node's
	phase trial.Phase
	what  string // "trial 3", "trial 3 confirmation run 1"
	about string // its parameters, or what a baseline runs
}

func newBoard(now func() time.Time) *board {
	return &board{now: now, running: map[tune.RunID]*flight{}}
}

func (b *board) setPhase(p tune.PhaseInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.phase, b.done, b.failed, b.busy, b.counted = p, p.Done, 0, 0, 0
}

func (b *board) start(s tune.RunStart) *flight {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := &flight{start: b.now(), what: runName(s.ID), about: about(s)}
	b.running[s.ID] = f
	return f
}

// event records a phase change; false when the run is not known or the
// phase did not change (a benchmark's metrics so far).
func (b *board) event(id tune.RunID, e trial.Event) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.running[id]
	if f == nil || f.phase == e.Phase {
		return false
	}
	f.phase = e.Phase
	return true
}

func (b *board) finish(e tune.RunEnd) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.running, e.ID)
	if e.Phase != b.phase.Phase {
		return
	}
	if e.Outcome == tune.Failed {
		b.failed++ // in this phase; e.Failures counts the study run's
	}
	if e.Duration > 0 && e.Outcome != tune.Interrupted {
		b.busy += e.Duration
		b.counted += max(e.Done-b.done, 0)
	}
	b.done = max(b.done, e.Done)
	if e.Best {
		var vs []string
		for _, v := range e.Values {
			vs = append(vs, strconv.FormatFloat(v.Value, 'g', 4, 64))
		}
		b.best = fmt.Sprintf("trial %d (%s)", e.ID.Number, strings.Join(vs, ", "))
	}
}

// status is the phase's line of counts: "3/10 trials done, 1 failed,
// best: trial 2 (812.4), ETA 4m10s"; with several objectives, the last
// trial to join the Pareto front. The ETA is left out of a phase that is
// over or was cut short (withETA false).
func (b *board) status(withBest, withETA bool) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	parts := []string{fmt.Sprintf("%d/%d %s done", b.done, b.phase.Total, unit(b.phase.Phase))}
	if b.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", b.failed))
	}
	if withBest && b.best != "" && b.phase.Phase == tune.PhaseSearch {
		parts = append(parts, "best: "+b.best)
	}
	var elapsed []time.Duration
	for _, f := range b.running {
		elapsed = append(elapsed, b.now().Sub(f.start))
	}
	if left, ok := eta(b.busy, b.counted, b.phase.Total-b.done, elapsed, b.phase.Concurrency); ok && withETA {
		parts = append(parts, "ETA "+short(left))
	}
	return strings.Join(parts, ", ")
}

// eta is the time left for remaining more runs to be done, from the time
// the runs of this phase took per run done (busy over done: failed runs,
// which count for nothing, make each done one dearer), less what the runs
// in flight (elapsed so far) already spent, spread over concurrency slots,
// and no sooner than the run in flight furthest from its end. Unknown (false)
// before a first run is done: the trials' own durations, unlike a bar's
// rate of increments, say nothing before then.
func eta(busy time.Duration, done, remaining int, elapsed []time.Duration, concurrency int) (time.Duration, bool) {
	if done <= 0 || remaining <= 0 {
		return 0, false
	}
	per := busy / time.Duration(done)
	work := per * time.Duration(remaining)
	var longest time.Duration
	for _, e := range elapsed[:min(len(elapsed), remaining)] {
		spent := min(e, per)
		work -= spent
		longest = max(longest, per-spent)
	}
	return max(work/time.Duration(max(concurrency, 1)), longest), true
}

// plainProgress prints a line an event, for logs and pipes: no ANSI codes,
// nothing redrawn.
type plainProgress struct {
	b  *board
	mu sync.Mutex
	w  io.Writer
}

func newPlainProgress(w io.Writer, now func() time.Time) *plainProgress {
	return &plainProgress{b: newBoard(now), w: w}
}

func (p *plainProgress) println(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, s)
}

func (p *plainProgress) Phase(i tune.PhaseInfo) {
	p.b.setPhase(i)
	p.println(phaseLine(i))
}

func (p *plainProgress) Started(s tune.RunStart) {
	f := p.b.start(s)
	p.println(f.what + " started: " + f.about)
}

func (p *plainProgress) Event(id tune.RunID, e trial.Event) {
	if p.b.event(id, e) {
		line := runName(id) + " " + phaseName(e.Phase)
		if e.Elapsed >= time.Second {
			line += " after " + short(e.Elapsed)
		}
		p.println(line)
	}
}

func (p *plainProgress) Finished(e tune.RunEnd) {
	p.b.finish(e)
	p.println(endLine(e) + " [" + p.b.status(false, true) + "]")
}

func phaseLine(i tune.PhaseInfo) string {
	line := fmt.Sprintf("%s: %d/%d %s done", i.Phase, i.Done, i.Total, unit(i.Phase))
	if i.Phase == tune.PhaseBaseline {
		return line + " (vLLM's defaults)"
	}
	return line + fmt.Sprintf(", %d at a time", i.Concurrency)
}

// endLine says how a run ended: "trial 3 complete in 1m02s:
// output_tokens_per_second_mean=812.4 (best so far)".
func endLine(e tune.RunEnd) string {
	line := runName(e.ID) + " "
	switch e.Outcome {
	case tune.Completed:
		line += "complete in " + short(e.Duration) + ": " + values(e.Values)
		if !e.Feasible {
			line += " (infeasible: misses a constraint or SLO)"
		}
		switch {
		case e.Best && len(e.Values) > 1:
			line += " (Pareto-optimal so far)"
		case e.Best:
			line += " (best so far)"
		}
	case tune.Pruned:
		line += "pruned after " + short(e.Duration) + ": " + values(e.Values)
	case tune.Failed:
		line += "failed after " + short(e.Duration) + ": "
		if e.FailureClass != "" {
			line += e.FailureClass + ": "
		}
		msg, _, _ := strings.Cut(strings.TrimSpace(e.Message), "\n")
		line += msg
	case tune.Skipped:
		line += "skipped: " + e.Message
	case tune.Duplicate:
		line += "not run: " + e.Message + ", whose result it reuses"
	case tune.Interrupted:
		line += "interrupted after " + short(e.Duration)
	default:
		line += string(e.Outcome)
	}
	return line
}

func runName(id tune.RunID) string {
	if id.Round > 0 {
		return fmt.Sprintf("trial %d confirmation run %d", id.Number, id.Round)
	}
	return fmt.Sprintf("trial %d", id.Number)
}

// about is what a run runs: its parameters, or the baseline.
func about(s tune.RunStart) string {
	if s.Concurrency > 0 {
		return fmt.Sprintf("baseline (vLLM's defaults) at concurrency %d", s.Concurrency)
	}
	if len(s.Params) == 0 {
		return "no parameters"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Params)) {
		parts = append(parts, k+"="+formatValue(s.Params[k]))
	}
	return strings.Join(parts, " ")
}

func formatValue(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'g', 6, 64)
	}
	return fmt.Sprint(v)
}

// values: "output_tokens_per_second_mean=812.4 request_latency=1.25".
func values(vs []tune.Value) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, v.Key+"="+formatValue(v.Value))
	}
	if len(parts) == 0 {
		return "no values"
	}
	return strings.Join(parts, " ")
}

func phaseName(p trial.Phase) string {
	switch p {
	case trial.Starting:
		return "starting server"
	case trial.WarmingUp:
		return "warming up"
	case trial.Stopping:
		return "stopping server"
	}
	return string(p)
}

func unit(p tune.StudyPhase) string {
	if p == tune.PhaseSearch {
		return "trials"
	}
	return "runs"
}

// short is a duration to the second: "45s", "1m02s", "2h05m".
func short(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}
