package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/testenv"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

const simStudy = `
study:
  name: e2e
optimization:
  preset: balanced
  n_trials: 4
  n_startup_trials: 2
  max_concurrent_trials: 2
  confirm: {top: 2, runs: 2}
benchmark:
  model: e2e-sim-MODEL
  max_seconds: 2
  prompt_tokens: 64
  output_tokens: 16
  rate: 8
server:
  command: ["{self}", "simulate", "{model}", "--sim-speedup", "10", "--sim-startup-seconds", "0.2"]
  startup_timeout: 30
parameters:
  max_num_seqs: {min: 4, max: 64, step: 4}
  gpu_memory_utilization: {min: 0.5, max: 0.9, step: 0.05}
`

// storedTrials reads the trials of study name from its default SQLite file
// under dir, as Optuna would find them.
func storedTrials(t *testing.T, dir, name string) []study.Trial {
	t.Helper()
	st, err := study.OpenSQLite(context.Background(), filepath.Join(dir, "optuna_studies", name, "study.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	info, err := st.LoadStudy(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(context.Background(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	return trials
}

func TestLocalOptimizeOnSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end study: not run with -short")
	}
	dir := raytest.Root(t)
	model := "e2e-sim-" + filepath.Base(dir)
	cfg := filepath.Join(dir, "study.yaml")
	os.WriteFile(cfg, []byte(strings.ReplaceAll(simStudy, "e2e-sim-MODEL", model)), 0o644)

	s := &sandbox{root: dir, state: filepath.Join(dir, "state"), bin: "/nonexistent"}
	code, out, stderr := s.runIn(t, dir, "optimize", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "Pareto-optimal trials") || !strings.Contains(out, "simulate "+model) || !strings.Contains(out, "--max-num-seqs") {
		t.Errorf("report:\n%s", out)
	}
	trials := storedTrials(t, dir, "e2e")
	if study.Completed(trials) != 4 || trials[0].UserAttrs[study.AttrIsBaseline] != true {
		t.Fatalf("%d completed, trial 0 %v", study.Completed(trials), trials[0].UserAttrs)
	}
	for _, tr := range trials {
		if tr.State != study.Complete {
			continue
		}
		if _, ok := tr.UserAttrs["metric_output_tokens_per_second_mean"]; !ok || len(tr.Values) != 2 {
			t.Errorf("trial %d: attrs %v values %v", tr.Number, tr.UserAttrs, tr.Values)
		}
		if _, err := os.Stat(filepath.Join(dir, "logs", "e2e", "trial_"+strconv.Itoa(tr.Number), "server.log")); err != nil {
			t.Errorf("trial %d: %v", tr.Number, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "optuna_studies", "e2e", "study_config.yaml")); err != nil {
		t.Error(err)
	}
	progressLines(t, dir, out)
	confirmedAnswer(t, dir, out, trials)
	bestAnswer(t, s, dir, model)
	htmlReport(t, s, dir, stderr, "e2e")
	raytest.NoLeftovers(t, model)

	// SIGINT mid-trial: nothing left running, the study resumable.
	cfg2 := filepath.Join(dir, "study2.yaml")
	os.WriteFile(cfg2, []byte(strings.ReplaceAll(strings.ReplaceAll(simStudy, "e2e-sim-MODEL", model), "name: e2e", "name: e2e2")), 0o644)
	tl := s.startIn(t, dir, "optimize", "--config", cfg2)
	tl.waitFor(t, "starting server trial=1")
	time.Sleep(500 * time.Millisecond)
	syscall.Kill(tl.cmd.Process.Pid, syscall.SIGINT)
	if code := tl.wait(t); code != exitInterrupted {
		t.Errorf("exit %d after SIGINT\n%s", code, tl.stderr)
	}
	if !strings.Contains(tl.stderr.String(), "auto-tune-vllm resume --config") {
		t.Errorf("no resume hint:\n%s", tl.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "optuna_studies", "e2e2", "report.html")); err != nil {
		t.Errorf("no HTML report after SIGINT: %v\n%s", err, tl.stderr)
	}
	raytest.NoLeftovers(t, model)
	code, out, stderr = s.runIn(t, dir, "resume", "--config", cfg2)
	if code != 0 || !strings.Contains(stderr, "Resuming study") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, stderr)
	}
	trials2 := storedTrials(t, dir, "e2e2")
	interrupted := 0
	for _, tr := range trials2 {
		if tr.UserAttrs[study.AttrErrorType] == "interrupted" {
			interrupted++
		}
	}
	if study.Completed(trials2) != 4 || interrupted == 0 {
		t.Errorf("after resume: %d completed, %d interrupted", study.Completed(trials2), interrupted)
	}
	raytest.NoLeftovers(t, model)
}

// progressLines checks the e2e study's progress on a stdout that is not a
// terminal: a plain line an event, before the report, and every log line
// in the study's controller.log.
func progressLines(t *testing.T, dir, out string) {
	t.Helper()
	for _, re := range []string{
		`baseline: 0/1 runs done \(vLLM's defaults\)`,
		`trial 0 started: baseline \(vLLM's defaults\) at concurrency \d+`,
		`trial 0 complete in \d+s: output_tokens_per_second_mean=\S+ request_latency=\S+ \[1/1 runs done\]`,
		`search: 0/4 trials done, 2 at a time`,
		`trial 1 started: gpu_memory_utilization=\S+ max_num_seqs=\d+`,
		`trial 1 starting server`,
		`trial 1 benchmarking`,
		`trial 1 stopping server after \d+s`,
		`trial \d+ complete in \d+s: output_tokens_per_second_mean=\S+ request_latency=\S+ \(Pareto-optimal so far\) \[\d/4 trials done.*\]`,
		`confirmation: 0/\d runs done, 2 at a time`,
		// An ETA follows unless it was the last run to end (both run at once).
		`trial 0 confirmation run 2 complete in \d+s: output_tokens_per_second_mean=\S+ request_latency=\S+ \[\d/\d runs done(, ETA \d+s)?\]`,
	} {
		if !regexp.MustCompile(`(?m)^` + re + `$`).MatchString(out) {
			t.Errorf("no line %s in stdout:\n%s", re, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("ANSI codes in plain output:\n%q", out)
	}
	if i, j := strings.Index(out, "trial 0 started"), strings.Index(out, "Pareto-optimal trials"); i < 0 || j < i {
		t.Errorf("progress not before the report:\n%s", out)
	}
	log, err := os.ReadFile(filepath.Join(dir, "logs", "e2e", "controller.log"))
	if err != nil || !strings.Contains(string(log), "INFO: starting server trial=0") {
		t.Errorf("controller.log: %v\n%s", err, log)
	}
}

// confirmedAnswer checks the confirmation phase of the e2e study (two
// rounds): the baseline and the Pareto trials confirmed measured again,
// each run stored on its trial, in the report, and read by Optuna itself.
func confirmedAnswer(t *testing.T, dir, out string, trials []study.Trial) {
	t.Helper()
	confirmed := map[int]bool{}
	for _, tr := range trials {
		for _, round := range []string{"1", "2"} {
			run, _ := tr.UserAttrs[study.AttrConfirmPrefix+round].(map[string]any)
			if run == nil {
				continue
			}
			confirmed[tr.Number] = true
			if values, _ := run["values"].(map[string]any); values["output_tokens_per_second_mean"] == nil || values["request_latency"] == nil {
				t.Errorf("trial %d, confirmation run %s: %v", tr.Number, round, run)
			}
		}
	}
	if !confirmed[0] || len(confirmed) < 2 || len(confirmed) > 3 {
		t.Errorf("confirmed trials %v: want the baseline (0) and one or two of the Pareto set", confirmed)
	}
	if !strings.Contains(out, "Confirmed: ") || !strings.Contains(out, "started again, 2 runs each in rounds") {
		t.Errorf("report without the confirmation:\n%s", out)
	}
	bin := testenv.Optuna(t)
	db := filepath.Join(dir, "optuna_studies", "e2e", "study.db")
	raw, err := exec.Command(filepath.Join(bin, "python"), filepath.Join("..", "..", "scripts", "optuna-interop.py"), "read", db, "e2e").Output()
	if err != nil {
		t.Fatalf("optuna.load_study: %v", err)
	}
	var py struct {
		Trials []struct {
			Number    int            `json:"number"`
			UserAttrs map[string]any `json:"user_attrs"`
		} `json:"trials"`
	}
	if err := json.Unmarshal(raw, &py); err != nil {
		t.Fatal(err)
	}
	for _, tr := range py.Trials {
		_, has := tr.UserAttrs[study.AttrConfirmPrefix+"2"]
		if has != confirmed[tr.Number] {
			t.Errorf("optuna reads trial %d with confirm_run_2 = %v", tr.Number, tr.UserAttrs[study.AttrConfirmPrefix+"2"])
		}
	}
}

// bestAnswer reads the e2e study's answer back with `best`, in each format.
// htmlReport checks the HTML report optimize wrote (stderr is its) and the
// one `report` writes where told.
func htmlReport(t *testing.T, s *sandbox, dir, stderr, name string) {
	t.Helper()
	want := filepath.Join("optuna_studies", name, "report.html")
	if !strings.Contains(stderr, "HTML report: "+want+"\n") {
		t.Errorf("optimize did not name its HTML report %s:\n%s", want, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
		t.Error(err)
	}
	out := filepath.Join(dir, "elsewhere.html")
	code, stdout, errOut := s.runIn(t, dir, "report", "--study", name, "--out", out)
	if code != 0 || strings.TrimSpace(stdout) != out {
		t.Errorf("report --out: exit %d\n%s\n%s", code, stdout, errOut)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `id="chart-pareto"`) {
		t.Errorf("report --out wrote no page with a Pareto chart: %v", err)
	}
}

func bestAnswer(t *testing.T, s *sandbox, dir, model string) {
	t.Helper()
	for _, format := range []string{"cmd", "yaml", "json"} {
		code, out, stderr := s.runIn(t, dir, "best", "--study", "e2e", "--format", format)
		if code != 0 || !strings.HasPrefix(out, "# e2e: ") && format != "json" {
			t.Errorf("best --format %s: exit %d\n%s\n%s", format, code, out, stderr)
			continue
		}
		switch format {
		case "cmd":
			if !strings.Contains(out, "simulate "+model) {
				t.Errorf("best: %s", out)
			}
		case "yaml":
			if !strings.Contains(out, "max_num_seqs: ") && !strings.Contains(out, "{}") {
				t.Errorf("best --format yaml: %s", out)
			}
		case "json":
			var got struct {
				Answers []struct {
					Trial   int    `json:"trial"`
					Command string `json:"command"`
				} `json:"answers"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Answers) == 0 || !strings.Contains(got.Answers[0].Command, "simulate "+model) {
				t.Errorf("best --format json: %v\n%s", err, out)
			}
		}
	}
}

// A real third-party server: llm-d-inference-sim (built by scripts/llmd-sim.sh).
// `make test-e2e` runs it; `make test` leaves it out (-skip): the server takes
// over an hour to compile on 2 cores.
func TestLocalOptimizeOnLLMDSim(t *testing.T) {
	sim := testenv.Path(t, "ATV_LLMD_SIM", "end-to-end study", "run this study with `make test-e2e`, which builds llm-d-inference-sim (scripts/llmd-sim.sh)")
	dir := raytest.Root(t)
	example, err := os.ReadFile("../../examples/llmd-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	model := "llmd-e2e-" + filepath.Base(dir)
	cfg := filepath.Join(dir, "study.yaml")
	os.WriteFile(cfg, []byte(strings.ReplaceAll(string(example), "llmd-test-model", model)), 0o644)
	s := &sandbox{root: dir, state: filepath.Join(dir, "state"), bin: "/nonexistent"}
	s.extraEnv = []string{"LLMD_SIM=" + sim}
	tl := s.startWith(t, dir, "optimize", "--config", cfg)
	code := tl.wait(t)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, tl.stdout, tl.stderr)
	}
	out := tl.stdout.String()
	if !strings.Contains(out, "Best trial") || !strings.Contains(out, "--max-num-seqs") || !strings.Contains(out, "4 complete") {
		t.Errorf("report:\n%s\n%s", out, tl.stderr)
	}
	raytest.NoLeftovers(t, model)
}

// GuideLLM itself (0.3.x, installed by scripts/guidellm-venv.sh with a
// locally built tokenizer) measuring the simulator, baseline included.
func TestLocalOptimizeWithGuideLLM(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end study: not run with -short")
	}
	gbin := os.Getenv("ATV_GUIDELLM_BIN")
	if gbin == "" {
		t.Fatal("ATV_GUIDELLM_BIN is not set: run the tests with `make test`, which installs GuideLLM (scripts/guidellm-venv.sh)")
	}
	dir := raytest.Root(t)
	model := "e2e-guidellm-" + filepath.Base(dir)
	cfg := filepath.Join(dir, "study.yaml")
	// One GuideLLM at a time, measuring for 5 s: each imports much of the
	// Python data stack first, and two at once on a loaded 2-core machine
	// left one with no request completed inside a 2 s run.
	conf := strings.NewReplacer("e2e-sim-MODEL", model, "name: e2e", "name: gl", "n_trials: 4", "n_trials: 2",
		"max_concurrent_trials: 2", "max_concurrent_trials: 1", "confirm: {top: 2, runs: 2}", "confirm: false", "max_seconds: 2", "max_seconds: 5",
		"benchmark:\n", "benchmark:\n  benchmark_type: guidellm\n  executable: "+filepath.Join(gbin, "guidellm")+
			"\n  processor: "+filepath.Join(filepath.Dir(gbin), "tokenizer")+"\n  samples: 100\n").Replace(simStudy)
	os.WriteFile(cfg, []byte(conf), 0o644)
	s := &sandbox{root: dir, state: filepath.Join(dir, "state"), bin: "/nonexistent"}
	s.extraEnv = []string{"HF_HUB_OFFLINE=1"}
	code, out, stderr := s.runIn(t, dir, "optimize", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	trials := storedTrials(t, dir, "gl")
	if study.Completed(trials) != 2 || len(trials) != 3 { // two trials and the baseline
		t.Fatalf("%d completed of %d\n%s", study.Completed(trials), len(trials), stderr)
	}
	for _, tr := range trials {
		tps, _ := tr.UserAttrs["metric_output_tokens_per_second_mean"].(float64)
		ttft, _ := tr.UserAttrs["metric_time_to_first_token_ms_p95"].(float64)
		if tps <= 0 || ttft <= 0 {
			t.Errorf("trial %d: attrs %v", tr.Number, tr.UserAttrs)
		}
		if _, dup := tr.UserAttrs[study.AttrDuplicateOf]; dup {
			continue // the sampler drew an earlier trial's configuration: its result, reused, ran nothing
		}
		if _, err := os.Stat(filepath.Join(dir, "logs", "gl", "trial_"+strconv.Itoa(tr.Number), "guidellm_results.json")); err != nil {
			t.Errorf("trial %d (%s, attrs %v): %v", tr.Number, tr.State, tr.UserAttrs, err)
		}
	}
	raytest.NoLeftovers(t, model)
}
