package bench

import (
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Summary is a finished run.
type Summary struct {
	Duration   time.Duration // measured, after warm-up
	Requests   int           // measured and successful
	Errors     int           // measured and failed
	Incomplete int           // cut by the end of the run
	Dropped    int           // request-rate mode: no free slot at arrival
	// Metrics holds, for each metric M: M_mean, M_median, M_min, M_max,
	// M_std_dev, M_p50, M_p90, M_p95, M_p99, and M (the median), like the
	// Python tool's GuideLLM parsing. For throughputs, M_mean is the total
	// over the measured time and the other statistics are over 1-second
	// windows. Also: requests, errors, incomplete, dropped.
	Metrics map[string]float64
	// FirstError is an example failure, for messages.
	FirstError string
	// Stopped: Options.Progress ended the run before its duration.
	Stopped bool
}

type aggregator struct {
	recs []Record
}

func (a *aggregator) add(r Record) { a.recs = append(a.recs, r) }

func (a *aggregator) summary(measured time.Duration, dropped int) *Summary {
	s := &Summary{Duration: measured, Dropped: dropped, Metrics: map[string]float64{}}
	dist := map[string][]float64{}
	secs := int(math.Ceil(measured.Seconds()))
	if secs < 1 {
		secs = 1
	}
	buckets := map[string][]float64{
		metric.OutputThroughput:  make([]float64, secs),
		metric.RequestThroughput: make([]float64, secs),
		metric.TokenThroughput:   make([]float64, secs),
	}
	var outTotal, promptTotal float64
	origin := measuredStart(a.recs)
	for _, r := range a.recs {
		if r.Warmup {
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
		lat := r.E2E.Seconds()
		dist[metric.RequestLatency] = append(dist[metric.RequestLatency], lat)
		dist[metric.TTFT] = append(dist[metric.TTFT], ms(r.TTFT))
		if r.OutputTokens > 1 {
			dist[metric.ITL] = append(dist[metric.ITL], ms(r.E2E-r.TTFT)/float64(r.OutputTokens-1))
		}
		if r.OutputTokens > 0 {
			dist[metric.TPOT] = append(dist[metric.TPOT], ms(r.E2E)/float64(r.OutputTokens))
		}
		dist[metric.PromptTokenCount] = append(dist[metric.PromptTokenCount], float64(r.PromptTokens))
		dist[metric.OutputTokenCount] = append(dist[metric.OutputTokenCount], float64(r.OutputTokens))
		outTotal += float64(r.OutputTokens)
		promptTotal += float64(r.PromptTokens)
		// Attributed to the second the request finished in.
		b := int((r.Start + r.E2E - origin).Seconds())
		if b >= secs {
			b = secs - 1
		}
		if b < 0 {
			b = 0
		}
		buckets[metric.OutputThroughput][b] += float64(r.OutputTokens)
		buckets[metric.RequestThroughput][b]++
		buckets[metric.TokenThroughput][b] += float64(r.OutputTokens + r.PromptTokens)
	}
	for name, xs := range dist {
		put(s.Metrics, name, xs, math.NaN())
	}
	d := measured.Seconds()
	totals := map[string]float64{metric.OutputThroughput: outTotal, metric.RequestThroughput: float64(s.Requests), metric.TokenThroughput: outTotal + promptTotal}
	for name, xs := range buckets {
		mean := math.NaN()
		if d > 0 {
			mean = totals[name] / d
		}
		put(s.Metrics, name, xs, mean)
	}
	s.Metrics[metric.Requests] = float64(s.Requests)
	s.Metrics[metric.Errors] = float64(s.Errors)
	s.Metrics[metric.Incomplete] = float64(s.Incomplete)
	s.Metrics[metric.Dropped] = float64(s.Dropped)
	return s
}

// measuredStart is the offset where measurement began (end of warm-up):
// the earliest start of a measured request.
func measuredStart(recs []Record) time.Duration {
	first := time.Duration(math.MaxInt64)
	for _, r := range recs {
		if !r.Warmup && r.Start < first {
			first = r.Start
		}
	}
	if first == time.Duration(math.MaxInt64) {
		return 0
	}
	return first
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
