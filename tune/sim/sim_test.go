package sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	c, err := ParseArgs([]string{"facebook/opt-125m", "--max-num-seqs", "64", "--max_num_batched_tokens=4096", "--gpu-memory-utilization", "0.85",
		"--no-enable-chunked-prefill", "--kv-cache-dtype", "fp8", "--port", "9001", "--no-enable-prefix-caching", "-tp", "1",
		"--compilation-config.mode", "3", "-O3", "--served-model-name", "a", "b", "--api-key", "k"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "facebook/opt-125m" || c.MaxNumSeqs != 64 || c.MaxNumBatchedTokens != 4096 || c.GPUMemoryUtil != 0.85 ||
		c.ChunkedPrefill || c.KVCacheDtype != "fp8" || c.Port != 9001 || c.PrefixCaching {
		t.Errorf("%+v", c)
	}
	// argparse takes a unique prefix of an option, as vLLM's parser does.
	if c, err := ParseArgs([]string{"--max-num-seq", "4"}); err != nil || c.MaxNumSeqs != 4 {
		t.Errorf("prefix: %v %d", err, c.MaxNumSeqs)
	}
	for _, tt := range []struct {
		args []string
		want string // "" = accepted
	}{
		// vLLM's options the simulator does not model are accepted, as vLLM does.
		{[]string{"--served-model-name", "a", "b", "--seed", "1", "--enable-log-requests", "--dtype", "bfloat16"}, ""},
		{[]string{"-tp", "1", "--trust-remote-code"}, ""},
		{[]string{"--max-num-seqz", "4"}, "unrecognized arguments: --max-num-seqz"},
		{[]string{"--frobnicate"}, "unrecognized arguments: --frobnicate"},
		{[]string{"m", "extra"}, "unrecognized arguments: extra"},
		{[]string{"--max-num-seqs", "many"}, "argument --max-num-seqs: invalid int value: 'many'"},
		{[]string{"--max-num-seqs"}, "argument --max-num-seqs: expected one argument"},
		{[]string{"--max-num"}, "ambiguous option: --max-num could match"},
		{[]string{"--enable-prefix-caching=yes"}, "ignored explicit argument"},
		// Flags vLLM had and dropped before 0.33.0.
		{[]string{"--swap-space", "4"}, "unrecognized arguments: --swap-space"},
		{[]string{"--num-scheduler-steps", "8"}, "unrecognized arguments"},
		{[]string{"--use-v2-block-manager"}, "unrecognized arguments"},
		{[]string{"--task", "generate"}, "unrecognized arguments"},
		{[]string{"--sim-gpu", "TPU"}, "unknown GPU"},
		{[]string{"--sim-model", "Llama-3-8B"}, "unknown model shape"},
		{[]string{"--performance-mode", "fast"}, "argument --performance-mode: invalid choice: 'fast'"},
		{[]string{"--performance-mode", "interactivity"}, ""},
	} {
		_, err := ParseArgs(tt.args)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%v: %v, want %q (vLLM %s)", tt.args, err, tt.want, VLLMVersion())
		}
	}
	// vLLM 0.33.0 pairs every --enable-X switch with --disable-X
	// (EnableDisableAction), so the long-removed --disable-log-requests
	// parses again, as the off switch of --enable-log-requests; 0.12 to 0.32
	// reject it.
	if _, err := ParseArgs([]string{"--disable-log-requests", "--enable-log-requests", "--disable-log-stats"}); err != nil {
		t.Error(err)
	}
}

// TestExampleFlags passes every flag the examples set (static and tuned,
// each with one of its values) to the simulator, which takes exactly
// vLLM's: a flag vLLM does not have would fail every trial on a GPU.
func TestExampleFlags(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Server struct {
				Command []string `yaml:"command"`
			} `yaml:"server"`
			Static map[string]any `yaml:"static_parameters"`
			Params map[string]struct {
				Min     any   `yaml:"min"`
				Options []any `yaml:"options"`
			} `yaml:"parameters"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.Contains(strings.Join(doc.Server.Command, " "), "simulate") && !slices.Contains(doc.Server.Command, "vllm") {
			continue // not a vLLM server (llm-d-inference-sim)
		}
		var args []string
		flag := func(name string, v any) {
			name = "--" + strings.ReplaceAll(name, "_", "-")
			switch v := v.(type) {
			case bool:
				if !v {
					name = "--no-" + strings.TrimPrefix(name, "--")
				}
				args = append(args, name)
			default:
				args = append(args, name, fmt.Sprint(v))
			}
		}
		for k, v := range doc.Static {
			flag(k, v)
		}
		for k, p := range doc.Params {
			for _, v := range append(p.Options, p.Min) {
				if v != nil {
					flag(k, v)
				}
			}
		}
		if i := slices.Index(doc.Server.Command, "simulate"); i >= 0 {
			args = append(args, doc.Server.Command[i+2:]...)
		}
		if _, err := ParseArgs(append([]string{"model"}, args...)); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

// TestDefaults checks the configuration `vllm serve MODEL` gets with no
// flags in vLLM 0.33.0, per GPU.
func TestDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args            []string
		seqs, tokens    int
		maxModelLen     int
		chunked, prefix bool
	}{
		{nil, 1024, 8192, 131072, true, true},
		{[]string{"--sim-gpu", "H200"}, 1024, 8192, 131072, true, true},
		{[]string{"--sim-gpu", "a100"}, 256, 2048, 131072, true, true},
		{[]string{"--sim-gpu", "L40S"}, 256, 2048, 131072, true, true},
		{[]string{"--sim-gpu", "L4", "--max-model-len", "8192"}, 256, 2048, 8192, true, true},
		{[]string{"--performance-mode", "throughput"}, 2048, 16384, 131072, true, true},
		{[]string{"--no-enable-chunked-prefill", "--max-model-len", "32768"}, 1024, 32768, 32768, false, true},
		{[]string{"Qwen/Qwen2.5-7B-Instruct"}, 1024, 8192, 32768, true, true},
	}
	for _, tt := range tests {
		c, err := ParseArgs(tt.args)
		if err != nil {
			t.Fatal(err)
		}
		if c.MaxNumSeqs != tt.seqs || c.MaxNumBatchedTokens != tt.tokens || c.MaxModelLen != tt.maxModelLen ||
			c.ChunkedPrefill != tt.chunked || c.PrefixCaching != tt.prefix || c.GPUMemoryUtil != 0.92 || c.BlockSize != 16 {
			t.Errorf("%v: %+v", tt.args, c)
		}
		if _, err := c.Check(); err != nil {
			t.Errorf("%v: %v", tt.args, err)
		}
	}
	// Llama-3.1-8B's 128k context does not fit beside its weights on an L4,
	// as with real vLLM.
	c, _ := ParseArgs([]string{"--sim-gpu", "L4"})
	if _, err := c.Check(); err == nil || !strings.Contains(err.Error(), "max seq len (131072)") {
		t.Errorf("L4: %v", err)
	}
}

func TestInfeasibleCorners(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--max-num-seqs", "512", "--max-num-batched-tokens", "256"}, "must be greater than or equal to max_num_seqs"},
		{[]string{"--no-enable-chunked-prefill", "--max-num-batched-tokens", "2048"}, "is smaller than max_model_len"},
		{[]string{"--gpu-memory-utilization", "0.99"}, "less than desired GPU memory utilization"},
		{[]string{"--gpu-memory-utilization", "0.2"}, "No available memory for the cache blocks"},
		{[]string{"--gpu-memory-utilization", "0.25", "--max-model-len", "32768"}, "larger than the available KV cache memory"},
		{[]string{"--tensor-parallel-size", "2"}, "exceeds the total number of available GPUs"},
		{[]string{"--block-size", "8"}, "No valid attention backend"},
		{[]string{"--kv-cache-dtype", "int4"}, "Invalid kv_cache_dtype"},
		{[]string{"--max-model-len", "200000"}, "greater than the derived max_model_len"},
		{[]string{"Llama-3.1-70B", "--sim-gpus", "2", "-tp", "2"}, "KV cache"},
	}
	for _, tt := range tests {
		c, err := ParseArgs(tt.args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, err := Defaults().resolve().Check(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// result is what drive measured, on simulated time.
type result struct {
	tokS        float64 // generated tokens per second
	ttft        time.Duration
	preemptions int
	steps       int
}

// drive runs the engine on simulated time (no sleeping): n requests arrive
// at once.
func drive(t *testing.T, args []string, n, prompt, out int) result {
	t.Helper()
	c, err := ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := c.Check()
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(c, mem.blocks)
	reqs := make([]*request, n)
	for i := range reqs {
		reqs[i] = newRequest(prompt, out)
		e.submit(reqs[i])
	}
	var elapsed, ttft time.Duration
	first := map[*request]bool{}
	var r result
	for ; e.finished < n; r.steps++ {
		if r.steps > 1_000_000 {
			t.Fatalf("%v: no progress", args)
		}
		elapsed += e.step()
		e.emit()
		for _, q := range reqs {
			if q.generated > 0 && !first[q] {
				first[q] = true
				ttft += elapsed
			}
		}
	}
	r.tokS = float64(e.genTokens) / elapsed.Seconds()
	r.ttft = ttft / time.Duration(n)
	r.preemptions = e.preemptions
	return r
}

func TestEngineResponse(t *testing.T) {
	t.Parallel()
	// Tight KV: 0.3 of an H100 leaves ~7 GiB after the weights, ~60k tokens;
	// 400 requests of 2k tokens do not fit at once.
	tight := []string{"--gpu-memory-utilization", "0.3", "--max-model-len", "4096"}
	few := drive(t, append([]string{"--max-num-seqs", "8"}, tight...), 400, 1024, 1024)
	mid := drive(t, append([]string{"--max-num-seqs", "32"}, tight...), 400, 1024, 1024)
	many := drive(t, append([]string{"--max-num-seqs", "512"}, tight...), 400, 1024, 1024)
	t.Logf("tight KV, 400 requests of 1024+1024 tokens: max_num_seqs 8 → %.0f tok/s, 32 → %.0f (%d preemptions), 512 → %.0f (%d preemptions)",
		few.tokS, mid.tokS, mid.preemptions, many.tokS, many.preemptions)
	if mid.tokS <= few.tokS {
		t.Errorf("decode is memory-bound, so a larger batch is faster: 8 → %.0f tok/s, 32 → %.0f", few.tokS, mid.tokS)
	}
	// Past what the KV cache holds, preemptions recompute prompts: the
	// optimum is inside the range, which is what a study has to find.
	if mid.tokS <= many.tokS {
		t.Errorf("no interior optimum in max_num_seqs: 32 → %.0f tok/s, 512 → %.0f", mid.tokS, many.tokS)
	}
	if many.preemptions == 0 || mid.preemptions > many.preemptions {
		t.Errorf("preemptions: 32 seqs %d, 512 seqs %d", mid.preemptions, many.preemptions)
	}
	// More KV (higher utilization, or fp8) removes the preemptions.
	if r := drive(t, []string{"--max-num-seqs", "512", "--kv-cache-dtype", "fp8", "--max-model-len", "4096"}, 400, 1024, 1024); r.preemptions >= many.preemptions {
		t.Errorf("fp8 and 0.92 utilization still preempt %d times (tight: %d)", r.preemptions, many.preemptions)
	}
	// Without chunked prefill a prompt waits until its whole length fits in a
	// step's budget: 8192 tokens hold 2.7 prompts of 3000, so whole-prompt
	// steps leave budget unused and the same work takes more steps.
	// (--max-model-len: whole prompts need a budget of at least
	// max_model_len, and Llama-3.1-8B's default is 131072.)
	budget := []string{"--max-num-batched-tokens", "8192", "--max-model-len", "8192"}
	chunked := drive(t, budget, 64, 3000, 64)
	whole := drive(t, append(budget, "--no-enable-chunked-prefill"), 64, 3000, 64)
	t.Logf("64 requests of 3000+64 tokens, 8192 batched tokens: chunked prefill %d steps, %.0f tok/s; whole prompts %d steps, %.0f tok/s",
		chunked.steps, chunked.tokS, whole.steps, whole.tokS)
	if chunked.steps >= whole.steps || !similarOrFaster(chunked.tokS, whole.tokS) {
		t.Errorf("chunked prefill %d steps, %.0f tok/s; whole prompts %d steps, %.0f tok/s: chunking should take fewer steps, as fast",
			chunked.steps, chunked.tokS, whole.steps, whole.tokS)
	}
}

// TestChunkedPrefill: with prompts longer than half the token budget,
// whole-prompt scheduling runs one prompt a step and leaves the rest of
// the budget idle; chunked prefill fills every step, so it takes fewer
// steps for at least the same throughput.
func TestChunkedPrefill(t *testing.T) {
	t.Parallel()
	base := []string{"--max-num-batched-tokens", "4096", "--max-model-len", "4096"}
	chunked := drive(t, base, 64, 3000, 16)
	whole := drive(t, append(base, "--no-enable-chunked-prefill"), 64, 3000, 16)
	t.Logf("64 prompts of 3000 tokens, budget 4096: chunked %d steps, %.0f tok/s, TTFT %v; whole %d steps, %.0f tok/s, TTFT %v",
		chunked.steps, chunked.tokS, chunked.ttft, whole.steps, whole.tokS, whole.ttft)
	if chunked.steps >= whole.steps || !similarOrFaster(chunked.tokS, whole.tokS) {
		t.Errorf("chunked prefill: %+v, whole prompts: %+v", chunked, whole)
	}
}

// similarOrFaster says whether chunked prefill's throughput is at least
// whole prompts' within 1 %. Prefill is compute-bound, so the same tokens
// cost the same time either way: chunking saves only the idle budget's
// steps, 0.7 ms each, and the order in which requests reach decode moves
// the result by a few tenths of a percent either way.
func similarOrFaster(chunked, whole float64) bool { return chunked >= 0.99*whole }

func TestServer(t *testing.T) {
	t.Parallel()
	c, _ := ParseArgs([]string{"sim-model", "--port", "0", "--sim-speedup", "20", "--sim-startup-seconds", "0", "--max-num-seqs", "4"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr()
	if resp, err := http.Get(url + "/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v", err)
	}
	sum, err := bench.Run(ctx, bench.Options{BaseURL: url, Model: "sim-model", Concurrency: 6, MaxRequests: 12,
		Prompt: bench.TokenDist{Mean: 64}, Output: bench.TokenDist{Mean: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 12 || sum.Errors != 0 || sum.Metrics[metric.OutputTokenCount+"_mean"] != 16 || sum.Metrics[metric.PromptTokenCount+"_mean"] < 60 {
		t.Errorf("bench: %+v %s", sum.Metrics, sum.FirstError)
	}
	chat, err := bench.Run(ctx, bench.Options{BaseURL: url, Model: "sim-model", Chat: true, Concurrency: 2, MaxRequests: 2, Output: bench.TokenDist{Mean: 3}})
	if err != nil || chat.Requests != 2 {
		t.Errorf("chat: %+v %v", chat, err)
	}
	// Content as a list of parts and max_completion_tokens, as newer clients send them.
	resp, _ := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(
		`{"model": "sim-model", "messages": [{"role": "user", "content": [{"type": "text", "text": "a b c"}]}], "max_completion_tokens": 2}`))
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(body), `"completion_tokens":2`) {
		t.Errorf("chat with content parts: HTTP %d %s", resp.StatusCode, body)
	}
	resp.Body.Close()
	resp, _ = http.Get(url + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "vllm:generation_tokens_total{model_name=\"sim-model\"} 200") {
		t.Errorf("metrics:\n%s", body)
	}
	resp, _ = http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "hi", "max_tokens": 999999}`))
	if resp.StatusCode != 400 {
		t.Errorf("too long: HTTP %d", resp.StatusCode)
	}
}
