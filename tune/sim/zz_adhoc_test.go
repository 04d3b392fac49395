package sim

import "testing"

func TestAdhocQuickstart(t *testing.T) {
	for _, args := range [][]string{
		{"sim-8b", "--sim-model", "Llama-3.1-8B", "--sim-gpu", "H100", "--max-model-len", "8192"},
		{"sim-8b", "--sim-model", "Llama-3.1-8B", "--sim-gpu", "H100", "--max-model-len", "8192", "--max-num-seqs", "496", "--max-num-batched-tokens", "4096", "--gpu-memory-utilization", "0.5"},
		{"sim-8b", "--sim-model", "Llama-3.1-8B", "--sim-gpu", "H100", "--max-model-len", "8192", "--max-num-seqs", "248", "--max-num-batched-tokens", "2048", "--gpu-memory-utilization", "0.84"},
		{"sim-8b", "--sim-model", "Llama-3.1-8B", "--sim-gpu", "H100", "--max-model-len", "8192", "--max-num-seqs", "64"},
		{"sim-8b", "--sim-model", "Llama-3.1-8B", "--sim-gpu", "H100", "--max-model-len", "8192", "--max-num-batched-tokens", "16384"},
		{"sim-8b", "--sim-model", "Llama-3.1-8B", "--sim-gpu", "H100", "--max-model-len", "8192", "--no-enable-chunked-prefill", "--max-num-batched-tokens", "8192"},
	} {
		c, err := ParseArgs(args)
		if err != nil {
			t.Fatal(err)
		}
		tps, ttft := closedLoop(t, c, 128, 128*8, 512, 128)
		t.Logf("%v: %.0f tok/s, ttft %v (seqs %d, mbt %d)", args[5:], tps, ttft, c.MaxNumSeqs, c.MaxNumBatchedTokens)
	}
}
