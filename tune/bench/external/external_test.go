package external

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A GuideLLM 0.3-shaped report, trimmed to what the parser reads.
const guideReport = `{"benchmarks":[{"type_":"generative_benchmark",
 "request_totals":{"successful":40,"errored":2,"incomplete":1,"total":43},
 "metrics":{
  "requests_per_second":{"successful":{"mean":9.5,"median":9},"total":{"mean":10.0,"median":10.5,"percentiles":{"p50":10.5,"p99":12}}},
  "output_tokens_per_second":{"successful":{"mean":1},"total":{"mean":640.25,"median":600,"std_dev":3.5}},
  "request_latency":{"successful":{"mean":1.2,"median":1.1,"percentiles":{"p90":1.5,"p99":2.0}},"total":{"mean":9}},
  "time_to_first_token_ms":{"successful":{"mean":21.5,"median":20.5,"mode":20,"min":19,"max":40,"variance":4,"std_dev":2,"percentiles":{"p001":19,"p50":20.5,"p95":30,"p999":40}}},
  "inter_token_latency_ms":{"successful":{"mean":5.2,"percentiles":{"p99":7}},"errored":null},
  "request_concurrency":{"successful":null}
 }}]}`

func TestParseGuideLLM(t *testing.T) {
	m, err := ParseGuideLLM([]byte(guideReport))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"requests_per_second": 10.5, "requests_per_second_mean": 10, "requests_per_second_p99": 12,
		"output_tokens_per_second_mean": 640.25, "output_tokens_per_second_std_dev": 3.5,
		"request_latency": 1.1, "request_latency_p90": 1.5,
		"time_to_first_token_ms": 20.5, "time_to_first_token_ms_p95": 30, "time_to_first_token_ms_p999": 40,
		"time_to_first_token_ms_mode": 20, "time_to_first_token_ms_variance": 4,
		"inter_token_latency_ms": 5.2, "inter_token_latency_ms_p99": 7, // no median: the mean
		"requests": 40, "errors": 2, "incomplete": 1,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}

func TestParseGuideLLMErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `{`, "invalid JSON"},
		{"no benchmarks", `{"benchmarks":[]}`, "no benchmark data"},
		{"missing metric", `{"benchmarks":[{"metrics":{"requests_per_second":{"total":{"mean":1}}}}]}`, `required metric "request_latency"`},
		{"all errored (0.8 layout)", `{"benchmarks":[{"metrics":{"request_totals":{"successful":0,"errored":5,"incomplete":0,"total":5}},
			"requests":{"errored":[{"info":{"error":"HTTPStatusError(Client error '400 Bad Request')"}}]}}]}`, "GuideLLM completed no requests (5 errored, 0 incomplete); first error: HTTPStatusError"},
		{"only the wrong category", strings.Replace(guideReport, `"time_to_first_token_ms":{"successful"`, `"time_to_first_token_ms":{"total"`, 1), `required metric "time_to_first_token_ms"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGuideLLM([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// The flat report of `vllm bench serve --save-result`, request_rate "inf".
const vllmReport = `{"date":"20261125-120000","backend":"openai","request_rate":"inf","max_concurrency":8,
 "duration":10.0,"completed":80,"failed":1,"request_throughput":8.0,"output_throughput":1024.5,"total_token_throughput":2048,
 "request_goodput":null,
 "mean_ttft_ms":25.0,"median_ttft_ms":24.0,"std_ttft_ms":2.0,"p99_ttft_ms":31.0,"p99.9_ttft_ms":33.0,
 "mean_tpot_ms":6.0,"median_tpot_ms":5.5,"p50_tpot_ms":5.5,
 "mean_itl_ms":6.5,"median_itl_ms":6.1,
 "mean_e2el_ms":800,"median_e2el_ms":750,"p95_e2el_ms":1000}`

func TestParseVLLMBench(t *testing.T) {
	m, err := ParseVLLMBench([]byte(vllmReport))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"requests_per_second": 8, "output_tokens_per_second_mean": 1024.5, "tokens_per_second": 2048,
		"requests": 80, "errors": 1,
		"time_to_first_token_ms": 24, "time_to_first_token_ms_mean": 25, "time_to_first_token_ms_std_dev": 2,
		"time_to_first_token_ms_p99": 31, "time_to_first_token_ms_p999": 33, "time_to_first_token_ms_p50": 24,
		"inter_token_latency_ms": 5.5, "inter_chunk_latency_ms_mean": 6.5,
		"request_latency": 0.75, "request_latency_mean": 0.8, "request_latency_p95": 1,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if _, ok := m["request_rate"]; ok {
		t.Error("request_rate is load shape, not a metric")
	}
}

func TestParseVLLMBenchErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `[`, "invalid JSON"},
		{"no e2el", strings.NewReplacer(`"mean_e2el_ms":800,"median_e2el_ms":750,"p95_e2el_ms":1000`, `"x":1`).Replace(vllmReport), "e2el"},
		{"nothing completed", strings.Replace(vllmReport, `"completed":80`, `"completed":0`, 1), "completed no requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseVLLMBench([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDetectGuideLLM(t *testing.T) {
	for _, tc := range []struct {
		help string
		want GuideLLMCLI
		err  bool
	}{
		{"Usage: guidellm [OPTIONS] COMMAND [ARGS]...\n\nCommands:\n  benchmark   Run a benchmark\n  config      Show config\n", GuideLLMBenchmark, false},
		{"Usage: guidellm [OPTIONS] COMMAND [ARGS]...\n\nCommands:\n  env  Show env\n  export  Export\n  run     Run a benchmark\n", GuideLLMRun, false},
		{"usage: something else\n", 0, true},
	} {
		got, err := DetectGuideLLM(tc.help)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("DetectGuideLLM(%q) = %v, %v", tc.help, got, err)
		}
	}
}

func TestArgs(t *testing.T) {
	stdev := 10
	r := Request{URL: "http://127.0.0.1:8000", Model: "m", Concurrency: 4, Duration: 2500 * time.Millisecond,
		PromptTokens: 100, OutputTokens: 50, PromptStdev: &stdev, Seed: 7, ResultFile: "/tmp/t/res.json"}
	for _, tc := range []struct {
		name string
		argv []string
		want string
	}{
		{"guidellm 0.3", GuideLLMArgs(r, GuideLLMBenchmark),
			`guidellm benchmark --target http://127.0.0.1:8000/v1 --model m --processor m --rate-type concurrent --rate 4 --max-seconds 3 --data {"output_tokens":50,"prompt_tokens":100,"prompt_tokens_stdev":10} --output-path /tmp/t/res.json --random-seed 7 --disable-progress`},
		{"guidellm run", GuideLLMArgs(r, GuideLLMRun),
			`guidellm run --backend kind=openai_http,target=http://127.0.0.1:8000,model=m,request_format=/v1/completions --profile kind=concurrent,streams=4 --constraint kind=max_duration,seconds=3 --data kind=synthetic_text,prompt_tokens=100,output_tokens=50,prompt_tokens_stdev=10 --tokenizer kind=huggingface_auto,model=m --output kind=json,path=/tmp/t/res.json --seed kind=static,value=7 --disable-console-interactive`},
		{"vllm bench", VLLMBenchArgs(r),
			`vllm bench serve --backend openai --base-url http://127.0.0.1:8000 --endpoint /v1/completions --model m --tokenizer m --dataset-name random --random-input-len 100 --random-output-len 50 --num-prompts 12 --request-rate inf --max-concurrency 4 --ignore-eos --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,95,99 --seed 7 --save-result --result-dir /tmp/t --result-filename res.json --disable-tqdm`},
		{"vllm bench dataset", VLLMBenchArgs(Request{URL: "http://h:1", Model: "m", Concurrency: 2, Samples: 5, OutputTokens: 9, Dataset: "/d.jsonl", ResultFile: "r.json"}),
			`vllm bench serve --backend openai --base-url http://h:1 --endpoint /v1/completions --model m --tokenizer m --dataset-name custom --dataset-path /d.jsonl --custom-output-len 9 --num-prompts 5 --request-rate inf --max-concurrency 2 --ignore-eos --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,95,99 --seed 0 --save-result --result-dir . --result-filename r.json --disable-tqdm`},
		{"guidellm 0.3 poisson", GuideLLMArgs(Request{URL: "http://h:1", Model: "m", Concurrency: 2, RequestRate: 2.5, MaxRequests: 40, Duration: time.Second, ResultFile: "r.json"}, GuideLLMBenchmark),
			`guidellm benchmark --target http://h:1/v1 --model m --processor m --rate-type poisson --rate 2.5 --max-seconds 1 --data {"output_tokens":0,"prompt_tokens":0} --output-path r.json --random-seed 0 --disable-progress --max-requests 40`},
		{"guidellm run poisson", GuideLLMArgs(Request{URL: "http://h:1", Model: "m", RequestRate: 2.5, MaxRequests: 40, Duration: time.Second, ResultFile: "r.json"}, GuideLLMRun),
			`guidellm run --backend kind=openai_http,target=http://h:1,model=m,request_format=/v1/completions --profile kind=poisson,rate=2.5 --constraint kind=max_duration,seconds=1 --data kind=synthetic_text,prompt_tokens=0,output_tokens=0 --tokenizer kind=huggingface_auto,model=m --output kind=json,path=r.json --seed kind=static,value=0 --constraint kind=max_requests,count=40 --disable-console-interactive`},
		{"guidellm run dataset", GuideLLMArgs(Request{URL: "http://h:1", Model: "m", Concurrency: 2, Duration: time.Second, Dataset: "/d.jsonl", ResultFile: "r.json"}, GuideLLMRun),
			`guidellm run --backend kind=openai_http,target=http://h:1,model=m,request_format=/v1/completions --profile kind=concurrent,streams=2 --constraint kind=max_duration,seconds=1 --data kind=json_file,path=/d.jsonl --tokenizer kind=huggingface_auto,model=m --output kind=json,path=r.json --seed kind=static,value=0 --disable-console-interactive`},
		{"guidellm dataset", GuideLLMArgs(Request{URL: "http://h:1", Model: "m", Concurrency: 2, Duration: time.Second, Dataset: "hf://org/set", ResultFile: "r.json"}, GuideLLMBenchmark),
			`guidellm benchmark --target http://h:1/v1 --model m --processor m --rate-type concurrent --rate 2 --max-seconds 1 --data org/set --output-path r.json --random-seed 0 --disable-progress`},
	} {
		if got := strings.Join(tc.argv, " "); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// A real GuideLLM 0.8.1 report (`guidellm run` against the simulator,
// trimmed to metadata and metrics): request counts inside metrics, scalar
// and null entries among the distributions.
func TestParseGuideLLMReal(t *testing.T) {
	data, err := os.ReadFile("testdata/guidellm-0.8.1.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseGuideLLM(data)
	if err != nil {
		t.Fatal(err)
	}
	if m["requests"] <= 0 || m["output_tokens_per_second_mean"] <= 0 || m["time_to_first_token_ms_p95"] < m["time_to_first_token_ms"] {
		t.Errorf("metrics %v", m)
	}
}

// A real `vllm bench serve` report (vLLM 0.33.0 against the simulator, the
// per-request lists dropped).
func TestParseVLLMBenchReal(t *testing.T) {
	data, err := os.ReadFile("testdata/vllm-bench-0.33.0.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseVLLMBench(data)
	if err != nil {
		t.Fatal(err)
	}
	if m["requests"] != 200 || m["output_tokens_per_second_mean"] <= 0 || m["request_latency_p99"] < m["request_latency"] || m["time_to_first_token_ms_p95"] <= 0 {
		t.Errorf("metrics %v", m)
	}
}
