package sim

import (
	"math"
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
	// The 70B model does not fit one H100; it does fit four.
	if _, err := mustConfig(t, "Llama-3.1-70B").Check(); err == nil {
		t.Error("70B on one H100 started")
	}
}
