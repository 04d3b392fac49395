package head

import (
	"context"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

// groupOf lists the live processes of one process group.
func groupOf(t *testing.T, pgid int) []*proc.Info {
	t.Helper()
	snap, err := proc.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*proc.Info
	for _, p := range snap {
		if p.PGID == pgid && !p.Zombie {
			out = append(out, p)
		}
	}
	return out
}

// killHeadByHand does what the user did: SIGKILL to `ray start`, its GCS
// server and its raylet, and nothing else.
func killHeadByHand(t *testing.T, f *raytest.Foreign) {
	t.Helper()
	if err := f.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, p := range groupOf(t, f.Proc.PGID) {
		if p.Name == "gcs_server" || p.Name == "raylet" {
			if err := proc.Kill(p.PID, p.StartTime, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitOrphaned waits until no process of the killed head names its session
// any more (the dashboard, monitors and client server notice their parent is
// gone and exit on their own) and returns the report then.
func waitOrphaned(t *testing.T, f *raytest.Foreign) *Report {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rep, err := Doctor(context.Background(), DoctorOptions{ProbeTimeout: 500 * time.Millisecond, StateDir: t.TempDir()})
		if rep == nil {
			t.Fatal(err)
		}
		left := false
		for _, c := range rep.Clusters {
			left = left || c.TempDir == f.TempDir
		}
		if !left {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the killed head still name its session after 2 minutes: %+v", rep.Clusters)
		}
		time.Sleep(time.Second)
	}
}

// healthyAlive fails the test, with the head's log, when the healthy head
// has died (at step).
func healthyAlive(t *testing.T, f *raytest.Foreign, step string) {
	t.Helper()
	if !f.Alive() {
		t.Fatalf("the healthy foreign head's ray start is gone (%s); its log:\n%s", step, f.Proc.Tail())
	}
}

// isAgent reports whether p is one of the agents Ray 2.60 leaves behind.
func isAgent(p Process) bool { return p.Role == RoleDashboardAgent || p.Role == RoleRuntimeEnvAgent }

// A head killed by hand leaves Ray processes that `ray doctor` lists as
// orphans; `cleanup --orphans --dry-run` kills none, `cleanup --orphans`
// kills exactly them, and a healthy foreign head on the same host is never
// touched. Some leftovers (dashboard modules) also exit on their own after a
// while, so the checks that need a process to stay put use the agents.
func TestIntegrationCleanupOrphans(t *testing.T) {
	bin := raytest.Bin(t)
	// No dashboard on the healthy head: a lighter start on a loaded host,
	// and it still runs the same daemons and agents.
	healthy := raytest.StartForeignWith(t, bin, raytest.Root(t), []string{"--include-dashboard=false"})
	victim := raytest.StartForeign(t, bin, raytest.Root(t))
	healthyAlive(t, healthy, "after starting the second head")
	before := groupOf(t, healthy.Proc.PGID)

	killHeadByHand(t, victim)
	rep := waitOrphaned(t, victim)
	healthyAlive(t, healthy, "after killing the other head")
	var listed, agents []Process
	for _, p := range rep.Orphans {
		if p.PGID == victim.Proc.PGID {
			listed = append(listed, p)
			t.Logf("orphan: pid %d %s, listening on %v: %s", p.PID, p.Role, p.Ports, p.Command)
			if isAgent(p) {
				agents = append(agents, p)
			}
		}
	}
	isListed := map[int]bool{}
	for _, p := range listed {
		isListed[p.PID] = true
	}
	for _, p := range groupOf(t, victim.Proc.PGID) {
		if !isListed[p.PID] {
			t.Logf("survivor not listed as a Ray process: pid %d %q", p.PID, p.CommandLine())
		}
	}
	if len(agents) != 2 {
		t.Fatalf("orphaned agents %+v, want the dashboard agent and the runtime env agent (Ray 2.60 leaves both)", agents)
	}
	for _, a := range agents {
		if a.Role == RoleDashboardAgent && len(a.Ports) == 0 {
			t.Errorf("the orphaned dashboard agent listens on no port: %+v", a)
		}
	}

	// Cleanup leaves processes too young to tell from a head starting up.
	for _, a := range agents {
		time.Sleep(time.Until(a.Started.Add(orphanMinAge + time.Second)))
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	// The dry run covers every orphan on the host; it must kill none.
	dry, err := Cleanup(ctx, CleanupOptions{StateDir: t.TempDir(), Orphans: true, DryRun: true, Logger: log})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	inDry := map[int]bool{}
	for _, tg := range dry.Targets {
		for _, p := range tg.Processes {
			inDry[p.PID] = tg.Orphans
		}
	}
	for _, a := range agents {
		if !inDry[a.PID] {
			t.Errorf("dry run does not list orphan %d (%s)", a.PID, a.Role)
		}
		if !proc.Alive(a.PID, a.Started) {
			t.Errorf("dry run killed %d (%s)", a.PID, a.Role)
		}
	}

	// Other tests on this host may have orphans of their own: only ours go.
	// The short grace makes Ray's agents, which sit on SIGTERM, take SIGKILL.
	only := func(p Process) bool { return p.PGID == victim.Proc.PGID }
	res, err := Cleanup(ctx, CleanupOptions{StateDir: t.TempDir(), Orphans: true, Grace: 2 * time.Second, Logger: log, only: only})
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if len(res.Targets) != 1 || !res.Targets[0].Orphans {
		t.Fatalf("cleanup result %+v, want one orphans target", res.Targets)
	}
	tg := res.Targets[0]
	if tg.Killed != len(tg.Processes) {
		t.Errorf("%d of %d orphans gone", tg.Killed, len(tg.Processes))
	}
	for _, p := range tg.Processes {
		if !isListed[p.PID] {
			t.Errorf("cleanup took pid %d (%s), which doctor did not list before", p.PID, p.Role)
		}
		if proc.Alive(p.PID, p.Started) {
			t.Errorf("orphan %d (%s) still runs", p.PID, p.Role)
		}
	}
	for _, a := range agents {
		if proc.Alive(a.PID, a.Started) {
			t.Errorf("agent %d (%s) still runs", a.PID, a.Role)
		}
	}
	// multiprocessing's resource tracker names no Ray session; it exits by
	// itself once the dashboard's modules are gone.
	if left := raytest.WaitGone(t, 30*time.Second, "", victim.Proc.PGID); len(left) > 0 {
		for _, p := range left {
			t.Errorf("left of the killed head: pid %d %q", p.PID, p.CommandLine())
		}
	}

	again, err := Cleanup(ctx, CleanupOptions{StateDir: t.TempDir(), Orphans: true, Logger: log, only: only})
	if err != nil || len(again.Targets) != 0 {
		t.Errorf("second cleanup: %+v, %v; want nothing to do", again, err)
	}

	healthyAlive(t, healthy, "after cleanup --orphans")
	for _, p := range before {
		if r := classify(p); (r == RoleGCS || r == RoleRaylet || r == RoleDashboardAgent || r == RoleRuntimeEnvAgent) && !proc.Alive(p.PID, p.StartTime) {
			t.Errorf("the healthy head lost its %s (pid %d)", r, p.PID)
		}
	}
	c, err := gcs.Dial(ctx, healthy.Address, gcs.Options{ProbeTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("the healthy head's GCS: %v", err)
	}
	defer c.Close()
	if nodes, err := c.Nodes(ctx); err != nil || len(nodes) == 0 || !nodes[0].Alive {
		t.Errorf("the healthy head's nodes: %+v, %v", nodes, err)
	}
}
