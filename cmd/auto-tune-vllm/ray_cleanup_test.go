package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/head"
)

func TestRayCleanupPrintOrphans(t *testing.T) {
	t.Parallel()
	orphans := []head.Process{
		{PID: 9406, PPID: 1, Role: head.RoleDashboardAgent, Ports: []int{43869, 52365}, Started: time.Unix(1_800_000_000, 0), Command: "ray::DashboardAgent"},
		{PID: 9408, PPID: 1, Role: head.RoleRuntimeEnvAgent, Command: "ray::RuntimeEnvAgent"},
	}
	tests := []struct {
		name string
		res  head.CleanupResult
		want []string
	}{
		{"nothing", head.CleanupResult{Targets: []head.CleanupTarget{}}, []string{"Nothing to clean up.\n"}},
		{"dry run", head.CleanupResult{DryRun: true, Targets: []head.CleanupTarget{{Orphans: true, Processes: orphans}}}, []string{
			"Would clean orphans (2 processes)\n",
			"  PID   PPID  ROLE               PORTS        COMMAND\n",
			"  9406  1     dashboard_agent    43869,52365  ray::DashboardAgent\n",
			"  9408  1     runtime_env_agent               ray::RuntimeEnvAgent\n",
		}},
		{"one failed", head.CleanupResult{Targets: []head.CleanupTarget{{Orphans: true, Processes: orphans, Killed: 1,
			Error: "1 of 2 orphan(s) not killed: pid 9408 (runtime_env_agent): still running after SIGKILL"}}}, []string{
			"Cleaned orphans (2 processes)\n",
			"  9406  1     dashboard_agent",
			"  failed: 1 of 2 orphan(s) not killed: pid 9408",
		}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		g := &globals{io: streams{Stdout: &out}}
		(&rayCleanupCmd{}).print(g, &tt.res)
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, out.String())
			}
		}
	}
}
