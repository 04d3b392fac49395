package study

import (
	"slices"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

var seqs = &space.Int{Low: 1, High: 1024, Step: 1}

// done is a completed search trial whose configuration follows from its
// number (max_num_seqs = 8n).
func done(n int, values ...float64) Trial {
	return Trial{ID: int64(n + 1), Number: n, State: Complete, Values: values,
		Params: map[string]float64{"max_num_seqs": float64(8 * n)}, Dists: map[string]space.Distribution{"max_num_seqs": seqs},
		UserAttrs: map[string]any{}, SystemAttrs: map[string]any{}}
}

func numbers(ts []Trial) []int {
	var out []int
	for _, t := range ts {
		out = append(out, t.Number)
	}
	return out
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	baseline := done(0, 500)
	baseline.UserAttrs = map[string]any{AttrIsBaseline: true, AttrBaselineConcurrency: 8.0}
	infeasible := done(3, 300)
	infeasible.SystemAttrs = map[string]any{ConstraintsKey: []any{0.5}}
	dup := done(5, 200)
	dup.Params = done(1).Params // the configuration of trial 1, measured better
	failed := done(6)
	failed.State = Fail
	trials := []Trial{baseline, done(1, 150), done(2, 120), infeasible, done(4, 130), dup, failed}
	tests := []struct {
		name   string
		trials []Trial
		dirs   []Direction
		top    int
		want   []int
	}{
		{"best first; baseline, infeasible, failed and a duplicate's worse run left out", trials, []Direction{Maximize}, 3, []int{5, 4, 2}},
		{"fewer than top", trials, []Direction{Maximize}, 10, []int{5, 4, 2}},
		{"minimize", trials, []Direction{Minimize}, 2, []int{2, 4}},
		{"none", nil, []Direction{Maximize}, 3, nil},
		// Several objectives: at most top of the Pareto set, spread along
		// it, both ends kept; dominated trials never.
		{"Pareto set spread", []Trial{done(1, 100, 1), done(2, 200, 2), done(3, 300, 3), done(4, 400, 4), done(5, 500, 5), done(6, 250, 9)},
			[]Direction{Maximize, Minimize}, 3, []int{5, 3, 1}},
		{"Pareto set smaller than top", []Trial{done(1, 100, 1), done(2, 200, 2), done(3, 150, 3)}, []Direction{Maximize, Minimize}, 3, []int{2, 1}},
	}
	for _, tt := range tests {
		if got := numbers(Candidates(tt.trials, tt.dirs, tt.top)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReference(t *testing.T) {
	t.Parallel()
	at := func(n, c int, s State) Trial {
		tr := done(n, 1)
		tr.State = s
		tr.UserAttrs = map[string]any{AttrIsBaseline: true, AttrBaselineConcurrency: float64(c)}
		return tr
	}
	tests := []struct {
		name   string
		trials []Trial
		want   int // -1: none
	}{
		{"the one at the trials' load", []Trial{at(0, 4, Complete), at(1, 8, Complete)}, 1},
		{"else the first completed", []Trial{at(0, 4, Fail), at(1, 16, Complete), at(2, 32, Complete)}, 1},
		{"none completed", []Trial{at(0, 8, Fail), done(1, 5)}, -1},
	}
	for _, tt := range tests {
		got := -1
		if b := Reference(tt.trials, 8); b != nil {
			got = b.Number
		}
		if got != tt.want {
			t.Errorf("%s: trial %d, want %d", tt.name, got, tt.want)
		}
	}
}
