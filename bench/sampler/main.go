// Command sampler compares our samplers with Python Optuna's on surfaces
// shaped like vLLM tuning: median best, regret against the true optimum
// (found by enumerating the grid) and hypervolume for the multi-objective
// surface, over seeds and budgets; and ask() latency with 100 and 1000
// trials of history. Run with `make bench-sampler`; figures, not assertions.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

func main() {
	seeds := flag.Int("seeds", 10, "seeds per configuration")
	budgetsFlag := flag.String("budgets", "30,100", "trial budgets")
	optunaBin := flag.String("optuna-bin", os.Getenv("ATV_OPTUNA_BIN"), "bin dir of the Optuna venv")
	only := flag.String("surfaces", "", "comma-separated surfaces to run (default: all)")
	flag.Parse()
	var budgets []int
	for _, b := range strings.Split(*budgetsFlag, ",") {
		var n int
		fmt.Sscan(b, &n)
		budgets = append(budgets, n)
	}

	type key struct {
		surface, sampler string
		budget           int
	}
	ours := map[key][][][]float64{}
	var selected []surface
	for _, s := range surfaces() {
		if *only == "" || strings.Contains(","+*only+",", ","+s.name+",") {
			selected = append(selected, s)
		}
	}
	for _, s := range selected {
		names := []string{"tpe"}
		if len(s.dirs) > 1 {
			names = append(names, "nsga2")
		}
		for _, name := range names {
			for _, budget := range budgets {
				for seed := 0; seed < *seeds; seed++ {
					ours[key{s.name, name, budget}] = append(ours[key{s.name, name, budget}], runOurs(s, name, budget, uint64(seed)))
				}
			}
		}
	}

	fmt.Fprintln(os.Stderr, "running Python Optuna (this takes a few minutes)...")
	tmp, err := os.MkdirTemp("", "atv-bench")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	result := filepath.Join(tmp, "optuna.json")
	p, err := proc.Start(proc.Spec{Argv: []string{filepath.Join(*optunaBin, "python"), "bench/sampler/optuna_side.py", fmt.Sprint(*seeds), *budgetsFlag, result, *only}, Output: os.Stderr})
	if err != nil {
		fail(err)
	}
	<-p.Done()
	if p.ExitCode() != 0 {
		fail(fmt.Errorf("optuna side: %w", p.Err()))
	}
	raw, err := os.ReadFile(result)
	if err != nil {
		fail(err)
	}
	var py struct {
		Version string
		Results []struct {
			Surface, Sampler string
			Budget           int
			Values           [][]float64
		}
		Ask []struct {
			N        int
			Ms       float64
			SqliteMs float64 `json:"sqlite_ms"`
		}
	}
	if err := json.Unmarshal(raw, &py); err != nil {
		fail(err)
	}
	theirs := map[key][][][]float64{}
	for _, r := range py.Results {
		k := key{r.Surface, r.Sampler, r.Budget}
		theirs[k] = append(theirs[k], r.Values)
	}

	fmt.Printf("## Sampler quality: ours vs Python Optuna %s (%d seeds; feasible trials only)\n\n", py.Version, *seeds)
	fmt.Println("| surface | sampler | budget | optimum | median best (ours) | median best (Optuna) | median regret (ours) | median regret (Optuna) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, s := range selected {
		names := []string{"tpe"}
		if len(s.dirs) > 1 {
			names = append(names, "nsga2")
		}
		opt := optimum(s)
		for _, name := range names {
			for _, budget := range budgets {
				k := key{s.name, name, budget}
				if len(s.dirs) == 1 {
					bo, bt := bests(ours[k], s.dirs[0]), bests(theirs[k], s.dirs[0])
					ro, rt := regrets(bo, opt[0], s.dirs[0]), regrets(bt, opt[0], s.dirs[0])
					fmt.Printf("| %s | %s | %d | %.2f | %.2f | %.2f | %.3f | %.3f |\n", s.name, name, budget, opt[0], median(bo), median(bt), median(ro), median(rt))
				} else {
					ho, ht := hvs(ours[k], s.dirs), hvs(theirs[k], s.dirs)
					fmt.Printf("| %s (hypervolume) | %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f |\n", s.name, name, budget, opt[0], median(ho), median(ht), opt[0]-median(ho), opt[0]-median(ht))
				}
			}
		}
	}

	fmt.Println("\n## ask() latency (median of 10, throughput surface, TPE)")
	fmt.Println("\n| history | ours: sampler | Optuna: ask + suggests, in-memory storage | ratio | ours: Study.Ask on SQLite | Optuna: ask + suggests on SQLite | ratio |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, a := range py.Ask {
		ms := askLatency(a.N)
		db := studyAskLatency(a.N)
		fmt.Printf("| %d trials | %.2f ms | %.2f ms | %.1f× | %.2f ms | %.2f ms | %.1f× |\n", a.N, ms, a.Ms, a.Ms/ms, db, a.SqliteMs, a.SqliteMs/db)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/sampler:", err)
	os.Exit(1)
}

func newSampler(name string, seed uint64) sampler.Sampler {
	if name == "nsga2" {
		return &sampler.NSGA2{Seed: seed}
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

// runOurs returns the values of the feasible trials.
func runOurs(s surface, name string, budget int, seed uint64) [][]float64 {
	smp := newSampler(name, seed)
	h := &sampler.History{Directions: s.dirs}
	var feasible [][]float64
	for i := 0; i < budget; i++ {
		p, err := smp.Sample(h, s.space, i)
		if err != nil {
			panic(err)
		}
		vals, c := s.eval(external(s.space, p))
		h.Trials = append(h.Trials, sampler.Trial{Number: i, State: sampler.Complete, Params: p, Values: vals, Constraints: []float64{c}})
		if c <= 0 {
			feasible = append(feasible, vals)
		}
	}
	return feasible
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
	return []float64{sampler.Hypervolume(front(points), tradeoffRef)}
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

// front keeps the non-dominated points (2-D), to keep the hypervolume cheap.
func front(pts [][]float64) [][]float64 {
	sort.Slice(pts, func(i, j int) bool {
		if pts[i][0] != pts[j][0] {
			return pts[i][0] < pts[j][0]
		}
		return pts[i][1] < pts[j][1]
	})
	var out [][]float64
	bestY := math.Inf(1)
	for _, p := range pts {
		if p[1] < bestY {
			out = append(out, p)
			bestY = p[1]
		}
	}
	return out
}

func bests(runs [][][]float64, dir sampler.Direction) []float64 {
	var out []float64
	for _, run := range runs {
		b := math.Inf(1)
		if dir == sampler.Maximize {
			b = math.Inf(-1)
		}
		for _, v := range run {
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

func hvs(runs [][][]float64, dirs []sampler.Direction) []float64 {
	var out []float64
	for _, run := range runs {
		var pts [][]float64
		for _, v := range run {
			pts = append(pts, lossOf(v, dirs))
		}
		out = append(out, sampler.Hypervolume(front(pts), tradeoffRef))
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// askLatency is the median time of one TPE Sample with n trials of history.
func askLatency(n int) float64 {
	s := surfaces()[0]
	h := &sampler.History{Directions: s.dirs}
	r := sampler.Random{Seed: 1}
	for i := 0; i < n; i++ {
		p, _ := r.Sample(h, s.space, i)
		vals, c := s.eval(external(s.space, p))
		h.Trials = append(h.Trials, sampler.Trial{Number: i, State: sampler.Complete, Params: p, Values: vals, Constraints: []float64{c}})
	}
	tpe := sampler.NewTPE(sampler.TPEOptions{Seed: 0})
	var times []float64
	for k := 0; k < 10; k++ {
		t0 := time.Now()
		if _, err := tpe.Sample(h, s.space, n+k); err != nil {
			panic(err)
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	return median(times)
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
	return median(times)
}
