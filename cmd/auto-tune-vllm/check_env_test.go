package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
	rayb "github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// fakeTools writes executables answering --version as the real tools do.
func fakeTools(t *testing.T, tools map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, script := range tools {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755))
	}
	return dir
}

func TestCheckEnv(t *testing.T) {
	t.Parallel()
	all := map[string]string{
		"vllm":     "echo 'INFO 12-01 loading plugins' >&2; echo 0.11.0",
		"guidellm": "echo 'guidellm version: 0.3.0'",
		"ray":      "echo 'ray, version 2.60.0'",
		"python3":  "echo 'Python 3.12.3'",
	}
	broken := map[string]string{"vllm": "echo 'ModuleNotFoundError: torch' >&2; exit 1", "python3": "exec sleep 60"}
	empty := t.TempDir()
	tests := []struct {
		name  string
		tools map[string]string
		args  []string
		code  int
		want  map[string]string // check name -> status and detail prefix
	}{
		{"everything there", all, nil, 0, map[string]string{"vllm": "ok 0.11.0 (", "guidellm": "ok guidellm version: 0.3.0", "ray": "ok ray, version 2.60.0", "python3": "ok Python 3.12.3",
			"gpus": "warning no NVIDIA GPU found", "ray cluster": "warning none reachable: fine for trials on this machine"}},
		{"nothing there", map[string]string{}, nil, exitFailure, map[string]string{"vllm": "missing not on PATH", "guidellm": "warning not on PATH", "ray": "warning not on PATH"}},
		{"broken and hanging", broken, []string{"--timeout", "1s"}, exitFailure, map[string]string{"vllm": "missing ", "python3": "warning "}},
		{"cluster asked for, not there", all, []string{"--ray-address", "127.0.0.1:1"}, exitFailure, map[string]string{"vllm": "ok", "ray cluster": "missing no Ray cluster found: GCS not reachable at 127.0.0.1:1"}},
		{"local vllm optional on Ray", map[string]string{}, []string{"--ray-address", "127.0.0.1:1"}, exitFailure, map[string]string{"vllm": "warning not on PATH"}},
	}
	for _, tt := range tests {
		dir := fakeTools(t, tt.tools)
		env := map[string]string{"PATH": dir, "RAY_TMPDIR": empty, "TMPDIR": empty}
		code, out, stderr := runCLI(t, env, append([]string{"check-env", "--json"}, tt.args...)...)
		raytest.NoLeftovers(t, dir)
		var checks []check
		if err := json.Unmarshal([]byte(out), &checks); err != nil || code != tt.code {
			t.Errorf("%s: exit %d, %v\n%s%s", tt.name, code, err, out, stderr)
			continue
		}
		got := map[string]string{}
		for _, c := range checks {
			got[c.Name] = c.Status + " " + c.Detail
		}
		for name, want := range tt.want {
			if !strings.HasPrefix(got[name], want) {
				t.Errorf("%s: %s: got %q, want %q…", tt.name, name, got[name], want)
			}
		}
	}
	// The table: a line per check, with the fix.
	code, out, _ := runCLI(t, map[string]string{"PATH": empty, "RAY_TMPDIR": empty, "TMPDIR": empty}, "check-env")
	if code != exitFailure || !strings.Contains(squeeze(out), "missing vllm not on PATH: install vLLM: pip install vllm") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// One real cluster for the checks that need one: check-env's cluster line
// and logs --job, which finds a trial's Ray job by its metadata.
func TestIntegrationCheckEnvAndJobLogs(t *testing.T) {
	bin := raytest.Bin(t)
	root := raytest.Root(t)
	foreign := raytest.StartForeign(t, bin, root)
	env := map[string]string{"PATH": fakeTools(t, map[string]string{"vllm": "echo 0.11.0"}), "TMPDIR": root, "RAY_TMPDIR": root}

	code, out, stderr := runCLI(t, env, "check-env", "--ray-address", foreign.Address)
	if code != 0 || !strings.Contains(squeeze(out), "ok ray cluster Ray 2.60.0 at "+foreign.Address+": 1 alive nodes") {
		t.Errorf("check-env: exit %d\n%s%s", code, out, stderr)
	}

	db := filepath.Join(root, "s.db")
	makeStudy(t, db, "jobs", []study.Direction{study.Maximize}, []trialSpec{{study.Running, nil, nil}})
	ctx := context.Background()
	jobs := dashboard.New(foreign.DashboardURL(t), "")
	id, err := jobs.Submit(ctx, dashboard.SubmitRequest{Entrypoint: "echo hello-from-the-job", Metadata: map[string]string{rayb.MetaStudy: "jobs", rayb.MetaTrial: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if j, err := jobs.Wait(wctx, id, 200*time.Millisecond); err != nil || j.Status != dashboard.Succeeded {
		t.Fatalf("job %s: %+v %v", id, j, err)
	}
	for _, args := range [][]string{{}, {"--follow"}} {
		code, out, stderr = runCLI(t, env, append([]string{"logs", "--study", "jobs", "--trial", "0", "--storage", db, "--job", "--ray-address", foreign.Address}, args...)...)
		if code != 0 || !strings.HasPrefix(out, "==> Ray job "+id+" (SUCCEEDED) <==\n") || !strings.Contains(out, "hello-from-the-job") {
			t.Errorf("logs --job %v: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	code, _, stderr = runCLI(t, env, "logs", "--study", "jobs", "--trial", "0", "--storage", db, "--job", "--ray-address", "127.0.0.1:1", "--log-dir", filepath.Join(root, "logs"))
	if code != exitFailure || !strings.Contains(stderr, "no job.log in "+filepath.Join(root, "logs", "jobs", "trial_0")+", and no Ray cluster to read its job's log from") {
		t.Errorf("no cluster: exit %d %s", code, stderr)
	}
}
