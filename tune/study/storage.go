// Package study stores studies and trials in Optuna's relational schema, so
// that `optuna.load_study`, optuna-dashboard and our own tool read the same
// database, and implements ask/tell on top of it.
//
// The storage contract (as Optuna's BaseStorage):
//   - a trial is created RUNNING (or WAITING, enqueued) and finished exactly
//     once, as COMPLETE, PRUNED or FAIL; a finished trial is immutable;
//   - trial numbers are assigned inside the insert transaction, as the count
//     of earlier trials of the same study, so concurrent writers never clash;
//   - values returned are copies: changing them changes nothing stored;
//   - a RUNNING trial whose run was lost (our crash) is failed when the study
//     is opened again for work (FailRunning), with the reason recorded.
package study

import (
	"context"
	"errors"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// State is a trial state, stored by name as Optuna does.
type State string

const (
	Running  State = "RUNNING"
	Complete State = "COMPLETE"
	Pruned   State = "PRUNED"
	Fail     State = "FAIL"
	Waiting  State = "WAITING"
)

// Finished reports whether the state is final.
func (s State) Finished() bool { return s == Complete || s == Pruned || s == Fail }

// Direction of one objective.
type Direction string

const (
	Minimize Direction = "MINIMIZE"
	Maximize Direction = "MAXIMIZE"
)

// Errors callers tell apart.
var (
	ErrStudyExists   = errors.New("study already exists")
	ErrStudyNotFound = errors.New("study not found")
	ErrTrialFinished = errors.New("trial already finished")
)

// Info describes a stored study.
type Info struct {
	ID          int64
	Name        string
	Directions  []Direction
	UserAttrs   map[string]any
	SystemAttrs map[string]any
}

// Trial is a stored trial (a copy).
type Trial struct {
	ID     int64
	Number int
	State  State
	// Params holds internal values (a categorical's index) and Dists their
	// distributions; External gives the user's values.
	Params map[string]float64
	Dists  map[string]space.Distribution
	Values []float64 // may hold ±Inf; nil unless COMPLETE
	// Intermediate holds the values reported while the trial ran, by step
	// (Optuna's trial_intermediate_values; nil when none).
	Intermediate map[int]float64
	Start        time.Time // zero if unset
	Complete     time.Time
	UserAttrs    map[string]any
	SystemAttrs  map[string]any
}

// External returns the user's value of parameter name.
func (t *Trial) External(name string) any {
	d, ok := t.Dists[name]
	if !ok {
		return nil
	}
	return d.External(t.Params[name])
}

// Param is a parameter value to store.
type Param struct {
	Name     string
	Internal float64
	Dist     space.Distribution
}

// ConstraintsKey is the system attribute where Optuna keeps a trial's
// constraint values (> 0 = violated).
const ConstraintsKey = "constraints"

// Feasible reports whether no stored constraint is violated, in either of
// Optuna's formats (the sampler reads both: so must the report).
func (t *Trial) Feasible() bool {
	for _, c := range constraintsOf(*t) {
		if c > 0 {
			return false
		}
	}
	return true
}

// Storage is the persistence of studies. Every method takes a context.
type Storage interface {
	CreateStudy(ctx context.Context, name string, dirs []Direction) (*Info, error)
	LoadStudy(ctx context.Context, name string) (*Info, error)
	StudyNames(ctx context.Context) ([]string, error)
	// DeleteStudy removes a study and all its rows (the schema has no
	// cascades: child rows go first, explicitly).
	DeleteStudy(ctx context.Context, name string) error
	SetStudyAttr(ctx context.Context, studyID int64, system bool, key string, value any) error

	// CreateTrial inserts a trial in state (RUNNING or WAITING) and returns
	// its ID and number.
	CreateTrial(ctx context.Context, studyID int64, state State) (id int64, number int, err error)
	SetParam(ctx context.Context, trialID int64, name string, internal float64, d space.Distribution) error
	SetTrialAttr(ctx context.Context, trialID int64, system bool, key string, value any) error
	// FinishTrial moves a RUNNING trial to a final state with its values
	// (values only for COMPLETE). A finished trial is not changed again.
	FinishTrial(ctx context.Context, trialID int64, state State, values []float64) error
	// SetIntermediate stores the value a RUNNING trial reported at step
	// (the last report of a step wins), as Optuna's trial.report does.
	SetIntermediate(ctx context.Context, trialID int64, step int, value float64) error
	// Trials returns every trial of the study, by number.
	Trials(ctx context.Context, studyID int64) ([]Trial, error)
	// TrialsAfter returns the trials except the finished ones with an ID ≤
	// finishedUpTo (immutable, so a caller may keep them), by number.
	TrialsAfter(ctx context.Context, studyID, finishedUpTo int64) ([]Trial, error)
	// SetParams stores several parameters of a trial in one transaction.
	SetParams(ctx context.Context, trialID int64, params []Param) error
	// FailRunning fails every RUNNING trial of the study, recording reason
	// (the error_type and error_message user attributes), and returns how many.
	FailRunning(ctx context.Context, studyID int64, reason string) (int, error)
	Close() error
}
