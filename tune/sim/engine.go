package sim

import (
	"context"
	"slices"
	"sync"
	"time"
)

// request is one generation in the engine.
type request struct {
	prompt, maxTokens int
	prefilled         int // prompt tokens processed (lost on preemption)
	generated         int
	blocks            int
	arrived           time.Time
	// tokens gets one send per generated token (buffered for all of them,
	// so the engine never waits on a client) and is closed at the end.
	tokens chan struct{}
}

func newRequest(prompt, maxTokens int) *request {
	return &request{prompt: prompt, maxTokens: maxTokens, arrived: time.Now(), tokens: make(chan struct{}, maxTokens)}
}

// Engine is the continuous-batching scheduler: FIFO admission while there
// is a free sequence slot and KV blocks for the prompt; each step spends at
// most max_num_batched_tokens on one decode token per running request, then
// prefill (chunked, or whole prompts only); a decode that needs a block when
// none is free preempts the newest request, which must recompute.
type Engine struct {
	cfg  Config
	free int // free KV blocks

	mu      sync.Mutex
	waiting []*request
	running []*request
	wake    chan struct{}

	plan planned // the step in progress

	// Counters for /metrics.
	preemptions, promptTokens, genTokens, finished int
}

func newEngine(cfg Config, blocks int) *Engine {
	return &Engine{cfg: cfg, free: blocks, wake: make(chan struct{}, 1)}
}

func (e *Engine) submit(r *request) {
	e.mu.Lock()
	e.waiting = append(e.waiting, r)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func blocksFor(tokens, blockSize int) int { return (tokens + blockSize - 1) / blockSize }

// maxLag is how far the engine may fall behind its simulated clock and
// still catch up (steps then follow each other without sleeping); beyond,
// the machine is too slow for the speed-up and the clock is reset.
const maxLag = time.Second

// run steps the engine until ctx ends. Steps are paced against an absolute
// clock, not by sleeping each step's length: a timer fires late (by 5 to
// 15 ms on a busy virtual machine, measured), and sleeping per step would
// add that to every step, slowing the server by whatever the machine's
// timers do. A late wake-up is made up by the steps after it.
func (e *Engine) run(ctx context.Context) {
	var due time.Time
	for {
		e.mu.Lock()
		idle := len(e.waiting) == 0 && len(e.running) == 0
		e.mu.Unlock()
		if idle {
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			}
			due = time.Time{}
			continue
		}
		d := e.step()
		now := time.Now()
		if due.IsZero() || now.Sub(due) > maxLag {
			due = now
		}
		due = due.Add(time.Duration(float64(d) / e.cfg.Speedup))
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		e.emit()
	}
}

// planned is what the current step does, emitted when its time has passed.
type planned struct {
	decode  []*request
	firstOf []*request // prefill finished: first token
}

// step schedules one engine step and returns its duration.
func (e *Engine) step() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.cfg
	budget := c.MaxNumBatchedTokens
	e.plan = planned{}
	var w work
	prefillN := 0

	// Decode: one token per running request past its prefill.
	for i := 0; i < len(e.running) && budget > 0; i++ {
		r := e.running[i]
		if r.prefilled < r.prompt {
			continue
		}
		need := blocksFor(r.prompt+r.generated+1, c.BlockSize) - r.blocks
		for need > e.free {
			victim := e.running[len(e.running)-1]
			e.preempt(victim)
			if victim == r {
				break
			}
		}
		if r.prefilled < r.prompt || !e.isRunning(r) {
			continue
		}
		if need > 0 {
			e.free -= need
			r.blocks += need
		}
		budget--
		w.add(r.prompt+r.generated, 1)
		e.plan.decode = append(e.plan.decode, r)
	}
	// Admit new requests: a free slot and blocks for the whole prompt.
	for len(e.waiting) > 0 && len(e.running) < c.MaxNumSeqs {
		r := e.waiting[0]
		need := blocksFor(r.prompt+1, c.BlockSize)
		if need > e.free {
			break
		}
		e.free -= need
		r.blocks = need
		e.waiting = e.waiting[1:]
		e.running = append(e.running, r)
	}
	// Prefill within what is left of the budget.
	for _, r := range e.running {
		if budget <= 0 {
			break
		}
		left := r.prompt - r.prefilled
		if left <= 0 {
			continue
		}
		n := left
		if n > budget {
			if !c.ChunkedPrefill {
				break // a whole prompt or nothing, first come first served
			}
			n = budget
		}
		w.add(r.prefilled, n)
		r.prefilled += n
		budget -= n
		prefillN += n
		if r.prefilled == r.prompt {
			e.plan.firstOf = append(e.plan.firstOf, r)
		}
	}
	e.promptTokens += prefillN
	return c.stepTime(w)
}

func (e *Engine) isRunning(r *request) bool { return slices.Contains(e.running, r) }

// release takes r out of the running batch and frees its KV blocks; a
// request not running holds none.
func (e *Engine) release(r *request) {
	if i := slices.Index(e.running, r); i >= 0 {
		e.running = slices.Delete(e.running, i, i+1)
		e.free += r.blocks
		r.blocks = 0
	}
}

// preempt frees r's blocks and puts it back at the head of the queue; its
// prefill must be recomputed (vLLM's recompute preemption).
func (e *Engine) preempt(r *request) {
	e.release(r)
	r.prefilled = 0
	e.waiting = append([]*request{r}, e.waiting...)
	e.preemptions++
}

// emit delivers the tokens of the step that just ended.
func (e *Engine) emit() {
	e.mu.Lock()
	defer e.mu.Unlock()
	deliver := func(r *request) {
		if !e.isRunning(r) {
			return
		}
		r.generated++
		e.genTokens++
		r.tokens <- struct{}{}
		if r.generated >= r.maxTokens {
			e.finish(r)
		}
	}
	for _, r := range e.plan.decode {
		deliver(r)
	}
	for _, r := range e.plan.firstOf {
		deliver(r)
	}
}

// abort drops a request whose client went away, as vLLM does.
func (e *Engine) abort(r *request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range e.waiting {
		if x == r {
			e.waiting = append(e.waiting[:i], e.waiting[i+1:]...)
			return
		}
	}
	e.release(r)
}

func (e *Engine) finish(r *request) {
	e.release(r)
	e.finished++
	close(r.tokens)
}
