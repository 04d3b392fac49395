// Package sim is a simulated vLLM server: the OpenAI streaming API, /health
// and /metrics over a continuous-batching engine grounded in a model's shape
// and a GPU's datasheet. KV capacity is the memory left after the weights at
// --gpu-memory-utilization, per --block-size and --kv-cache-dtype; each step
// takes the time of a roofline (weights and KV read from HBM against the
// FLOPs on the tensor cores, split by --tensor-parallel-size); admission,
// preemption and prefill chunking follow --max-num-seqs,
// --max-num-batched-tokens and --enable-chunked-prefill; it accepts exactly
// the options of the vLLM release it follows (vllmVersion), with vLLM's
// defaults and start-up errors. It lets a study run without a GPU.
package sim

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Config holds the vLLM flags the simulator honours and its hardware model.
// Zero MaxNumSeqs, MaxNumBatchedTokens and MaxModelLen mean "vLLM's default",
// which depends on the GPU and the model (see resolve).
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
	PerformanceMode     string

	// The simulated machine (--sim-* flags): GPUs of one kind, and the
	// model's shape (from --sim-model, --sim-model-config, or the name).
	GPU   GPU
	GPUs  int
	Shape Model
	// WeightsGiB, when set, replaces the weights' size computed from Shape.
	WeightsGiB float64
	// Speedup runs simulated time faster than real time (2 = twice as fast).
	Speedup      float64
	StartupDelay time.Duration
}

// Defaults are what `vllm serve` uses with no flags (vLLM 0.33.0: CacheConfig
// gpu_memory_utilization 0.92 and block size 16; chunked prefill and prefix
// caching on; max_model_len from the model), on one H100 serving
// Llama-3.1-8B. max_num_seqs and max_num_batched_tokens are left to resolve,
// as vLLM leaves them to EngineArgs.get_batch_defaults.
func Defaults() Config {
	return Config{
		Model: "sim-8b", Host: "127.0.0.1", Port: 8000,
		GPUMemoryUtil: 0.92, BlockSize: 16, ChunkedPrefill: true, KVCacheDtype: "auto",
		PrefixCaching: true, TensorParallel: 1, PerformanceMode: "balanced",
		GPU: gpus[0], GPUs: 1, Shape: models[0],
		Speedup: 1, StartupDelay: 300 * time.Millisecond,
	}
}

// resolve fills in the defaults vLLM derives at start-up. vLLM 0.33.0's
// get_batch_defaults for the API server (usage context OPENAI_API_SERVER):
// GPUs with at least 160 GiB get max_num_batched_tokens 16384 and
// max_num_seqs 1024; GPUs with at least 70 GiB that are not A100s (H100,
// H200) 8192 and 1024; others (A100, L40S, L4) 2048 and 256. The
// "throughput" performance mode doubles both; without chunked prefill the
// token budget is raised to max_model_len.
func (c Config) resolve() Config {
	if c.MaxModelLen == 0 {
		c.MaxModelLen = c.Shape.MaxPosition
		if c.MaxModelLen == 0 {
			c.MaxModelLen = 2048 // transformers' default when config.json has none
		}
	}
	tokens, seqs := 2048, 256
	switch {
	case c.GPU.MemoryGiB >= 160:
		tokens, seqs = 16384, 1024
	case c.GPU.MemoryGiB >= 70 && c.GPU.Name != "A100":
		tokens, seqs = 8192, 1024
	}
	if c.PerformanceMode == "throughput" {
		tokens, seqs = 2*tokens, 2*seqs
	}
	if c.MaxNumBatchedTokens == 0 {
		c.MaxNumBatchedTokens = tokens
		if !c.ChunkedPrefill {
			c.MaxNumBatchedTokens = max(tokens, c.MaxModelLen)
		}
	}
	if c.MaxNumSeqs == 0 {
		c.MaxNumSeqs = seqs
	}
	return c
}

// simOptions are the simulator's own flags.
var simOptions = map[string]argKind{
	"--sim-gpu": argOne, "--sim-gpus": argOne, "--sim-gpu-memory-gib": argOne,
	"--sim-model": argOne, "--sim-model-config": argOne, "--sim-weights-gib": argOne,
	"--sim-speedup": argOne, "--sim-startup-seconds": argOne,
}

// ParseArgs reads `vllm serve` arguments as the vLLM release named by
// vllmVersion does: every option it has is accepted (those the simulator
// does not model have no effect), and any other is argparse's
// "unrecognized arguments" error, as real vLLM gives it, so a flag that
// would fail on a GPU fails here too. The result has vLLM's start-up
// defaults filled in.
func ParseArgs(args []string) (Config, error) {
	c := Defaults()
	positional, opts, err := splitArgs(args, simOptions)
	if err != nil {
		return c, err
	}
	if len(positional) > 0 {
		c.Model = positional[0]
	}
	var m machine
	for _, o := range opts {
		if err := c.set(o, &m); err != nil {
			return c, err
		}
	}
	switch {
	case m.modelConfig != "":
		if c.Shape, err = ReadModelConfig(m.modelConfig); err != nil {
			return c, err
		}
	case m.shape != "":
		if c.Shape, err = ModelNamed(m.shape); err != nil {
			return c, err
		}
	default:
		c.Shape = LookupModel(c.Model)
	}
	// Applied after --sim-gpu, which would otherwise reset it when it comes
	// later on the command line.
	if m.memoryGiB > 0 {
		c.GPU.MemoryGiB = m.memoryGiB
	}
	return c.resolve(), nil
}

// machine holds the --sim-* options that ParseArgs applies once all are
// read, as they depend on one another rather than on their order.
type machine struct {
	shape, modelConfig string
	memoryGiB          float64
}

// VLLMVersion is the vLLM release whose `vllm serve` options the simulator
// accepts.
func VLLMVersion() string { return vllmVersion }

// set applies one option; options the simulator does not model are accepted
// and ignored.
func (c *Config) set(o option, m *machine) error {
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
	case "--performance-mode":
		// vLLM's PerformanceMode literal, which argparse checks as choices.
		if !slices.Contains([]string{"balanced", "interactivity", "throughput"}, v) {
			return fmt.Errorf("argument --performance-mode: invalid choice: '%s' (choose from 'balanced', 'interactivity', 'throughput')", v)
		}
		c.PerformanceMode = v
	case "--enable-chunked-prefill", "--no-disable-chunked-prefill":
		c.ChunkedPrefill = true
	case "--no-enable-chunked-prefill", "--disable-chunked-prefill":
		c.ChunkedPrefill = false
	case "--enable-prefix-caching", "--no-disable-prefix-caching":
		c.PrefixCaching = true
	case "--no-enable-prefix-caching", "--disable-prefix-caching":
		c.PrefixCaching = false
	case "--sim-gpu":
		c.GPU, err = LookupGPU(v)
	case "--sim-gpus":
		c.GPUs, err = parseInt(o.name, v)
	case "--sim-gpu-memory-gib":
		m.memoryGiB, err = parseFloat(o.name, v)
	case "--sim-model":
		m.shape = v
	case "--sim-model-config":
		m.modelConfig = v
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
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("argument %s: invalid float value: '%s'", name, v)
	}
	return f, nil
}

// memory is the start-up accounting, per GPU, in bytes.
type memory struct {
	budget, weights, activations, kv float64
	kvTokens, blocks                 int
}

const gib = float64(1 << 30)

// cudaReserved is what the CUDA context, NCCL and cuBLAS hold outside
// vLLM's budget; a budget that leaves less than this fails at start-up.
const cudaReserved = 1.5 * gib

// kvElemBytes is the width of one KV-cache element for --kv-cache-dtype
// ("auto" follows the model), or 0 for a dtype vLLM does not know.
func (c Config) kvElemBytes() float64 {
	switch c.KVCacheDtype {
	case "auto":
		return c.Shape.dtypeBytes()
	case "float16", "bfloat16":
		return 2
	case "fp8", "fp8_e4m3", "fp8_e5m2":
		return 1
	}
	return 0
}

// weightBytes is the weights held by one GPU.
func (c Config) weightBytes() float64 {
	if c.WeightsGiB > 0 {
		return c.WeightsGiB * gib / float64(c.TensorParallel)
	}
	return c.Shape.Params() * c.Shape.dtypeBytes() / float64(c.TensorParallel)
}

// kvBytesPerToken is one token's K and V on one GPU: tensor parallelism
// splits the KV heads (a head is replicated when there are fewer than GPUs).
func (c Config) kvBytesPerToken() float64 {
	heads := max(c.Shape.KVHeads/c.TensorParallel, 1)
	return 2 * float64(c.Shape.Layers*heads*c.Shape.headDim()) * c.kvElemBytes()
}

// Check validates the configuration like vLLM at start-up and sizes the KV
// cache from the memory left after weights and the profiling peak. The
// errors carry vLLM's messages, so failure classification works the same on
// the simulator.
func (c Config) Check() (memory, error) {
	var m memory
	switch {
	case c.MaxNumSeqs < 1 || c.MaxNumBatchedTokens < 1 || c.BlockSize < 1 || c.MaxModelLen < 1 || c.TensorParallel < 1:
		return m, fmt.Errorf("ValueError: max_num_seqs, max_num_batched_tokens, block_size, max_model_len and tensor_parallel_size must be positive")
	case c.MaxNumBatchedTokens < c.MaxNumSeqs:
		return m, fmt.Errorf("ValueError: max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d).", c.MaxNumBatchedTokens, c.MaxNumSeqs)
	case !c.ChunkedPrefill && c.MaxNumBatchedTokens < c.MaxModelLen:
		return m, fmt.Errorf("ValueError: max_num_batched_tokens (%d) is smaller than max_model_len (%d). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.", c.MaxNumBatchedTokens, c.MaxModelLen)
	case c.MaxModelLen > c.Shape.MaxPosition && c.Shape.MaxPosition > 0:
		return m, fmt.Errorf("ValueError: User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d in model's config.json).", c.MaxModelLen, c.Shape.MaxPosition)
	case c.TensorParallel > c.GPUs:
		return m, fmt.Errorf("ValueError: The number of required GPUs exceeds the total number of available GPUs in the placement group (tensor_parallel_size=%d, available=%d).", c.TensorParallel, c.GPUs)
	case c.Shape.Heads%c.TensorParallel != 0:
		return m, fmt.Errorf("ValueError: Total number of attention heads (%d) must be divisible by tensor parallel size (%d).", c.Shape.Heads, c.TensorParallel)
	case c.BlockSize%16 != 0:
		// FlashAttention, vLLM's CUDA attention backend, takes multiples of 16.
		return m, fmt.Errorf("ValueError: No valid attention backend found for cuda with block_size=%d (FLASH_ATTN supports block sizes that are a multiple of 16).", c.BlockSize)
	case c.kvElemBytes() == 0:
		return m, fmt.Errorf("ValueError: Invalid kv_cache_dtype: '%s'.", c.KVCacheDtype)
	case c.GPUMemoryUtil <= 0 || c.GPUMemoryUtil > 1:
		return m, fmt.Errorf("ValueError: gpu_memory_utilization must be in (0, 1], got %g", c.GPUMemoryUtil)
	}
	total := c.GPU.MemoryGiB * gib
	m.budget = c.GPUMemoryUtil * total
	if m.budget+cudaReserved > total {
		return m, fmt.Errorf("ValueError: Free memory on device (%.2f/%.2f GiB) on startup is less than desired GPU memory utilization (%.2f, %.2f GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.", (total-cudaReserved)/gib, total/gib, c.GPUMemoryUtil, m.budget/gib)
	}
	m.weights = c.weightBytes()
	// Profiling peak: the hidden states and MLP activations of a full token
	// budget, and fp32 logits for max_num_seqs samples.
	h, inter := float64(c.Shape.Hidden), float64(c.Shape.Intermediate)/float64(c.TensorParallel)
	m.activations = float64(c.MaxNumBatchedTokens)*(4*h+3*inter)*2 + float64(c.MaxNumSeqs*c.Shape.Vocab)*4/float64(c.TensorParallel)
	m.kv = m.budget - m.weights - m.activations
	if m.kv <= 0 {
		return m, fmt.Errorf("ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine. Available KV cache memory: %.2f GiB", m.kv/gib)
	}
	perToken := c.kvBytesPerToken()
	m.blocks = int(m.kv / (perToken * float64(c.BlockSize)))
	m.kvTokens = m.blocks * c.BlockSize
	if m.kvTokens < c.MaxModelLen {
		need := float64(c.MaxModelLen) * perToken / gib
		return m, fmt.Errorf("ValueError: To serve at least one request with the models's max seq len (%d), (%.2f GiB KV cache is needed, which is larger than the available KV cache memory (%.2f GiB). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.", c.MaxModelLen, need, m.kv/gib)
	}
	return m, nil
}
