package gpu

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Allocator hands out disjoint sets of GPUs. Acquire waits until enough are
// free; a request for more than exist is an error at once.
type Allocator struct {
	mu      sync.Mutex
	free    []int
	total   int
	changed chan struct{} // closed and replaced on every release
}

// NewAllocator manages the GPUs with the given indexes.
func NewAllocator(indexes []int) *Allocator {
	free := append([]int{}, indexes...)
	sort.Ints(free)
	return &Allocator{free: free, total: len(free), changed: make(chan struct{})}
}

// Total is the number of GPUs managed.
func (a *Allocator) Total() int { return a.total }

// Acquire takes n GPUs (lowest indexes first).
func (a *Allocator) Acquire(ctx context.Context, n int) ([]int, error) {
	if n > a.total {
		return nil, fmt.Errorf("needs %d GPUs, this machine has %d", n, a.total)
	}
	for {
		a.mu.Lock()
		if len(a.free) >= n {
			got := append([]int{}, a.free[:n]...)
			a.free = a.free[n:]
			a.mu.Unlock()
			return got, nil
		}
		wait := a.changed
		a.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-wait:
		}
	}
}

// Release returns GPUs.
func (a *Allocator) Release(ids []int) {
	a.mu.Lock()
	a.free = append(a.free, ids...)
	sort.Ints(a.free)
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
}

// VisibleDevices renders ids for CUDA_VISIBLE_DEVICES.
func VisibleDevices(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}
