package local

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
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
// before (someone else's) are not waited for. Past ReleaseTimeout the GPUs
// are released anyway, with a warning naming the lingering processes.
func TestReleaseWaitsForGPUProcesses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		gone    int // the read at which the trial's process is gone; 0: never
	}{
		{"waits until gone", time.Minute, 5},
		{"gives up", 50 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alloc := gpu.NewAllocator([]int{0, 1})
			// held reports whether the trial still holds a GPU: both cannot
			// be taken (a cancelled context makes Acquire answer at once).
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			held := func() bool {
				ids, err := alloc.Acquire(cancelled, 2)
				if err == nil {
					alloc.Release(ids)
				}
				return err != nil
			}
			var mu sync.Mutex
			reads, releasedEarly := 0, false
			inv := func(context.Context) gpu.Inventory {
				mu.Lock()
				defer mu.Unlock()
				reads++
				procs := []gpu.Process{{PID: 7}} // foreign, always there
				lingering := reads > 1 && (tc.gone == 0 || reads < tc.gone)
				if lingering {
					procs = append(procs, gpu.Process{PID: 4242}) // the trial's server
				}
				if reads > 1 && !held() {
					releasedEarly = true
				}
				return gpu.Inventory{Devices: []gpu.Device{{Index: 0, Processes: procs}, {Index: 1, Processes: []gpu.Process{{PID: 99}}}}}
			}
			var logs bytes.Buffer
			b := &Backend{Concurrency: 1, GPUs: alloc, Inventory: inv, Poll: time.Millisecond, ReleaseTimeout: tc.timeout,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			res, err := b.Run(context.Background(), trial.Spec{LogDir: t.TempDir(), BenchCommand: []string{"sh", "-c", `echo '{"x": 1}'`}})
			if err != nil || res.Failure != nil {
				t.Fatalf("%v %+v", err, res.Failure)
			}
			mu.Lock()
			defer mu.Unlock()
			if releasedEarly {
				t.Error("the GPUs went back to the pool while the trial's process was listed")
			}
			if held() {
				t.Error("the GPUs were not released after the trial")
			}
			warned := strings.Contains(logs.String(), "still listed") && strings.Contains(logs.String(), "4242")
			switch {
			case tc.gone > 0 && (reads != tc.gone || warned):
				t.Errorf("%d inventory reads (want %d), warned %v:\n%s", reads, tc.gone, warned, logs.String())
			case tc.gone == 0 && (reads < 2 || !warned):
				t.Errorf("%d inventory reads (want the one before and at least one after), warned %v:\n%s", reads, warned, logs.String())
			}
		})
	}
}
