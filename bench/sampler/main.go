// Command sampler compares our samplers with Python Optuna's on surfaces
// shaped like vLLM tuning: median best, regret against the true optimum
// (found by enumerating the grid), the share of seeds that found a feasible
// configuration, and hypervolume for the multi-objective surface, over
// seeds and budgets; and ask() latency. Each (surface, sampler, seed) runs
// once for the largest budget and every smaller budget is scored on its
// prefix (samplers never look at the budget). Run with `make
// bench-sampler`; figures, not assertions.
package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

type key struct{ surface, sampler string }

// trialRec is one completed trial: its values and feasibility.
type trialRec struct {
	Values   []float64      `json:"values"`
	Feasible bool           `json:"feasible"`
	Params   map[string]any `json:"params,omitempty"` // ours: for the paired runs
}

// runRec is one (surface, sampler, seed) run, as optuna_side.py writes it
// and writeOurs writes ours.
type runRec struct {
	Surface string     `json:"surface"`
	Sampler string     `json:"sampler"`
	Seed    int        `json:"seed"`
	Trials  []trialRec `json:"trials"`
	Seconds float64    `json:"seconds,omitempty"`
}

type pyResult struct {
	Version string   `json:"version,omitempty"`
	Results []runRec `json:"results"`
	Ask     []struct {
		Sampler  string
		N        int
		Ms       float64
		SqliteMs float64 `json:"sqlite_ms"`
	} `json:"ask,omitempty"`
}

func main() {
	seeds := flag.Int("seeds", 10, "seeds per configuration")
	budgetsFlag := flag.String("budgets", "20,30,100", "trial budgets")
	gpMax := flag.Int("gp-max-budget", 30, "largest budget the GP samplers run (Optuna's takes seconds per ask)")
	optunaBin := flag.String("optuna-bin", os.Getenv("ATV_OPTUNA_BIN"), "bin dir of the Optuna venv")
	optunaGPBin := flag.String("optuna-gp-bin", os.Getenv("ATV_OPTUNA_GP_BIN"), "bin dir of a venv with Optuna, scipy and torch for GPSampler (bench/sampler/gp-venv.sh); empty: skip Optuna's GPSampler")
	only := flag.String("surfaces", "", "comma-separated surfaces to run (default: all)")
	samplersFlag := flag.String("samplers", "", "comma-separated samplers to run (default: all)")
	paired := flag.Bool("paired", true, "also run Optuna's GPSampler from our gp's own startup trials (enqueued), which compares the two from the same start: the unpaired runs differ as much by their random startup trials as by the samplers")
	keep := flag.String("keep", "", "directory that keeps Python Optuna's results: a run with the same seeds, budget, surfaces and samplers (and, for the paired runs, the same startup trials of ours) reuses them, to compare a change of ours against one run of Optuna's; ours.json there holds our runs in the same layout, for a look seed by seed")
	selfGroups := flag.Int("self-groups", 0, "also compare each of our samplers with itself: the seeds split into this many groups, every ordered pair of groups held to \"median regret at most the other's in every cell\" (how often identical samplers pass it by chance; e.g. -seeds 180 -self-groups 6 for groups of 30)")
	flag.Parse()
	wanted := func(name string) bool {
		return *samplersFlag == "" || strings.Contains(","+*samplersFlag+",", ","+name+",")
	}
	var budgets []int
	for _, b := range strings.Split(*budgetsFlag, ",") {
		var n int
		fmt.Sscan(b, &n)
		budgets = append(budgets, n)
	}
	maxBudget := slices.Max(budgets)
	gpBudget := min(*gpMax, maxBudget)

	var selected []surface
	for _, s := range surfaces() {
		if *only == "" || strings.Contains(","+*only+",", ","+s.name+",") {
			selected = append(selected, s)
		}
	}
	ours := map[key][][]trialRec{}
	for _, s := range selected {
		for _, name := range samplerNames(s) {
			if !wanted(name) {
				continue
			}
			b := maxBudget
			if name == "gp" {
				b = gpBudget
			}
			t0 := time.Now()
			for seed := 0; seed < *seeds; seed++ {
				ours[key{s.name, name}] = append(ours[key{s.name, name}], runOurs(s, name, b, uint64(seed)))
			}
			fmt.Fprintf(os.Stderr, "ours %s %s: %d seeds × %d trials in %.1f s\n", name, s.name, *seeds, b, time.Since(t0).Seconds())
		}
	}

	tmp := *keep
	if tmp == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "atv-bench"); err != nil {
			fail(err)
		}
		defer os.RemoveAll(tmp)
	} else if err := os.MkdirAll(tmp, 0o755); err != nil {
		fail(err)
	} else {
		// Ours beside Python's, in its layout, for a look seed by seed.
		writeOurs(filepath.Join(tmp, "ours.json"), ours)
	}
	var py, pyGP pyResult
	var plain []string
	for _, n := range []string{"random", "tpe", "nsga2"} {
		if wanted(n) {
			plain = append(plain, n)
		}
	}
	if len(plain) > 0 {
		fmt.Fprintln(os.Stderr, "running Python Optuna (this takes a few minutes)...")
		py = runOptuna(*optunaBin, tmp, *seeds, maxBudget, *only, strings.Join(plain, ","), "tpe")
	}
	var pairedGP pyResult
	if *optunaGPBin != "" && wanted("gp") {
		fmt.Fprintln(os.Stderr, "running Python Optuna's GPSampler (slow: seconds per ask)...")
		pyGP = runOptuna(*optunaGPBin, tmp, *seeds, gpBudget, *only, "gp", "gp")
		if *paired {
			fmt.Fprintln(os.Stderr, "running Python Optuna's GPSampler from our gp's startup trials...")
			pairedGP = runOptuna(*optunaGPBin, tmp, *seeds, gpBudget, *only, "gp", "none", startups(tmp, selected, ours))
		}
	}
	theirs := map[key][][]trialRec{}
	gpSeconds := map[string]float64{}
	for _, r := range append(py.Results, pyGP.Results...) {
		k := key{r.Surface, r.Sampler}
		theirs[k] = append(theirs[k], r.Trials)
		if r.Sampler == "gp" {
			gpSeconds[r.Surface] += r.Seconds
		}
	}

	fmt.Printf("## Sampler quality: ours vs Python Optuna %s (%d seeds; best of the feasible trials)\n\n", py.Version, *seeds)
	fmt.Println("| surface | sampler | budget | optimum | median best (ours) | median best (Optuna) | median regret (ours) | median regret (Optuna) | seeds feasible (ours) | seeds feasible (Optuna) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	optima := map[string]float64{} // enumerating a grid takes seconds
	for _, s := range selected {
		optima[s.name] = optimum(s)[0]
	}
	for _, s := range selected {
		for _, name := range samplerNames(s) {
			if !wanted(name) {
				continue
			}
			for _, budget := range budgets {
				if name == "gp" && budget > gpBudget {
					continue
				}
				printRow(s, name, budget, optima[s.name], ours[key{s.name, name}], theirs[key{s.name, name}], *seeds)
			}
		}
	}
	if *selfGroups > 1 {
		for _, name := range []string{"gp", "tpe", "nsga2", "random"} {
			bs := budgets
			if name == "gp" {
				bs = slices.DeleteFunc(slices.Clone(budgets), func(b int) bool { return b > gpBudget })
			}
			selfComparison(name, selected, bs, ours, optima, *selfGroups)
		}
	}
	if len(pairedGP.Results) > 0 {
		fmt.Printf("\n## gp against Optuna's GPSampler from the same %d startup trials (ours, enqueued in Optuna's)\n\n", sampler.DefaultStartupTrials)
		fmt.Println("| surface | budget | median regret (ours) | median regret (Optuna) | seeds ours better | seeds Optuna better | seeds even |")
		fmt.Println("|---|---|---|---|---|---|---|")
		theirs := map[string][][]trialRec{}
		for _, r := range pairedGP.Results {
			theirs[r.Surface] = append(theirs[r.Surface], r.Trials)
		}
		for _, s := range selected {
			for _, budget := range budgets {
				if budget <= gpBudget && len(theirs[s.name]) > 0 {
					pairedRow(s, budget, optima[s.name], ours[key{s.name, "gp"}], theirs[s.name])
				}
			}
		}
	}
	if len(gpSeconds) > 0 {
		fmt.Printf("\nOptuna GPSampler wall time for %d trials, all %d seeds: ", gpBudget, *seeds)
		for _, s := range selected {
			fmt.Printf("%s %.0f s; ", s.name, gpSeconds[s.name])
		}
		fmt.Println()
	}

	fmt.Println("\n## ask() latency (median, throughput surface, random history)")
	fmt.Println("\n| sampler | history | ours: sampler | Optuna: ask + suggests, in-memory storage | ratio | ours: Study.Ask on SQLite | Optuna: ask + suggests on SQLite | ratio |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, a := range append(py.Ask, pyGP.Ask...) {
		ms := askLatency(a.Sampler, a.N)
		if a.Sampler == "gp" {
			fmt.Printf("| gp | %d trials | %.2f ms | %.2f ms | %.1f× | | | |\n", a.N, ms, a.Ms, a.Ms/ms)
			continue
		}
		db := studyAskLatency(a.N)
		fmt.Printf("| tpe | %d trials | %.2f ms | %.2f ms | %.1f× | %.2f ms | %.2f ms | %.1f× |\n", a.N, ms, a.Ms, a.Ms/ms, db, a.SqliteMs, a.SqliteMs/db)
	}
	if len(pyGP.Ask) == 0 && wanted("gp") {
		// Without Optuna's GPSampler, ours alone.
		fmt.Printf("| gp | 100 trials | %.2f ms | – | | | | |\n", askLatency("gp", 100))
	}
}

// samplerNames are the samplers each surface is run with.
func samplerNames(s surface) []string {
	if len(s.dirs) > 1 {
		return []string{"random", "tpe", "nsga2", "gp"}
	}
	return []string{"random", "tpe", "gp"}
}

func printRow(s surface, name string, budget int, opt float64, ours, theirs [][]trialRec, seeds int) {
	fo, ft := feasibleSeeds(ours, budget), feasibleSeeds(theirs, budget)
	share := func(n int, runs [][]trialRec) string {
		if len(runs) == 0 {
			return "–"
		}
		return fmt.Sprintf("%d/%d", n, len(runs))
	}
	if len(s.dirs) == 1 {
		bo, bt := bests(ours, budget, s.dirs[0]), bests(theirs, budget, s.dirs[0])
		ro, rt := regrets(bo, opt, s.dirs[0]), regrets(bt, opt, s.dirs[0])
		fmt.Printf("| %s | %s | %d | %.2f | %.2f | %s | %.3f | %s | %s | %s |\n", s.name, name, budget, opt,
			stats.Median(bo), orDash(bt, "%.2f"), stats.Median(ro), orDash(rt, "%.3f"), share(fo, ours), share(ft, theirs))
		return
	}
	ho, ht := hvs(ours, budget, s), hvs(theirs, budget, s)
	fmt.Printf("| %s (hypervolume) | %s | %d | %.0f | %.0f | %s | %.0f | %s | %s | %s |\n", s.name, name, budget, opt,
		stats.Median(ho), orDash(ht, "%.0f"), opt-stats.Median(ho), orDash(shortfalls(theirs, budget, s, opt), "%.0f"), share(fo, ours), share(ft, theirs))
}

func orDash(xs []float64, format string) string {
	if len(xs) == 0 {
		return "–"
	}
	return fmt.Sprintf(format, stats.Median(xs))
}

// pairedRow compares, seed by seed, our gp with Optuna's GPSampler started
// from our gp's startup trials: regrets (single objective) or hypervolume
// short of the optimum.
func pairedRow(s surface, budget int, opt float64, ours, theirs [][]trialRec) {
	ro, rt := shortfalls(ours, budget, s, opt), shortfalls(theirs, budget, s, opt)
	better, worse := 0, 0
	for i := range min(len(ro), len(rt)) {
		// Within a millionth of the optimum's scale is even.
		switch tol := 1e-6 * math.Abs(opt); {
		case ro[i] < rt[i]-tol:
			better++
		case rt[i] < ro[i]-tol:
			worse++
		}
	}
	fmt.Printf("| %s | %d | %.4g | %.4g | %d | %d | %d |\n", s.name, budget, stats.Median(ro), stats.Median(rt), better, worse, min(len(ro), len(rt))-better-worse)
}

// startups writes our gp's startup trials, per surface and seed, into dir
// for optuna_side.py to enqueue, and returns the file's path.
func startups(dir string, selected []surface, ours map[key][][]trialRec) string {
	out := map[string][][]map[string]any{}
	for _, s := range selected {
		for _, run := range ours[key{s.name, "gp"}] {
			var first []map[string]any
			for _, t := range run[:min(sampler.DefaultStartupTrials, len(run))] {
				first = append(first, t.Params)
			}
			out[s.name] = append(out[s.name], first)
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		fail(err)
	}
	path := filepath.Join(dir, "gp-startups.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		fail(err)
	}
	return path
}

// runOptuna runs optuna_side.py with the python of binDir, unless dir
// already holds the results of the same run. A startups file (see
// startups) is passed on, and names the results apart.
func runOptuna(binDir, dir string, seeds, budget int, only, samplers, ask string, startups ...string) pyResult {
	tag := ""
	if len(startups) > 0 {
		// Paired runs start from our startup trials: kept results hold
		// only while those are the same.
		raw, err := os.ReadFile(startups[0])
		if err != nil {
			fail(err)
		}
		h := fnv.New64a()
		h.Write(raw)
		tag = fmt.Sprintf("-paired-%x", h.Sum64())
	}
	result := filepath.Join(dir, fmt.Sprintf("optuna-%s%s-%d-seeds-%d-trials-%s.json", strings.ReplaceAll(samplers, ",", "+"), tag, seeds, budget, strings.ReplaceAll(cmp.Or(only, "all"), ",", "+")))
	if raw, err := os.ReadFile(result); err == nil {
		var py pyResult
		if err := json.Unmarshal(raw, &py); err == nil {
			fmt.Fprintln(os.Stderr, "reusing", result)
			return py
		}
	}
	p, err := proc.Start(proc.Spec{Argv: append([]string{filepath.Join(binDir, "python"), "bench/sampler/optuna_side.py",
		fmt.Sprint(seeds), fmt.Sprint(budget), result, only, samplers, ask}, startups...), Output: os.Stderr})
	if err != nil {
		fail(err)
	}
	<-p.Done()
	if p.ExitCode() != 0 {
		fail(fmt.Errorf("optuna side (%s): %w", samplers, p.Err()))
	}
	raw, err := os.ReadFile(result)
	if err != nil {
		fail(err)
	}
	var py pyResult
	if err := json.Unmarshal(raw, &py); err != nil {
		fail(err)
	}
	return py
}

// writeOurs saves our runs as optuna_side.py saves Python's.
func writeOurs(path string, ours map[key][][]trialRec) {
	var out pyResult
	for k, runs := range ours {
		for seed, t := range runs {
			out.Results = append(out.Results, runRec{Surface: k.surface, Sampler: k.sampler, Seed: seed, Trials: t})
		}
	}
	slices.SortFunc(out.Results, func(a, b runRec) int {
		return cmp.Or(cmp.Compare(a.Surface, b.Surface), cmp.Compare(a.Sampler, b.Sampler), cmp.Compare(a.Seed, b.Seed))
	})
	raw, err := json.Marshal(out)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/sampler:", err)
	os.Exit(1)
}
