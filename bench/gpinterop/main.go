// Command gpinterop checks that Python Optuna's GPSampler continues a study
// our gp sampler ran (`make bench-gp-interop`; needs the torch virtualenv of
// bench/sampler/gp-venv.sh, so it is not part of `make test`):
//
//  1. the real binary runs a short study with sampler gp on the built-in
//     simulator (the quickstart's space, two objectives, a TTFT SLO stored
//     as an Optuna constraint; invalid flag combinations stored infeasible);
//  2. gp_interop.py loads it with optuna.load_study and continues it in
//     place with optuna.samplers.GPSampler, asserting that the GP fitted on
//     our trials (same search space, every parameter of every trial it asks
//     from the GP, none from its random start or fallback);
//  3. our side reads the result: the Go study reader (Optuna's trials'
//     parameters, distributions, states and constraints), `resume` with our
//     gp sampler for one more trial on the mixed history, `studies` and
//     `best`.
//
// It prints what each side did and ends with PASS, or FAIL and exit 1.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/bench/simstudy"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

const name = "gpinterop"

// workDir holds the study; a failure keeps it, to be looked into.
var workDir string

// The quickstart's workload, space and SLO with sampler gp.
const studyYAML = `
study: {name: gpinterop}
optimization: {preset: balanced, sampler: gp, n_trials: TRIALS, n_startup_trials: 4, seed: SEED, max_concurrent_trials: 2, confirm: false}
slo:
  - {metric: time_to_first_token_ms, percentile: p95, max: 2000}
` + simstudy.Body

// pyOut is what gp_interop.py prints.
type pyOut struct {
	Optuna      string   `json:"optuna"`
	Loaded      int      `json:"loaded"`
	Complete    int      `json:"complete"`
	Feasible    int      `json:"feasible"`
	Directions  []string `json:"directions"`
	Constraints int      `json:"constraints"`
	Space       []string `json:"space"`
	New         []struct {
		Number     int            `json:"number"`
		State      string         `json:"state"`
		Params     map[string]any `json:"params"`
		Values     []float64      `json:"values"`
		Constraint float64        `json:"constraint"`
		AskS       float64        `json:"ask_s"`
	} `json:"new"`
	Warnings []string `json:"warnings"`
}

func main() {
	bin := flag.String("bin", "bin/auto-tune-vllm", "the auto-tune-vllm binary")
	python := flag.String("python", "", "python of the virtualenv with optuna and torch (bench/sampler/gp-venv.sh)")
	trials := flag.Int("trials", 12, "n_trials of our study (GPSampler fits from 10 complete trials)")
	more := flag.Int("more", 5, "trials Optuna's GPSampler adds")
	seed := flag.Int("seed", 1, "seed of both samplers")
	seconds := flag.Int("seconds", 5, "max_seconds of each trial's benchmark (below 5, 128 streams of 512+128 tokens finish no request)")
	baseline := flag.Bool("baseline", false, "run the baseline (trial 0, vLLM's defaults, no parameters) as optimize does by default")
	keep := flag.Bool("keep", false, "keep the study directory (a failure always does)")
	flag.Parse()
	if *python == "" {
		fail(errors.New("-python is required (the python of bench/sampler/gp-venv.sh's virtualenv)"))
	}
	exe, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	script, err := filepath.Abs(filepath.Join("bench", "gpinterop", "gp_interop.py"))
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("", "bench-gp-interop-")
	if err != nil {
		fail(err)
	}
	workDir = dir
	if *keep {
		fmt.Println("study directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	cfg := strings.NewReplacer("TRIALS", fmt.Sprint(*trials), "SEED", fmt.Sprint(*seed), "SECONDS", fmt.Sprint(*seconds),
		"BASELINE", fmt.Sprint(*baseline)).Replace(studyYAML)
	if err := os.WriteFile(filepath.Join(dir, "study.yaml"), []byte(cfg), 0o644); err != nil {
		fail(err)
	}
	db := filepath.Join(dir, "optuna_studies", name, "study.db")
	ctx := context.Background()

	// 1. Our gp sampler on the simulator.
	t0 := time.Now()
	tool(exe, dir, "optimize", "--config", "study.yaml", "-q")
	ours := readTrials(ctx, db)
	fmt.Printf("1. auto-tune-vllm optimize (sampler gp, seed %d, %d s benchmarks): %s in %.0f s\n", *seed, *seconds, count(ours), time.Since(t0).Seconds())

	// 2. Optuna's GPSampler continues it in place.
	t0 = time.Now()
	cmd := exec.Command(*python, script, db, name, fmt.Sprint(*more), fmt.Sprint(*seed))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("gp_interop.py: %v\n%s", err, stderr.String()))
	}
	var py pyOut
	if err := json.Unmarshal(stdout.Bytes(), &py); err != nil {
		fail(fmt.Errorf("gp_interop.py printed %q: %v\n%s", stdout.String(), err, stderr.String()))
	}
	fmt.Printf("2. optuna %s load_study: %d trials, %d complete (%d feasible), %s, %d constraint(s); GPSampler(seed=%d) search space = ours (%s)\n",
		py.Optuna, py.Loaded, py.Complete, py.Feasible, strings.Join(py.Directions, "/"), py.Constraints, *seed, strings.Join(py.Space, ", "))
	for _, n := range py.New {
		v := "infeasible combination (pruned)"
		if n.State == "COMPLETE" {
			v = fmt.Sprintf("stand-in %.0f tok/s, %.2f s, SLO %s", n.Values[0], n.Values[1], map[bool]string{true: "met", false: "missed"}[n.Constraint <= 0])
		}
		fmt.Printf("   trial %d from the GP in %.1f s: %s -> %s\n", n.Number, n.AskS, flags(n.Params), v)
	}
	fmt.Printf("   %d trials asked, every parameter from the GP (relative sampling), %d warnings, in %.0f s\n", len(py.New), len(py.Warnings), time.Since(t0).Seconds())
	if py.Loaded != len(ours) {
		fail(fmt.Errorf("optuna loaded %d trials, we stored %d", py.Loaded, len(ours)))
	}

	// 3. Our side reads Optuna's trials ...
	all := readTrials(ctx, db)
	if len(all) != len(ours)+len(py.New) {
		fail(fmt.Errorf("the Go reader reads %d trials, want %d + %d", len(all), len(ours), len(py.New)))
	}
	var ref *study.Trial
	for i := range ours {
		if len(ours[i].Dists) > 0 {
			ref = &ours[i]
			break
		}
	}
	for i, n := range py.New {
		t := all[len(ours)+i]
		if t.Number != n.Number || string(t.State) != n.State {
			fail(fmt.Errorf("Go reader: trial %d %s, optuna wrote trial %d %s", t.Number, t.State, n.Number, n.State))
		}
		if len(t.Dists) != len(ref.Dists) {
			fail(fmt.Errorf("Go reader: trial %d has %d parameters, ours %d", t.Number, len(t.Dists), len(ref.Dists)))
		}
		for k, d := range ref.Dists {
			if t.Dists[k] == nil || t.Dists[k].String() != d.String() {
				fail(fmt.Errorf("Go reader: trial %d %s: distribution %v, ours %v", t.Number, k, t.Dists[k], d))
			}
			if !sameValue(t.External(k), n.Params[k]) {
				fail(fmt.Errorf("Go reader: trial %d %s = %v, optuna wrote %v", t.Number, k, t.External(k), n.Params[k]))
			}
		}
		if feasible := n.State == "COMPLETE" && n.Constraint <= 0; t.Feasible() != feasible {
			fail(fmt.Errorf("Go reader: trial %d feasible = %v, optuna's constraint says %v", t.Number, t.Feasible(), feasible))
		}
	}
	// ... our gp sampler resumes on the mixed history ...
	done := 0
	for _, t := range all {
		if t.State == study.Complete && t.Kind() == study.Search {
			done++
		}
	}
	t0 = time.Now()
	tool(exe, dir, "resume", "--config", "study.yaml", "--trials", fmt.Sprint(done+1), "-q")
	final := readTrials(ctx, db)
	if len(final) <= len(all) {
		fail(fmt.Errorf("resume --trials %d added no trial", done+1))
	}
	last := final[len(final)-1]
	fmt.Printf("3. Go reader: optuna's %d trials read back (parameters, distributions, states, constraints); resume --trials %d (our gp on %d trials, %d of them optuna's): trial %d %s in %.0f s\n",
		len(py.New), done+1, len(all), len(py.New), last.Number, flags(externals(last)), time.Since(t0).Seconds())
	// ... and lists and answers the study.
	var listed []struct {
		Studies []struct {
			Name   string `json:"name"`
			Trials int    `json:"trials"`
		} `json:"studies"`
	}
	if err := json.Unmarshal(tool(exe, dir, "studies", "--storage", db, "--json"), &listed); err != nil {
		fail(fmt.Errorf("studies --json: %v", err))
	}
	if len(listed) != 1 || len(listed[0].Studies) != 1 || listed[0].Studies[0].Trials != len(final) {
		fail(fmt.Errorf("studies --json: %+v, want one study of %d trials", listed, len(final)))
	}
	var best struct {
		Answers []struct {
			Trial int `json:"trial"`
		} `json:"answers"`
	}
	if err := json.Unmarshal(tool(exe, dir, "best", "--config", "study.yaml", "--json"), &best); err != nil {
		fail(fmt.Errorf("best --json: %v", err))
	}
	var nums []string
	for _, a := range best.Answers {
		nums = append(nums, fmt.Sprint(a.Trial))
	}
	fmt.Printf("   studies: %d trials; best: Pareto-optimal trials %s\n", listed[0].Studies[0].Trials, strings.Join(nums, ", "))
	fmt.Println("PASS")
}

// tool runs the binary in dir and returns its stdout.
func tool(exe, dir string, args ...string) []byte {
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("auto-tune-vllm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String()))
	}
	return stdout.Bytes()
}

func readTrials(ctx context.Context, db string) []study.Trial {
	ts, err := tune.StudyTrials(ctx, db, name)
	if err != nil {
		fail(err)
	}
	return ts
}

func count(ts []study.Trial) string {
	n := map[study.State]int{}
	feasible := 0
	for _, t := range ts {
		n[t.State]++
		if t.State == study.Complete && t.Feasible() {
			feasible++
		}
	}
	return fmt.Sprintf("%d trials, %d complete (%d feasible), %d pruned (infeasible combinations), %d failed",
		len(ts), n[study.Complete], feasible, n[study.Pruned], n[study.Fail])
}

func externals(t study.Trial) map[string]any {
	m := map[string]any{}
	for k := range t.Dists {
		m[k] = t.External(k)
	}
	return m
}

func flags(p map[string]any) string {
	var ks []string
	for k := range p {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", k, p[k])
	}
	return b.String()
}

// sameValue compares our external value with one from JSON (numbers as
// float64).
func sameValue(ours, py any) bool {
	num := func(v any) (float64, bool) {
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		}
		return 0, false
	}
	a, okA := num(ours)
	b, okB := num(py)
	if okA && okB {
		return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	return ours == py
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "FAIL:", err)
	if workDir != "" {
		fmt.Fprintf(os.Stderr, "the study is kept in %s (trial logs under logs/)\n", workDir)
	}
	os.Exit(1)
}
