package sim

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustConfig(t *testing.T, args ...string) Config {
	t.Helper()
	c, err := ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decodeStep is one decode step of batch sequences each holding ctx tokens.
func decodeStep(c Config, batch, ctx int) time.Duration {
	var w work
	for range batch {
		w.add(ctx, 1)
	}
	return c.stepTime(w)
}

func prefillStep(c Config, tokens int) time.Duration {
	var w work
	w.add(0, tokens)
	return c.stepTime(w)
}

func TestRoofline(t *testing.T) {
	t.Parallel()
	c := mustConfig(t)
	// Decode is memory-bound: 16 GB of weights dominate, so eight sequences
	// cost little more than one, and one step is about the weights over HBM.
	one, eight := decodeStep(c, 1, 1000), decodeStep(c, 8, 1000)
	weights := c.weightBytes() / (c.GPU.BandwidthGBs * 1e9 * memEfficiency)
	if r := float64(eight) / float64(one); r > 1.1 {
		t.Errorf("decode batch 8 / batch 1 = %.2f, want about 1 (memory-bound)", r)
	}
	if got := one.Seconds() - stepOverhead.Seconds(); math.Abs(got-weights)/weights > 0.05 {
		t.Errorf("batch-1 decode %.2f ms, weights over HBM %.2f ms", got*1e3, weights*1e3)
	}
	// Prefill is compute-bound: time grows with the tokens.
	p4, p8 := prefillStep(c, 4096), prefillStep(c, 8192)
	if r := float64(p8-stepOverhead) / float64(p4-stepOverhead); r < 1.9 || r > 2.2 {
		t.Errorf("prefill 8192 / 4096 tokens = %.2f, want about 2 (compute-bound)", r)
	}
	// A faster GPU shortens what bounds each: H200's bandwidth speeds decode,
	// its equal tensor throughput leaves prefill alone.
	h200 := mustConfig(t, "--sim-gpu", "H200")
	if d := decodeStep(h200, 1, 1000); float64(d) > 0.8*float64(one) {
		t.Errorf("H200 decode %v vs H100 %v", d, one)
	}
	if p := prefillStep(h200, 8192); math.Abs(float64(p-p8))/float64(p8) > 0.05 {
		t.Errorf("H200 prefill %v vs H100 %v", p, p8)
	}
}

// TestTensorParallel: splitting the weights over more GPUs shortens a
// memory-bound step, by less than the GPU count because of the all-reduces.
func TestTensorParallel(t *testing.T) {
	t.Parallel()
	var steps []time.Duration
	for _, tp := range []string{"2", "4", "8"} {
		c := mustConfig(t, "meta-llama/Llama-3.1-70B-Instruct", "--sim-gpus", "8", "-tp", tp, "--max-model-len", "8192")
		if _, err := c.Check(); err != nil {
			t.Fatalf("tp %s: %v", tp, err)
		}
		steps = append(steps, decodeStep(c, 32, 2000))
	}
	t.Logf("Llama-3.1-70B, 32 sequences decoding: TP2 %v, TP4 %v, TP8 %v", steps[0], steps[1], steps[2])
	for i := 1; i < len(steps); i++ {
		if !(steps[i] < steps[i-1] && 2*steps[i] > steps[i-1]) {
			t.Errorf("doubling TP: %v → %v, want faster but less than twice", steps[i-1], steps[i])
		}
	}
	// The 70B model's 141 GB of weights do not fit one H100 (the loop above
	// started it on two, four and eight).
	if _, err := mustConfig(t, "Llama-3.1-70B").Check(); err == nil {
		t.Error("70B on one H100 started")
	}
}

// TestModelShapes: the built-in shapes give their model cards' parameter
// counts, and a Hugging Face config.json (--sim-model-config) gives the same
// shape as the built-in one.
func TestModelShapes(t *testing.T) {
	t.Parallel()
	for name, params := range map[string]float64{"Llama-3.1-8B": 8.03e9, "Qwen2.5-7B": 7.61e9, "Llama-3.1-70B": 70.6e9} {
		m, err := ModelNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Params(); math.Abs(got/params-1) > 0.01 {
			t.Errorf("%s: %.3g parameters, model card %.3g", name, got, params)
		}
	}
	// Llama-3.1-8B's config.json, as published (fields the simulator does
	// not read left in, "dtype" as newer transformers write it).
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
		"max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
		"rope_scaling": {"factor": 8.0, "rope_type": "llama3"}, "tie_word_embeddings": false, "dtype": "bfloat16", "vocab_size": 128256}`), 0o644)
	c := mustConfig(t, "my-model", "--sim-model-config", path)
	want := models[0]
	want.Name = path
	if c.Shape != want || c.MaxModelLen != 131072 {
		t.Errorf("from config.json: %+v, max_model_len %d; want %+v", c.Shape, c.MaxModelLen, want)
	}
	if _, err := ParseArgs([]string{"--sim-model-config", filepath.Join(t.TempDir(), "none.json")}); err == nil {
		t.Error("a missing config.json accepted")
	}
	os.WriteFile(path, []byte(`{"text_config": {"hidden_size": 4096}}`), 0o644)
	if _, err := ParseArgs([]string{"--sim-model-config", path}); err == nil || !strings.Contains(err.Error(), "needs num_hidden_layers") {
		t.Errorf("a config.json without the shape: %v", err)
	}
	// The GPU's memory can be set before or after the GPU itself.
	for _, args := range [][]string{{"--sim-gpu-memory-gib", "60", "--sim-gpu", "H200"}, {"--sim-gpu", "H200", "--sim-gpu-memory-gib", "60"}} {
		if c := mustConfig(t, args...); c.GPU.Name != "H200" || c.GPU.MemoryGiB != 60 {
			t.Errorf("%v: %+v", args, c.GPU)
		}
	}
}
