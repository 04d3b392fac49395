// Package metric names what a benchmark measures, once for the whole tool:
// the load generators write these keys, the config lets objectives and SLOs
// name them, the study stores them. The names are GuideLLM's, as the Python
// auto-tune-vllm reports them, so objectives map one to one.
package metric

// Metrics of a benchmark run. Latencies are per completed request;
// throughputs are over the measured window.
const (
	RequestLatency    = "request_latency"          // seconds
	TTFT              = "time_to_first_token_ms"   // time to first token
	ITL               = "inter_token_latency_ms"   // (latency − TTFT) / (tokens − 1), per request
	TPOT              = "time_per_output_token_ms" // latency / tokens, per request
	InterChunk        = "inter_chunk_latency_ms"   // gaps between streamed chunks (vllm bench's ITL)
	OutputThroughput  = "output_tokens_per_second"
	RequestThroughput = "requests_per_second"
	TokenThroughput   = "tokens_per_second" // prompt and output tokens
	PromptThroughput  = "prompt_tokens_per_second"
	PromptTokenCount  = "prompt_token_count"
	OutputTokenCount  = "output_token_count"
)

// Counts of a benchmark run, stored beside the metrics.
const (
	Requests   = "requests"   // measured and successful
	Errors     = "errors"     // measured and failed
	Incomplete = "incomplete" // cut by the end of the run
	Dropped    = "dropped"    // request-rate mode: no free slot at arrival
)

// Statistics of a metric's distribution, as suffixes of its key.
const (
	Median = "median"
	Mean   = "mean"
	Min    = "min"
	Max    = "max"
	StdDev = "std_dev"
	P50    = "p50"
	P90    = "p90"
	P95    = "p95"
	P99    = "p99"
	// The 95 % confidence interval of a throughput's mean, from its
	// per-second rates: how sure one measurement is.
	CI95Low  = "ci95_low"
	CI95High = "ci95_high"
)

// Objectives lists the metrics objectives and SLOs may name.
var Objectives = []string{OutputThroughput, RequestLatency, TTFT, ITL, RequestThroughput}

// Stats lists the statistics an objective or SLO may use.
var Stats = []string{Median, P50, P90, P95, P99, Mean}

// Percentiles are the percentile statistics every load generator reports.
var Percentiles = []float64{50, 90, 95, 99}

// Key is where a statistic of a metric is stored: the bare name for the
// median (the Python tool's key), else <metric>_<stat>.
func Key(name, stat string) string {
	if stat == Median || stat == "" {
		return name
	}
	return name + "_" + stat
}

// Stat is the key of one statistic, always suffixed (<metric>_<stat>), as
// the distributions are stored next to the bare median.
func Stat(name, stat string) string { return name + "_" + stat }
