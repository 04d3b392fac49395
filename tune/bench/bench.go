// Package bench is the built-in load generator: it streams completions from
// an OpenAI-compatible server (vLLM, a simulator) at a fixed concurrency or
// request rate, times every request on the monotonic clock, and summarises
// the run under the metric names the Python auto-tune-vllm (GuideLLM) uses,
// so objectives map one to one. It imports nothing from the tuner.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"time"
)

// TokenDist is a length distribution: a normal around Mean with Stdev,
// clipped to [Min, Max] (0 = unbounded), at least 1.
type TokenDist struct {
	Mean, Stdev, Min, Max int
}

func (d TokenDist) draw(rng *rand.Rand) int {
	n := float64(d.Mean)
	if d.Stdev > 0 {
		n += rng.NormFloat64() * float64(d.Stdev)
	}
	v := int(math.Round(n))
	if d.Min > 0 && v < d.Min {
		v = d.Min
	}
	if d.Max > 0 && v > d.Max {
		v = d.Max
	}
	return max(v, 1)
}

// Options describe one benchmark run.
type Options struct {
	BaseURL string // e.g. http://127.0.0.1:8000
	Model   string
	Chat    bool // /v1/chat/completions instead of /v1/completions
	// Concurrency is the number of requests kept in flight (the reference's
	// `rate`). With RequestRate it caps requests in flight instead.
	Concurrency int
	// RequestRate > 0 starts requests as a Poisson process at that rate;
	// a request that finds Concurrency requests in flight is dropped, never
	// delayed, so the offered load stays what was asked.
	RequestRate float64
	// Duration is how long the full load runs after Warmup. Throughput is
	// measured over it from the steady state on (closed loop: once every
	// stream has received its first token).
	Duration    time.Duration
	MaxRequests int           // 0 = no limit
	Warmup      time.Duration // the least warm-up; requests started earlier are not in the latencies
	Prompt      TokenDist
	Output      TokenDist
	// Prompts, if set, are used in turn instead of synthetic text (a
	// dataset); OutputTokens[i] > 0 overrides the output length.
	Prompts      []string
	OutputTokens []int
	// Stagger (closed loop) cuts each stream's first request to a share of
	// its output length, (w+1)/Concurrency for stream w, so the streams do
	// not run in lock-step waves of identical requests whose phase at the
	// window's edges would move the throughput. Those first requests are
	// left out of the latencies, like warm-up.
	Stagger bool
	Seed    uint64
	Client  *http.Client
	Logger  *slog.Logger
	// Progress, if set, hears how the run goes every ProgressEvery (default
	// 1 s), from one goroutine; returning true stops the run early, and the
	// summary then covers what was measured until then (Summary.Stopped).
	Progress      func(Snapshot) (stop bool)
	ProgressEvery time.Duration
	// StepLength, if set, makes each snapshot's Metrics cover a whole
	// number of steps of this length from the window's start (Snapshot.Step),
	// so step k means the same k seconds of measurement in every trial,
	// however long each took to reach its steady state.
	StepLength time.Duration
	// KeepRecords puts every request's record in Summary.Records, for a
	// caller that computes something else from them (bench/precision).
	KeepRecords bool

	// firstSendGap overrides firstSendGap (tests).
	firstSendGap time.Duration
}

// Snapshot is a run in progress.
type Snapshot struct {
	Elapsed time.Duration // since the run started
	Warmup  bool          // still warming up (or not yet steady): Metrics is nil
	// Metrics so far, as in Summary.Metrics, over the measured time up to now
	// (with Options.StepLength, up to the end of the last whole step).
	Metrics map[string]float64
	// Step is how many whole StepLengths Metrics covers (with StepLength).
	Step int
}

// Record is one request.
type Record struct {
	Index int           // in the order requests were sent
	Start time.Duration // since the run started
	TTFT  time.Duration
	// Chunks are the arrival times of the streamed token chunks, since the
	// run started: throughput is counted from them, so a request still in
	// flight when the window closes counts for what it received.
	Chunks       []time.Duration
	E2E          time.Duration
	PromptTokens int
	OutputTokens int
	Err          string
	Warmup       bool
	Live         bool // still in flight (a snapshot's copy)
}

// Run executes the benchmark and summarises it.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Duration <= 0 && o.MaxRequests <= 0 {
		return nil, errors.New("bench: give a duration or a request count")
	}
	if o.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		tr.MaxIdleConnsPerHost = o.Concurrency
		tr.MaxConnsPerHost = 0
		o.Client = &http.Client{Transport: tr}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &runner{o: o, start: time.Now(), records: make(chan Record, 1024), live: map[int]*Record{}}
	var deadline time.Time
	if o.Duration > 0 {
		deadline = r.start.Add(o.Warmup + o.Duration)
	}
	runCtx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	runCtx, stop := context.WithCancel(runCtx)
	defer stop()
	var agg aggregator
	var stopped time.Time // when Progress asked to stop; zero if it did not
	done := make(chan struct{})
	go func() {
		defer close(done)
		stopped = r.collect(&agg, stop)
	}()
	if o.RequestRate > 0 {
		r.poisson(runCtx)
	} else {
		r.closedLoop(runCtx)
	}
	close(r.records)
	<-done
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: %w", context.Cause(ctx))
	}
	end := time.Now()
	if !stopped.IsZero() {
		end = stopped
	}
	if !deadline.IsZero() && end.After(deadline) {
		end = deadline // requests cut at the deadline do not stretch the window
	}
	sum := agg.summary(r.window(agg.recs, end.Sub(r.start)), r.droppedSoFar())
	sum.Stopped = !stopped.IsZero()
	if o.KeepRecords {
		sum.Records = agg.recs
	}
	return sum, nil
}

// streams is how many requests the closed loop keeps in flight at full load
// (0 in request-rate mode, whose load is set by arrivals, not streams).
func (r *runner) streams() int {
	if r.o.RequestRate > 0 {
		return 0
	}
	if r.o.MaxRequests > 0 {
		return min(r.o.Concurrency, r.o.MaxRequests)
	}
	return r.o.Concurrency
}

func (r *runner) window(recs []Record, end time.Duration) window {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	return measureWindow(recs, r.streams(), r.o.Warmup, idle, end)
}

// snapshot summarises the run so far, requests in flight included.
func (r *runner) snapshot(agg *aggregator, now time.Time) Snapshot {
	elapsed := now.Sub(r.start)
	snap := Snapshot{Elapsed: elapsed, Warmup: true}
	if elapsed < r.o.Warmup {
		return snap
	}
	// Within a step already summarised the figures are those of the same
	// whole steps: they are not worked out again (snapshots come several
	// times a step, and each walks every token of the run).
	if l, last := r.o.StepLength, r.lastStep; l > 0 && last.Step > 0 && int((elapsed-last.start)/l) == last.Step {
		last.Snapshot.Elapsed = elapsed
		return last.Snapshot
	}
	recs := agg.recs[:len(agg.recs):len(agg.recs)]
	r.mu.Lock()
	for _, rec := range r.live {
		// Only what is set before a request goes live, or under r.mu.
		recs = append(recs, Record{Index: rec.Index, Start: rec.Start, Warmup: rec.Warmup, Chunks: slices.Clone(rec.Chunks), Live: true})
	}
	r.mu.Unlock()
	if _, steady := steadyAt(recs, r.streams()); r.streams() > 0 && !steady {
		return snap
	}
	w := r.window(recs, elapsed)
	if l := r.o.StepLength; l > 0 {
		snap.Step = int(w.length() / l)
		if snap.Step == 0 {
			return snap // steady, but not a whole step measured yet
		}
		w.end = w.start + time.Duration(snap.Step)*l
	}
	snap.Warmup = false
	snap.Metrics = summarize(recs, w, r.droppedSoFar()).Metrics
	r.lastStep = stepSnapshot{snap, w.start}
	return snap
}

// stepSnapshot is the last snapshot of whole steps, and where its window
// began.
type stepSnapshot struct {
	Snapshot
	start time.Duration
}

// collect aggregates the records until the run ends, and tells Progress how
// it goes; when Progress says stop, it stops the run and returns when.
func (r *runner) collect(agg *aggregator, stop func()) (stopped time.Time) {
	var tick <-chan time.Time
	if r.o.Progress != nil {
		every := r.o.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case rec, ok := <-r.records:
			if !ok {
				return stopped
			}
			agg.add(rec)
		case now := <-tick:
			if !stopped.IsZero() {
				continue
			}
			if r.o.Progress(r.snapshot(agg, now)) {
				stopped = now
				stop()
			}
		}
	}
}

func (r *runner) droppedSoFar() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

type runner struct {
	o       Options
	start   time.Time
	records chan Record
	mu      sync.Mutex
	issued  int
	dropped int
	// idle is when the load began to drain: the first time a request was
	// asked for past MaxRequests (since the run started; 0 = never).
	idle time.Duration
	live map[int]*Record // requests in flight, by index
	// lastStep is the collector's own (snapshots are taken on its goroutine).
	lastStep stepSnapshot
}

// take reserves the next request number, or false when the count is reached.
func (r *runner) take() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.o.MaxRequests > 0 && r.issued >= r.o.MaxRequests {
		if r.idle == 0 {
			r.idle = time.Since(r.start)
		}
		return 0, false
	}
	r.issued++
	return r.issued - 1, true
}

// closedLoop keeps Concurrency requests in flight until the deadline.
//
// With Stagger, the streams' first requests reach the server in stream
// order (each is sent once the one before it is written, or after
// firstSendGap), and stream w's is cut by the seed's permutation. A server
// admits requests first come first served, so which requests share a
// prefill step, and with fixed lengths every later step, follows from that
// order: left to goroutine scheduling, the same configuration settled into a
// different pattern each run, 1 to 2 % apart in throughput (measured on the
// simulator at 128 streams); from the seed, the order is drawn once. Runs
// with one seed still drift apart afterwards, by when each request reaches
// the server: 0.60 % coefficient of variation over 30 runs on one seed,
// 0.70 % on 30 seeds (bench/precision).
func (r *runner) closedLoop(ctx context.Context) {
	n := r.o.Concurrency
	var shares []int
	if r.o.Stagger {
		shares = rand.New(rand.NewPCG(r.o.Seed, 3)).Perm(n)
	}
	gap := firstSendGap
	if r.o.firstSendGap > 0 {
		gap = r.o.firstSendGap
	}
	var wg sync.WaitGroup
	// prev is closed once the stream before has written its first request
	// (nil for the first stream, and without Stagger).
	var prev chan struct{}
	for w := 0; w < n; w++ {
		wait := prev
		var sent chan struct{}
		if r.o.Stagger {
			sent = make(chan struct{})
			prev = sent
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			share := 1.0
			if r.o.Stagger {
				share = float64(shares[w]+1) / float64(n)
			}
			if wait != nil {
				t := time.NewTimer(gap)
				select {
				case <-wait:
				case <-t.C:
				case <-ctx.Done():
				}
				t.Stop()
			}
			for ctx.Err() == nil {
				i, ok := r.take()
				if !ok {
					break
				}
				r.records <- r.one(ctx, i, share, sent)
				share, sent = 1, nil
			}
			if sent != nil { // never sent: the next stream need not wait
				close(sent)
			}
		}()
	}
	wg.Wait()
}

// firstSendGap bounds how long a stream's first request waits for the one
// before it to be written (a remote server's connection set-up), so order
// costs a start-up of at most Concurrency times this.
const firstSendGap = 10 * time.Millisecond

// poisson starts requests at exponential intervals; no free slot = dropped.
func (r *runner) poisson(ctx context.Context) {
	rng := rand.New(rand.NewPCG(r.o.Seed, 7))
	slots := make(chan struct{}, r.o.Concurrency)
	var wg sync.WaitGroup
	next := time.Now()
	for ctx.Err() == nil {
		next = next.Add(time.Duration(rng.ExpFloat64() / r.o.RequestRate * float64(time.Second)))
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			wg.Wait()
			return
		case <-t.C:
		}
		i, ok := r.take()
		if !ok {
			break
		}
		select {
		case slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				r.records <- r.one(ctx, i, 1, nil)
			}()
		default:
			r.mu.Lock()
			r.dropped++
			r.mu.Unlock()
		}
	}
	wg.Wait()
}

// request builds the body of request i, its output cut to share of its
// length (at least one token).
func (r *runner) request(i int, share float64) ([]byte, string) {
	rng := rand.New(rand.NewPCG(r.o.Seed, uint64(i)+1))
	out := r.o.Output.draw(rng)
	var prompt string
	if len(r.o.Prompts) > 0 {
		k := i % len(r.o.Prompts)
		prompt = r.o.Prompts[k]
		if k < len(r.o.OutputTokens) && r.o.OutputTokens[k] > 0 {
			out = r.o.OutputTokens[k]
		}
	} else {
		prompt = syntheticPrompt(rng, r.o.Prompt.draw(rng), i)
	}
	if share < 1 {
		out = max(1, int(math.Round(float64(out)*share)))
	}
	body := map[string]any{
		"model": r.o.Model, "stream": true, "max_tokens": out, "ignore_eos": true, "temperature": 0,
		"stream_options": map[string]any{"include_usage": true},
	}
	path := "/v1/completions"
	if r.o.Chat {
		path = "/v1/chat/completions"
		body["messages"] = []map[string]string{{"role": "user", "content": prompt}}
	} else {
		body["prompt"] = prompt
	}
	b, _ := json.Marshal(body)
	return b, strings.TrimRight(r.o.BaseURL, "/") + path
}

// one runs request i (its output cut to share, see Options.Stagger) and
// times it; sent, if not nil, is closed once the request is written (or
// has failed before that).
func (r *runner) one(ctx context.Context, i int, share float64, sent chan struct{}) Record {
	if sent != nil {
		var once sync.Once
		wrote := func() { once.Do(func() { close(sent) }) }
		defer wrote()
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote() }})
	}
	body, url := r.request(i, share)
	t0 := time.Now()
	rec := &Record{Index: i, Start: t0.Sub(r.start)}
	rec.Warmup = rec.Start < r.o.Warmup || share < 1
	r.mu.Lock()
	r.live[i] = rec
	r.mu.Unlock()
	// What is returned is a copy taken once the request is no longer live,
	// so a snapshot never counts it twice (it may miss it for the moment it
	// waits in the records channel).
	done := func() Record {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.live, i)
		return *rec
	}
	fail := func(err error) Record {
		rec.E2E = time.Since(t0)
		rec.Err = err.Error()
		return done()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fail(fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg))))
	}
	sse := newSSEReader(resp.Body)
	usage := false
	for {
		data, err := sse.next()
		if errors.Is(err, errDone) {
			break
		}
		if err != nil {
			if err == io.EOF {
				err = errors.New("stream ended without [DONE]")
			}
			return fail(err)
		}
		c, err := parseChunk(data)
		if err != nil {
			return fail(err)
		}
		now := time.Now()
		if c.text() != "" {
			if len(rec.Chunks) == 0 {
				rec.TTFT = now.Sub(t0)
			}
			r.mu.Lock()
			rec.Chunks = append(rec.Chunks, now.Sub(r.start))
			r.mu.Unlock()
		}
		if c.Usage != nil {
			usage = true
			rec.PromptTokens, rec.OutputTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
	}
	rec.E2E = time.Since(t0)
	if !usage {
		// Without usage, vLLM streams one token per chunk.
		rec.OutputTokens = len(rec.Chunks)
	}
	if len(rec.Chunks) == 0 {
		rec.Err = "no tokens in the response"
	}
	return done()
}

// words makes synthetic prompts: roughly one token per word, distinct per
// request so a prefix cache cannot serve them.
var words = strings.Fields("the of and to in is that for it as with was on be by at this are from or an have not which but one all were they can more has their will about when there so what up out if")

func syntheticPrompt(rng *rand.Rand, tokens, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d ", i)
	for k := 1; k < tokens; k++ {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()
}
