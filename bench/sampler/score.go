package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

func newSampler(name string, seed uint64) sampler.Sampler {
	switch name {
	case "nsga2":
		return &sampler.NSGA2{Seed: seed}
	case "gp":
		return sampler.NewGP(sampler.GPOptions{Seed: seed})
	case "random":
		return sampler.Random{Seed: seed}
	}
	return sampler.NewTPE(sampler.TPEOptions{Seed: seed})
}

func external(sp space.Space, p map[string]float64) map[string]any {
	out := map[string]any{}
	for _, prm := range sp {
		out[prm.Name] = prm.Dist.External(p[prm.Name])
	}
	return out
}

// runOurs runs one study sequentially and returns every trial in order.
func runOurs(s surface, name string, budget int, seed uint64) []trialRec {
	smp := newSampler(name, seed)
	h := &sampler.History{Directions: s.dirs}
	var out []trialRec
	for i := 0; i < budget; i++ {
		p, err := smp.Sample(h, s.space, i)
		if err != nil {
			panic(err)
		}
		vals, c := s.eval(external(s.space, p))
		h.Trials = append(h.Trials, sampler.Trial{Number: i, State: sampler.Complete, Params: p, Values: vals, Constraints: []float64{c}})
		out = append(out, trialRec{Values: vals, Feasible: c <= 0, Params: external(s.space, p)})
	}
	return out
}

// optimum enumerates the grid (continuous ranges at 1/100 of their width):
// the best feasible value, or for two objectives the hypervolume of the true
// feasible front.
func optimum(s surface) []float64 {
	axes := make([][]float64, len(s.space))
	for i, p := range s.space {
		if pts, err := sampler.GridPoints(p.Dist); err == nil {
			axes[i] = pts
		} else {
			f := p.Dist.(*space.Float)
			for k := 0; k <= 100; k++ {
				axes[i] = append(axes[i], f.Low+(f.High-f.Low)*float64(k)/100)
			}
		}
	}
	best := math.Inf(-1)
	var points [][]float64
	idx := make([]int, len(axes))
	for {
		p := map[string]float64{}
		for i, prm := range s.space {
			p[prm.Name] = axes[i][idx[i]]
		}
		vals, c := s.eval(external(s.space, p))
		if c <= 0 {
			if len(s.dirs) == 1 {
				v := vals[0]
				if s.dirs[0] == sampler.Minimize {
					v = -v
				}
				best = math.Max(best, v)
			} else {
				points = append(points, lossOf(vals, s.dirs))
			}
		}
		i := 0
		for ; i < len(idx); i++ {
			idx[i]++
			if idx[i] < len(axes[i]) {
				break
			}
			idx[i] = 0
		}
		if i == len(idx) {
			break
		}
	}
	if len(s.dirs) == 1 {
		if s.dirs[0] == sampler.Minimize {
			best = -best
		}
		return []float64{best}
	}
	return []float64{sampler.Hypervolume(front(points), s.ref)}
}

func lossOf(v []float64, dirs []sampler.Direction) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		out[i] = v[i]
		if dirs[i] == sampler.Maximize {
			out[i] = -v[i]
		}
	}
	return out
}

// front keeps the non-dominated points, to keep the hypervolume cheap: in
// order of the first loss, a point is kept unless one kept before it is no
// worse in the others (a staircase in two, a list in more).
func front(pts [][]float64) [][]float64 {
	sort.Slice(pts, func(i, j int) bool {
		for k := range pts[i] {
			if pts[i][k] != pts[j][k] {
				return pts[i][k] < pts[j][k]
			}
		}
		return false
	})
	var out [][]float64
next:
	for _, p := range pts {
		for _, q := range out {
			dominated := true
			for k := 1; k < len(p); k++ {
				if q[k] > p[k] {
					dominated = false
					break
				}
			}
			if dominated {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// feasibleOf is the values of the feasible trials among the first budget.
func feasibleOf(run []trialRec, budget int) [][]float64 {
	var out [][]float64
	for _, t := range run[:min(budget, len(run))] {
		if t.Feasible {
			out = append(out, t.Values)
		}
	}
	return out
}

// feasibleSeeds counts the runs with a feasible trial within the budget.
func feasibleSeeds(runs [][]trialRec, budget int) int {
	n := 0
	for _, run := range runs {
		if len(feasibleOf(run, budget)) > 0 {
			n++
		}
	}
	return n
}

// bests is the best feasible value of each run (±Inf when none).
func bests(runs [][]trialRec, budget int, dir sampler.Direction) []float64 {
	var out []float64
	for _, run := range runs {
		b := math.Inf(1)
		if dir == sampler.Maximize {
			b = math.Inf(-1)
		}
		for _, v := range feasibleOf(run, budget) {
			if dir == sampler.Maximize {
				b = math.Max(b, v[0])
			} else {
				b = math.Min(b, v[0])
			}
		}
		out = append(out, b)
	}
	return out
}

func regrets(bests []float64, opt float64, dir sampler.Direction) []float64 {
	out := make([]float64, len(bests))
	for i, b := range bests {
		if dir == sampler.Maximize {
			out[i] = opt - b
		} else {
			out[i] = b - opt
		}
	}
	return out
}

// shortfalls is how far each run's best falls short of the optimum opt:
// its regret, or for several objectives the hypervolume it leaves out.
func shortfalls(runs [][]trialRec, budget int, s surface, opt float64) []float64 {
	if len(s.dirs) == 1 {
		return regrets(bests(runs, budget, s.dirs[0]), opt, s.dirs[0])
	}
	out := hvs(runs, budget, s)
	for i, h := range out {
		out[i] = opt - h
	}
	return out
}

func hvs(runs [][]trialRec, budget int, s surface) []float64 {
	var out []float64
	for _, run := range runs {
		var pts [][]float64
		for _, v := range feasibleOf(run, budget) {
			pts = append(pts, lossOf(v, s.dirs))
		}
		out = append(out, sampler.Hypervolume(front(pts), s.ref))
	}
	return out
}

// randomHistory is n random trials of the throughput surface.
func randomHistory(n int) (*sampler.History, surface) {
	s := surfaces()[0]
	return randomHistoryOn(s, n), s
}

// randomHistoryOn is n random trials on surface s.
func randomHistoryOn(s surface, n int) *sampler.History {
	h := &sampler.History{Directions: s.dirs}
	r := sampler.Random{Seed: 1}
	for i := 0; i < n; i++ {
		p, _ := r.Sample(h, s.space, i)
		vals, c := s.eval(external(s.space, p))
		h.Trials = append(h.Trials, sampler.Trial{Number: i, State: sampler.Complete, Params: p, Values: vals, Constraints: []float64{c}})
	}
	return h
}

// askLatency is the median time of one Sample with n trials of history.
func askLatency(name string, n int) float64 {
	h, s := randomHistory(n)
	smp := newSampler(name, 0)
	var times []float64
	for k := 0; k < 10; k++ {
		t0 := time.Now()
		if _, err := smp.Sample(h, s.space, n+k); err != nil {
			panic(err)
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	return stats.Median(times)
}

// studyAskLatency is the median time of Study.Ask (storage read of the whole
// history, sampling, storing the parameters) on SQLite with n trials.
func studyAskLatency(n int) float64 {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "atv-ask")
	defer os.RemoveAll(dir)
	st, err := study.OpenSQLite(ctx, filepath.Join(dir, "ask.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	s := surfaces()[0]
	rnd, err := study.Create(ctx, st, study.Options{Name: "ask", Directions: []study.Direction{study.Maximize}, Space: s.space, Sampler: sampler.Random{Seed: 1}})
	if err != nil {
		panic(err)
	}
	for i := 0; i < n; i++ {
		a, err := rnd.Ask(ctx)
		if err != nil {
			panic(err)
		}
		vals, c := s.eval(a.External)
		rnd.Tell(ctx, a, study.Result{State: study.Complete, Values: vals, Constraints: []float64{c}})
	}
	tpe, _, err := study.Resume(ctx, st, study.Options{Name: "ask", Space: s.space, Sampler: sampler.NewTPE(sampler.TPEOptions{Seed: 0})})
	if err != nil {
		panic(err)
	}
	var times []float64
	for k := 0; k < 10; k++ {
		t0 := time.Now()
		a, err := tpe.Ask(ctx)
		if err != nil {
			panic(err)
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
		tpe.Tell(ctx, a, study.Result{State: study.Fail})
	}
	return stats.Median(times)
}
