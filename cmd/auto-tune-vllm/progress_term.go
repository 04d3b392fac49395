package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// termProgress is the live view on a terminal: a bar a study phase (runs
// done of its total, failures, the best trial so far, an ETA) and under it
// a line a run in flight (its phase and time so far), removed when the run
// ends; an ended run prints its line above the bars, as do the warnings
// and errors logged meanwhile (through Write).
type termProgress struct {
	b *board
	p *mpb.Progress

	mu     sync.Mutex
	phase  *phaseBar
	phases int
	runs   map[tune.RunID]*mpb.Bar
	seq    int
}

// phaseBar is a phase's bar, and once the phase is over, its last status:
// the board moves on to the next phase.
type phaseBar struct {
	bar   *mpb.Bar
	final atomic.Pointer[string]
}

var _ tune.Progress = (*termProgress)(nil)

func newTermProgress(w io.Writer, now func() time.Time, opts ...mpb.ContainerOption) *termProgress {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(200 * time.Millisecond)}, opts...)
	return &termProgress{b: newBoard(now), p: mpb.New(opts...), runs: map[tune.RunID]*mpb.Bar{}}
}

func (t *termProgress) Phase(i tune.PhaseInfo) {
	t.freeze()
	t.b.setPhase(i)
	pb := &phaseBar{}
	status := func(decor.Statistics) string {
		if s := pb.final.Load(); s != nil {
			return " " + *s
		}
		return " " + t.b.status(true, true)
	}
	t.mu.Lock()
	// Phases stack up in order, above the runs in flight (lower is higher).
	prio := t.phases
	t.phases++
	t.mu.Unlock()
	pb.bar = t.p.AddBar(int64(i.Total), mpb.BarPriority(prio), mpb.BarWidth(24),
		mpb.PrependDecorators(decor.Name(string(i.Phase), decor.WC{W: 13, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Any(status)))
	pb.bar.SetCurrent(int64(i.Done))
	t.mu.Lock()
	t.phase = pb
	t.mu.Unlock()
}

// freeze ends the current phase's bar where it stands, with its last
// status.
func (t *termProgress) freeze() {
	t.mu.Lock()
	pb := t.phase
	t.phase = nil
	t.mu.Unlock()
	if pb == nil {
		return
	}
	s := t.b.status(true, false)
	pb.final.Store(&s)
	pb.bar.Abort(false) // a no-op when complete
}

func (t *termProgress) Started(s tune.RunStart) {
	f := t.b.start(s)
	line := func(st decor.Statistics) string { return t.b.flightLine(f, st.AvailableWidth) }
	t.mu.Lock()
	t.seq++
	prio := 1000 + t.seq
	t.mu.Unlock()
	bar := t.p.New(0, mpb.NopStyle(), mpb.BarPriority(prio), mpb.PrependDecorators(decor.Any(line)))
	t.mu.Lock()
	t.runs[s.ID] = bar
	t.mu.Unlock()
}

func (t *termProgress) Event(id tune.RunID, e trial.Event) { t.b.event(id, e) }

func (t *termProgress) Finished(e tune.RunEnd) {
	t.b.finish(e)
	t.mu.Lock()
	bar := t.runs[e.ID]
	delete(t.runs, e.ID)
	pb := t.phase
	t.mu.Unlock()
	if bar != nil {
		bar.Abort(true)
	}
	if pb != nil && e.Phase == t.b.phaseOf() {
		pb.bar.SetCurrent(int64(t.b.doneOf()))
	}
	t.p.Write([]byte(endLine(e) + "\n"))
}

// Write prints p above the bars (log lines).
func (t *termProgress) Write(p []byte) (int, error) { return t.p.Write(p) }

// stop takes the runs' lines down, leaves the phases' bars as they stand,
// and waits for the last frame, so the terminal is left with the cursor
// under the bars.
func (t *termProgress) stop() {
	t.mu.Lock()
	runs := t.runs
	t.runs = map[tune.RunID]*mpb.Bar{}
	t.mu.Unlock()
	for _, bar := range runs {
		bar.Abort(true)
	}
	t.freeze()
	t.p.Wait()
}

// flightLine is a run in flight: "  trial 3  benchmarking  1m02s
// max_num_seqs=32", cut to width (a wrapped line would break the redraw).
func (b *board) flightLine(f *flight, width int) string {
	b.mu.Lock()
	phase := phaseName(f.phase)
	if f.phase == "" {
		phase = "starting"
	}
	took := b.now().Sub(f.start)
	b.mu.Unlock()
	line := "  " + f.what + "  " + phase + "  " + short(took) + "  " + f.about
	if r := []rune(line); width > 1 && len(r) > width-1 {
		line = string(r[:width-2]) + "…"
	}
	return line
}

func (b *board) phaseOf() tune.StudyPhase {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.phase.Phase
}

func (b *board) doneOf() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}
