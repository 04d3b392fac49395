package trial

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Stand-ins for GuideLLM and vllm bench: they check the arguments they get
// and write a report where they were told to. The real GuideLLM runs in the
// end-to-end test of the binary.
const (
	fakeGuideLLM = `#!/bin/sh
if [ "$1" = --help ]; then printf 'Usage: guidellm [OPTIONS] COMMAND\n\nCommands:\n  benchmark  Run\n  config     Show\n'; exit 0; fi
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --output-path) out=$2; shift ;;
    --target) case "$2" in http://127.0.0.1:*/v1) ;; *) echo "bad target $2" >&2; exit 2 ;; esac; shift ;;
  esac
  shift
done
echo "level=$GUIDELLM__LOGGING__CONSOLE_LOG_LEVEL" >&2
case "$MODE" in
  noreport) exit 0 ;;
  fail) echo "ValueError: tokenizer not found" >&2; exit 1 ;;
  partial) echo '{"benchmarks":[{"metrics":{"requests_per_second":{"total":{"mean":3}}}}]}' > "$out"; exit 0 ;;
esac
cat > "$out" <<JSON
{"benchmarks":[{"request_totals":{"successful":9,"errored":0,"incomplete":1},"metrics":{
 "requests_per_second":{"total":{"mean":3.5,"median":3}},
 "output_tokens_per_second":{"total":{"mean":99.5}},
 "request_latency":{"successful":{"median":0.5}},
 "time_to_first_token_ms":{"successful":{"median":12,"percentiles":{"p95":20}}},
 "inter_token_latency_ms":{"successful":{"mean":4}}}}]}
JSON
`
	fakeVLLM = `#!/bin/sh
dir=; file=
while [ $# -gt 0 ]; do
  case "$1" in --result-dir) dir=$2; shift ;; --result-filename) file=$2; shift ;; esac
  shift
done
cat > "$dir/$file" <<JSON
{"request_rate":"inf","completed":8,"failed":0,"request_throughput":4,"output_throughput":64,"total_token_throughput":128,
 "median_ttft_ms":10,"p95_ttft_ms":15,"median_tpot_ms":3,"median_itl_ms":3,"median_e2el_ms":250}
JSON
`
)

func TestExternalBenchmark(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for name, body := range map[string]string{"guidellm": fakeGuideLLM, "vllm": fakeVLLM} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, tool, exe, mode string
		metric                string
		want                  float64
		fail                  string
	}{
		{"guidellm", "guidellm", "guidellm", "", "time_to_first_token_ms_p95", 20, ""},
		{"guidellm counts", "guidellm", "guidellm", "", "incomplete", 1, ""},
		{"vllm bench", "vllm-bench", "vllm", "", "request_latency", 0.25, ""},
		{"no report", "guidellm", "guidellm", "noreport", "", 0, "GuideLLM wrote no report"},
		{"tool fails", "guidellm", "guidellm", "fail", "", 0, "GuideLLM failed (exit status 1)"},
		{"missing metric", "guidellm", "guidellm", "partial", "", 0, `required metric "request_latency"`},
		{"not installed", "guidellm", "no-such-guidellm", "", "", 0, "set benchmark.executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec(t, nil)
			s.External = &External{Tool: tt.tool, Executable: filepath.Join(bin, tt.exe), LoggingLevel: "DEBUG"}
			s.BaseEnv = append(os.Environ(), "MODE="+tt.mode)
			res, err := Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if tt.fail != "" {
				if res.Failure == nil || res.Failure.Class != BenchmarkFailed || !strings.Contains(res.Failure.Message, tt.fail) {
					t.Fatalf("failure %+v, want %q", res.Failure, tt.fail)
				}
			} else {
				if res.Failure != nil {
					t.Fatalf("%+v\n%s", res.Failure, res.Failure.Tail)
				}
				if got, ok := res.Metrics[tt.metric]; !ok || got != tt.want {
					t.Errorf("%s = %v in %v", tt.metric, got, res.Metrics)
				}
			}
			if tt.tool == "guidellm" && tt.exe == "guidellm" {
				if log, _ := os.ReadFile(filepath.Join(s.LogDir, "benchmark.log")); !strings.Contains(string(log), "level=DEBUG") {
					t.Errorf("benchmark.log: %q", log)
				}
			}
			noLeftovers(t, s.Model)
		})
	}
}
