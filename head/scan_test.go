package head

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

const (
	pyBin  = "/venv/bin/python"
	rayPkg = "/venv/lib/python3.11/site-packages/ray"
)

// cluster returns the processes of a Ray 2.60 head as seen on a real host
// (pids from base), started by `ray start` with --temp-dir=tmp.
func cluster(base int, tmp, nodeID string, gcsPort string) []*proc.Info {
	sess := tmp + "/session_2026-11-25_20-29-18_367708_" + itoa(base)
	t0 := time.Unix(1_800_000_000, 0)
	pg := base
	mk := func(off, ppid int, name string, env map[string]string, argv ...string) *proc.Info {
		return proc.NewInfo(base+off, ppid, pg, name, argv, env, t0)
	}
	raylet := base + 9
	return []*proc.Info{
		mk(0, 1, "ray", nil, pyBin, "/venv/bin/ray", "start", "--head", "--block", "--port="+gcsPort, "--temp-dir="+tmp),
		mk(1, base, "gcs_server", nil, rayPkg+"/core/src/ray/gcs/gcs_server", "--log_dir="+sess+"/logs", "--gcs_server_port="+gcsPort, "--session-dir="+sess),
		mk(2, base, "python", nil, pyBin, "-u", rayPkg+"/autoscaler/_private/monitor.py", "--logs-dir="+sess+"/logs", "--gcs-address=192.0.2.2:"+gcsPort),
		mk(3, base, "python", nil, pyBin, "-m", "ray.util.client.server", "--address=192.0.2.2:"+gcsPort, "--port=10001", "--node-id="+nodeID),
		mk(4, base, "python", nil, pyBin, rayPkg+"/dashboard/dashboard.py", "--host=127.0.0.1", "--temp-dir="+tmp, "--session-dir="+sess, "--gcs-address=192.0.2.2:"+gcsPort),
		mk(5, base+4, "python", nil, pyBin, "-B", "-c", "from multiprocessing.forkserver import main; main(25)"),
		mk(6, base+5, "ray-dashboard-J", nil, "ray-dashboard-JobHead-0 (/venv/bin/python -B -c from multiprocessing.forkserver)"),
		mk(8, base, "python", nil, pyBin, "-u", rayPkg+"/_private/log_monitor.py", "--session-dir="+sess, "--gcs-address=192.0.2.2:"+gcsPort),
		mk(9, base, "raylet", nil, rayPkg+"/core/src/ray/raylet/raylet", "--raylet_socket_name="+sess+"/sockets/raylet", "--gcs-address=192.0.2.2:"+gcsPort, "--temp_dir="+tmp),
		mk(10, raylet, "ray::Dashboard", map[string]string{"RAY_NODE_ID": nodeID}, "ray::DashboardAgent"),
		mk(11, raylet, "ray::RuntimeEn", map[string]string{"RAY_NODE_ID": nodeID}, "ray::RuntimeEnvAgent"),
		mk(12, raylet, "ray::IDLE", map[string]string{"RAY_RAYLET_PID": itoa(raylet)}, "ray::IDLE"),
		// A job entrypoint in its own session, reparented to init: only its
		// environment ties it to the cluster.
		proc.NewInfo(base+13, 1, base+13, "vllm", []string{"vllm", "serve"}, map[string]string{"RAY_RAYLET_PID": itoa(raylet)}, t0),
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestGroup(t *testing.T) {
	t.Parallel()
	snap := append(cluster(1000, "/tmp/atv-aaaa", "node-a", "40001"), cluster(2000, "/tmp/ray", "node-b", "6379")...)
	unrelated := proc.NewInfo(3000, 1, 3000, "bash", []string{"bash", "-c", "ray status"}, nil, time.Now())
	// A worker whose raylet is gone and whose node nobody knows.
	orphan := proc.NewInfo(3001, 1, 3001, "ray::IDLE", []string{"ray::IDLE"}, map[string]string{"RAY_NODE_ID": "node-gone"}, time.Now())
	snap = append(snap, unrelated, orphan)

	clusters, orphans := group(snap)
	if len(clusters) != 2 {
		t.Fatalf("%d clusters, want 2", len(clusters))
	}
	for i, want := range []struct {
		tmp, gcs string
		base     int
	}{{"/tmp/atv-aaaa", "192.0.2.2:40001", 1000}, {"/tmp/ray", "192.0.2.2:6379", 2000}} {
		c := clusters[i]
		if c.TempDir != want.tmp || c.GCSAddress != want.gcs || c.Orphaned {
			t.Errorf("cluster %d: temp %q gcs %q orphaned %v", i, c.TempDir, c.GCSAddress, c.Orphaned)
		}
		if !strings.HasSuffix(c.Session, "_"+itoa(want.base)) {
			t.Errorf("cluster %d session %q", i, c.Session)
		}
		roles := map[string]int{}
		for _, p := range c.Processes {
			roles[p.Role]++
			if p.PID < want.base || p.PID > want.base+13 {
				t.Errorf("cluster %d has foreign pid %d", i, p.PID)
			}
		}
		wantRoles := map[string]int{RoleRayStart: 1, RoleGCS: 1, RoleMonitor: 1, RoleClientServer: 1, RoleDashboard: 1, RoleChild: 1,
			RoleDashboardModule: 1, RoleLogMonitor: 1, RoleRaylet: 1, RoleDashboardAgent: 1, RoleRuntimeEnvAgent: 1, RoleWorker: 1, RoleEnv: 1}
		for r, n := range wantRoles {
			if roles[r] != n {
				t.Errorf("cluster %d: %d × %s, want %d (all: %v)", i, roles[r], r, n, roles)
			}
		}
	}
	if len(orphans) != 1 || orphans[0].PID != 3001 {
		t.Errorf("orphans = %+v", orphans)
	}
}

func TestGroupOrphanedCluster(t *testing.T) {
	t.Parallel()
	var snap []*proc.Info
	for _, p := range cluster(1000, "/tmp/atv-bbbb", "node-a", "40001") {
		if p.Name != "gcs_server" && p.Name != "raylet" {
			snap = append(snap, p)
		}
	}
	clusters, _ := group(snap)
	if len(clusters) != 1 || !clusters[0].Orphaned {
		t.Fatalf("clusters = %+v", clusters)
	}
}

func TestOwnedBy(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_800_000_000, 0)
	stopBegan := start.Add(time.Hour)
	st := &State{PGID: 500, RayletPID: 510, NodeID: "n1", TempDir: "/tmp/atv-1234", Start: start}
	match := ownedBy(st, stopBegan)
	tests := []struct {
		name string
		p    *proc.Info
		want bool
	}{
		{"group member", proc.NewInfo(501, 500, 500, "x", nil, nil, start), true},
		{"group reused after stop began", proc.NewInfo(501, 1, 500, "x", nil, nil, stopBegan.Add(time.Second)), false},
		{"temp dir on command line", proc.NewInfo(600, 1, 600, "x", []string{"--session-dir=/tmp/atv-1234/session_x"}, nil, start), true},
		{"similar temp dir", proc.NewInfo(601, 1, 601, "x", []string{"--temp-dir=/tmp/atv-12345"}, nil, start), false},
		{"node id in env", proc.NewInfo(602, 1, 602, "x", nil, map[string]string{"RAY_NODE_ID": "n1"}, start), true},
		{"other node", proc.NewInfo(603, 1, 603, "x", nil, map[string]string{"RAY_NODE_ID": "n2"}, start), false},
		{"raylet pid in env", proc.NewInfo(604, 1, 604, "x", nil, map[string]string{"RAY_RAYLET_PID": "510"}, start), true},
		{"recycled raylet pid", proc.NewInfo(605, 1, 605, "x", nil, map[string]string{"RAY_RAYLET_PID": "510"}, stopBegan.Add(time.Second)), false},
		{"older than the head", proc.NewInfo(606, 1, 500, "x", nil, nil, start.Add(-time.Hour)), false},
	}
	for _, tt := range tests {
		if got := match(tt.p); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	p := Ports{GCS: 1, Dashboard: 2, ClientServer: 3, DashboardAgent: 4, AgentGRPC: 5, RuntimeEnv: 6, Metrics: 7}
	got := strings.Join(command("/bin/ray", "/tmp/atv-x", p, Options{DashboardHost: "0.0.0.0", NumGPUs: 2}), " ")
	want := "/bin/ray start --head --block --disable-usage-stats --port=1 --dashboard-host=0.0.0.0 --dashboard-port=2 " +
		"--ray-client-server-port=3 --dashboard-agent-listen-port=4 --dashboard-agent-grpc-port=5 --runtime-env-agent-port=6 " +
		"--metrics-export-port=7 --temp-dir=/tmp/atv-x --num-gpus=2"
	if got != want {
		t.Errorf("command:\n got %s\nwant %s", got, want)
	}
	if got := command("/bin/ray", "/t", p, Options{NumGPUs: -1}); strings.Contains(strings.Join(got, " "), "--num-gpus") {
		t.Error("--num-gpus passed when unknown")
	}
}

func TestStateFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	st := &State{ID: "atv-1", PID: 10, TempDir: "/tmp/atv-1", Created: time.Now()}
	if err := st.write(dir); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(statePath(dir, "atv-1"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", err, info.Mode())
	}
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{"), 0o600)
	states, err := ReadStates(dir)
	if len(states) != 1 || states[0].PID != 10 || err == nil || !strings.Contains(err.Error(), "junk.json") {
		t.Errorf("states %+v, err %v", states, err)
	}
	if err := removeState(dir, "atv-1"); err != nil {
		t.Fatal(err)
	}
	if err := removeState(dir, "atv-1"); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	if states, err := ReadStates(filepath.Join(dir, "missing")); states != nil || err != nil {
		t.Errorf("missing dir: %v %v", states, err)
	}
}
