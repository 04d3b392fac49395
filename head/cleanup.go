package head

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// ErrNoSuchSession means `ray cleanup --session` named nothing found here.
var ErrNoSuchSession = errors.New("no such Ray session on this host")

// CleanupOptions select what Cleanup removes.
type CleanupOptions struct {
	StateDir string
	// Session names one cluster: a Ray session name, session dir, temp dir, or
	// the ID of a head we started.
	Session string
	// Stale selects every head we started whose owner process is gone.
	Stale bool
	// Orphans selects exactly the processes Doctor lists as orphans: Ray
	// processes that belong to no cluster found on this host.
	Orphans bool
	DryRun  bool
	// Grace is how long processes get after SIGTERM (default 10 s).
	Grace   time.Duration
	Token   string
	Program string
	Logger  *slog.Logger

	// only, if set, narrows the orphans to those it accepts: tests share the
	// host with other tests' orphans and must leave those alone.
	only func(Process) bool
}

// CleanupTarget is one cluster or record that Cleanup handled.
type CleanupTarget struct {
	Session string `json:"session"`
	HeadID  string `json:"head_id,omitempty"`
	TempDir string `json:"temp_dir,omitempty"`
	Ours    bool   `json:"ours"`
	// Orphans marks the target that holds the orphans (it has no session).
	Orphans    bool      `json:"orphans,omitempty"`
	Processes  []Process `json:"processes"`
	Killed     int       `json:"killed"`
	RemovedDir bool      `json:"removed_temp_dir"`
	Error      string    `json:"error,omitempty"`
}

// CleanupResult lists what was (or, with DryRun, would be) cleaned.
type CleanupResult struct {
	DryRun  bool            `json:"dry_run"`
	Targets []CleanupTarget `json:"targets"`
}

// Cleanup kills exactly the processes of the selected clusters and, for heads
// we started, removes their temp dir and state file; with Orphans, it kills
// the orphans of the same Doctor report, so the two never disagree. With
// nothing to do it succeeds; failures of single targets are collected into
// one error.
func Cleanup(ctx context.Context, opts CleanupOptions) (*CleanupResult, error) {
	if opts.Session == "" && !opts.Stale && !opts.Orphans {
		return nil, errors.New("cleanup: give --session ID, --stale or --orphans")
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep, err := Doctor(ctx, DoctorOptions{StateDir: opts.StateDir, Token: opts.Token, Program: opts.Program, ProbeTimeout: 500 * time.Millisecond})
	if rep == nil {
		return nil, err
	}
	states, _ := ReadStates(opts.StateDir)
	stateByID := map[string]*State{}
	for _, st := range states {
		stateByID[st.ID] = st
	}

	res := &CleanupResult{DryRun: opts.DryRun, Targets: []CleanupTarget{}}
	var clusters []Cluster
	var records []StaleRecord
	for _, c := range rep.Clusters {
		if opts.Session != "" && c.matches(opts.Session) || opts.Stale && c.Ours && !c.OwnerAlive {
			clusters = append(clusters, c)
		}
	}
	for _, r := range rep.StaleRecords {
		if opts.Session != "" && (r.HeadID == opts.Session || r.TempDir == opts.Session) || opts.Stale && !r.OwnerAlive {
			records = append(records, r)
		}
	}
	if opts.Session != "" && len(clusters)+len(records) == 0 {
		return res, fmt.Errorf("cleanup: %w: %q (run '%s ray doctor' to list them)", ErrNoSuchSession, opts.Session, programName(opts.Program))
	}

	var errs []string
	for _, c := range clusters {
		t := CleanupTarget{Session: c.Session, HeadID: c.HeadID, TempDir: c.TempDir, Ours: c.Ours, Processes: c.Processes}
		if !opts.DryRun {
			log.Info("cleaning up Ray cluster", "session", c.key(), "processes", len(c.Processes))
			killed, err := killCluster(ctx, &c, opts.Grace)
			t.Killed = killed
			if err == nil && c.Ours {
				err = removeOwned(opts.StateDir, c.state)
				t.RemovedDir = err == nil
			}
			if err != nil {
				t.Error = err.Error()
				errs = append(errs, c.key()+": "+err.Error())
			}
		}
		res.Targets = append(res.Targets, t)
	}
	for _, r := range records {
		t := CleanupTarget{Session: r.HeadID, HeadID: r.HeadID, TempDir: r.TempDir, Ours: true}
		if st := stateByID[r.HeadID]; st != nil && !opts.DryRun {
			// No process was attributed to it, but sweep by its own rules in
			// case one escaped attribution (e.g. a worker reparented to init).
			_, err := proc.Sweep(ctx, ownedBy(st, time.Now()), 5*time.Second)
			if err == nil {
				err = removeOwned(opts.StateDir, st)
				t.RemovedDir = err == nil
			}
			if err != nil {
				t.Error = err.Error()
				errs = append(errs, r.HeadID+": "+err.Error())
			}
		}
		res.Targets = append(res.Targets, t)
	}
	if opts.Orphans {
		if t, err := cleanOrphans(ctx, killable(rep, time.Now(), log), opts, log); t != nil {
			res.Targets = append(res.Targets, *t)
			if err != nil {
				errs = append(errs, "orphans: "+err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("cleanup: %s", strings.Join(errs, "; "))
	}
	return res, nil
}

func (c *Cluster) matches(id string) bool {
	return id == c.Session || id == c.HeadID || id == c.SessionDir || (c.TempDir != "" && id == c.TempDir)
}

func programName(p string) string {
	if p == "" {
		return "auto-tune-vllm"
	}
	return p
}

// killCluster ends the processes of one cluster: SIGTERM to `ray start`
// first (it shuts its daemons down in order), then SIGTERM to the rest, then
// SIGKILL to whatever is left, each signal checked against the process's
// start time. For one of our heads the state file's rules also sweep
// processes that escaped; for a foreign cluster, its session dir does.
func killCluster(ctx context.Context, c *Cluster, grace time.Duration) (int, error) {
	members := map[int]time.Time{}
	for _, p := range c.Processes {
		members[p.PID] = p.Started
	}
	var starters, rest []proc.Ref
	for _, p := range c.Processes {
		if p.Role == RoleRayStart {
			starters = append(starters, proc.Ref{PID: p.PID, Start: p.Started})
		} else {
			rest = append(rest, proc.Ref{PID: p.PID, Start: p.Started})
		}
	}
	for _, group := range []struct {
		refs  []proc.Ref
		grace time.Duration
	}{{starters, grace}, {rest, grace / 2}} {
		for _, r := range group.refs {
			_ = proc.Kill(r.PID, r.Start, syscall.SIGTERM)
		}
		proc.WaitGone(ctx, group.refs, group.grace)
	}

	stopBegan := time.Now()
	var owned func(*proc.Info) bool
	if c.state != nil {
		owned = ownedBy(c.state, stopBegan)
	}
	match := func(p *proc.Info) bool {
		if st, ok := members[p.PID]; ok && proc.SameStart(st, p.StartTime) {
			return true
		}
		if owned != nil && owned(p) {
			return true
		}
		return c.SessionDir != "" && mentions(p.Cmdline, c.SessionDir)
	}
	swept, err := proc.Sweep(ctx, match, 10*time.Second)
	n := len(c.Processes)
	for _, p := range swept {
		if _, member := members[p.PID]; !member {
			n++ // escaped attribution, found by the cluster's own rules
		}
	}
	return n, err
}

// removeOwned deletes the temp dir and state file of a head we started.
func removeOwned(stateDir string, st *State) error {
	if st == nil {
		return nil
	}
	if st.TempDir != "" {
		if err := os.RemoveAll(st.TempDir); err != nil {
			return fmt.Errorf("remove temp dir: %w", err)
		}
	}
	return removeState(stateDir, st.ID)
}
