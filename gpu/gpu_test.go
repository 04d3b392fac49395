package gpu

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseSMI(t *testing.T) {
	t.Parallel()
	inv, err := parseSMI("0, GPU-aaaa, NVIDIA H100 80GB HBM3, 81559, 1, 550.54.15\n1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559, 40960, 550.54.15\n")
	if err != nil || len(inv.Devices) != 2 || inv.Devices[1].MemoryUsed != 40960<<20 || inv.Devices[0].Name != "NVIDIA H100 80GB HBM3" || inv.Driver != "550.54.15" {
		t.Fatalf("%+v %v", inv, err)
	}
	if _, err := parseSMI("garbage"); err == nil {
		t.Error("garbage parsed")
	}
}

// Without a driver (as on CI), discovery reports no GPUs and why.
func TestDiscoverWithoutDriver(t *testing.T) {
	t.Parallel()
	inv := Discover(context.Background(), "/nonexistent")
	if len(inv.Devices) > 0 {
		t.Skip("this machine has GPUs")
	}
	if inv.Source != "none" || !strings.Contains(inv.Reason, "nvidia-smi not found") {
		t.Errorf("%+v", inv)
	}
}

func TestAllocator(t *testing.T) {
	t.Parallel()
	a := NewAllocator([]int{3, 1, 0, 2})
	ctx := context.Background()
	x, _ := a.Acquire(ctx, 2)
	y, _ := a.Acquire(ctx, 2)
	if VisibleDevices(x) != "0,1" || VisibleDevices(y) != "2,3" {
		t.Fatalf("%v %v", x, y)
	}
	if _, err := a.Acquire(ctx, 5); err == nil || !strings.Contains(err.Error(), "this machine has 4") {
		t.Errorf("too many: %v", err)
	}
	got := make(chan []int)
	go func() { z, _ := a.Acquire(ctx, 3); got <- z }()
	select {
	case <-got:
		t.Fatal("acquired GPUs that are taken")
	case <-time.After(50 * time.Millisecond):
	}
	a.Release(x)
	a.Release(y)
	if z := <-got; VisibleDevices(z) != "0,1,2" {
		t.Errorf("after release: %v", z)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Acquire(cctx, 2); err == nil {
		t.Error("cancelled wait returned GPUs")
	}
}
