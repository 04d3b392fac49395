package ray

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// memKV is the GCS internal KV of one namespace, in memory.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *memKV) KVGet(_ context.Context, _, key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	if !ok {
		return nil, gcs.ErrNotFound
	}
	return v, nil
}

func (k *memKV) KVPut(_ context.Context, _, key string, v []byte, overwrite bool) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, had := k.m[key]
	if !had || overwrite {
		k.m[key] = v
	}
	return !had, nil
}

func (k *memKV) KVDel(_ context.Context, _, key string, byPrefix bool) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for kk := range k.m {
		if kk == key || byPrefix && strings.HasPrefix(kk, key) {
			delete(k.m, kk)
			n++
		}
	}
	return n, nil
}

func (k *memKV) KVKeys(_ context.Context, _, prefix string) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for kk := range k.m {
		if strings.HasPrefix(kk, prefix) {
			out = append(out, kk)
		}
	}
	return out, nil
}

func (k *memKV) KVExists(_ context.Context, _, key string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.m[key]
	return ok, nil
}

// Events cross in order, the observer's "stop" reaches the job, and the
// controller leaves no event keys behind.
func TestEventRelay(t *testing.T) {
	kv := &memKV{m: map[string][]byte{}}
	log := slog.New(slog.DiscardHandler)
	job := startJobEvents(context.Background(), kv, "ns", "j1", log)
	sent := []trial.Event{{Phase: trial.Starting}, {Phase: trial.Benchmarking, Elapsed: 3 * time.Second}}
	for step := 1; step <= 12; step++ {
		sent = append(sent, trial.Event{Phase: trial.Benchmarking, Step: step, Metrics: map[string]float64{"output_tokens_per_second": float64(100 * step)}})
	}
	for _, e := range sent {
		if job.observe(e) {
			t.Fatal("stopped before anyone asked")
		}
	}
	var got []trial.Event
	r := &relay{kv: kv, ns: "ns", id: "j1", log: log, observe: func(e trial.Event) bool {
		got = append(got, e)
		return e.Step >= 5
	}}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(sent) && time.Now().Before(deadline) {
		r.poll(context.Background())
		time.Sleep(20 * time.Millisecond)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Fatalf("relayed %d events, want %d in order:\n got %v\nwant %v", len(got), len(sent), got, sent)
	}
	for !job.observe(trial.Event{Phase: trial.Benchmarking}) {
		if time.Now().After(deadline) {
			t.Fatal("the job never heard the stop")
		}
		time.Sleep(50 * time.Millisecond)
	}
	job.close()
	r.poll(context.Background())
	if keys, _ := kv.KVKeys(context.Background(), "ns", eventPrefix("j1")); len(keys) != 0 {
		t.Errorf("event keys left: %v", keys)
	}
	if ok, _ := kv.KVExists(context.Background(), "ns", stopKey("j1")); !ok {
		t.Error("no stop key")
	}
}

// Keys sort in the order the events were sent, past 9, 99, … events.
func TestEventKeysSort(t *testing.T) {
	if !(eventKey("x", 9) < eventKey("x", 10) && eventKey("x", 99999) < eventKey("x", 100000)) {
		t.Error("event keys do not sort by number")
	}
}
