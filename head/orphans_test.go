package head

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
)

// without drops the named processes (by kernel name) from a snapshot.
func without(snap []*proc.Info, names ...string) []*proc.Info {
	var out []*proc.Info
	for _, p := range snap {
		drop := false
		for _, n := range names {
			drop = drop || p.Name == n
		}
		if !drop {
			out = append(out, p)
		}
	}
	return out
}

func TestPortNotes(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_800_000_000, 0)
	// A healthy cluster on Ray's default ports: someone's working cluster.
	snap := cluster(1000, "/tmp/ray", "node-a", "6379")
	// The agents of a head killed by hand (as Ray 2.60 leaves them: their
	// raylet is gone, so their node names no session any more).
	snap = append(snap,
		proc.NewInfo(5000, 1, 4990, "ray::Dashboard", []string{"ray::DashboardAgent"}, map[string]string{"RAY_NODE_ID": "node-gone"}, t0),
		proc.NewInfo(5001, 1, 4990, "ray::RuntimeEn", []string{"ray::RuntimeEnvAgent"}, map[string]string{"RAY_NODE_ID": "node-gone"}, t0))
	// A cluster whose GCS server and raylet are gone but whose client server
	// still names its session.
	for _, p := range without(cluster(3000, "/tmp/atv-cccc", "node-c", "40001"), "gcs_server", "raylet") {
		if p.PID < 3009 { // the raylet's children would be orphans
			snap = append(snap, p)
		}
	}
	// A head we started whose owner is gone, on the default dashboard port.
	snap = append(snap, cluster(6000, "/tmp/atv-dddd", "node-d", "40002")...)
	states := []*State{{ID: "atv-dddd", TempDir: "/tmp/atv-dddd", OwnerPID: 0}}
	ports := map[int][]int{
		1001: {6379}, 1003: {10001}, 1004: {8265}, 1010: {52365},
		5000: {41000, 52365}, 5001: {38000},
		3003: {10001},
		6004: {8265},
	}

	rep := assemble(snap, states, ports, "atv")
	if len(rep.Orphans) != 2 {
		t.Fatalf("orphans = %+v", rep.Orphans)
	}
	got := map[int]PortNote{}
	for _, n := range rep.PortNotes {
		got[n.PID] = n
	}
	if len(rep.PortNotes) != 3 {
		t.Errorf("%d notes, want 3 (pids 3003, 5000, 6004): %+v", len(rep.PortNotes), rep.PortNotes)
	}
	agent := got[5000]
	want := "pid 5000 (dashboard_agent, orphan) listens on 52365, Ray's default dashboard agent port: " +
		"the next `ray start --head` without --dashboard-agent-listen-port will fail; run `atv ray cleanup --orphans`"
	if agent.Message != want || agent.Port != 52365 || agent.Leftover != "orphan" || agent.Cleanup != "atv ray cleanup --orphans" {
		t.Errorf("orphan's note = %+v\nwant message %s", agent, want)
	}
	client := got[3003]
	if client.Port != 10001 || client.Role != RoleClientServer || !strings.HasSuffix(client.Leftover, "_3000") ||
		client.Cleanup != "atv ray cleanup --session "+client.Leftover || !strings.Contains(client.Message, "of orphaned cluster") {
		t.Errorf("orphaned cluster's note = %+v", client)
	}
	dash := got[6004]
	if dash.Port != 8265 || !strings.Contains(dash.Message, "of stale cluster") || !strings.Contains(dash.Message, "no dashboard") {
		t.Errorf("stale cluster's note = %+v", dash)
	}
	for pid := range got {
		if pid >= 1000 && pid < 2000 {
			t.Errorf("a healthy cluster got a note: %+v", got[pid])
		}
	}
}

// A snapshot without leftovers gives an empty list, never null in JSON.
func TestPortNotesNone(t *testing.T) {
	t.Parallel()
	rep := assemble(cluster(1000, "/tmp/ray", "node-a", "6379"), nil, map[int][]int{1001: {6379}}, "atv")
	if rep.PortNotes == nil || len(rep.PortNotes) != 0 {
		t.Errorf("notes = %#v", rep.PortNotes)
	}
}

// killOrphans takes a process that sits on SIGTERM down with SIGKILL, and
// leaves alone a PID whose start time is not the one listed (a PID reused
// since the snapshot).
func TestKillOrphans(t *testing.T) {
	t.Parallel()
	start := func() *proc.Process {
		p, err := proc.Start(proc.Spec{Argv: []string{"sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.Stop(context.Background(), time.Second)
			raytest.NoLeftovers(t, "", p.PGID)
		})
		for !strings.Contains(p.Tail(), "ready") && !p.Exited() {
			time.Sleep(10 * time.Millisecond)
		}
		return p
	}
	stubborn, reused := start(), start()
	ps := []Process{
		{PID: stubborn.PID, Role: RoleDashboardAgent, Started: stubborn.StartTime},
		{PID: reused.PID, Role: RoleRuntimeEnvAgent, Started: reused.StartTime.Add(-time.Hour)},
	}
	gone, err := killOrphans(context.Background(), ps, 100*time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil || gone != 2 {
		t.Errorf("killOrphans: %d gone, %v; want 2 (one killed, one no longer there as listed)", gone, err)
	}
	<-stubborn.Done()
	if reused.Exited() {
		t.Error("the process behind a reused PID was killed")
	}
}

// --orphans leaves a head that is starting up (its processes descend from a
// live `ray start` and no cluster claims them yet) and very young
// processes; a reparented agent of a head killed by hand goes.
func TestKillable(t *testing.T) {
	now := time.Now()
	old := now.Add(-time.Minute)
	rep := &Report{
		Orphans: []Process{
			{PID: 100, PPID: 1, Role: RoleRayStart, Started: old},
			{PID: 101, PPID: 100, Role: "gcs_server", Started: old},
			{PID: 102, PPID: 101, Role: "dashboard_agent", Started: old},
			{PID: 200, PPID: 1, Role: "dashboard_agent", Started: old},
			{PID: 201, PPID: 1, Role: "runtime_env_agent", Started: now.Add(-2 * time.Second)},
			{PID: 202, PPID: 300, Role: "dashboard-module", Started: old},
		},
		Clusters: []Cluster{{Processes: []Process{{PID: 300, PPID: 1, Role: "dashboard", Started: old}}}},
	}
	var got []int
	for _, p := range killable(rep, now, slog.New(slog.DiscardHandler)) {
		got = append(got, p.PID)
	}
	if want := []int{200, 202}; !slices.Equal(got, want) {
		t.Errorf("killable %v, want %v", got, want)
	}
}
