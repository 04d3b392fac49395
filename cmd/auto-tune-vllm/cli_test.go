package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs a command in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	s := streams{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }, Environ: environ, Home: t.TempDir()}
	code := run(context.Background(), args, s)
	return code, out.String(), errb.String()
}

func studyFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "study.yaml")
	os.WriteFile(p, []byte("study:\n  name: t\noptimization:\n  preset: balanced\n  n_trials: 5\n  n_startup_trials: 2\nbenchmark:\n  model: m\n"), 0o644)
	return p
}

func TestNoClusterExactError(t *testing.T) {
	t.Parallel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	empty := t.TempDir()
	cfg := studyFile(t)
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		cause string
	}{
		{"no address anywhere", map[string]string{"RAY_TMPDIR": empty, "TMPDIR": empty},
			[]string{"optimize", "--config", cfg, "--backend", "ray"},
			"no Ray cluster found: RAY_ADDRESS is not set and there is no ray_current_cluster in " + filepath.Join(empty, "ray") + " or /tmp/ray"},
		{"address that does not answer", map[string]string{"RAY_ADDRESS": closed},
			[]string{"optimize", "--config", cfg, "--backend", "ray"},
			"no Ray cluster found: GCS not reachable at " + closed + ": connection refused (address from RAY_ADDRESS)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, tt.args...)
			want := "Failed to connect to Ray cluster: " + tt.cause + "\n" +
				"Use --start-ray-head to automatically start a Ray head, or start one manually:\n" +
				"  ray start --head\n"
			if code != exitFailure || !strings.HasSuffix(stderr, want) {
				t.Errorf("exit %d, stderr:\n%s\nwant ending:\n%s", code, stderr, want)
			}
		})
	}
}

// --start-ray-head with an address that does not answer starts nothing and
// says why, instead of suggesting the flag just given.
func TestStartHeadWithDeadAddress(t *testing.T) {
	t.Parallel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	state := t.TempDir()
	code, _, stderr := runCLI(t, map[string]string{"TMPDIR": t.TempDir()}, "optimize", "--config", studyFile(t),
		"--start-ray-head", "--ray-address", closed, "--state-dir", state)
	want := "ERROR: Failed to connect to Ray cluster: the cluster at " + closed + " (--ray-address) does not answer: "
	if code != exitFailure || !strings.Contains(stderr, want) ||
		!strings.Contains(stderr, "--start-ray-head starts a head only when no address is given") ||
		strings.Contains(stderr, "Use --start-ray-head") || strings.Contains(stderr, "starting Ray head") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("a head was recorded: %v", entries)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cfg := studyFile(t)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"optimize"}, exitUsage, "--config"},
		{[]string{"optimize", "--config", "/nonexistent.yaml"}, exitUsage, "/nonexistent.yaml"},
		{[]string{"optimize", "--config", cfg, "--backend", "slurm"}, exitUsage, "--backend"},
		{[]string{"optimize", "--config", filepath.Join(filepath.Dir(cfg), "..", "..")}, exitUsage, "--config"},
		{[]string{"ray", "cleanup"}, exitUsage, "--session ID"},
		{[]string{"ray", "cleanup", "--session", "x", "--stale"}, exitUsage, "can't be used together"},
		{[]string{"ray", "cleanup"}, exitUsage, "--stale or --orphans"},
		{[]string{"ray", "cleanup", "--orphans", "--stale"}, exitUsage, "can't be used together"},
		{[]string{"ray", "cleanup", "--orphans", "--session", "x"}, exitUsage, "can't be used together"},
		{[]string{"ray", "status", "--address", "ray://h:10001"}, exitFailure, "Ray Client"},
		{[]string{"simulate", "--bogus"}, exitUsage, "unrecognized arguments: --bogus"},
		{[]string{"best"}, exitUsage, "give --study NAME or --config FILE"},
		{[]string{"best", "--study", "no-such-study-here"}, exitFailure, "no config saved at optuna_studies/no-such-study-here/study_config.yaml"},
		{[]string{"best", "--config", cfg}, exitFailure, "study not found: no study storage at optuna_studies/t/study.db"},
		{[]string{"best", "--study", "x", "--format", "toml"}, exitUsage, "--format"},
		{[]string{"best", "--study", "x", "--format", "yaml", "--json"}, exitUsage, "--json and --format yaml can't be used together"},
		{[]string{"report"}, exitUsage, "give --study NAME or --config FILE"},
		{[]string{"report", "--config", cfg}, exitFailure, "study not found: no study storage at optuna_studies/t/study.db"},
		{[]string{"simulate", "--max-num-seqs", "512", "--max-num-batched-tokens", "256"}, exitFailure, "must be greater than or equal to max_num_seqs"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, map[string]string{}, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tt.args, code, tt.code, stderr, tt.want)
		}
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, nil, "optimize", "--help")
	if code != 0 || !strings.Contains(out, "130 interrupted") || !strings.Contains(out, "--start-ray-head") {
		t.Errorf("exit %d, help:\n%s", code, out)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("optimization: {preset: balanced}\nbenchmark: {model: m}\nparameters:\n  max_num_seqs: {min: 8, max: 64, step: 8}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("optimization:\n  samplr: tpe\nbenchmark: {}\n"), 0o644)

	code, out, _ := runCLI(t, nil, "validate", "--config", good)
	if code != 0 || !strings.Contains(out, "Configuration is valid") || !strings.Contains(out, "8 configurations") || !strings.Contains(out, "--max-num-seqs") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "validate", "--config", good, "--json")
	if code != 0 || !strings.Contains(out, `"name": "IntDistribution"`) {
		t.Errorf("json: exit %d:\n%s", code, out)
	}
	code, _, stderr := runCLI(t, nil, "validate", "--config", bad)
	if code != exitFailure || !strings.Contains(stderr, "bad.yaml:2:3: optimization.samplr: unknown key (did you mean \"sampler\"?)") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
	// optimize checks the config before it starts anything.
	code, _, stderr = runCLI(t, nil, "optimize", "--config", bad, "--start-ray-head")
	if code != exitFailure || !strings.Contains(stderr, "is not valid") || strings.Contains(stderr, "Ray") {
		t.Errorf("optimize with a bad config: exit %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, nil, "validate", "--config", filepath.Join(dir, "missing.yaml"))
	if code != exitFailure || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing file: exit %d %s", code, stderr)
	}
}
