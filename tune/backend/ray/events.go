package ray

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// A running trial's events travel through the GCS internal KV, next to its
// spec: the job writes each under <id>/event/<seq> (zero-padded, so the keys
// sort in order), the controller reads and deletes them while it polls the
// job, and asks the job to stop its benchmark by writing <id>/stop, which
// the job looks for every eventPoll. KV rather than the job's log: the log
// is read whole on every call, and it cannot carry an answer back.

// kv is the part of the GCS client the event relay uses.
type kv interface {
	KVGet(ctx context.Context, ns, key string) ([]byte, error)
	KVPut(ctx context.Context, ns, key string, value []byte, overwrite bool) (bool, error)
	KVDel(ctx context.Context, ns, key string, byPrefix bool) (int, error)
	KVKeys(ctx context.Context, ns, prefix string) ([]string, error)
	KVExists(ctx context.Context, ns, key string) (bool, error)
}

// eventPoll is how often each side looks at the other's keys: events come
// once a second at most.
const eventPoll = time.Second

func eventPrefix(id string) string     { return id + "/event/" }
func eventKey(id string, n int) string { return fmt.Sprintf("%s%08d", eventPrefix(id), n) }
func stopKey(id string) string         { return id + "/stop" }

// jobEvents is the job's side: it sends the trial's events and hears a stop.
// The trial's observer never waits on the network: events are queued (the
// oldest kept when the queue is full) and sent by one goroutine.
type jobEvents struct {
	kv     kv
	ns, id string
	log    *slog.Logger
	queue  chan trial.Event
	stop   atomic.Bool
	done   chan struct{}
}

func startJobEvents(ctx context.Context, c kv, ns, id string, log *slog.Logger) *jobEvents {
	j := &jobEvents{kv: c, ns: ns, id: id, log: log, queue: make(chan trial.Event, 256), done: make(chan struct{})}
	go j.run(ctx)
	return j
}

// observe is the trial's Observer.
func (j *jobEvents) observe(e trial.Event) bool {
	select {
	case j.queue <- e:
	default:
		j.log.Debug("trial event dropped: the controller's GCS is slow", "phase", e.Phase, "step", e.Step)
	}
	return j.stop.Load()
}

// close sends what is queued and stops listening: called once the trial
// has ended, before its result is stored, so its last events come first.
// A GCS that does not answer holds the result back 10 s at most.
func (j *jobEvents) close() {
	close(j.queue)
	select {
	case <-j.done:
	case <-time.After(10 * time.Second):
	}
}

func (j *jobEvents) run(ctx context.Context) {
	defer close(j.done)
	tick := time.NewTicker(eventPoll)
	defer tick.Stop()
	n := 0
	for {
		select {
		case e, ok := <-j.queue:
			if !ok {
				return
			}
			n++
			if err := j.send(ctx, n, e); err != nil {
				j.log.Debug("could not send a trial event", "error", err)
			}
		case <-tick.C:
			if j.stop.Load() {
				continue
			}
			if ok, err := j.kv.KVExists(ctx, j.ns, stopKey(j.id)); err == nil && ok {
				j.log.Info("the tuner stopped this trial's benchmark (pruned)")
				j.stop.Store(true)
			}
		case <-ctx.Done():
			// The trial is being torn down; what is queued is dropped.
			for range j.queue {
			}
			return
		}
	}
}

func (j *jobEvents) send(ctx context.Context, n int, e trial.Event) error {
	b, err := trial.EncodeEvent(e)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = j.kv.KVPut(sctx, j.ns, eventKey(j.id, n), b, true)
	return err
}

// relay is the controller's side for one trial: it passes the job's events
// to the trial's observer in order, and writes the stop key when the
// observer answers true.
type relay struct {
	kv      kv
	ns, id  string
	observe trial.Observer
	log     *slog.Logger
	stopped bool
}

// poll hands over the events written since the last poll.
func (r *relay) poll(ctx context.Context) {
	if r.observe == nil {
		return
	}
	keys, err := r.kv.KVKeys(ctx, r.ns, eventPrefix(r.id))
	if err != nil {
		r.log.Debug("could not list trial events", "error", err)
		return
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw, err := r.kv.KVGet(ctx, r.ns, k)
		if err != nil {
			continue
		}
		r.kv.KVDel(ctx, r.ns, k, false)
		e, err := trial.DecodeEvent(raw)
		if err != nil {
			r.log.Debug("bad trial event", "key", k, "error", err)
			continue
		}
		if r.observe(e) && !r.stopped {
			if _, err := r.kv.KVPut(ctx, r.ns, stopKey(r.id), []byte("1"), true); err != nil {
				r.log.Warn("could not ask a trial to stop", "key", stopKey(r.id), "error", err)
				continue
			}
			r.stopped = true
		}
	}
}
