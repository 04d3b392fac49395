package sim

import (
	"context"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	c, err := ParseArgs([]string{"facebook/opt-125m", "--max-num-seqs", "64", "--max_num_batched_tokens=4096", "--gpu-memory-utilization", "0.85",
		"--no-enable-chunked-prefill", "--kv-cache-dtype", "fp8", "--port", "9001", "--enable-prefix-caching", "--disable-log-requests"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "facebook/opt-125m" || c.MaxNumSeqs != 64 || c.MaxNumBatchedTokens != 4096 || c.GPUMemoryUtil != 0.85 ||
		c.ChunkedPrefill || c.KVCacheDtype != "fp8" || c.Port != 9001 || !c.PrefixCaching {
		t.Errorf("%+v", c)
	}
	for _, tt := range []struct {
		args []string
		want string // "" = accepted
	}{
		// vLLM's options the simulator does not model are accepted, as vLLM does.
		{[]string{"--served-model-name", "a", "b", "--seed", "1", "--enable-log-requests", "--dtype", "bfloat16"}, ""},
		{[]string{"-tp", "1", "--trust-remote-code"}, ""},
		// argparse takes a unique prefix of an option.
		{[]string{"--max-num-seq", "4"}, ""},
		{[]string{"--max-num-seqz", "4"}, "unrecognized arguments: --max-num-seqz"},
		{[]string{"--frobnicate"}, "unrecognized arguments: --frobnicate"},
		{[]string{"--max-num-seqs", "many"}, "argument --max-num-seqs: invalid int value: 'many'"},
		{[]string{"--max-num-seqs"}, "argument --max-num-seqs: expected one argument"},
		{[]string{"--enable-prefix-caching=yes"}, "ignored explicit argument"},
	} {
		_, err := ParseArgs(tt.args)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%v: %v, want %q (vLLM %s)", tt.args, err, tt.want, VLLMVersion())
		}
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
		{[]string{"--gpu-memory-utilization", "0.99"}, "CUDA out of memory"},
		{[]string{"--gpu-memory-utilization", "0.2"}, "No available memory for the cache blocks"},
		{[]string{"--gpu-memory-utilization", "0.25", "--max-model-len", "32768"}, "larger than the available KV cache memory"},
		{[]string{"--tensor-parallel-size", "2"}, "exceeds the total number of available GPUs"},
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
	if _, err := Defaults().Check(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// drive runs the engine on simulated time (no sleeping): n requests arrive
// at once; it returns generated tokens per simulated second and preemptions.
func drive(t *testing.T, args []string, n, prompt, out int) (float64, int) {
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
	for i := 0; i < n; i++ {
		e.submit(newRequest(prompt, out))
	}
	var elapsed time.Duration
	for steps := 0; e.finished < n; steps++ {
		if steps > 1_000_000 {
			t.Fatalf("%v: no progress", args)
		}
		elapsed += e.step()
		e.emit()
	}
	return float64(e.genTokens) / elapsed.Seconds(), e.preemptions
}

func TestEngineResponse(t *testing.T) {
	t.Parallel()
	// Tight KV: 0.45 of 80 GiB leaves ~18 GiB, ~150k tokens; 400 requests of 2k tokens do not fit at once.
	tight := []string{"--gpu-memory-utilization", "0.45"}
	few, _ := drive(t, append([]string{"--max-num-seqs", "8"}, tight...), 400, 1024, 1024)
	mid, midPre := drive(t, append([]string{"--max-num-seqs", "64"}, tight...), 400, 1024, 1024)
	many, manyPre := drive(t, append([]string{"--max-num-seqs", "512", "--max-num-batched-tokens", "8192"}, tight...), 400, 1024, 1024)
	t.Logf("tight KV, 400 requests of 1024+1024 tokens: max_num_seqs 8 → %.0f tok/s, 64 → %.0f (%d preemptions), 512 → %.0f (%d preemptions)", few, mid, midPre, many, manyPre)
	if !(mid > few && mid > many) {
		t.Errorf("no interior optimum in max_num_seqs: 8 → %.0f tok/s, 64 → %.0f, 512 → %.0f", few, mid, many)
	}
	if manyPre == 0 || midPre > manyPre {
		t.Errorf("preemptions: 64 seqs %d, 512 seqs %d", midPre, manyPre)
	}
	// More KV (higher utilization, or fp8) removes the preemptions.
	if _, pre := drive(t, []string{"--max-num-seqs", "512", "--gpu-memory-utilization", "0.9", "--kv-cache-dtype", "fp8"}, 400, 1024, 1024); pre >= manyPre {
		t.Errorf("fp8 and 0.9 utilization still preempt %d times (tight: %d)", pre, manyPre)
	}
	// Without chunked prefill a prompt waits until its whole length fits in a
	// step's budget: 8192 tokens hold 2.7 prompts of 3000, so whole-prompt
	// steps leave 2192 tokens of each budget unused and the same work takes
	// more steps (each with its launch overhead). Chunked prefill must come
	// out ahead.
	chunked, _ := drive(t, []string{"--max-num-batched-tokens", "8192"}, 64, 3000, 64)
	whole, _ := drive(t, []string{"--max-num-batched-tokens", "8192", "--no-enable-chunked-prefill"}, 64, 3000, 64)
	t.Logf("64 requests of 3000+64 tokens, 8192 batched tokens: chunked prefill %.0f tok/s, whole prompts %.0f", chunked, whole)
	if !(chunked > whole) || whole <= 0 {
		t.Errorf("chunked prefill %.0f tok/s, whole prompts %.0f: chunking should be faster", chunked, whole)
	}
}

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
	resp, _ = http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "hi", "max_tokens": 99999}`))
	if resp.StatusCode != 400 {
		t.Errorf("too long: HTTP %d", resp.StatusCode)
	}
}
