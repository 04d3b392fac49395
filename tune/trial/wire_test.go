package trial

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
)

func TestSpecRoundTrip(t *testing.T) {
	in := Spec{
		Number: 7, Server: []string{"{self}", "simulate", "{model}"}, Model: "m", Host: "127.0.0.1", NoHostArg: true,
		ReadinessPath: "/ready", StartupTimeout: 90 * time.Second, StopGrace: 1500 * time.Millisecond,
		Flags: []Flag{
			{Name: "max_num_seqs", Value: int64(64)},
			{Name: "gpu_memory_utilization", Value: 0.9},
			{Name: "block_size", Value: float64(16)}, // a float that looks whole stays a float
			{Name: "enable_prefix_caching", Value: false},
			{Name: "kv_cache_dtype", Value: "fp8"},
			{Name: "enforce_eager", Value: nil},
			{Name: "compilation_config", Value: map[string]any{"level": float64(3)}},
			{Name: "nan", Value: math.NaN()},
		},
		EnvVars:      []Flag{{Name: "VLLM_ATTENTION_BACKEND", Value: "FLASHINFER"}},
		BaseEnv:      []string{"SECRET=stays-home"},
		LogDir:       "/controller/logs",
		BenchCommand: []string{"x"},
		Repeats:      3,
		Bench: bench.Options{
			Chat: true, Concurrency: 8, RequestRate: 2.5, Duration: 30 * time.Second, MaxRequests: 100, Warmup: time.Second,
			Prompt: bench.TokenDist{Mean: 256, Stdev: 10, Min: 1, Max: 512}, Output: bench.TokenDist{Mean: 128},
			Prompts: []string{"a", "b"}, OutputTokens: []int{3, 0}, Seed: 7, Stagger: true,
		},
		External: &External{Tool: "guidellm", Executable: "/opt/guidellm", Processor: "/tok", Samples: 5, Dataset: "d.jsonl", LoggingLevel: "INFO"},
	}
	b, err := EncodeSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.BaseEnv != nil || out.LogDir != "" {
		t.Errorf("the controller's environment or log dir travelled: %v %q", out.BaseEnv, out.LogDir)
	}
	if !math.IsNaN(out.Flags[7].Value.(float64)) {
		t.Errorf("NaN flag: %v", out.Flags[7])
	}
	in.Flags, out.Flags = in.Flags[:7], out.Flags[:7]
	in.BaseEnv, in.LogDir = nil, ""
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	// What a server sees is what the controller meant.
	if a, b := Argv(in.Server, "m", in.Flags, "", 1), Argv(out.Server, "m", out.Flags, "", 1); !reflect.DeepEqual(a, b) {
		t.Errorf("argv %q != %q", b, a)
	}
}

func TestDecodeSpecErrors(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"not JSON", "{"},
		{"unknown field", `{"number":1,"model":"m","bench":{"seed":1},"surprise":1}`},
		{"unknown flag type", `{"number":1,"model":"m","bench":{"seed":1},"flags":[{"name":"x","type":"complex","value":1}]}`},
		{"wrong value", `{"number":1,"model":"m","bench":{"seed":1},"flags":[{"name":"x","type":"int","value":"a"}]}`},
	} {
		if _, err := DecodeSpec([]byte(tt.in)); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name   string
		in     *Result
		runErr error
	}{
		{"metrics", &Result{Command: []string{"vllm", "serve"}, Metrics: map[string]float64{"a": 1.5, "nan": math.NaN(), "inf": math.Inf(1)},
			Startup: time.Second, Bench: 2 * time.Second, Total: 3 * time.Second, Start: start, End: start.Add(3 * time.Second), LogDir: "/x"}, nil},
		{"runs", &Result{Metrics: map[string]float64{"a": 1.5}, Runs: []map[string]float64{{"a": 1}, {"a": 2}}, Start: start, End: start}, nil},
		{"failure", &Result{Failure: &Failure{Class: OOM, Message: "out of memory", Tail: "CUDA out of memory"}, Start: start, End: start}, nil},
		{"runner error", &Result{Start: start, End: start}, errors.New("no free port")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeResult(tt.in, tt.runErr)
			if err != nil {
				t.Fatal(err)
			}
			out, errText, err := DecodeResult(b)
			if err != nil {
				t.Fatal(err)
			}
			if tt.runErr != nil && errText != tt.runErr.Error() {
				t.Errorf("error %q", errText)
			}
			want := *tt.in
			if want.Metrics != nil {
				want.Metrics = map[string]float64{"a": 1.5}
			}
			if !reflect.DeepEqual(*out, want) {
				t.Errorf("got %+v\nwant %+v", *out, want)
			}
		})
	}
}

func TestGPUNeed(t *testing.T) {
	tests := []struct {
		flags []Flag
		want  int
	}{
		{nil, 1},
		{[]Flag{{Name: "tensor_parallel_size", Value: int64(2)}, {Name: "pipeline-parallel-size", Value: int64(2)}}, 4},
		{[]Flag{{Name: "data_parallel_size", Value: float64(3)}, {Name: "max_num_seqs", Value: int64(8)}}, 3},
		{[]Flag{{Name: "tensor_parallel_size", Value: 0}}, 1},
	}
	for _, tt := range tests {
		if got := GPUNeed(tt.flags); got != tt.want {
			t.Errorf("GPUNeed(%v) = %d, want %d", tt.flags, got, tt.want)
		}
	}
}

func TestMeanOfRuns(t *testing.T) {
	t.Parallel()
	one := map[string]float64{"x": 1}
	tests := []struct {
		name string
		runs []map[string]float64
		want map[string]float64
	}{
		{"none", nil, nil},
		{"one run is itself", []map[string]float64{one}, one},
		{"means; a key some run lacks is left out", []map[string]float64{{"x": 1, "y": 5}, {"x": 3}}, map[string]float64{"x": 2}},
		// The interval is the runs' means' (t(2) = 4.303, s = 10): the
		// per-run intervals are replaced.
		{"interval between runs", []map[string]float64{
			{"tps_mean": 90, "tps_ci95_low": 89, "tps_ci95_high": 91},
			{"tps_mean": 100, "tps_ci95_low": 99, "tps_ci95_high": 101},
			{"tps_mean": 110, "tps_ci95_low": 109, "tps_ci95_high": 111},
		}, map[string]float64{"tps_mean": 100, "tps_ci95_low": 100 - 4.303*10/math.Sqrt(3), "tps_ci95_high": 100 + 4.303*10/math.Sqrt(3)}},
	}
	for _, tt := range tests {
		got := MeanOfRuns(tt.runs)
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if math.Abs(got[k]-v) > 1e-9 {
				t.Errorf("%s: %s = %v, want %v", tt.name, k, got[k], v)
			}
		}
	}
}
