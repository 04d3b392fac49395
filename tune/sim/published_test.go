package sim

import (
	"math"
	"testing"
	"time"
)

// closedLoop keeps conc requests in flight (a new one as each finishes)
// until total have finished, on simulated time, as `vllm bench serve
// --max-concurrency` does. It returns output tokens per second and the mean
// time to first token.
func closedLoop(t *testing.T, c Config, conc, total, prompt, out int) (float64, time.Duration) {
	t.Helper()
	mem, err := c.Check()
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(c, mem.blocks)
	type flight struct {
		r     *request
		start time.Duration
	}
	var inFlight []flight
	var elapsed, ttft time.Duration
	submitted, firsts := 0, 0
	for e.finished < total {
		for len(inFlight) < conc && submitted < total {
			r := newRequest(prompt, out)
			e.submit(r)
			inFlight = append(inFlight, flight{r, elapsed})
			submitted++
		}
		elapsed += e.step()
		e.emit()
		kept := inFlight[:0]
		for _, f := range inFlight {
			if f.r.generated == 1 && f.start >= 0 {
				ttft += elapsed - f.start
				firsts++
				f.start = -1
			}
			if f.r.generated < f.r.maxTokens {
				kept = append(kept, f)
			}
		}
		inFlight = kept
	}
	return float64(e.genTokens) / elapsed.Seconds(), ttft / time.Duration(max(firsts, 1))
}

// TestPublishedFigures holds the simulator to published vLLM measurements
// of Llama-3.1-8B (BF16; a few of them ran Meta-Llama-3-8B, whose shape is
// the same); the README's "The simulator" section lists them with their
// sources. Each must be within 25 %, except those marked knownOff, which are
// logged with the reason and left for the roofline to catch up with. The
// source's workload is replayed as it ran: fixed prompt and output lengths,
// conc requests in flight, prompts of them in all (0: 20×conc, as `vllm
// bench serve` sweeps run), output tok/s over the run (so a batch-1 figure
// includes each request's prefill, about 5 % of its time).
func TestPublishedFigures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		what      string
		args      []string
		conc, in  int
		out       int
		prompts   int
		published float64 // output tok/s
		knownOff  string  // why the roofline misses it; not asserted
	}{
		// J. Musgrave, "vLLM throughput-latency sweep on NVIDIA A100": about
		// 75 tok/s at one request, 6.6× that at concurrency 8.
		{what: "A100-40GB, concurrency 1, output tok/s", args: []string{"--sim-gpu", "A100-40GB"}, conc: 1, in: 1024, out: 128, published: 75},
		{what: "A100-40GB, concurrency 8, output tok/s", args: []string{"--sim-gpu", "A100-40GB"}, conc: 8, in: 1024, out: 128, published: 75 * 6.6},
		// vLLM's own nightly performance benchmark, Buildkite build 9555
		// (https://buildkite.com/vllm/performance-benchmark/builds/9555),
		// test latency_llama8B_tp1 on an H100 (TP 1): `benchmark_latency`, one
		// batch of 8 prompts of 32 tokens, 128 output tokens each, mean
		// end-to-end latency 997.542 ms, so 8·128 tokens in 0.997542 s.
		{what: "H100, batch 8, 32/128, output tok/s", args: []string{"--sim-gpu", "H100"}, conc: 8, in: 32, out: 128, prompts: 8, published: 8 * 128 / 0.997542},
		// The same test on an A100-SXM4-80GB, build 9523
		// (https://buildkite.com/vllm/performance-benchmark/builds/9523):
		// mean latency 1579.27 ms.
		{what: "A100, batch 8, 32/128, output tok/s", args: []string{"--sim-gpu", "A100"}, conc: 8, in: 32, out: 128, prompts: 8, published: 8 * 128 / 1.57927},
		// The same test on an H200, build 9513
		// (https://buildkite.com/vllm/performance-benchmark/builds/9513):
		// mean latency 834.059 ms.
		{what: "H200, batch 8, 32/128, output tok/s", args: []string{"--sim-gpu", "H200"}, conc: 8, in: 32, out: 128, prompts: 8, published: 8 * 128 / 0.834059,
			knownOff: "+30 %: the measured step is 6.5 ms against 5.0 ms simulated; the H100 and A100 runs of this test fit about 68 % of peak bandwidth plus 0.7 ms a step, and even that leaves the H200 0.9 ms a step short, a fixed cost (host, V0's CPU work) the model does not carry"},
		// vLLM's documentation, "torch.compile" usage page as of December 2024
		// (docs/source/usage/torch_compile.rst at commit b8a4c98c, V0 engine):
		// `benchmarks/benchmark_latency.py --model meta-llama/Meta-Llama-3-8B
		// --batch-size 1 --load-format dummy` (so the script's defaults: 32
		// prompt tokens, 128 output tokens), average latency 0.9704469823899369 s
		// on an H100 and 7.81603614680001 s on an L4, without torch.compile.
		{what: "H100, batch 1, 32/128, output tok/s", args: []string{"--sim-gpu", "H100"}, conc: 1, in: 32, out: 128, prompts: 1, published: 128 / 0.9704469823899369},
		{what: "L4, batch 1, 32/128, output tok/s", args: []string{"--sim-gpu", "L4"}, conc: 1, in: 32, out: 128, prompts: 1, published: 128 / 7.81603614680001},
		// The same page: `benchmarks/benchmark_throughput.py --input-len 256
		// --output-len 256 --model meta-llama/Meta-Llama-3-8B --load-format
		// dummy --num-scheduler-steps 64` on an H100, 11364.08 output tokens/s
		// (the script's 1000 prompts at once; max_num_seqs was V0's 256, and
		// the page logs batches of 256 and 232 as the most common). V0
		// without chunked prefill had a token budget of max_model_len (8192).
		{what: "H100, 1000 prompts, 256/256, output tok/s", args: []string{"--sim-gpu", "H100", "--max-num-seqs", "256", "--max-num-batched-tokens", "8192", "--no-enable-chunked-prefill"}, conc: 1000, in: 256, out: 256, prompts: 1000, published: 11364.08},
		// Its decode steps of 256 sequences sit near the ridge point (10.8 ms
		// of weights and KV at 80 % of HBM, 6.5 ms of FLOPs at 60 %): with a
		// plain max() of the two it simulated 28 % fast, which overlapLoss
		// (0.3 of the shorter) brings to +15 %.
		// LLM-Inference-Bench (Chitty-Venkata et al., Argonne, 2024;
		// arXiv:2411.00136), its Fig. 21 data
		// (github.com/argonne-lcf/LLM-Inference-Bench,
		// Plots/Fig_21/all_results_TTFT.csv): vLLM, Meta-Llama-3-8B, one GPU,
		// a batch of 16 prompts of 1,024 tokens and one output token, so the
		// latency is the time to the last first token: 0.42567 s on an H100,
		// 1.04205 s on an A100. The vLLM of 2024 (V0) prefilled without
		// chunking in a budget of max_model_len tokens (8,192): two steps of
		// eight prompts.
		{what: "H100, batch 16, 1024/1, output tok/s", args: []string{"--sim-gpu", "H100", "--max-num-batched-tokens", "8192", "--no-enable-chunked-prefill"}, conc: 16, in: 1024, out: 1, prompts: 16, published: 16 / 0.42566500790417194},
		{what: "A100, batch 16, 1024/1, output tok/s", args: []string{"--sim-gpu", "A100", "--max-num-batched-tokens", "8192", "--no-enable-chunked-prefill"}, conc: 16, in: 1024, out: 1, prompts: 16, published: 16 / 1.0420479719759896},
	}
	for _, tt := range tests {
		c := mustConfig(t, append([]string{"meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "4096"}, tt.args...)...)
		prompts := tt.prompts
		if prompts == 0 {
			prompts = 20 * tt.conc
		}
		got, ttft := closedLoop(t, c, tt.conc, prompts, tt.in, tt.out)
		t.Logf("%-42s published %7.1f  simulated %7.1f  (%+.0f %%; TTFT %v)", tt.what, tt.published, got, 100*(got/tt.published-1), ttft.Round(time.Millisecond))
		switch {
		case tt.knownOff != "":
			t.Logf("    known off, not asserted: %s", tt.knownOff)
		case math.Abs(got/tt.published-1) > 0.25:
			t.Errorf("%s: simulated %.1f, published %.1f", tt.what, got, tt.published)
		}
	}
}
