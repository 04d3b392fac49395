package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// GPU is one accelerator, from its vendor's public datasheet.
type GPU struct {
	Name string
	// MemoryGiB is what CUDA reports as total memory (a little under the
	// marketing figure in GB).
	MemoryGiB float64
	// BandwidthGBs is HBM (or GDDR) bandwidth, GB/s.
	BandwidthGBs float64
	// TFLOPS is dense BF16 tensor throughput (without sparsity).
	TFLOPS float64
	// LinkGBs is the per-direction GPU-to-GPU bandwidth tensor parallelism
	// all-reduces over: NVLink where the part has it, else PCIe.
	LinkGBs float64
}

// gpus are NVIDIA's datasheet figures (SXM parts for H100, H200, A100).
// The first is the default.
var gpus = []GPU{
	{Name: "H100", MemoryGiB: 79.6, BandwidthGBs: 3350, TFLOPS: 989, LinkGBs: 450},
	{Name: "H200", MemoryGiB: 140.4, BandwidthGBs: 4800, TFLOPS: 989, LinkGBs: 450},
	{Name: "A100", MemoryGiB: 79.3, BandwidthGBs: 2039, TFLOPS: 312, LinkGBs: 300},
	{Name: "A100-40GB", MemoryGiB: 39.4, BandwidthGBs: 1555, TFLOPS: 312, LinkGBs: 300},
	{Name: "L40S", MemoryGiB: 44.4, BandwidthGBs: 864, TFLOPS: 362, LinkGBs: 32},
	{Name: "L4", MemoryGiB: 22.0, BandwidthGBs: 300, TFLOPS: 121, LinkGBs: 32},
}

// LookupGPU finds a GPU of the table by name, case-insensitively.
func LookupGPU(name string) (GPU, error) {
	for _, g := range gpus {
		if strings.EqualFold(g.Name, name) {
			return g, nil
		}
	}
	var names []string
	for _, g := range gpus {
		names = append(names, g.Name)
	}
	return GPU{}, fmt.Errorf("unknown GPU %q (known: %s)", name, strings.Join(names, ", "))
}

// Model is a decoder-only transformer's shape, as in its Hugging Face
// config.json.
type Model struct {
	Name              string
	Layers            int    `json:"num_hidden_layers"`
	Hidden            int    `json:"hidden_size"`
	Heads             int    `json:"num_attention_heads"`
	KVHeads           int    `json:"num_key_value_heads"`
	HeadDim           int    `json:"head_dim"`
	Intermediate      int    `json:"intermediate_size"`
	Vocab             int    `json:"vocab_size"`
	MaxPosition       int    `json:"max_position_embeddings"`
	TieWordEmbeddings bool   `json:"tie_word_embeddings"`
	Dtype             string `json:"torch_dtype"`
}

// models are the shapes of three common checkpoints (their config.json).
var models = []Model{
	{Name: "Llama-3.1-8B", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, Intermediate: 14336, Vocab: 128256, MaxPosition: 131072, Dtype: "bfloat16"},
	{Name: "Qwen2.5-7B", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4, Intermediate: 18944, Vocab: 152064, MaxPosition: 32768, Dtype: "bfloat16"},
	{Name: "Llama-3.1-70B", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, Intermediate: 28672, Vocab: 128256, MaxPosition: 131072, Dtype: "bfloat16"},
}

// ModelNamed is the built-in shape called name (case-insensitively), for
// --sim-model, where a typo should not silently serve another model.
func ModelNamed(name string) (Model, error) {
	var names []string
	for _, m := range models {
		if strings.EqualFold(m.Name, name) {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return Model{}, fmt.Errorf("unknown model shape %q for --sim-model (known: %s; or --sim-model-config config.json)", name, strings.Join(names, ", "))
}

// LookupModel picks a built-in shape by name: an exact name, or one that a
// served model's name contains ("meta-llama/Llama-3.1-70B-Instruct" is
// Llama-3.1-70B). Any other name gets Llama-3.1-8B, so every model name
// (tests use made-up ones) serves.
func LookupModel(name string) Model {
	n := strings.ToLower(name)
	// Longest first, so "llama-3.1-70b" is not taken for "llama-3.1-7…".
	byLen := slices.Clone(models)
	slices.SortFunc(byLen, func(a, b Model) int { return len(b.Name) - len(a.Name) })
	for _, m := range byLen {
		if strings.Contains(n, strings.ToLower(m.Name)) {
			return m
		}
	}
	return models[0]
}

// ReadModelConfig reads a Hugging Face config.json.
func ReadModelConfig(path string) (Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Model{}, fmt.Errorf("model config: %w", err)
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return Model{}, fmt.Errorf("model config %s: %w", path, err)
	}
	if m.Dtype == "" {
		var alt struct {
			Dtype string `json:"dtype"`
		}
		json.Unmarshal(b, &alt) // newer transformers write "dtype"
		m.Dtype = alt.Dtype
	}
	if m.KVHeads == 0 {
		m.KVHeads = m.Heads
	}
	if m.Layers <= 0 || m.Hidden <= 0 || m.Heads <= 0 || m.Intermediate <= 0 || m.Vocab <= 0 {
		return Model{}, fmt.Errorf("model config %s: needs num_hidden_layers, hidden_size, num_attention_heads, intermediate_size and vocab_size", path)
	}
	m.Name = path
	return m, nil
}

func (m Model) headDim() int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	return m.Hidden / m.Heads
}

// dtypeBytes is the width of the model's weights.
func (m Model) dtypeBytes() float64 {
	switch m.Dtype {
	case "float32":
		return 4
	default:
		return 2
	}
}

// layerParams is the weights of one decoder layer: attention projections
// and a gated (SwiGLU) MLP.
func (m Model) layerParams() float64 {
	q := float64(m.Heads * m.headDim())
	kv := float64(m.KVHeads * m.headDim())
	h := float64(m.Hidden)
	return h*q + 2*h*kv + q*h + 3*h*float64(m.Intermediate)
}

// Params is the parameter count.
func (m Model) Params() float64 {
	emb := float64(m.Vocab * m.Hidden)
	head := emb
	if m.TieWordEmbeddings {
		head = 0
	}
	return float64(m.Layers)*m.layerParams() + emb + head
}
