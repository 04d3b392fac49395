// Package head starts a Ray head node as a supervised child, stops exactly the
// process tree it started, and diagnoses and cleans up Ray processes left on
// the host. It never runs `ray stop` and never kills by name: other clusters
// on the same host must survive whatever we do.
package head

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// ErrRayNotFound means the ray CLI is not on PATH.
var ErrRayNotFound = errors.New("the 'ray' command was not found on PATH")

// ErrTempDir means no private temp dir could be created for the head.
var ErrTempDir = errors.New("cannot create the Ray head's temp dir")

// Options configure Start.
type Options struct {
	// Env is the environment of `ray start` (os.Environ() in production); the
	// ray CLI is looked up in its PATH.
	Env []string
	// RayCommand is the ray CLI (default "ray").
	RayCommand string
	// TempRoot holds the head's private temp dir (default /tmp). Keep it
	// short: Ray's Unix socket paths below it must fit in 107 bytes.
	TempRoot string
	// StateDir holds the state files (required).
	StateDir string
	// DashboardHost is the dashboard's bind address (default 0.0.0.0).
	DashboardHost string
	// NumGPUs is passed as --num-gpus when >= 0; -1 lets Ray detect GPUs.
	NumGPUs int
	// NumCPUs is passed as --num-cpus when > 0.
	NumCPUs int
	// ExtraArgs are appended to the ray start command.
	ExtraArgs []string
	// Token is the Ray auth token used for readiness probes, if any.
	Token string
	// ReadyTimeout bounds start-up (default 120 s); StopGrace is how long Ray
	// gets to shut down in order before SIGKILL (default 10 s).
	ReadyTimeout time.Duration
	StopGrace    time.Duration
	Logger       *slog.Logger
}

func (o *Options) defaults() {
	if o.RayCommand == "" {
		o.RayCommand = "ray"
	}
	if o.TempRoot == "" {
		o.TempRoot = "/tmp"
	}
	if o.DashboardHost == "" {
		o.DashboardHost = "0.0.0.0"
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 120 * time.Second
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Head is a running Ray head we started.
type Head struct {
	// Address is the GCS address as the cluster advertises it (node IP:port).
	Address string
	// LocalAddress reaches the GCS from this host (127.0.0.1:port).
	LocalAddress string
	DashboardURL string
	TempDir      string

	opts     Options
	p        *proc.Process
	reaper   *proc.GroupReaper
	state    State
	stopOnce sync.Once
	stopErr  error
	lost     chan struct{}
	lostErr  error
	lostOnce sync.Once
}

// ID names the head; `ray cleanup --session ID` accepts it.
func (h *Head) ID() string { return h.state.ID }

// State returns a copy of the recorded state.
func (h *Head) State() State { return h.state }

// Start starts `ray start --head --block` in its own process group with free
// ports and a private temp dir, and returns once the GCS answers, the head
// node is alive and the dashboard (Jobs API) serves /api/version. On any
// failure everything started is stopped again before Start returns.
func Start(ctx context.Context, opts Options) (*Head, error) {
	opts.defaults()
	// Ray gives its raylet a fixed 30 s to register with the GCS and then
	// gives up; on a loaded host (a CI runner, a busy head node) that is a
	// matter of luck, and a second start with fresh ports usually succeeds.
	// Our own readiness bound covers both attempts.
	deadline := time.Now().Add(opts.ReadyTimeout)
	for attempt := 1; ; attempt++ {
		h, err := start(ctx, opts, time.Until(deadline))
		if err == nil || attempt == maxStarts || !errors.Is(err, errRayletSlow) || ctx.Err() != nil || time.Until(deadline) < rayletWait {
			return h, err
		}
		opts.Logger.Warn("Ray's raylet did not register with its GCS within Ray's fixed 30 s (is the host overloaded?); starting the head once more")
	}
}

// maxStarts bounds the retries of a head whose raylet was too slow.
const maxStarts = 2

// rayletWait is how long Ray waits for its raylet; a retry needs at least as
// much of our own deadline left to have a chance.
const rayletWait = 30 * time.Second

// errRayletSlow marks `ray start` giving up on its raylet: Ray's message
// "The current node timed out during startup".
var errRayletSlow = errors.New("ray's raylet did not register in time")

func start(ctx context.Context, opts Options, readyTimeout time.Duration) (*Head, error) {
	opts.ReadyTimeout = readyTimeout
	if opts.StateDir == "" {
		return nil, errors.New("start ray head: no state dir configured")
	}
	rayPath, err := proc.LookPath(opts.RayCommand, envValue(opts.Env, "PATH"))
	if err != nil {
		return nil, fmt.Errorf("start ray head: %w: install Ray (pip install 'ray[default]') and put its bin directory on PATH, or start a cluster yourself and pass --ray-address", ErrRayNotFound)
	}
	if err := os.MkdirAll(opts.TempRoot, 0o755); err != nil {
		return nil, tempDirErr(opts.TempRoot, err)
	}
	id := "atv-" + randomHex(4)
	tempDir := filepath.Join(opts.TempRoot, id)
	if err := os.Mkdir(tempDir, 0o700); err != nil {
		return nil, tempDirErr(opts.TempRoot, err)
	}
	ports, err := pickPorts()
	if err != nil {
		os.RemoveAll(tempDir)
		return nil, fmt.Errorf("start ray head: %w", err)
	}
	argv := command(rayPath, tempDir, ports, opts)
	log := opts.Logger
	log.Info("Starting Ray head with command: " + proc.Quote(argv))
	if opts.DashboardHost == "0.0.0.0" {
		log.Warn("The Ray dashboard (and its Jobs API) binds 0.0.0.0: anyone who can reach port " +
			strconv.Itoa(ports.Dashboard) + " of this host can run code on it. On shared hosts or networks use --dashboard-host=127.0.0.1 or protect access (firewall/ACL/reverse proxy).")
	}

	// Unbuffered, so that the output tail in an error is what Ray said last.
	env := append(append([]string{}, opts.Env...), "PYTHONUNBUFFERED=1")
	p, err := proc.Start(proc.Spec{Argv: argv, Env: env, Dir: tempDir, LogFile: filepath.Join(tempDir, "ray-start.log"), TailLines: 30})
	if err != nil {
		os.RemoveAll(tempDir)
		return nil, fmt.Errorf("start ray head: %w", err)
	}
	// If we die (even by SIGKILL), the reaper kills the head's whole group:
	// Ray fate-shares only its direct children with `ray start`.
	reaper, err := proc.StartGroupReaper(p.PGID)
	if err != nil {
		p.Stop(context.WithoutCancel(ctx), 0)
		os.RemoveAll(tempDir)
		return nil, fmt.Errorf("start ray head: %w", err)
	}
	owner, _ := proc.StartTime(os.Getpid())
	host, _ := os.Hostname()
	h := &Head{
		LocalAddress: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.GCS)),
		TempDir:      tempDir,
		opts:         opts,
		p:            p,
		reaper:       reaper,
		lost:         make(chan struct{}),
		state: State{
			ID: id, Hostname: host, OwnerPID: os.Getpid(), OwnerStart: owner,
			PID: p.PID, PGID: p.PGID, Start: p.StartTime, Pids: []int{p.PID},
			TempDir: tempDir, Ports: ports, Command: argv, Created: time.Now().UTC(),
		},
	}
	// Recorded before waiting, so that a crash of ours during start-up still
	// leaves enough behind for `ray cleanup --stale`.
	if err := h.state.write(opts.StateDir); err != nil {
		h.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start ray head: %w", err)
	}
	if err := h.waitReady(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*opts.StopGrace+30*time.Second)
		defer cancel()
		if serr := h.Stop(stopCtx); serr != nil {
			err = fmt.Errorf("%w (and cleaning up failed: %v)", err, serr)
		}
		return nil, fmt.Errorf("start ray head: %w", err)
	}
	log.Info("Started Ray head successfully", "address", h.Address, "dashboard", h.DashboardURL, "temp_dir", tempDir)
	go h.watch()
	return h, nil
}

func command(rayPath, tempDir string, p Ports, o Options) []string {
	argv := []string{rayPath, "start", "--head", "--block", "--disable-usage-stats",
		"--port=" + strconv.Itoa(p.GCS),
		"--dashboard-host=" + o.DashboardHost,
		"--dashboard-port=" + strconv.Itoa(p.Dashboard),
		"--ray-client-server-port=" + strconv.Itoa(p.ClientServer),
		"--dashboard-agent-listen-port=" + strconv.Itoa(p.DashboardAgent),
		"--dashboard-agent-grpc-port=" + strconv.Itoa(p.AgentGRPC),
		"--runtime-env-agent-port=" + strconv.Itoa(p.RuntimeEnv),
		"--metrics-export-port=" + strconv.Itoa(p.Metrics),
		"--temp-dir=" + tempDir,
	}
	if o.NumGPUs >= 0 {
		argv = append(argv, "--num-gpus="+strconv.Itoa(o.NumGPUs))
	}
	if o.NumCPUs > 0 {
		argv = append(argv, "--num-cpus="+strconv.Itoa(o.NumCPUs))
	}
	return append(argv, o.ExtraArgs...)
}

func tempDirErr(root string, err error) error {
	return fmt.Errorf("start ray head: %w in %s: %v: make it writable, or point --ray-temp-dir (or TMPDIR) at a writable directory", ErrTempDir, root, errors.Unwrap(err))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// waitReady polls until the head is usable: GCS answers, the head node is
// alive, the dashboard published its address and serves /api/version. The
// child exiting first is an immediate failure with its output.
func (h *Head) waitReady(ctx context.Context) error {
	var (
		client  *gcs.Client
		lastErr error
		stage   = "GCS"
	)
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	timeout := time.NewTimer(h.opts.ReadyTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if h.p.Exited() {
			if strings.Contains(h.p.Tail(), "timed out during startup") {
				return fmt.Errorf("ray start exited before the head was ready (%w): %w", errRayletSlow, h.p.Err())
			}
			return fmt.Errorf("ray start exited before the head was ready: %w", h.p.Err())
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var done bool
		done, stage, lastErr = h.probe(pctx, &client)
		cancel()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-timeout.C:
			return fmt.Errorf("head not ready after %s (waiting for %s: %v); ray start output:\n%s", h.opts.ReadyTimeout, stage, lastErr, h.p.Tail())
		case <-h.p.Done():
		case <-tick.C:
		}
	}
}

// probe advances the readiness check as far as it can.
func (h *Head) probe(ctx context.Context, client **gcs.Client) (bool, string, error) {
	if *client == nil {
		c, err := gcs.Dial(ctx, h.LocalAddress, gcs.Options{Token: h.opts.Token, ProbeTimeout: time.Second})
		if err != nil {
			return false, "GCS", err
		}
		*client = c
	}
	c := *client
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return false, "head node", err
	}
	var headNode *gcs.Node
	for i := range nodes {
		if nodes[i].Alive && nodes[i].Head {
			headNode = &nodes[i]
		}
	}
	if headNode == nil {
		return false, "head node", errors.New("no alive head node yet")
	}
	url, err := c.DashboardURL(ctx)
	if err != nil {
		return false, "dashboard address", err
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := dashboard.New(url, h.opts.Token).Version(rctx); err != nil {
		return false, "dashboard", err
	}
	h.Address = net.JoinHostPort(headNode.Address, strconv.Itoa(h.state.Ports.GCS))
	h.DashboardURL = url
	h.state.NodeID = headNode.ID
	h.state.GCSAddress = h.Address
	h.state.Dashboard = url
	h.state.SessionDir = headNode.SessionDir
	h.recordTree(ctx)
	h.state.Ready = true
	if err := h.state.write(h.opts.StateDir); err != nil {
		return false, "state file", err
	}
	return true, "", nil
}

// recordTree notes the pids of our head's processes and the raylet, whose PID
// Ray passes to workers as RAY_RAYLET_PID.
func (h *Head) recordTree(ctx context.Context) {
	snap, err := proc.Snapshot(ctx)
	if err != nil {
		return
	}
	pids := []int{h.p.PID}
	for _, p := range snap {
		if p.PGID != h.p.PGID || p.PID == h.p.PID || p.Zombie {
			continue
		}
		pids = append(pids, p.PID)
		if p.Name == "raylet" {
			h.state.RayletPID = p.PID
		}
		if h.state.SessionDir == "" {
			if dir := sessionDirOf(p); dir != "" {
				h.state.SessionDir = dir
			}
		}
	}
	h.state.Pids = pids
}

// watch supervises the head: Lost is closed when `ray start` exits or the
// raylet dies (a raylet that exits 0 does not end `ray start --block`).
func (h *Head) watch() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.p.Done():
			h.markLost(fmt.Errorf("ray head exited: %w", h.p.Err()))
			return
		case <-t.C:
			if h.state.RayletPID > 0 && !proc.Alive(h.state.RayletPID, time.Time{}) {
				h.markLost(fmt.Errorf("ray head's raylet (pid %d) died", h.state.RayletPID))
				return
			}
		}
	}
}

func (h *Head) markLost(err error) {
	h.lostOnce.Do(func() {
		h.lostErr = err
		close(h.lost)
	})
}

// Lost is closed when the head stops working on its own (not by Stop).
func (h *Head) Lost() <-chan struct{} { return h.lost }

// LostErr says why the head was lost.
func (h *Head) LostErr() error {
	select {
	case <-h.lost:
		return h.lostErr
	default:
		return nil
	}
}

// Stop ends the head and everything it started: SIGTERM to `ray start` (its
// own ordered shutdown) → up to StopGrace → SIGKILL to the process group →
// sweep of processes of this cluster that left the group → check that none
// remain → remove our temp dir and state file. It is idempotent.
func (h *Head) Stop(ctx context.Context) error {
	h.stopOnce.Do(func() {
		h.opts.Logger.Info("Stopping Ray head that we started...")
		h.markLost(errors.New("ray head stopped"))
		h.stopErr = stopTree(ctx, h.p, &h.state, h.opts.StopGrace)
		// Released only once the tree is gone: had we died during the stop,
		// or if something survived it, the reaper still acts when we exit.
		if h.stopErr == nil {
			h.reaper.Release()
		}
		if h.stopErr == nil {
			h.stopErr = h.removeFiles()
		}
		if h.stopErr == nil {
			h.opts.Logger.Info("Successfully stopped Ray head")
		} else {
			h.stopErr = fmt.Errorf("stop ray head %s: %w", h.state.ID, h.stopErr)
		}
	})
	return h.stopErr
}

func (h *Head) removeFiles() error {
	if err := os.RemoveAll(h.TempDir); err != nil {
		return fmt.Errorf("remove temp dir: %w", err)
	}
	return removeState(h.opts.StateDir, h.state.ID)
}

// stopTree stops the head started as p whose state is st.
func stopTree(ctx context.Context, p *proc.Process, st *State, grace time.Duration) error {
	stopBegan := time.Now()
	_ = p.Signal(syscall.SIGTERM)
	if err := p.KillAfter(ctx, grace); err != nil {
		return err
	}
	_, err := proc.Sweep(ctx, ownedBy(st, stopBegan), 15*time.Second)
	return err
}

// ownedBy matches the processes of the head recorded in st: members of its
// process group, processes carrying its node ID or raylet PID in their
// environment (workers, agents, job entrypoints that left the group), and
// processes whose command line names its private temp dir. Group and raylet
// PID numbers can be recycled once our processes are gone, so those two rules
// only hold for processes that already existed when the stop began.
func ownedBy(st *State, stopBegan time.Time) func(*proc.Info) bool {
	rayletPID := ""
	if st.RayletPID > 0 {
		rayletPID = strconv.Itoa(st.RayletPID)
	}
	notBefore := st.Start.Add(-time.Second)
	return func(p *proc.Info) bool {
		if p.StartTime.Before(notBefore) {
			return false
		}
		early := p.StartTime.Before(stopBegan)
		if early && p.PGID == st.PGID {
			return true
		}
		if st.TempDir != "" && mentions(p.Cmdline, st.TempDir) {
			return true
		}
		if st.NodeID != "" && p.Env("RAY_NODE_ID") == st.NodeID {
			return true
		}
		return early && rayletPID != "" && p.Env("RAY_RAYLET_PID") == rayletPID
	}
}

// mentions reports whether any argument names dir or a path below it.
func mentions(argv []string, dir string) bool {
	for _, a := range argv {
		if i := strings.Index(a, dir); i >= 0 {
			rest := a[i+len(dir):]
			if rest == "" || rest[0] == '/' {
				return true
			}
		}
	}
	return false
}
