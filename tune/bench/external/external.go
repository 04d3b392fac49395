// Package external drives third-party load generators — GuideLLM and
// `vllm bench serve` — for a trial: it builds their command lines and turns
// their JSON reports into metrics under the names the built-in load
// generator uses (GuideLLM's), so objectives read the same keys whichever
// tool measured. Running the process is the caller's job.
package external

import (
	"encoding/json"
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Tools this package knows, as `benchmark_type` spells them.
const (
	GuideLLM  = "guidellm"
	VLLMBench = "vllm-bench"
)

// Request describes one benchmark run.
type Request struct {
	Executable                        string // default: guidellm, or vllm for vllm-bench
	URL                               string // the server, http://host:port
	Model                             string
	Processor                         string  // tokenizer: a local directory when air-gapped; default Model
	Concurrency                       int     // concurrent streams
	RequestRate                       float64 // > 0: Poisson arrivals at this rate instead of closed-loop streams
	MaxRequests                       int     // > 0: stop after this many requests
	Duration                          time.Duration
	Samples                           int // synthetic prompts to prepare (GuideLLM) / requests to send (vllm bench)
	PromptTokens, OutputTokens        int
	PromptStdev, PromptMin, PromptMax *int
	OutputStdev, OutputMin, OutputMax *int
	Seed                              uint64
	ResultFile                        string // where the tool writes its JSON report
	// Dataset, if set, replaces synthetic prompts: a JSONL file of
	// {"prompt": …} lines, or hf://name (GuideLLM only).
	Dataset string
}

func (r Request) processor() string {
	if r.Processor != "" {
		return r.Processor
	}
	return r.Model
}

// GuideLLMCLI is the shape of GuideLLM's command line.
type GuideLLMCLI int

const (
	// GuideLLMBenchmark is 0.3.x–0.6: `guidellm benchmark --target … --rate-type …`.
	GuideLLMBenchmark GuideLLMCLI = iota
	// GuideLLMRun is 0.7.2 and later: `guidellm run` with `kind=…` specs.
	GuideLLMRun
)

var (
	helpRun       = regexp.MustCompile(`(?m)^\s+run\b`)
	helpBenchmark = regexp.MustCompile(`(?m)^\s+benchmark\b`)
)

// DetectGuideLLM reads `guidellm --help`: the command list says which CLI
// this install has (the version number alone would need a table that goes
// stale).
func DetectGuideLLM(help string) (GuideLLMCLI, error) {
	switch {
	case helpRun.MatchString(help):
		return GuideLLMRun, nil
	case helpBenchmark.MatchString(help):
		return GuideLLMBenchmark, nil
	}
	return 0, fmt.Errorf("`guidellm --help` lists neither a `run` nor a `benchmark` command; is this GuideLLM?")
}

// GuideLLMArgs is the argv that runs one concurrent-streams benchmark of
// r.Duration and writes a JSON report to r.ResultFile.
func GuideLLMArgs(r Request, cli GuideLLMCLI) []string {
	exe := r.Executable
	if exe == "" {
		exe = "guidellm"
	}
	if cli == GuideLLMRun {
		data := []string{"kind=synthetic_text", kv("prompt_tokens", r.PromptTokens), kv("output_tokens", r.OutputTokens)}
		data = append(data, optKVs(r)...) // 0.8 rejects `samples`: it generates on demand
		spec := strings.Join(data, ",")
		profile := "kind=concurrent," + kv("streams", r.Concurrency)
		if r.RequestRate > 0 {
			profile = "kind=poisson,rate=" + ftoa(r.RequestRate)
		}
		switch {
		case strings.HasPrefix(r.Dataset, "hf://"):
			spec = "kind=huggingface,source=" + strings.TrimPrefix(r.Dataset, "hf://")
		case r.Dataset != "":
			spec = "kind=json_file,path=" + r.Dataset
		}
		argv := []string{exe, "run",
			// Text completions, like the built-in generator and 0.3.x (0.8
			// defaults to chat, whose templates change the prompt length).
			"--backend", "kind=openai_http,target=" + r.URL + ",model=" + r.Model + ",request_format=/v1/completions",
			"--profile", profile,
			"--constraint", "kind=max_duration," + kv("seconds", int(math.Ceil(r.Duration.Seconds()))),
			"--data", spec,
			"--tokenizer", "kind=huggingface_auto,model=" + r.processor(),
			"--output", "kind=json,path=" + r.ResultFile,
			"--seed", "kind=static,value=" + strconv.FormatUint(r.Seed, 10),
			"--disable-console-interactive",
		}
		if r.MaxRequests > 0 {
			argv = append(argv[:len(argv)-1], "--constraint", "kind=max_requests,"+kv("count", r.MaxRequests), argv[len(argv)-1])
		}
		return argv
	}
	// The Python tool's exact invocation, plus a seed and no progress bars
	// (they fill the log with carriage returns).
	data := map[string]int{"prompt_tokens": r.PromptTokens, "output_tokens": r.OutputTokens}
	if r.Samples > 0 {
		data["samples"] = r.Samples
	}
	for _, o := range optionalTokens(r) {
		data[o.name] = *o.v
	}
	b, _ := json.Marshal(data)
	if r.Dataset != "" {
		b = []byte(strings.TrimPrefix(r.Dataset, "hf://"))
	}
	rateType, rate := "concurrent", strconv.Itoa(r.Concurrency)
	if r.RequestRate > 0 {
		rateType, rate = "poisson", ftoa(r.RequestRate)
	}
	argv := []string{exe, "benchmark",
		"--target", r.URL + "/v1",
		"--model", r.Model,
		"--processor", r.processor(),
		"--rate-type", rateType,
		"--rate", rate,
		"--max-seconds", strconv.Itoa(int(math.Ceil(r.Duration.Seconds()))),
		"--data", string(b),
		"--output-path", r.ResultFile,
		"--random-seed", strconv.FormatUint(r.Seed, 10),
		"--disable-progress",
	}
	if r.MaxRequests > 0 {
		argv = append(argv, "--max-requests", strconv.Itoa(r.MaxRequests))
	}
	return argv
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

type optTok struct {
	name string
	v    *int
}

func optionalTokens(r Request) []optTok {
	var out []optTok
	for _, o := range []optTok{
		{"prompt_tokens_stdev", r.PromptStdev}, {"prompt_tokens_min", r.PromptMin}, {"prompt_tokens_max", r.PromptMax},
		{"output_tokens_stdev", r.OutputStdev}, {"output_tokens_min", r.OutputMin}, {"output_tokens_max", r.OutputMax},
	} {
		if o.v != nil {
			out = append(out, o)
		}
	}
	return out
}

func optKVs(r Request) []string {
	var out []string
	for _, o := range optionalTokens(r) {
		out = append(out, kv(o.name, *o.v))
	}
	return out
}

func kv(k string, v int) string { return k + "=" + strconv.Itoa(v) }

// VLLMBenchArgs is the argv of `vllm bench serve` for r. vllm bench has no
// duration limit, so it sends Samples requests (default: one per stream
// per second of Duration), all at once behind a semaphore of Concurrency —
// the same closed loop as GuideLLM's concurrent profile.
func VLLMBenchArgs(r Request) []string {
	exe := r.Executable
	if exe == "" {
		exe = "vllm"
	}
	n := r.Samples
	if r.MaxRequests > 0 {
		n = r.MaxRequests
	}
	if n <= 0 {
		n = r.Concurrency * int(math.Max(1, math.Ceil(r.Duration.Seconds())))
	}
	dir, file := splitPath(r.ResultFile)
	data := []string{"--dataset-name", "random",
		"--random-input-len", strconv.Itoa(r.PromptTokens),
		"--random-output-len", strconv.Itoa(r.OutputTokens)}
	if r.Dataset != "" {
		// vLLM's custom dataset reads the same {"prompt": …} JSONL as ours.
		data = []string{"--dataset-name", "custom", "--dataset-path", r.Dataset,
			"--custom-output-len", strconv.Itoa(r.OutputTokens)}
	}
	return append(append([]string{exe, "bench", "serve",
		"--backend", "openai",
		"--base-url", r.URL,
		"--endpoint", "/v1/completions",
		"--model", r.Model,
		"--tokenizer", r.processor()},
		data...),
		"--num-prompts", strconv.Itoa(n),
		"--request-rate", rateOrInf(r.RequestRate),
		"--max-concurrency", strconv.Itoa(r.Concurrency),
		"--ignore-eos",
		"--percentile-metrics", "ttft,tpot,itl,e2el",
		"--metric-percentiles", "50,90,95,99",
		"--seed", strconv.FormatUint(r.Seed, 10),
		"--save-result", "--result-dir", dir, "--result-filename", file,
		"--disable-tqdm",
	)
}

func rateOrInf(r float64) string {
	if r > 0 {
		return ftoa(r)
	}
	return "inf"
}

func splitPath(p string) (dir, file string) {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return ".", p
	}
	return p[:i], p[i+1:]
}

// guideLLMRequired are the metrics the Python tool requires in a report.
var guideLLMRequired = []string{metric.RequestThroughput, metric.RequestLatency, metric.OutputThroughput, metric.TTFT, metric.ITL}

// Throughputs are read from `total` (the Python tool's choice: errored and
// incomplete requests produced tokens too); everything else from `successful`.
var guideLLMThroughput = map[string]bool{metric.RequestThroughput: true, metric.OutputThroughput: true, metric.TokenThroughput: true, metric.PromptThroughput: true}

// ParseGuideLLM turns a GuideLLM JSON report (any version from 0.3) into
// metrics: M_mean, M_median, M_mode, M_min, M_max, M_std_dev, M_variance,
// M_pNN for each percentile, and M (the median, else the mean); plus
// requests, errors and incomplete from the request totals.
func ParseGuideLLM(data []byte) (map[string]float64, error) {
	var rep struct {
		Benchmarks []struct {
			Metrics       map[string]json.RawMessage `json:"metrics"`
			RequestTotals map[string]float64         `json:"request_totals"`
		} `json:"benchmarks"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("invalid JSON in the GuideLLM report: %w", err)
	}
	if len(rep.Benchmarks) == 0 {
		return nil, fmt.Errorf("no benchmark data found in the GuideLLM report")
	}
	b := rep.Benchmarks[0]
	out := map[string]float64{}
	totals := b.RequestTotals
	// 0.7+ moved the request counts into metrics.
	if raw, ok := b.Metrics["request_totals"]; ok && totals == nil {
		json.Unmarshal(raw, &totals) // best effort: counts are informative
	}
	for k, name := range map[string]string{"successful": metric.Requests, "errored": metric.Errors, "incomplete": metric.Incomplete} {
		if v, ok := totals[k]; ok {
			out[name] = v
		}
	}
	if n, ok := out[metric.Requests]; ok && n == 0 {
		return nil, fmt.Errorf("GuideLLM completed no requests (%v errored, %v incomplete)%s", out[metric.Errors], out[metric.Incomplete], firstError(data))
	}
	for name, rawCats := range b.Metrics {
		// Newer reports mix in scalars and other shapes (slo_attainment,
		// modality blocks); only status breakdowns are metrics here.
		var cats map[string]json.RawMessage
		if json.Unmarshal(rawCats, &cats) != nil {
			continue
		}
		cat := "successful"
		if guideLLMThroughput[name] {
			cat = "total"
		}
		raw, ok := cats[cat]
		if !ok || string(raw) == "null" {
			continue
		}
		var d struct {
			Mean, Median, Mode, Min, Max, Variance *float64
			StdDev                                 *float64           `json:"std_dev"`
			Percentiles                            map[string]float64 `json:"percentiles"`
		}
		if json.Unmarshal(raw, &d) != nil {
			continue // not a distribution (newer reports mix in other shapes)
		}
		for stat, v := range map[string]*float64{"mean": d.Mean, "median": d.Median, "mode": d.Mode, "min": d.Min, "max": d.Max, "variance": d.Variance, "std_dev": d.StdDev} {
			if v != nil {
				out[name+"_"+stat] = *v
			}
		}
		for p, v := range d.Percentiles {
			out[name+"_"+p] = v
		}
		switch {
		case d.Median != nil:
			out[name] = *d.Median
		case d.Mean != nil:
			out[name] = *d.Mean
		}
	}
	for _, m := range guideLLMRequired {
		if _, ok := out[m]; !ok {
			return nil, fmt.Errorf("required metric %q not found in the GuideLLM report (metrics present: %s)", m, strings.Join(keys(b.Metrics), ", "))
		}
	}
	return out, nil
}

// firstError quotes the error of the first errored request, if the report
// kept one (per-request records are sampled in some versions).
func firstError(data []byte) string {
	var rep struct {
		Benchmarks []struct {
			Requests struct {
				Errored []struct {
					Error string `json:"error"`
					Info  struct {
						Error string `json:"error"` // 0.7+
					} `json:"info"`
				} `json:"errored"`
			} `json:"requests"`
		} `json:"benchmarks"`
	}
	if json.Unmarshal(data, &rep) != nil || len(rep.Benchmarks) == 0 {
		return ""
	}
	for _, e := range rep.Benchmarks[0].Requests.Errored {
		if e.Error == "" {
			e.Error = e.Info.Error
		}
		if e.Error != "" {
			msg := e.Error
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			return "; first error: " + msg
		}
	}
	return ""
}

// vllmBenchMetrics maps `vllm bench serve` names to ours. vLLM's TPOT,
// (latency − TTFT) / (tokens − 1) per request, is what GuideLLM calls
// inter-token latency; vLLM's ITL (gaps between streamed chunks) has no
// GuideLLM twin and keeps its own name.
var vllmBenchMetrics = map[string]struct {
	name  string
	scale float64
}{
	"ttft": {metric.TTFT, 1},
	"tpot": {metric.ITL, 1},
	"itl":  {metric.InterChunk, 1},
	"e2el": {metric.RequestLatency, 1e-3}, // GuideLLM reports it in seconds
}

var vllmStat = regexp.MustCompile(`^(mean|median|std|p[0-9.]+)_(ttft|tpot|itl|e2el)_ms$`)

// ParseVLLMBench turns a `vllm bench serve --save-result` report into
// metrics under GuideLLM's names. request_rate may be the string "inf";
// like every non-number it is skipped.
func ParseVLLMBench(data []byte) (map[string]float64, error) {
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("invalid JSON in the vllm bench report: %w", err)
	}
	out := map[string]float64{}
	num := func(k string) (float64, bool) {
		v, ok := rep[k].(float64)
		return v, ok
	}
	for k, ours := range map[string]string{"request_throughput": metric.RequestThroughput, "output_throughput": metric.OutputThroughput, "total_token_throughput": metric.TokenThroughput} {
		if v, ok := num(k); ok {
			out[ours] = v
			out[metric.Stat(ours, metric.Mean)] = v
		}
	}
	for k, ours := range map[string]string{"completed": metric.Requests, "failed": metric.Errors} {
		if v, ok := num(k); ok {
			out[ours] = v
		}
	}
	for k, v := range rep {
		f, ok := v.(float64)
		if !ok {
			continue
		}
		m := vllmStat.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		t := vllmBenchMetrics[m[2]]
		stat := m[1]
		switch {
		case stat == "std":
			stat = "std_dev"
		case strings.HasPrefix(stat, "p"):
			stat = "p" + strings.ReplaceAll(stat[1:], ".", "")
		}
		out[t.name+"_"+stat] = f * t.scale
		if stat == "median" {
			out[t.name] = f * t.scale
			out[metric.Stat(t.name, metric.P50)] = f * t.scale
		}
	}
	for _, m := range []string{metric.RequestThroughput, metric.OutputThroughput, metric.TTFT, metric.ITL, metric.RequestLatency} {
		if _, ok := out[m]; !ok {
			hint := ""
			if m == metric.RequestLatency {
				hint = " (run with --percentile-metrics including e2el)"
			}
			return nil, fmt.Errorf("required metric %q not found in the vllm bench report%s", m, hint)
		}
	}
	if c, ok := out[metric.Requests]; ok && c == 0 {
		return nil, fmt.Errorf("vllm bench completed no requests (%v failed)", out[metric.Errors])
	}
	return out, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
