package main

import (
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// trial is a trial whose 30-step benchmark (2 s of warm-up, then a step a
// second) ended at second end of the study, stopped after steps when that
// is fewer than 30.
func trial(number int, state study.State, end float64, steps int, value float64) study.Trial {
	t := study.Trial{Number: number, State: state, Intermediate: map[int]float64{}, UserAttrs: map[string]any{}}
	for k := 1; k <= steps; k++ {
		t.Intermediate[k] = value
	}
	t.UserAttrs[study.AttrBenchSeconds] = 2 + float64(steps)
	t.Complete = time.Unix(0, 0).Add(time.Duration(end * float64(time.Second)))
	if state == study.Complete {
		t.Values = []float64{value}
	} else {
		t.UserAttrs[study.AttrTrialStatus] = study.StatusPruned
	}
	return t
}

// Five trials complete at seconds 32 to 36 (values 100 to 104, median
// 102); a trial is first judged 4 s into its benchmark.
func five() []study.Trial {
	return []study.Trial{
		trial(0, study.Complete, 32, 30, 100),
		trial(1, study.Complete, 33, 30, 101),
		trial(2, study.Complete, 34, 30, 102),
		trial(3, study.Complete, 35, 30, 103),
		trial(4, study.Complete, 36, 30, 104),
	}
}

func baseline() study.Trial {
	b := trial(9, study.Complete, 32, 30, 50)
	b.UserAttrs[study.AttrIsBaseline] = true
	return b
}

var duplicate = study.Trial{Number: 5, State: study.Complete, Values: []float64{1}, Complete: time.Unix(90, 0)}

func TestMissed(t *testing.T) {
	cases := []struct {
		name  string
		extra study.Trial
		want  float64
	}{
		{"ended below the median: every second past the first judged one", trial(5, study.Complete, 70, 30, 101.5), 28},
		{"ended above the median", trial(5, study.Complete, 70, 30, 102.5), 0},
		{"pruned at its first judged second", trial(5, study.Pruned, 44, 2, 90), 0},
		{"pruned three seconds later", trial(5, study.Pruned, 47, 5, 90), 3},
		{"judged before five had completed", trial(5, study.Complete, 64, 30, 10), 0},
		{"the baseline is never cut", baseline(), 0},
		{"a duplicate did not run", duplicate, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := missed(cuttable(ranTrials(append(five(), c.extra)))); got != c.want {
				t.Errorf("missed = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCeiling(t *testing.T) {
	cases := []struct {
		name  string
		extra study.Trial
		want  float64
	}{
		{"ran to its end: every second past the first judged one", trial(5, study.Complete, 70, 30, 103), 28},
		{"stopped three seconds past it", trial(5, study.Pruned, 47, 5, 90), 3},
		{"judged before five had completed", trial(5, study.Complete, 64, 30, 10), 0},
		{"the baseline is never cut", baseline(), 0},
		{"a duplicate did not run", duplicate, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ceiling(cuttable(ranTrials(append(five(), c.extra)))); got != c.want {
				t.Errorf("ceiling = %v, want %v", got, c.want)
			}
		})
	}
}
