package local

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gpu"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

func TestNeedAndSlots(t *testing.T) {
	t.Parallel()
	if n := trial.GPUNeed([]trial.Flag{{Name: "tensor_parallel_size", Value: int64(2)}, {Name: "pipeline-parallel-size", Value: int64(2)}, {Name: "max_num_seqs", Value: int64(8)}}); n != 4 {
		t.Errorf("need %d", n)
	}
	if n := trial.GPUNeed(nil); n != 1 {
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

// The GPUs of a finished trial are released only when the driver stops
// listing the processes that appeared during it; processes that were there
// before (someone else's) are not waited for.
func TestReleaseWaitsForGPUProcesses(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	reads := 0
	inv := func(context.Context) gpu.Inventory {
		mu.Lock()
		defer mu.Unlock()
		reads++
		procs := []gpu.Process{{PID: 7}} // foreign, always there
		if reads > 1 && reads < 5 {
			procs = append(procs, gpu.Process{PID: 4242}) // the trial's server, lingering
		}
		return gpu.Inventory{Devices: []gpu.Device{{Index: 0, Processes: procs}, {Index: 1, Processes: []gpu.Process{{PID: 99}}}}}
	}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		reads   int
	}{
		{"waits until gone", time.Minute, 5},
		{"gives up", time.Millisecond, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			reads = 0
			mu.Unlock()
			b := &Backend{Concurrency: 1, GPUs: gpu.NewAllocator([]int{0, 1}), Inventory: inv, Poll: time.Millisecond, ReleaseTimeout: tc.timeout,
				Logger: slog.New(slog.DiscardHandler)}
			res, err := b.Run(context.Background(), trial.Spec{LogDir: t.TempDir(), BenchCommand: []string{"sh", "-c", `echo '{"x": 1}'`}})
			if err != nil || res.Failure != nil {
				t.Fatalf("%v %+v", err, res.Failure)
			}
			mu.Lock()
			defer mu.Unlock()
			if reads != tc.reads {
				t.Errorf("%d inventory reads, want %d", reads, tc.reads)
			}
		})
	}
}
