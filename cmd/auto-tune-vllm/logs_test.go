package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(text), 0o644))
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	t0 := filepath.Join(dir, "logs", "s", "trial_0")
	writeFiles(t, t0, map[string]string{"benchmark.log": "bench 0\n", "server.log": "server 0\n", "job.log": "job 0\n",
		"confirm_1/server.log": "confirm server 1\n", "confirm_1/benchmark.log": "confirm bench 1\n", "confirm_0/server.log": "confirm server 0\n"})
	makeStudy(t, db, "s", []study.Direction{study.Maximize}, []trialSpec{
		{study.Complete, []float64{1}, map[string]any{"log_dir": t0, "confirm_run_0": map[string]any{"round": 0, "log_dir": filepath.Join(t0, "confirm_0")}}},
		{study.Fail, nil, map[string]any{"log_dir": filepath.Join(dir, "gone")}},
		{study.Running, nil, nil},
	})
	all := "==> " + t0 + "/server.log <==\nserver 0\n\n==> " + t0 + "/benchmark.log <==\nbench 0\n\n==> " + t0 + "/job.log <==\njob 0\n\n" +
		"==> " + t0 + "/confirm_0/server.log <==\nconfirm server 0\n\n==> " + t0 + "/confirm_1/server.log <==\nconfirm server 1\n\n==> " + t0 + "/confirm_1/benchmark.log <==\nconfirm bench 1\n"
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"all", []string{"--trial", "0"}, 0, all, ""},
		{"server", []string{"--trial", "0", "--server"}, 0, "==> " + t0 + "/server.log <==\nserver 0\n\n==> " + t0 + "/confirm_0/server.log <==\nconfirm server 0\n\n==> " + t0 + "/confirm_1/server.log <==\nconfirm server 1\n", ""},
		{"benchmark", []string{"--trial", "0", "--benchmark"}, 0, "==> " + t0 + "/benchmark.log <==\nbench 0\n\n==> " + t0 + "/confirm_1/benchmark.log <==\nconfirm bench 1\n", ""},
		{"saved job log", []string{"--trial", "0", "--job"}, 0, "==> " + t0 + "/job.log <==\njob 0\n", ""},
		{"job of a running trial, no cluster", []string{"--trial", "2", "--job", "--ray-address", "127.0.0.1:1", "--log-dir", filepath.Join(dir, "logs")}, exitFailure, "",
			"trial 2 of study s: no job.log in " + filepath.Join(dir, "logs", "s", "trial_2") + ", and no Ray cluster to read its job's log from: no Ray cluster found: GCS not reachable at 127.0.0.1:1"},
		{"two of which", []string{"--trial", "0", "--job", "--server"}, exitUsage, "", "can't be used together"},
		{"unknown trial", []string{"--trial", "7"}, exitFailure, "", "study s has no trial 7: its trials are 0 to 2"},
		{"recorded dir gone", []string{"--trial", "1"}, exitFailure, "", "trial 1 of study s (fail): no logs in " + filepath.Join(dir, "gone") + ", the log directory recorded with the trial"},
		{"running, default dir", []string{"--trial", "2", "--log-dir", filepath.Join(dir, "elsewhere")}, exitFailure, "", "trial 2 of study s (running): no logs in " + filepath.Join(dir, "elsewhere", "s", "trial_2") + ", where a trial of this study logs while it runs"},
	}
	for _, tt := range tests {
		code, out, stderr := runCLI(t, nil, append([]string{"logs", "--study", "s", "--storage", db}, tt.args...)...)
		if code != tt.code || out != tt.stdout || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", tt.name, code, out, stderr)
		}
	}
	code, _, stderr := runCLI(t, nil, "logs", "--study", "nope", "--trial", "0", "--storage", db)
	if code != exitFailure || !strings.Contains(stderr, `study not found: "nope"`) {
		t.Errorf("unknown study: exit %d %s", code, stderr)
	}
}

// --follow prints what a running trial's logs gain and stops when the
// trial finishes, or at Ctrl-C.
func TestLogsFollow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	makeStudy(t, db, "s", []study.Direction{study.Maximize}, []trialSpec{{study.Running, nil, nil}, {study.Running, nil, nil}})
	trialDir := filepath.Join(dir, "logs", "s", "trial_0")

	var out syncBuffer
	var errb bytes.Buffer
	s := streams{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Home: t.TempDir()}
	code := make(chan int)
	go func() {
		code <- run(context.Background(), []string{"logs", "--study", "s", "--trial", "0", "--storage", db, "--log-dir", filepath.Join(dir, "logs"), "--follow", "--every", "10ms"}, s)
	}()
	writeFiles(t, trialDir, map[string]string{"server.log": "starting\n"})
	waitFor(t, &out, "starting\n")
	f, _ := os.OpenFile(filepath.Join(trialDir, "server.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("ready\n")
	f.Close()
	waitFor(t, &out, "ready\n")
	// The last lines before the trial ends are printed too.
	writeFiles(t, trialDir, map[string]string{"benchmark.log": "done\n"})
	ctx := context.Background()
	st, _ := study.Open(ctx, db)
	info, _ := st.LoadStudy(ctx, "s")
	trials, _ := st.Trials(ctx, info.ID)
	must(t, st.FinishTrial(ctx, trials[0].ID, study.Complete, []float64{1}))
	st.Close()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, errb.String())
	}
	want := "==> " + trialDir + "/server.log <==\nstarting\nready\n\n==> " + trialDir + "/benchmark.log <==\ndone\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}

	// Ctrl-C: trial 1 never ends; cancelling ends the command, cleanly.
	cctx, cancel := context.WithCancel(context.Background())
	var out1 syncBuffer
	s.Stdout = &out1
	go func() {
		code <- run(cctx, []string{"logs", "--study", "s", "--trial", "1", "--storage", db, "--log-dir", filepath.Join(dir, "logs"), "--follow", "--every", "10ms"}, s)
	}()
	writeFiles(t, filepath.Join(dir, "logs", "s", "trial_1"), map[string]string{"server.log": "up\n"})
	waitFor(t, &out1, "up\n")
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("after cancel: exit %d: %s", c, errb.String())
	}
}

// waitFor waits until out ends with want (the command polls; no deadline
// but the test's own).
func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	for !strings.HasSuffix(out.String(), want) {
		time.Sleep(5 * time.Millisecond)
	}
}
