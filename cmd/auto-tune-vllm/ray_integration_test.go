package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// rayStudy is a study whose trials run the built-in simulator: each trial
// is a Ray job that runs this binary, which starts `{self} simulate`.
const rayStudy = `
study:
  name: NAME
optimization:
  preset: balanced
  n_trials: TRIALS
  n_startup_trials: 2
  max_concurrent_trials: 2
  confirm: CONFIRM
benchmark:
  model: ray-sim
  max_seconds: SECONDS
  prompt_tokens: 64
  output_tokens: 16
  rate: 8
server:
  command: ["{self}", "simulate", "{model}", "--sim-speedup", "10", "--sim-startup-seconds", "0.2"]
  startup_timeout: 30
parameters:
  max_num_seqs: {min: 4, max: 64, step: 4}
`

// rayStudyFile writes a study named after the sandbox (so its processes and
// KV keys are told apart from other tests').
func rayStudyFile(t *testing.T, s *sandbox, trials, seconds int) (path, name string) {
	t.Helper()
	name = "ray_" + strings.ReplaceAll(filepath.Base(s.root), "-", "_")
	r := strings.NewReplacer("NAME", name, "TRIALS", strconv.Itoa(trials), "SECONDS", strconv.Itoa(seconds), "CONFIRM", "false")
	path = filepath.Join(s.root, "study.yaml")
	if err := os.WriteFile(path, []byte(r.Replace(rayStudy)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, name
}

// assertNoTrialJobs fails if a trial runner of the study is still alive
// (its command line names the study's KV namespace, not the temp dir).
func assertNoTrialJobs(t *testing.T, name string) {
	t.Helper()
	raytest.NoLeftovers(t, "ray-kv://auto_tune_vllm_"+name+"/")
}

// The spec's CI/CD use case: an ephemeral head starts, every trial runs as
// a Ray job, results are stored, the head is stopped, nothing is left.
func TestIntegrationOptimizeStartsAndStopsHead(t *testing.T) {
	s := newSandbox(t)
	cfg, name := rayStudyFile(t, s, 5, 1)
	code, out, stderr := s.runIn(t, s.root, "optimize", "--config", cfg, "--start-ray-head", "--trials", "5")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	// The spec's lines, in order, around the trials' own.
	want := []string{
		"No existing Ray cluster found, starting Ray head...",
		"Starting Ray head with command: ",
		"Started Ray head successfully",
		"Connected to newly started Ray head",
		"Stopping Ray head that we started...",
		"Successfully stopped Ray head",
	}
	var lines []string
	for _, l := range infoLines(stderr) {
		for _, w := range want {
			if strings.HasPrefix(l, w) {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("INFO lines:\n%s", strings.Join(infoLines(stderr), "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	for _, w := range []string{"ray start --head --block", "--dashboard-host=0.0.0.0", "--temp-dir=" + s.root + "/atv-"} {
		if !strings.Contains(lines[1], w) {
			t.Errorf("command line %q lacks %q", lines[1], w)
		}
	}
	for _, w := range []string{"ray_version=2.", "alive_nodes=1", "gpus=0"} {
		if !strings.Contains(lines[3], w) {
			t.Errorf("connect line %q lacks %q", lines[3], w)
		}
	}
	if !strings.Contains(stderr, "WARNING: The Ray dashboard (and its Jobs API) binds 0.0.0.0") {
		t.Errorf("no 0.0.0.0 warning:\n%s", stderr)
	}
	if !strings.Contains(out, "Pareto-optimal trials") || !strings.Contains(out, "simulate ray-sim") || strings.Contains(out, "{self}") {
		t.Errorf("report:\n%s", out)
	}
	trials := storedTrials(t, s.root, name)
	if study.Completed(trials) != 5 || len(trials) != 6 || trials[0].UserAttrs[study.AttrIsBaseline] != true {
		t.Fatalf("%d trials, %d completed", len(trials), study.Completed(trials))
	}
	for _, tr := range trials {
		if tr.State != study.Complete || len(tr.Values) != 2 {
			t.Errorf("trial %d: %v %v %v", tr.Number, tr.State, tr.Values, tr.UserAttrs)
		}
		if _, dup := tr.UserAttrs[study.AttrDuplicateOf]; dup {
			continue // told from an earlier trial's result, never run
		}
		// The node's server and benchmark logs come back next to the job's.
		for _, f := range []string{"server.log", "benchmark.log", "job.log"} {
			if st, err := os.Stat(filepath.Join(s.root, "logs", name, "trial_"+strconv.Itoa(tr.Number), f)); err != nil || st.Size() == 0 {
				t.Errorf("trial %d: %s: %v", tr.Number, f, err)
			}
		}
	}
	assertNoTrialJobs(t, name)
	s.assertClean(t)
}

// An existing cluster is used, reported and left running; its job list
// names the study and trial of every job; ray status, doctor and cleanup
// see it for what it is.
func TestIntegrationExistingCluster(t *testing.T) {
	s := newSandbox(t)
	foreign := raytest.StartForeign(t, s.bin, s.root)
	cfg, name := rayStudyFile(t, s, 2, 1)

	// A trial that no node can hold: refused before the study exists.
	code, _, stderr := s.runIn(t, s.root, "optimize", "--config", cfg, "--ray-address", foreign.Address, "--ray-cpus-per-trial", "4096")
	if code != exitFailure || !strings.Contains(stderr, "asks for 4096 CPU(s), but the largest node of the Ray cluster") {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(s.root, "optuna_studies")); err == nil {
		t.Error("a study was created for a trial that cannot run")
	}

	// The nodes' own binary (here: the one under test) instead of a shipped one.
	code, _, stderr = s.runIn(t, s.root, "optimize", "--config", cfg, "--backend", "ray", "--start-ray-head", "--ray-address", foreign.Address, "--ray-executable", binary(t))
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	lines := infoLines(stderr)
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "Connected to existing Ray cluster address="+foreign.Address+" ray_version=2.") ||
		!strings.Contains(lines[0], "alive_nodes=1 gpus=0") || strings.Contains(stderr, "Stopping Ray head") {
		t.Errorf("INFO lines: %q", lines)
	}
	if !foreign.Alive() {
		t.Fatal("optimize stopped a cluster it did not start")
	}
	if n := study.Completed(storedTrials(t, s.root, name)); n != 2 {
		t.Errorf("%d trials completed", n)
	}
	jobs := foreignJobs(t, foreign)
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Metadata["auto_tune_vllm_study"] != name {
			continue
		}
		seen[j.Metadata["auto_tune_vllm_trial"]] = true
		if j.Status != dashboard.Succeeded || !strings.HasPrefix(j.SubmissionID, "atv-"+name+"-trial-") || !strings.HasPrefix(j.Entrypoint, "exec "+binary(t)+" trial run --spec ray-kv://") {
			t.Errorf("job %s: %s %s", j.SubmissionID, j.Status, j.Message)
		}
	}
	if len(seen) != 3 || !seen["0"] || !seen["2"] {
		t.Errorf("jobs of the study by trial: %v", seen)
	}
	assertNoTrialJobs(t, name)

	// A job that fails (its entrypoint cannot run) is a failed trial with
	// Ray's reason and the job's log.
	cfg2 := filepath.Join(s.root, "study2.yaml")
	raw, _ := os.ReadFile(cfg)
	os.WriteFile(cfg2, []byte(strings.Replace(string(raw), "name: "+name, "name: "+name+"_bad", 1)), 0o644)
	code, _, stderr = s.runIn(t, s.root, "optimize", "--config", cfg2, "--ray-address", foreign.Address, "--ray-executable", "/nonexistent/auto-tune-vllm", "--max-consecutive-failures", "1")
	if code != exitFailure || !strings.Contains(stderr, "too many consecutive failed trials") {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}
	bad := storedTrials(t, s.root, name+"_bad")
	if len(bad) > 0 {
		t.Logf("failed trial: %q", bad[0].UserAttrs[study.AttrErrorMessage])
	}
	if len(bad) != 1 || bad[0].State != study.Fail || bad[0].UserAttrs[study.AttrErrorType] != "ray_job_failed" ||
		!strings.Contains(bad[0].UserAttrs[study.AttrErrorMessage].(string), "failed: Job entrypoint command failed with exit code 127: ") ||
		!strings.Contains(bad[0].UserAttrs[study.AttrErrorMessage].(string), "/nonexistent/auto-tune-vllm") {
		t.Errorf("trials: %+v", bad)
	}
	if log, err := os.ReadFile(filepath.Join(s.root, "logs", name+"_bad", "trial_0", "job.log")); err != nil || !strings.Contains(string(log), "/nonexistent/auto-tune-vllm") {
		t.Errorf("job.log: %v\n%s", err, log)
	}
	intermediateOverRay(t, s, foreign, cfg, name+"_curve")
	existingClusterTools(t, s, foreign)
}

// intermediateOverRay: a single-objective study on Ray stores each trial's
// objective second by second while its job runs. Storage refuses an
// intermediate value once a trial has finished, so the values can only
// have come through the job's events while it ran. Its confirmation runs
// are Ray jobs too, stored on their trials.
func intermediateOverRay(t *testing.T, s *sandbox, foreign *raytest.Foreign, base, name string) {
	t.Helper()
	raw, _ := os.ReadFile(base)
	text := strings.NewReplacer("preset: balanced", "preset: high_throughput", "max_seconds: 1", "max_seconds: 4",
		"n_trials: 2", "n_trials: 1", "confirm: false", "confirm: {top: 1, runs: 2}").Replace(strings.Replace(string(raw), "name: ", "name: "+name+" #", 1))
	cfg := filepath.Join(s.root, "curve.yaml")
	os.WriteFile(cfg, []byte(text), 0o644)
	code, _, stderr := s.runIn(t, s.root, "optimize", "--config", cfg, "--ray-address", foreign.Address, "--ray-executable", binary(t))
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	trials := storedTrials(t, s.root, name)
	if len(trials) != 2 {
		t.Fatalf("%d trials, want the baseline and one", len(trials))
	}
	for _, tr := range trials {
		if tr.State != study.Complete || len(tr.Intermediate) < 2 || tr.Intermediate[1] <= 0 {
			t.Errorf("trial %d (%s): intermediate values %v", tr.Number, tr.State, tr.Intermediate)
		}
		for _, key := range []string{study.AttrConfirmPrefix + "1", study.AttrConfirmPrefix + "2"} {
			if run, _ := tr.UserAttrs[key].(map[string]any); run == nil || run["values"] == nil {
				t.Errorf("trial %d: %s = %v", tr.Number, key, tr.UserAttrs[key])
			}
		}
	}
	if !strings.Contains(stderr, "Confirming trial 1 against the baseline: 2 runs each") {
		t.Errorf("no confirmation:\n%s", stderr)
	}
}

func foreignJobs(t *testing.T, foreign *raytest.Foreign) []dashboard.Job {
	t.Helper()
	jobs, err := dashboard.New(foreign.DashboardURL(t), "").Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// The head we started is killed mid-study: the running trial fails with the
// reason, the tool exits non-zero without hanging, nothing is left.
func TestIntegrationRayHeadKilledMidStudy(t *testing.T) {
	s := newSandbox(t)
	cfg, name := rayStudyFile(t, s, 3, 20)
	tl := s.startIn(t, s.root, "optimize", "--config", cfg, "--start-ray-head")
	tl.waitFor(t, "Running baseline")
	states, err := head.ReadStates(s.state)
	if err != nil || len(states) != 1 {
		t.Fatalf("states: %v %v", states, err)
	}
	waitTrialRunning(t, s)
	// The head's whole process group: GCS, raylet, dashboard.
	syscall.Kill(-states[0].PGID, syscall.SIGKILL)
	start := time.Now()
	code := tl.wait(t)
	if code == 0 || code == exitInterrupted {
		t.Errorf("exit %d after the head died\n%s", code, tl.stderr)
	}
	if d := time.Since(start); d > 90*time.Second {
		t.Errorf("took %s to give up", d)
	}
	t.Logf("stderr:\n%s", tl.stderr)
	if !strings.Contains(tl.stderr.String(), "lost the Ray cluster") {
		t.Errorf("no reason given:\n%s", tl.stderr)
	}
	trials := storedTrials(t, s.root, name)
	if len(trials) == 0 || trials[0].State != study.Fail || !strings.Contains(trials[0].UserAttrs[study.AttrErrorMessage].(string), "lost the Ray cluster") {
		t.Errorf("trial 0: %+v", trials)
	}
	assertNoTrialJobs(t, name)
	s.assertClean(t)
}

// waitTrialRunning waits until a trial's server runs on the node (from the
// package unpacked under the sandbox), i.e. its job is running.
func waitTrialRunning(t *testing.T, s *sandbox) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, p := range raytest.Leftovers(t, s.root) {
			if strings.Contains(p.CommandLine(), "simulate ray-sim") {
				time.Sleep(time.Second)
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no trial server started")
}

// SIGINT during a Ray study: the jobs are stopped, then the head; the study
// resumes (on a fresh head) to n_trials.
func TestIntegrationRaySIGINTResumable(t *testing.T) {
	s := newSandbox(t)
	cfg, name := rayStudyFile(t, s, 3, 20)
	tl := s.startIn(t, s.root, "optimize", "--config", cfg, "--start-ray-head")
	tl.waitFor(t, "Running baseline")
	waitTrialRunning(t, s)
	syscall.Kill(tl.cmd.Process.Pid, syscall.SIGINT)
	if code := tl.wait(t); code != exitInterrupted {
		t.Errorf("exit %d after SIGINT\n%s", code, tl.stderr)
	}
	for _, w := range []string{"Successfully stopped Ray head", "auto-tune-vllm resume --config"} {
		if !strings.Contains(tl.stderr.String(), w) {
			t.Errorf("no %q:\n%s", w, tl.stderr)
		}
	}
	assertNoTrialJobs(t, name)
	s.assertClean(t)

	// Short trials for the rest.
	raw, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(raw), "max_seconds: 20", "max_seconds: 1", 1)), 0o644)
	code, out, stderr := s.runIn(t, s.root, "resume", "--config", cfg, "--start-ray-head")
	if code != 0 || !strings.Contains(stderr, "Resuming study") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, stderr)
	}
	trials := storedTrials(t, s.root, name)
	interrupted := 0
	for _, tr := range trials {
		if tr.UserAttrs[study.AttrErrorType] == "interrupted" {
			interrupted++
		}
	}
	if study.Completed(trials) != 3 || interrupted == 0 {
		t.Errorf("after resume: %d completed, %d interrupted", study.Completed(trials), interrupted)
	}
	assertNoTrialJobs(t, name)
	s.assertClean(t)
}

// trial run --spec FILE replays one trial here and prints its result.
func TestTrialRunFromFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated server: not run with -short")
	}
	dir := raytest.Root(t)
	spec, err := trial.EncodeSpec(trial.Spec{
		Number: 3, Server: []string{"{self}", "simulate", "{model}", "--sim-speedup", "10", "--sim-startup-seconds", "0.1"},
		Model: "replay-" + filepath.Base(dir), StartupTimeout: 30 * time.Second,
		Flags: []trial.Flag{{Name: "max_num_seqs", Value: int64(16)}},
		Bench: bench.Options{Concurrency: 4, Duration: 500 * time.Millisecond, Prompt: bench.TokenDist{Mean: 32}, Output: bench.TokenDist{Mean: 8}},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "spec.json")
	os.WriteFile(path, spec, 0o644)
	s := &sandbox{root: dir, state: filepath.Join(dir, "state"), bin: "/nonexistent"}
	code, out, stderr := s.runIn(t, dir, "trial", "run", "--spec", path, "--log-dir", filepath.Join(dir, "logs"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	res, errText, err := trial.DecodeResult([]byte(out))
	if err != nil || errText != "" || res.Failure != nil || res.Metrics["output_tokens_per_second_mean"] <= 0 || !strings.Contains(strings.Join(res.Command, " "), "--max-num-seqs 16") {
		t.Fatalf("result %+v %q %v\n%s", res, errText, err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "trial_3", "server.log")); err != nil {
		t.Error(err)
	}
	code, _, stderr = s.runIn(t, dir, "trial", "run", "--spec", "ray-kv://only-a-namespace")
	if code != exitFailure || !strings.Contains(stderr, "want ray-kv://NAMESPACE/ID") {
		t.Errorf("bad reference: exit %d %s", code, stderr)
	}
	raytest.NoLeftovers(t, "replay-"+filepath.Base(dir))
}

// Token auth (RAY_AUTH_MODE=token): the Jobs API, and the trial runners
// talking to GCS from inside their jobs, use the token.
func TestIntegrationRayTrialsWithTokenAuth(t *testing.T) {
	s := newSandbox(t)
	s.extraEnv = []string{"RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN=atv-test-token-0123456789abcdef0123456789abcdef"}
	cfg, name := rayStudyFile(t, s, 1, 1)
	code, _, stderr := s.runIn(t, s.root, "optimize", "--config", cfg, "--start-ray-head", "--dashboard-host", "127.0.0.1")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if n := study.Completed(storedTrials(t, s.root, name)); n != 1 {
		t.Errorf("%d trials completed", n)
	}
	assertNoTrialJobs(t, name)
	s.assertClean(t)
}

// Two nodes: a head with no CPUs for jobs and a worker with one. Every trial
// runs on the worker, one at a time (the cluster's CPUs bound concurrency),
// and a trial that would need more than any one node has is refused.
func TestIntegrationRayTrialsOnWorkerNode(t *testing.T) {
	s := newSandbox(t)
	foreign := raytest.StartForeignWith(t, s.bin, s.root, []string{"--num-cpus=0"})
	foreign.StartWorker(t, s.bin, "--num-cpus=1")
	cfg, name := rayStudyFile(t, s, 2, 1)

	code, _, stderr := s.runIn(t, s.root, "optimize", "--config", cfg, "--ray-address", foreign.Address, "--ray-cpus-per-trial", "2")
	if code != exitFailure || !strings.Contains(stderr, "asks for 2 CPU(s), but the largest node of the Ray cluster") {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}
	code, _, stderr = s.runIn(t, s.root, "optimize", "--config", cfg, "--ray-address", foreign.Address)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "2 trials at once were asked for, but only 1 fit") {
		t.Errorf("no concurrency warning:\n%s", stderr)
	}
	ctx := context.Background()
	c, err := gcs.Dial(ctx, foreign.Address, gcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nodes, _ := c.Nodes(ctx)
	worker := ""
	for _, n := range nodes {
		if n.Alive && !n.Head {
			worker = n.ID
		}
	}
	if worker == "" {
		t.Fatalf("no worker node among %+v", nodes)
	}
	ran := 0
	for _, j := range foreignJobs(t, foreign) {
		if j.Metadata["auto_tune_vllm_study"] == name {
			ran++
			if j.DriverNodeID != worker || j.Status != dashboard.Succeeded {
				t.Errorf("job %s: %s on node %s, want the worker %s", j.SubmissionID, j.Status, j.DriverNodeID, worker)
			}
		}
	}
	// A configuration sampled twice reuses the first result without a job
	// (1 in 16 here): one job for the baseline and each distinct one.
	stored := storedTrials(t, s.root, name)
	distinct := map[string]bool{}
	for _, tr := range stored {
		distinct[fmt.Sprint(tr.Kind(), tr.Params)] = true
	}
	if ran != len(distinct) || study.Completed(stored) != 2 {
		t.Errorf("%d jobs ran for %d distinct configurations; %d trials completed", ran, len(distinct), study.Completed(stored))
	}
	assertNoTrialJobs(t, name)
}
