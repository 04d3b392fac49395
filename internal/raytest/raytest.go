// Package raytest holds helpers for tests that run real Ray: where the pinned
// Ray lives, a private short temp root, a "foreign" head started the way a
// user would (not by auto-tune-vllm), and a check that no process is left.
package raytest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// Bin returns the bin directory of the pinned Ray venv (ATV_RAY_BIN, set by
// `make test`). Without it the test fails: CI must install Ray, not skip.
// Under -short integration tests are skipped.
func Bin(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with real Ray: not run with -short")
	}
	dir := os.Getenv("ATV_RAY_BIN")
	if dir == "" {
		t.Fatal("ATV_RAY_BIN is not set: run the tests with `make test`, which installs the pinned Ray (scripts/ray-venv.sh)")
	}
	if _, err := os.Stat(filepath.Join(dir, "ray")); err != nil {
		t.Fatalf("ATV_RAY_BIN=%s has no ray: %v", dir, err)
	}
	return dir
}

// Env is our environment with the Ray venv first on PATH and Ray's own
// discovery variables removed, so a test never finds a cluster it did not make.
func Env(t testing.TB, bin string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "RAY_ADDRESS", "RAY_TMPDIR", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+bin+":"+os.Getenv("PATH"))
	return append(env, extra...)
}

// Root makes a short private directory (Ray's Unix socket paths below a temp
// dir must fit in 107 bytes, too tight for t.TempDir()) and removes it at the
// end of the test.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "atvt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Foreign is a head started by the test itself, as a user would, with its
// own ports and temp dir.
type Foreign struct {
	Address string // 127.0.0.1:port
	TempDir string
	Proc    *proc.Process
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartForeign starts `ray start --head --block` under root and waits until
// its GCS answers with an alive head node. It is stopped at the end of the
// test, and the test then checks nothing of it is left.
func StartForeign(t testing.TB, bin, root string, extraEnv ...string) *Foreign {
	t.Helper()
	return StartForeignWith(t, bin, root, nil, extraEnv...)
}

// StartForeignWith is StartForeign with more `ray start` arguments (e.g.
// --num-cpus=0 for a head that runs no jobs).
func StartForeignWith(t testing.TB, bin, root string, args []string, extraEnv ...string) *Foreign {
	t.Helper()
	tempDir := filepath.Join(root, "foreign")
	if err := os.MkdirAll(tempDir, 0o700); err != nil {
		t.Fatal(err)
	}
	token := ""
	for _, kv := range extraEnv {
		if v, ok := strings.CutPrefix(kv, "RAY_AUTH_TOKEN="); ok {
			token = v
		}
	}
	// Ray gives its raylet a fixed 30 s to register and then exits; on a
	// loaded runner a second start usually makes it (head.Start does the same).
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		argv := []string{filepath.Join(bin, "ray"), "start", "--head", "--block", "--disable-usage-stats",
			"--port=" + strconv.Itoa(port), "--dashboard-host=127.0.0.1",
			"--dashboard-port=" + strconv.Itoa(freePort(t)),
			"--ray-client-server-port=" + strconv.Itoa(freePort(t)),
			"--dashboard-agent-listen-port=" + strconv.Itoa(freePort(t)),
			"--temp-dir=" + tempDir}
		argv = append(argv, args...)
		p, err := proc.Start(proc.Spec{Argv: argv, Env: Env(t, bin, extraEnv...), LogFile: filepath.Join(root, "foreign.log")})
		if err != nil {
			t.Fatal(err)
		}
		f := &Foreign{Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), TempDir: tempDir, Proc: p}
		t.Cleanup(func() {
			f.Stop(t)
			NoLeftovers(t, tempDir, p.PGID)
		})
		err = waitNodes(p, f.Address, token, 1)
		if err == nil {
			return f
		}
		if attempt == 1 && p.Exited() && strings.Contains(p.Tail(), "timed out during startup") {
			t.Logf("foreign head: Ray's raylet did not register within 30 s; starting it once more")
			f.Stop(t)
			continue
		}
		t.Fatalf("foreign head: %v", err)
	}
}

// readyWait bounds a head's start. Generous: on a loaded 2-core machine
// `import ray` alone has taken minutes; a head that is not coming exits or
// says so in its log, which the failure prints.
const readyWait = 5 * time.Minute

// waitNodes waits until the cluster at address lists n alive nodes; p
// (what should bring them up) exiting first is an error with its output.
func waitNodes(p *proc.Process, address, token string, n int) error {
	deadline := time.Now().Add(readyWait)
	for {
		if p.Exited() {
			return fmt.Errorf("exited: %w", p.Err())
		}
		if c, err := gcs.Dial(context.Background(), address, gcs.Options{Token: token, ProbeTimeout: time.Second}); err == nil {
			nodes, err := c.Nodes(context.Background())
			c.Close()
			alive := 0
			for _, node := range nodes {
				if node.Alive {
					alive++
				}
			}
			if err == nil && alive >= n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v:\n%s", readyWait, p.Tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// StartWorker joins a worker node to the foreign head, on this host (it
// shares the head's temp dir, so the head's leftover check covers it), and
// waits until the cluster lists it alive. It is stopped at the end of the test.
func (f *Foreign) StartWorker(t testing.TB, bin string, args ...string) *proc.Process {
	t.Helper()
	argv := append([]string{filepath.Join(bin, "ray"), "start", "--address=" + f.Address, "--block", "--disable-usage-stats"}, args...)
	p, err := proc.Start(proc.Spec{Argv: argv, Env: Env(t, bin), LogFile: filepath.Join(filepath.Dir(f.TempDir), "worker.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.Stop(ctx, 10*time.Second)
		NoLeftovers(t, "", p.PGID)
	})
	if err := waitNodes(p, f.Address, "", 2); err != nil {
		t.Fatalf("worker node: %v", err)
	}
	return p
}

// DashboardURL is the dashboard address the head published in GCS.
func (f *Foreign) DashboardURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	c, err := gcs.Dial(ctx, f.Address, gcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url, err := c.DashboardURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Alive reports whether the foreign head's `ray start` still runs.
func (f *Foreign) Alive() bool { return !f.Proc.Exited() }

// Stop ends the foreign head the way its owner would: SIGTERM, then its group.
func (f *Foreign) Stop(t testing.TB) {
	_ = f.Proc.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := f.Proc.KillAfter(ctx, 10*time.Second); err != nil {
		t.Errorf("stop foreign head: %v", err)
	}
}

// snapshot reads the process table; a test of this package replaces it.
var snapshot = proc.Snapshot

// Leftovers lists live processes that name dir on their command line or
// belong to one of the process groups. A process table that cannot be read
// fails the test: "nothing found" must mean nothing is there.
func Leftovers(t testing.TB, dir string, pgids ...int) []*proc.Info {
	t.Helper()
	snap, err := snapshot(context.Background())
	if err != nil {
		t.Fatalf("looking for leftover processes: %v", err)
		return nil
	}
	var left []*proc.Info
	for _, p := range snap {
		if p.Zombie {
			continue
		}
		hit := dir != "" && strings.Contains(p.CommandLine(), dir)
		for _, g := range pgids {
			hit = hit || (g > 0 && p.PGID == g)
		}
		if hit {
			left = append(left, p)
		}
	}
	return left
}

// NoLeftovers fails the test if processes of dir or the groups remain after
// a bounded wait, and kills them so one failure does not spill into others.
func NoLeftovers(t testing.TB, dir string, pgids ...int) {
	t.Helper()
	left := WaitGone(t, 30*time.Second, dir, pgids...)
	if len(left) == 0 {
		return
	}
	var names []string
	for _, p := range left {
		names = append(names, fmt.Sprintf("%d %q", p.PID, p.CommandLine()))
		_ = proc.Kill(p.PID, p.StartTime, syscall.SIGKILL)
	}
	t.Errorf("%d process(es) left behind:\n%s", len(left), strings.Join(names, "\n"))
}

// WaitGone waits up to d for the processes of dir/pgids to be gone and
// returns those still there.
func WaitGone(t testing.TB, d time.Duration, dir string, pgids ...int) []*proc.Info {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := Leftovers(t, dir, pgids...)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}
