package sim

import (
	"math"
	"time"
)

// The roofline's fitted constants: the share of peak HBM bandwidth and of
// peak tensor throughput that vLLM's kernels reach, and the time every
// step costs beyond its kernels (scheduling, sampling, launch gaps). No
// datasheet gives them; they are set so Llama-3.1-8B lands within 25 % of
// the published vLLM measurements TestPublishedFigures holds them to (the
// README's "The simulator" lists them, and two it logs as outside 25 %).
const (
	memEfficiency     = 0.80
	computeEfficiency = 0.60
	// overlapLoss is the share of the shorter of a step's memory and
	// compute times that does not hide under the longer: kernels never
	// overlap the two perfectly, which shows where they are about equal (a
	// decode step of 256 sequences on an H100 ran 28 % slower than the plain
	// max() gave).
	overlapLoss  = 0.3
	stepOverhead = 700 * time.Microsecond
	// allReduceLatency is one all-reduce's fixed cost over NVLink or PCIe.
	allReduceLatency = 8 * time.Microsecond
)

// work is what one engine step computes, summed over its sequences.
type work struct {
	tokens  int     // new tokens: one per decode, a chunk per prefill
	seqs    int     // sequences, each taking the LM head at its last token
	context float64 // KV entries attention reads (old and new)
	pairs   float64 // query-key pairs attention scores
}

// add counts a sequence that processes n new tokens after ctx cached ones.
func (w *work) add(ctx, n int) {
	w.tokens += n
	w.seqs++
	w.context += float64(ctx + n)
	// Causal attention: the i-th new token sees ctx+i keys.
	w.pairs += float64(n) * (float64(ctx) + float64(n+1)/2)
}

// stepTime is a forward pass on the roofline: the longer of reading the
// weights and the batch's KV cache from HBM and doing its FLOPs on the
// tensor cores (and overlapLoss of the shorter), per GPU after tensor
// parallelism splits both, plus the fixed step overhead and, with tensor
// parallelism, two all-reduces of the hidden states per layer.
func (c Config) stepTime(w work) time.Duration {
	if w.tokens == 0 {
		return 0
	}
	tp := float64(c.TensorParallel)
	m := c.Shape
	bytes := c.weightBytes() + w.context*c.kvBytesPerToken()
	// Two FLOPs per weight and token through the layers; the LM head only
	// at each sequence's last position (vLLM computes logits there alone,
	// a partial prefill's included and its token dropped); QK^T and PV
	// each take 2·head_dim FLOPs per query-key pair and head.
	layers := float64(m.Layers) * m.layerParams()
	lmHead := float64(m.Vocab * m.Hidden)
	flops := (2*layers*float64(w.tokens) + 2*lmHead*float64(w.seqs) + 4*float64(m.Layers*m.Heads*m.headDim())*w.pairs) / tp
	memory := bytes / (c.GPU.BandwidthGBs * 1e9 * memEfficiency)
	compute := flops / (c.GPU.TFLOPS * 1e12 * computeEfficiency)
	s := math.Max(memory, compute) + overlapLoss*math.Min(memory, compute) + stepOverhead.Seconds()
	if c.TensorParallel > 1 {
		// A ring all-reduce moves 2(tp-1)/tp of the tensor over each link.
		size := float64(w.tokens*m.Hidden) * m.dtypeBytes()
		per := allReduceLatency.Seconds() + 2*(tp-1)/tp*size/(c.GPU.LinkGBs*1e9)
		s += 2 * float64(m.Layers) * per
	}
	return time.Duration(s * float64(time.Second))
}
