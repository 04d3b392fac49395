// Package sim is a simulated vLLM server: the OpenAI streaming API, /health
// and /metrics over a continuous-batching engine whose speed and memory
// respond to vLLM's main flags the way vLLM does — KV capacity from
// --gpu-memory-utilization and --block-size (and fp8 KV), admission and
// preemption under --max-num-seqs, step cost and prefill chunking under
// --max-num-batched-tokens and --enable-chunked-prefill — with vLLM's own
// start-up errors in the infeasible corners. It lets a study run, and show an
// interior optimum, without a GPU.
package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Config holds the vLLM flags the simulator honours and its hardware model.
type Config struct {
	Model               string
	Host                string
	Port                int
	MaxNumSeqs          int
	MaxNumBatchedTokens int
	GPUMemoryUtil       float64
	BlockSize           int
	ChunkedPrefill      bool
	MaxModelLen         int
	KVCacheDtype        string
	PrefixCaching       bool
	TensorParallel      int

	// The simulated machine (sim-* flags): one GPU of GPUMemoryGiB holding
	// WeightsGiB of weights; KVBytesPerToken per token of context (fp16).
	GPUs            int
	GPUMemoryGiB    float64
	WeightsGiB      float64
	KVBytesPerToken float64
	// Speedup runs simulated time faster than real time (2 = twice as fast).
	Speedup      float64
	StartupDelay time.Duration
}

// Defaults are vLLM's defaults, on a simulated 80 GiB GPU serving an 8B model.
func Defaults() Config {
	return Config{
		Model: "sim-8b", Host: "127.0.0.1", Port: 8000,
		MaxNumSeqs: 256, MaxNumBatchedTokens: 8192, GPUMemoryUtil: 0.9, BlockSize: 16,
		ChunkedPrefill: true, MaxModelLen: 8192, KVCacheDtype: "auto", TensorParallel: 1,
		GPUs: 1, GPUMemoryGiB: 80, WeightsGiB: 16, KVBytesPerToken: 128 << 10,
		Speedup: 1, StartupDelay: 300 * time.Millisecond,
	}
}

// simOptions are the simulator's own flags (sim-*), beside vLLM's.
var simOptions = map[string]argKind{
	"--sim-gpus": argOne, "--sim-gpu-memory-gib": argOne, "--sim-weights-gib": argOne,
	"--sim-speedup": argOne, "--sim-startup-seconds": argOne,
}

// ParseArgs reads `vllm serve` arguments as the vLLM release named by
// vllmVersion does: every option it has is accepted (those the simulator
// does not model have no effect), and any other is argparse's
// "unrecognized arguments" error, as real vLLM gives it, so a flag that
// would fail on a GPU fails here too.
func ParseArgs(args []string) (Config, error) {
	c := Defaults()
	positional, opts, err := splitArgs(args, simOptions)
	if err != nil {
		return c, err
	}
	if len(positional) > 0 {
		c.Model = positional[0]
	}
	for _, o := range opts {
		if err := c.set(o); err != nil {
			return c, err
		}
	}
	return c, nil
}

// VLLMVersion is the vLLM release whose `vllm serve` options the simulator
// accepts.
func VLLMVersion() string { return vllmVersion }

// set applies one option; options the simulator does not model are accepted
// and ignored.
func (c *Config) set(o option) error {
	v := ""
	if len(o.values) > 0 {
		v = o.values[0]
	}
	var err error
	switch o.name {
	case "--model":
		c.Model = v
	case "--host":
		c.Host = v
	case "--port":
		c.Port, err = parseInt(o.name, v)
	case "--max-num-seqs":
		c.MaxNumSeqs, err = parseInt(o.name, v)
	case "--max-num-batched-tokens":
		c.MaxNumBatchedTokens, err = parseInt(o.name, v)
	case "--gpu-memory-utilization":
		c.GPUMemoryUtil, err = parseFloat(o.name, v)
	case "--block-size":
		c.BlockSize, err = parseInt(o.name, v)
	case "--max-model-len":
		c.MaxModelLen, err = parseInt(o.name, v)
	case "--tensor-parallel-size", "-tp":
		c.TensorParallel, err = parseInt(o.name, v)
	case "--kv-cache-dtype":
		c.KVCacheDtype = v
	case "--enable-chunked-prefill", "--no-disable-chunked-prefill":
		c.ChunkedPrefill = true
	case "--no-enable-chunked-prefill", "--disable-chunked-prefill":
		c.ChunkedPrefill = false
	case "--enable-prefix-caching", "--no-disable-prefix-caching":
		c.PrefixCaching = true
	case "--no-enable-prefix-caching", "--disable-prefix-caching":
		c.PrefixCaching = false
	case "--sim-gpus":
		c.GPUs, err = parseInt(o.name, v)
	case "--sim-gpu-memory-gib":
		c.GPUMemoryGiB, err = parseFloat(o.name, v)
	case "--sim-weights-gib":
		c.WeightsGiB, err = parseFloat(o.name, v)
	case "--sim-speedup":
		c.Speedup, err = parseFloat(o.name, v)
	case "--sim-startup-seconds":
		var s float64
		s, err = parseFloat(o.name, v)
		c.StartupDelay = time.Duration(s * float64(time.Second))
	}
	return err
}

func parseInt(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("argument %s: invalid int value: '%s'", name, v)
	}
	return n, nil
}

func parseFloat(name, v string) (float64, error) {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("argument %s: invalid float value: '%s'", name, v)
	}
	return x, nil
}

// memory is the start-up accounting, in bytes.
type memory struct {
	budget, activations, kv float64
	kvTokens, blocks        int
}

const gib = float64(1 << 30)

// Check validates the configuration like vLLM at start-up and sizes the KV
// cache. The errors carry vLLM's messages, so failure classification works
// the same on the simulator.
func (c Config) Check() (memory, error) {
	var m memory
	switch {
	case c.MaxNumSeqs < 1 || c.MaxNumBatchedTokens < 1 || c.BlockSize < 1 || c.MaxModelLen < 1:
		return m, fmt.Errorf("ValueError: max_num_seqs, max_num_batched_tokens, block_size and max_model_len must be positive")
	case c.MaxNumBatchedTokens < c.MaxNumSeqs:
		return m, fmt.Errorf("ValueError: max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d).", c.MaxNumBatchedTokens, c.MaxNumSeqs)
	case !c.ChunkedPrefill && c.MaxNumBatchedTokens < c.MaxModelLen:
		return m, fmt.Errorf("ValueError: max_num_batched_tokens (%d) is smaller than max_model_len (%d). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.", c.MaxNumBatchedTokens, c.MaxModelLen)
	case c.TensorParallel > c.GPUs:
		return m, fmt.Errorf("ValueError: The number of required GPUs exceeds the total number of available GPUs in the placement group (tensor_parallel_size=%d, available=%d).", c.TensorParallel, c.GPUs)
	case c.KVCacheDtype != "auto" && !strings.HasPrefix(c.KVCacheDtype, "fp8"):
		return m, fmt.Errorf("argument --kv-cache-dtype: invalid choice: '%s'", c.KVCacheDtype)
	}
	per := c.GPUMemoryGiB * gib
	if c.GPUMemoryUtil > 0.97 {
		return m, fmt.Errorf("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of %.2f GiB", c.GPUMemoryGiB)
	}
	m.budget = c.GPUMemoryUtil * per * float64(c.TensorParallel)
	// Profiling peak: activations grow with the token budget of a step.
	m.activations = float64(c.MaxNumBatchedTokens) * 0.25 * (1 << 20)
	m.kv = m.budget - c.WeightsGiB*gib - m.activations
	if m.kv <= 0 {
		return m, fmt.Errorf("ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine. Available KV cache memory: %.2f GiB", m.kv/gib)
	}
	perToken := c.KVBytesPerToken
	if strings.HasPrefix(c.KVCacheDtype, "fp8") {
		perToken /= 2
	}
	m.kvTokens = int(m.kv / perToken)
	m.blocks = m.kvTokens / c.BlockSize
	if m.blocks*c.BlockSize < c.MaxModelLen {
		need := float64(c.MaxModelLen) * perToken / gib
		return m, fmt.Errorf("ValueError: To serve at least one request with the models's max seq len (%d), (%.2f GiB KV cache is needed, which is larger than the available KV cache memory (%.2f GiB). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.", c.MaxModelLen, need, m.kv/gib)
	}
	return m, nil
}

// stepTime is the simulated duration of one engine step.
func (c Config) stepTime(prefill, decode, context int) time.Duration {
	// Kernel efficiency by block size: tiny blocks cost more per token.
	eff := map[int]float64{8: 1.12, 16: 1.0, 32: 0.98, 64: 0.97, 128: 0.97}[c.BlockSize]
	if eff == 0 {
		eff = 1
	}
	tp := 1 / (0.15 + 0.85*float64(c.TensorParallel)) * float64(c.TensorParallel)
	us := 3000.0 + // launch overhead, paid every step
		35*float64(decode) + // per decoded token
		12*float64(prefill) + // per prefill token (compute bound, cheaper per token)
		0.06*float64(context) // attention over the KV of the batch
	us = us * eff / tp
	return time.Duration(math.Max(us, 1) * float64(time.Microsecond))
}
