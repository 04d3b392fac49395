package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary built for the tests (35 MB a run otherwise
// left in the temp dir).
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds the CLI once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "atv-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "auto-tune-vllm")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = &exec.ExitError{}
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return binPath
}

// tool is one run of the real binary in its own process group, with an
// isolated TMPDIR and state dir.
type tool struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	stdout *syncBuffer
	done   chan struct{}
	code   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type sandbox struct {
	bin, root, state string
	extraEnv         []string
}

func newSandbox(t *testing.T) *sandbox {
	bin := raytest.Bin(t)
	root := raytest.Root(t)
	return &sandbox{bin: bin, root: root, state: filepath.Join(root, "state")}
}

func (s *sandbox) start(t *testing.T, args ...string) *tool {
	t.Helper()
	return s.startWith(t, "", args...)
}

func (s *sandbox) startWith(t *testing.T, dir string, args ...string) *tool {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = raytest.Env(t, s.bin, append([]string{"TMPDIR=" + s.root, "ATV_STATE_DIR=" + s.state, "HOME=" + s.root}, s.extraEnv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tl := &tool{cmd: cmd, stderr: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = tl.stdout, tl.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		tl.code = cmd.ProcessState.ExitCode()
		close(tl.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-tl.done
	})
	return tl
}

func (s *sandbox) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return s.runIn(t, "", args...)
}

// startIn starts the binary with dir as its working directory.
func (s *sandbox) startIn(t *testing.T, dir string, args ...string) *tool {
	t.Helper()
	return s.startWith(t, dir, args...)
}

func (s *sandbox) runIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	tl := s.startWith(t, dir, args...)
	select {
	case <-tl.done:
	case <-time.After(4 * time.Minute):
		t.Fatalf("%v did not finish; stderr:\n%s", args, tl.stderr)
	}
	return tl.code, tl.stdout.String(), tl.stderr.String()
}

// waitFor waits until stderr contains s.
func (tl *tool) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(tl.stderr.String(), s) {
		select {
		case <-tl.done:
			t.Fatalf("exited %d before %q; stderr:\n%s", tl.code, s, tl.stderr)
		case <-deadline:
			t.Fatalf("no %q; stderr:\n%s", s, tl.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (tl *tool) wait(t *testing.T) int {
	select {
	case <-tl.done:
		return tl.code
	case <-time.After(2 * time.Minute):
		t.Fatalf("did not exit; stderr:\n%s", tl.stderr)
	}
	return -1
}

// infoLines returns the INFO/WARNING lines' messages in order.
func infoLines(stderr string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "INFO: "); ok {
			out = append(out, m)
		}
	}
	return out
}

func (s *sandbox) assertClean(t *testing.T) {
	t.Helper()
	raytest.NoLeftovers(t, s.root)
	if dirs, _ := filepath.Glob(filepath.Join(s.root, "atv-*")); len(dirs) > 0 {
		t.Errorf("temp dirs left: %v", dirs)
	}
	if states, _ := head.ReadStates(s.state); len(states) > 0 {
		t.Errorf("state files left: %d", len(states))
	}
}

// existingClusterTools: ray status, doctor and cleanup on a cluster that is
// not ours.
func existingClusterTools(t *testing.T, s *sandbox, foreign *raytest.Foreign) {
	t.Helper()
	code, out, stderr := s.run(t, "ray", "status", "--address", foreign.Address, "--json")
	var st struct {
		RayVersion string             `json:"ray_version"`
		Dashboard  string             `json:"dashboard_url"`
		Total      map[string]float64 `json:"total"`
		Nodes      []struct{ Alive, Head bool }
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Nodes) != 1 || !st.Nodes[0].Head || st.Total["CPU"] <= 0 || st.Dashboard == "" {
		t.Errorf("ray status --json: exit %d %+v\n%s%s", code, st, out, stderr)
	}
	code, out, _ = s.run(t, "ray", "status", "--address", foreign.Address)
	if code != 0 || !strings.Contains(out, "alive (head)") || !strings.Contains(out, "Ray cluster "+foreign.Address) {
		t.Errorf("ray status: exit %d\n%s", code, out)
	}

	code, out, _ = s.run(t, "ray", "doctor", "--json")
	var rep head.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("ray doctor: exit %d\n%s", code, out)
	}
	var mine *head.Cluster
	for i, c := range rep.Clusters {
		if c.TempDir == foreign.TempDir {
			mine = &rep.Clusters[i]
		}
	}
	if mine == nil || mine.Ours || !mine.GCSAnswers || !strings.HasPrefix(mine.RayVersion, "2.") || mine.Orphaned {
		t.Fatalf("doctor's view of the foreign cluster: %+v", mine)
	}
	roles := map[string]bool{}
	for _, p := range mine.Processes {
		roles[p.Role] = true
	}
	for _, r := range []string{head.RoleRayStart, head.RoleGCS, head.RoleRaylet, head.RoleDashboard} {
		if !roles[r] {
			t.Errorf("doctor found no %s: %v", r, roles)
		}
	}
	if mine.Cleanup != "auto-tune-vllm ray cleanup --session "+mine.Session {
		t.Errorf("cleanup command %q", mine.Cleanup)
	}

	code, out, _ = s.run(t, "ray", "cleanup", "--session", mine.Session, "--dry-run")
	if code != 0 || !strings.Contains(out, "Would clean "+mine.Session) || !foreign.Alive() {
		t.Errorf("dry run: exit %d alive=%v\n%s", code, foreign.Alive(), out)
	}
	code, out, stderr = s.run(t, "ray", "cleanup", "--session", mine.Session)
	if code != 0 || !strings.Contains(out, "Cleaned "+mine.Session) {
		t.Errorf("cleanup: exit %d\n%s%s", code, out, stderr)
	}
	select {
	case <-foreign.Proc.Done():
	case <-time.After(30 * time.Second):
		t.Error("foreign ray start still running after cleanup")
	}
	if left := raytest.WaitGone(t, 10*time.Second, foreign.TempDir, foreign.Proc.PGID); len(left) > 0 {
		t.Errorf("%d processes of the cleaned cluster left", len(left))
	}
	code, _, stderr = s.run(t, "ray", "cleanup", "--session", mine.Session)
	if code != exitFailure || !strings.Contains(stderr, "no such Ray session") {
		t.Errorf("cleanup of a gone session: exit %d %s", code, stderr)
	}
}

// SIGKILL of the tuner: the kernel takes the head down (parent-death
// signals); the record left behind is found and removed by cleanup --stale.
func TestIntegrationSIGKILLLeavesNoHead(t *testing.T) {
	s := newSandbox(t)
	foreign := raytest.StartForeign(t, s.bin, s.root)
	cfg := studyFile(t)
	tl := s.start(t, "optimize", "--config", cfg, "--start-ray-head", "--hold")
	tl.waitFor(t, "Connected to newly started Ray head")
	states, err := head.ReadStates(s.state)
	if err != nil || len(states) != 1 {
		t.Fatalf("states: %v %v", states, err)
	}
	st := states[0]
	syscall.Kill(tl.cmd.Process.Pid, syscall.SIGKILL)
	tl.wait(t)
	if left := raytest.WaitGone(t, 60*time.Second, st.TempDir, st.PGID); len(left) > 0 {
		t.Fatalf("%d processes of the head outlived the tuner", len(left))
	}

	code, out, _ := s.run(t, "ray", "doctor", "--json")
	var rep head.Report
	json.Unmarshal([]byte(out), &rep)
	if code != 0 || len(rep.StaleRecords) != 1 || rep.StaleRecords[0].HeadID != st.ID || rep.StaleRecords[0].OwnerAlive {
		t.Errorf("doctor after crash: exit %d %+v", code, rep.StaleRecords)
	}
	code, out, stderr := s.run(t, "ray", "cleanup", "--stale")
	if code != 0 || !strings.Contains(out, "Cleaned "+st.ID) {
		t.Errorf("cleanup --stale: exit %d\n%s%s", code, out, stderr)
	}
	if !foreign.Alive() {
		t.Error("cleanup --stale killed a cluster that is not ours")
	}
	code, out, _ = s.run(t, "ray", "cleanup", "--stale")
	if code != 0 || !strings.Contains(out, "Nothing to clean up.") {
		t.Errorf("second cleanup --stale: exit %d %s", code, out)
	}
	foreign.Stop(t)
	s.assertClean(t)
}

// A head whose owner died while it kept running (here: a record whose owner
// PID is gone, for a head started by a process we then kill without the
// kernel's help) is stopped by cleanup --stale.
func TestIntegrationCleanupStaleRunningHead(t *testing.T) {
	s := newSandbox(t)
	cfg := studyFile(t)
	tl := s.start(t, "optimize", "--config", cfg, "--start-ray-head", "--hold", "--retain")
	tl.waitFor(t, "Connected to newly started Ray head")
	states, _ := head.ReadStates(s.state)
	if len(states) != 1 {
		t.Fatalf("states: %v", states)
	}
	// Pretend the owner is long gone: a PID that cannot exist.
	raw, _ := os.ReadFile(filepath.Join(s.state, states[0].ID+".json"))
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["owner_pid"] = 1 << 30
	raw, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(s.state, states[0].ID+".json"), raw, 0o600)

	code, out, stderr := s.run(t, "ray", "cleanup", "--stale", "--json")
	var res head.CleanupResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Targets) != 1 || !res.Targets[0].Ours || len(res.Targets[0].Processes) < 5 {
		t.Fatalf("cleanup --stale: exit %d\n%s%s", code, out, stderr)
	}
	if c := tl.wait(t); c == 0 {
		t.Errorf("tuner exited 0 after losing its head")
	}
	if !strings.Contains(tl.stderr.String(), "ray head") {
		t.Errorf("tuner did not report the lost head:\n%s", tl.stderr)
	}
	s.assertClean(t)
}

// SIGINT or SIGTERM, during start-up or once connected: the head is stopped,
// nothing is left, exit 130.
func TestIntegrationSignalsStopHead(t *testing.T) {
	tests := []struct {
		name  string
		sig   syscall.Signal
		after string
	}{
		{"SIGINT when connected", syscall.SIGINT, "Connected to newly started Ray head"},
		{"SIGTERM during start-up", syscall.SIGTERM, "Starting Ray head with command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSandbox(t)
			tl := s.start(t, "optimize", "--config", studyFile(t), "--start-ray-head", "--hold")
			tl.waitFor(t, tt.after)
			time.Sleep(300 * time.Millisecond)
			syscall.Kill(tl.cmd.Process.Pid, tt.sig)
			if code := tl.wait(t); code != exitInterrupted {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, tl.stderr)
			}
			if !strings.Contains(tl.stderr.String(), "interrupted") {
				t.Errorf("stderr:\n%s", tl.stderr)
			}
			s.assertClean(t)
		})
	}
}
