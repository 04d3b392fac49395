package bench

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

// Summary is a finished run.
type Summary struct {
	// Duration is the measurement window: from the steady state (or the end
	// of Options.Warmup, whichever is later) to the end of the full load.
	Duration time.Duration
	// WindowStart is where the window began, since the run started.
	WindowStart time.Duration
	Requests    int // measured and successful
	Errors      int // measured and failed
	Incomplete  int // cut by the end of the run
	Dropped     int // request-rate mode: no free slot at arrival
	// Metrics holds, for each metric M: M_mean, M_median, M_min, M_max,
	// M_std_dev, M_p50, M_p90, M_p95, M_p99, and M (the median), like the
	// Python tool's GuideLLM parsing. Latencies are per completed request.
	// Throughputs count the tokens (and requests) that arrived inside the
	// window, those of requests still in flight at its edges included: M_mean
	// is the total over the window (its edges faded, see edgeFade), the other
	// statistics are over its whole seconds, and M_ci95_low/M_ci95_high bound
	// the mean (Student's t over those seconds). Also: requests, errors,
	// incomplete, dropped.
	Metrics map[string]float64
	// FirstError is an example failure, for messages.
	FirstError string
	// Stopped: Options.Progress ended the run before its duration.
	Stopped bool
	// Records are the requests, with Options.KeepRecords.
	Records []Record
}

type aggregator struct {
	recs []Record
}

func (a *aggregator) add(r Record) { a.recs = append(a.recs, r) }

// window is the measured part of a run, as offsets since its start.
type window struct{ start, end time.Duration }

func (w window) length() time.Duration { return w.end - w.start }

func (w window) holds(t time.Duration) bool { return t >= w.start && t < w.end }

// edgeFade is how far in from each edge of the window a token (or a
// request) comes to count fully. A server streams in bursts, one token for
// every running request at the end of each engine step (128 tokens every
// ~20 ms at the quickstart's load), and a hard edge counts a burst wholly or
// not at all: on a 3.3 s window that moved output tok/s by up to 0.6 % with
// the phase of the steps, about a third of the variance between repeats of
// one configuration. Fading the count in and out linearly weighs each burst
// by where it fell, which averages the phase out whenever the fade spans
// several steps (with bursts P apart, the error is within P/8·edgeFade of
// a burst). Measured on the simulator (bench/precision, 2 × 30 runs of 5 s):
// coefficient of variation 0.80 / 0.78 % with hard edges, 0.70 / 0.58 %
// faded.
const edgeFade = 250 * time.Millisecond

// steadyAt is when streams requests had all received their first token: from
// then on every stream is busy, the server's batch is as full as this load
// makes it, and the ramp-up no longer lowers the rate. False if that never
// happened in recs.
func steadyAt(recs []Record, streams int) (time.Duration, bool) {
	var firsts []time.Duration
	for _, r := range recs {
		if len(r.Chunks) > 0 {
			firsts = append(firsts, r.Chunks[0])
		}
	}
	if streams < 1 || len(firsts) < streams {
		return 0, false
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	return firsts[streams-1], true
}

// measureWindow picks the window of a run that ended at end: it starts at
// the steady state (closed loop: all streams streaming) if that came after
// the fixed warm-up, and ends where the load began to drain (idle: the first
// stream found no request left to send; 0 if it never did).
func measureWindow(recs []Record, streams int, warmup, idle, end time.Duration) window {
	w := window{start: warmup, end: end}
	if idle > 0 && idle < w.end {
		w.end = idle
	}
	if s, ok := steadyAt(recs, streams); ok && s > w.start && s < w.end {
		w.start = s
	}
	if w.end <= w.start { // too short to tell: the whole run after warm-up
		w = window{start: warmup, end: end}
	}
	return w
}

// tokenWeight is how many tokens each streamed chunk of r stands for: the
// server's count spread over the chunks (one chunk can carry several tokens),
// or one a chunk where the count never came (a request cut short).
func tokenWeight(r Record) float64 {
	if r.OutputTokens > 0 && len(r.Chunks) > 0 && r.Err == "" {
		return float64(r.OutputTokens) / float64(len(r.Chunks))
	}
	return 1
}

func (a *aggregator) summary(w window, dropped int) *Summary { return summarize(a.recs, w, dropped) }

// summarize summarises recs (the aggregator's, or those and the requests in
// flight for a snapshot).
func summarize(recs []Record, w window, dropped int) *Summary {
	s := &Summary{Duration: w.length(), WindowStart: w.start, Dropped: dropped, Metrics: map[string]float64{}}
	dist := map[string][]float64{}
	rates := newRates(w)
	for _, r := range recs {
		// Throughputs: whatever arrived inside the window counts, whenever
		// its request started and however it ended.
		weight := tokenWeight(r)
		for _, at := range r.Chunks {
			rates.add(metric.OutputThroughput, at, weight)
			rates.add(metric.TokenThroughput, at, weight)
		}
		if r.Err == "" && len(r.Chunks) > 0 {
			rates.add(metric.TokenThroughput, r.Chunks[0], float64(r.PromptTokens)) // prefilled when its first token came
			rates.add(metric.RequestThroughput, r.Start+r.E2E, 1)
		}
		if r.Live || r.Warmup {
			continue
		}
		if r.Err != "" {
			if strings.Contains(r.Err, "context deadline exceeded") || strings.Contains(r.Err, "context canceled") {
				s.Incomplete++
			} else {
				s.Errors++
				if s.FirstError == "" {
					s.FirstError = r.Err
				}
			}
			continue
		}
		s.Requests++
		dist[metric.RequestLatency] = append(dist[metric.RequestLatency], r.E2E.Seconds())
		dist[metric.TTFT] = append(dist[metric.TTFT], ms(r.TTFT))
		if r.OutputTokens > 1 {
			dist[metric.ITL] = append(dist[metric.ITL], ms(r.E2E-r.TTFT)/float64(r.OutputTokens-1))
		}
		if r.OutputTokens > 0 {
			dist[metric.TPOT] = append(dist[metric.TPOT], ms(r.E2E)/float64(r.OutputTokens))
		}
		dist[metric.PromptTokenCount] = append(dist[metric.PromptTokenCount], float64(r.PromptTokens))
		dist[metric.OutputTokenCount] = append(dist[metric.OutputTokenCount], float64(r.OutputTokens))
	}
	for name, xs := range dist {
		put(s.Metrics, name, xs, math.NaN())
	}
	rates.put(s.Metrics)
	s.Metrics[metric.Requests] = float64(s.Requests)
	s.Metrics[metric.Errors] = float64(s.Errors)
	s.Metrics[metric.Incomplete] = float64(s.Incomplete)
	s.Metrics[metric.Dropped] = float64(s.Dropped)
	return s
}

// rates counts events (tokens, requests) inside a window, in total (faded
// at the edges) and per whole second of it (as they fell: a second's count
// is one sample of the spread, bursts included).
type rates struct {
	w       window
	fade    time.Duration // the ramp at each edge: edgeFade, or a quarter of a short window
	total   map[string]float64
	seconds map[string][]float64
}

func newRates(w window) *rates {
	n := int(w.length() / time.Second)
	r := &rates{w: w, fade: min(edgeFade, w.length()/4), total: map[string]float64{}, seconds: map[string][]float64{}}
	for _, name := range []string{metric.OutputThroughput, metric.RequestThroughput, metric.TokenThroughput} {
		r.total[name] = 0
		r.seconds[name] = make([]float64, n)
	}
	return r
}

func (r *rates) add(name string, at time.Duration, n float64) {
	if !r.w.holds(at) {
		return
	}
	// Full weight from fade in, falling linearly to 0 at either edge.
	weight := 1.0
	if x := min(at-r.w.start, r.w.end-at); x < r.fade {
		weight = float64(x) / float64(r.fade)
	}
	r.total[name] += n * weight
	// The last, partial second is in the total but not a second of its own:
	// a fraction of a second would read as a dip.
	if i := int((at - r.w.start) / time.Second); i < len(r.seconds[name]) {
		r.seconds[name][i] += n
	}
}

func (r *rates) put(m map[string]float64) {
	d := (r.w.length() - r.fade).Seconds() // the ramps count by their weight
	if d <= 0 {
		return
	}
	for name, total := range r.total {
		mean := total / d
		secs := r.seconds[name]
		if len(secs) == 0 { // under a second measured: the mean is all there is
			secs = []float64{mean}
		}
		put(m, name, secs, mean)
		if len(secs) >= 2 {
			_, half := stats.CI95(secs)
			m[metric.Stat(name, metric.CI95Low)] = mean - half
			m[metric.Stat(name, metric.CI95High)] = mean + half
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// put stores the statistics of xs under name; mean, if not NaN, replaces
// the plain mean (throughputs).
func put(m map[string]float64, name string, xs []float64, mean float64) {
	if len(xs) == 0 {
		return
	}
	sorted := append([]float64{}, xs...)
	sort.Float64s(sorted)
	sum, sq := 0.0, 0.0
	for _, x := range sorted {
		sum += x
	}
	avg := sum / float64(len(sorted))
	for _, x := range sorted {
		sq += (x - avg) * (x - avg)
	}
	if math.IsNaN(mean) {
		mean = avg
	}
	m[metric.Stat(name, metric.Mean)] = mean
	m[metric.Stat(name, metric.Median)] = Percentile(sorted, 50)
	m[metric.Stat(name, metric.Min)] = sorted[0]
	m[metric.Stat(name, metric.Max)] = sorted[len(sorted)-1]
	m[metric.Stat(name, metric.StdDev)] = math.Sqrt(sq / float64(len(sorted)))
	for _, p := range metric.Percentiles {
		m[metric.Stat(name, "p"+strconv.Itoa(int(p)))] = Percentile(sorted, p)
	}
	m[name] = m[metric.Stat(name, metric.Median)]
}

// Percentile of sorted data with linear interpolation (numpy's default).
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}
