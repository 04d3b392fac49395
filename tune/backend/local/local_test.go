package local

import (
	"context"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/gpu"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

func TestNeedAndSlots(t *testing.T) {
	t.Parallel()
	if n := Need([]trial.Flag{{Name: "tensor_parallel_size", Value: int64(2)}, {Name: "pipeline-parallel-size", Value: int64(2)}, {Name: "max_num_seqs", Value: int64(8)}}); n != 4 {
		t.Errorf("need %d", n)
	}
	if n := Need(nil); n != 1 {
		t.Errorf("need %d", n)
	}
	b := &Backend{Concurrency: 8, GPUs: gpu.NewAllocator([]int{0, 1})}
	if n, _ := b.Slots(context.Background()); n != 2 {
		t.Errorf("slots %d", n)
	}
	res, err := b.Run(context.Background(), trial.Spec{Flags: []trial.Flag{{Name: "tensor_parallel_size", Value: int64(4)}}})
	if err != nil || res.Failure == nil || !trial.Infeasible(res.Failure.Class) {
		t.Errorf("a trial needing 4 of 2 GPUs: %+v %v", res, err)
	}
}
