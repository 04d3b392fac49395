package head_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
)

func startHead(t *testing.T, opts head.Options) *head.Head {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := head.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		h.Stop(context.Background())
		raytest.NoLeftovers(t, h.TempDir, h.State().PGID)
	})
	return h
}

// Our head starts beside a foreign one, is fully usable over GCS, and stops
// without a trace while the foreign head keeps running.
func TestIntegrationStartDetectStop(t *testing.T) {
	bin := raytest.Bin(t)
	root := raytest.Root(t)
	foreign := raytest.StartForeign(t, bin, root)

	stateDir := filepath.Join(root, "state")
	h := startHead(t, head.Options{Env: raytest.Env(t, bin), TempRoot: root, StateDir: stateDir, DashboardHost: "127.0.0.1", NumGPUs: -1})
	ctx := context.Background()

	st := h.State()
	if !st.Ready || st.NodeID == "" || st.RayletPID == 0 || st.SessionDir == "" {
		t.Errorf("state not complete after start: %+v", st)
	}
	info, err := os.Stat(filepath.Join(stateDir, h.ID()+".json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	if !strings.HasPrefix(h.TempDir, root+"/atv-") {
		t.Errorf("temp dir %s is not private under %s", h.TempDir, root)
	}

	c, err := gcs.Dial(ctx, h.LocalAddress, gcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := c.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cl.AliveNodes() != 1 || !cl.Nodes[0].Head || cl.Nodes[0].ID != st.NodeID {
		t.Errorf("nodes = %+v", cl.Nodes)
	}
	if cl.Total["CPU"] <= 0 || cl.Available["CPU"] <= 0 || cl.Total["memory"] <= 0 {
		t.Errorf("resources total=%v available=%v", cl.Total, cl.Available)
	}
	if !strings.HasPrefix(cl.RayVersion, "2.") {
		t.Errorf("ray version %q", cl.RayVersion)
	}
	if cl.Dashboard != h.DashboardURL || cl.Dashboard == "" {
		t.Errorf("dashboard %q, head says %q", cl.Dashboard, h.DashboardURL)
	}
	if cl.Nodes[0].SessionDir != st.SessionDir || cl.Nodes[0].TempDir != h.TempDir {
		t.Errorf("node dirs %q %q, want %q %q", cl.Nodes[0].SessionDir, cl.Nodes[0].TempDir, st.SessionDir, h.TempDir)
	}

	// Internal KV round trip in a namespace of our own.
	const ns = "atv_test"
	if added, err := c.KVPut(ctx, ns, "k1", []byte("v1"), false); err != nil || !added {
		t.Fatalf("put: %v %v", added, err)
	}
	if added, err := c.KVPut(ctx, ns, "k1", []byte("v2"), false); err != nil || added {
		t.Errorf("put without overwrite: added=%v err=%v", added, err)
	}
	if v, err := c.KVGet(ctx, ns, "k1"); err != nil || string(v) != "v1" {
		t.Errorf("get = %q %v", v, err)
	}
	c.KVPut(ctx, ns, "k2", []byte("x"), true)
	if keys, err := c.KVKeys(ctx, ns, "k"); err != nil || len(keys) != 2 {
		t.Errorf("keys = %v %v", keys, err)
	}
	if ok, err := c.KVExists(ctx, ns, "k2"); err != nil || !ok {
		t.Errorf("exists = %v %v", ok, err)
	}
	if n, err := c.KVDel(ctx, ns, "k", true); err != nil || n != 2 {
		t.Errorf("del by prefix = %d %v", n, err)
	}
	if _, err := c.KVGet(ctx, ns, "k1"); !errors.Is(err, gcs.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}

	if err := h.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// Stop returns only once a process table shows none of the head's
	// processes alive, so one look right after it must find none.
	if left := raytest.Leftovers(t, h.TempDir, st.PGID); len(left) > 0 {
		t.Errorf("%d processes of our head left right after Stop", len(left))
	}
	if _, err := os.Stat(h.TempDir); !os.IsNotExist(err) {
		t.Errorf("temp dir still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, h.ID()+".json")); !os.IsNotExist(err) {
		t.Errorf("state file still there: %v", err)
	}
	if err := h.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// The foreign head went through our start and stop untouched.
	if !foreign.Alive() {
		t.Fatal("foreign head died")
	}
	fc, err := gcs.Dial(ctx, foreign.Address, gcs.Options{})
	if err != nil {
		t.Fatalf("foreign GCS: %v", err)
	}
	defer fc.Close()
	if nodes, err := fc.Nodes(ctx); err != nil || !nodes[0].Alive {
		t.Errorf("foreign nodes: %v %v", nodes, err)
	}
}

func TestIntegrationStartErrors(t *testing.T) {
	bin := raytest.Bin(t)
	root := raytest.Root(t)
	file := filepath.Join(root, "a-file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name    string
		opts    head.Options
		want    error
		message string
	}{
		{
			name:    "ray not on PATH",
			opts:    head.Options{Env: []string{"PATH=" + root}, TempRoot: root},
			want:    head.ErrRayNotFound,
			message: "install Ray (pip install 'ray[default]') and put its bin directory on PATH",
		},
		{
			// Root ignores permission bits, so "unwritable" is a path below a file.
			name:    "temp dir not writable",
			opts:    head.Options{Env: raytest.Env(t, bin), TempRoot: filepath.Join(file, "sub")},
			want:    head.ErrTempDir,
			message: "point --ray-temp-dir (or TMPDIR) at a writable directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.StateDir = filepath.Join(root, "state")
			_, err := head.Start(context.Background(), tt.opts)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.message)
			}
			if states, _ := head.ReadStates(tt.opts.StateDir); len(states) != 0 {
				t.Errorf("a failed start left %d state files", len(states))
			}
		})
	}
}

// A cancelled start stops what it started. The start is cancelled once
// Ray's GCS server runs (a child of `ray start`, so there is a tree to stop)
// and before the head is ready, whatever the machine's speed.
func TestIntegrationStartCancelled(t *testing.T) {
	bin := raytest.Bin(t)
	root := raytest.Root(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cancelWhenRunning(ctx, cancel, root, "gcs_server")
	h, err := head.Start(ctx, head.Options{Env: raytest.Env(t, bin), TempRoot: root, StateDir: filepath.Join(root, "state"), NumGPUs: -1})
	if err == nil {
		h.Stop(context.Background())
		t.Fatal("the head became ready before its GCS server was seen; the cancel came too late to test anything")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	raytest.NoLeftovers(t, root)
	entries, _ := filepath.Glob(filepath.Join(root, "atv-*"))
	if len(entries) != 0 {
		t.Errorf("temp dirs left: %v", entries)
	}
}

// Token auth (Ray >= 2.52): our head started with RAY_AUTH_MODE=token is
// probed with the token; a client without it is told what to set.
func TestIntegrationTokenAuth(t *testing.T) {
	bin := raytest.Bin(t)
	root := raytest.Root(t)
	const token = "atv-test-token-0123456789abcdef0123456789abcdef"
	env := raytest.Env(t, bin, "RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN="+token)
	h := startHead(t, head.Options{Env: env, TempRoot: root, StateDir: filepath.Join(root, "state"), Token: token, NumGPUs: -1, DashboardHost: "127.0.0.1"})
	ctx := context.Background()

	c, err := gcs.Dial(ctx, h.LocalAddress, gcs.Options{Token: token})
	if err != nil {
		t.Fatalf("with token: %v", err)
	}
	defer c.Close()
	if _, err := c.Nodes(ctx); err != nil {
		t.Errorf("nodes with token: %v", err)
	}
	_, err = gcs.Dial(ctx, h.LocalAddress, gcs.Options{})
	if !errors.Is(err, gcs.ErrAuth) || !strings.Contains(err.Error(), "RAY_AUTH_TOKEN") {
		t.Errorf("without token: %v, want ErrAuth naming RAY_AUTH_TOKEN", err)
	}
	_, err = gcs.Dial(ctx, h.LocalAddress, gcs.Options{Token: "wrong"})
	if !errors.Is(err, gcs.ErrAuth) {
		t.Errorf("wrong token: %v, want ErrAuth", err)
	}
}

// cancelWhenRunning cancels once a live process whose command line names
// dir and what appears. It runs beside the test, so it cannot fail it: if
// the process table cannot be read it never cancels and the start succeeds,
// which the test reports.
func cancelWhenRunning(ctx context.Context, cancel context.CancelFunc, dir, what string) {
	for ctx.Err() == nil {
		snap, _ := proc.Snapshot(ctx)
		for _, p := range snap {
			if cl := p.CommandLine(); !p.Zombie && strings.Contains(cl, dir) && strings.Contains(cl, what) {
				cancel()
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}
