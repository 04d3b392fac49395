package head

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// Roles of Ray processes, as shown by `ray doctor`.
const (
	RoleRayStart        = "ray-start"
	RoleGCS             = "gcs_server"
	RoleRaylet          = "raylet"
	RoleDashboard       = "dashboard"
	RoleDashboardModule = "dashboard-module"
	RoleMonitor         = "monitor"
	RoleLogMonitor      = "log_monitor"
	RoleClientServer    = "client_server"
	RoleDashboardAgent  = "dashboard_agent"
	RoleRuntimeEnvAgent = "runtime_env_agent"
	RoleJobSupervisor   = "job_supervisor"
	RoleWorker          = "worker"
	RoleChild           = "child"   // any other descendant of a Ray process (helpers, job entrypoints)
	RoleEnv             = "ray-env" // not below a Ray process, but carries a Ray node's environment
)

// classify names the Ray role of p from its name and command line alone; ""
// if p does not look like a Ray process. Names identify, they never decide
// what to kill: that is decided by cluster membership.
func classify(p *proc.Info) string {
	cmd := p.CommandLine()
	switch {
	case isRayStart(p.Cmdline):
		return RoleRayStart
	case p.Name == "gcs_server":
		return RoleGCS
	case p.Name == "raylet":
		return RoleRaylet
	case strings.Contains(cmd, "dashboard/dashboard.py"):
		return RoleDashboard
	case strings.HasPrefix(cmd, "ray-dashboard-"):
		return RoleDashboardModule
	case strings.Contains(cmd, "multiprocessing.forkserver") && strings.Contains(cmd, "'ray.dashboard."):
		// The dashboard's module forkserver: once the dashboard is gone it
		// is reparented to init and only its preload list names Ray.
		return RoleDashboardModule
	case strings.Contains(cmd, "autoscaler/_private/monitor.py"):
		return RoleMonitor
	case strings.Contains(cmd, "log_monitor.py"):
		return RoleLogMonitor
	case strings.Contains(cmd, "ray.util.client.server"):
		return RoleClientServer
	case strings.HasPrefix(cmd, "ray::DashboardAgent"), strings.Contains(cmd, "dashboard/agent.py"):
		return RoleDashboardAgent
	case strings.HasPrefix(cmd, "ray::RuntimeEnvAgent"), strings.Contains(cmd, "runtime_env/agent/main.py"):
		return RoleRuntimeEnvAgent
	case strings.HasPrefix(cmd, "ray::JobSupervisor"):
		return RoleJobSupervisor
	case strings.HasPrefix(cmd, "ray::"), strings.Contains(cmd, "default_worker.py"):
		return RoleWorker
	}
	return ""
}

// isRayStart matches `.../ray start ...` (the CLI script, possibly run by python).
func isRayStart(argv []string) bool {
	for i := 0; i+1 < len(argv) && i < 2; i++ {
		if filepath.Base(argv[i]) == "ray" && argv[i+1] == "start" {
			return true
		}
	}
	return false
}

// flagValue returns the value of --name=value (or "--name value") in argv.
func flagValue(argv []string, names ...string) string {
	for i, a := range argv {
		for _, n := range names {
			if v, ok := strings.CutPrefix(a, n+"="); ok {
				return v
			}
			if a == n && i+1 < len(argv) {
				return argv[i+1]
			}
		}
	}
	return ""
}

// sessionDirOf finds the Ray session dir named on p's command line.
func sessionDirOf(p *proc.Info) string {
	if v := flagValue(p.Cmdline, "--session-dir", "--session_dir"); v != "" {
		return filepath.Clean(v)
	}
	for _, f := range []string{"--log_dir", "--logs-dir", "--log-dir"} {
		if v := flagValue(p.Cmdline, f); v != "" && filepath.Base(v) == "logs" {
			return filepath.Dir(filepath.Clean(v))
		}
	}
	for _, f := range []string{"--raylet_socket_name", "--store_socket_name"} {
		if v := flagValue(p.Cmdline, f); v != "" {
			return filepath.Dir(filepath.Dir(filepath.Clean(v)))
		}
	}
	return ""
}

// attrs are what a process's command line and environment say about its cluster.
type attrs struct {
	role       string
	sessionDir string
	tempDir    string
	gcsAddress string
	nodeID     string
	rayletPID  int
}

func attrsOf(p *proc.Info, role string) attrs {
	a := attrs{role: role, sessionDir: sessionDirOf(p)}
	a.tempDir = flagValue(p.Cmdline, "--temp-dir", "--temp_dir")
	if a.tempDir == "" && a.sessionDir != "" {
		a.tempDir = filepath.Dir(a.sessionDir)
	}
	if a.tempDir == "" && role == RoleRayStart {
		a.tempDir = "/tmp/ray" // ray start's default temp root
	}
	a.gcsAddress = flagValue(p.Cmdline, "--gcs-address", "--gcs_address")
	if a.gcsAddress == "" && role == RoleClientServer {
		a.gcsAddress = flagValue(p.Cmdline, "--address")
	}
	if a.gcsAddress == "" && role == RoleGCS {
		if port := flagValue(p.Cmdline, "--gcs_server_port"); port != "" {
			a.gcsAddress = "127.0.0.1:" + port
		}
	}
	a.nodeID = flagValue(p.Cmdline, "--node-id", "--node_id")
	if role != RoleGCS && role != RoleRaylet && role != RoleRayStart {
		if a.nodeID == "" {
			a.nodeID = p.Env("RAY_NODE_ID")
		}
		a.rayletPID, _ = strconv.Atoi(p.Env("RAY_RAYLET_PID"))
	}
	return a
}
