package trial

import "time"

// Phase is where a running trial is.
type Phase string

const (
	Starting     Phase = "starting_server"
	WarmingUp    Phase = "warming_up"
	Benchmarking Phase = "benchmarking"
	Stopping     Phase = "stopping"
)

// Event is what a running trial says: a phase change, or (Phase
// Benchmarking with Metrics) the metrics measured so far. Events travel
// between machines as JSON (a Ray trial's go through the GCS KV).
type Event struct {
	Phase Phase `json:"phase"`
	// Step counts whole seconds of measurement, the x axis of Optuna's
	// intermediate values; it only grows.
	Step    int                `json:"step,omitempty"`
	Elapsed time.Duration      `json:"elapsed_ns,omitempty"` // since the trial started
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Intermediate reports whether the event carries metrics measured so far.
func (e Event) Intermediate() bool { return e.Metrics != nil }

// Observer hears a running trial's events, one at a time. Returning true
// asks the trial to stop its benchmark now (a pruned trial): the result then
// carries the metrics measured until then, with Result.Stopped set.
type Observer func(Event) (stop bool)

// tell sends an event to o, if any.
func (o Observer) tell(e Event) bool {
	if o == nil {
		return false
	}
	return o(e)
}
