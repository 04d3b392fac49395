package head

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// killOrphans ends exactly the given processes: SIGTERM to each, up to grace
// for them to exit, then SIGKILL to the ones left. Every signal is checked
// against the process's start time, so a PID reused since the snapshot is
// left alone. Ray 2.60's agents catch SIGTERM once their raylet is gone and
// can take tens of seconds to act on it, hence the SIGKILL. It returns how
// many are gone and one error naming each process that is not.
func killOrphans(ctx context.Context, ps []Process, grace time.Duration, log *slog.Logger) (int, error) {
	refs := make([]proc.Ref, len(ps))
	for i, p := range ps {
		refs[i] = proc.Ref{PID: p.PID, Start: p.Started}
	}
	failed := map[int]string{}
	denied := false
	signal := func(sig syscall.Signal) {
		for _, r := range refs {
			if err := proc.Kill(r.PID, r.Start, sig); err != nil {
				failed[r.PID] = fmt.Sprintf("%v: %v", sig, err)
				denied = denied || errors.Is(err, syscall.EPERM)
			}
		}
	}
	signal(syscall.SIGTERM)
	if !proc.WaitGone(ctx, refs, grace) && ctx.Err() == nil {
		var left []string
		for i, r := range refs {
			if proc.Alive(r.PID, r.Start) {
				left = append(left, fmt.Sprintf("%d (%s)", r.PID, ps[i].Role))
			}
		}
		log.Info("orphans still running after SIGTERM and the grace period; sending SIGKILL", "grace", grace, "pids", strings.Join(left, ", "))
		signal(syscall.SIGKILL)
		// SIGKILL cannot be caught; the wait only covers the kernel tearing
		// the process down (a process stuck in the kernel shows up here).
		proc.WaitGone(ctx, refs, 10*time.Second)
	}
	var msgs []string
	gone := 0
	for i, r := range refs {
		if !proc.Alive(r.PID, r.Start) {
			gone++
			continue
		}
		why := failed[r.PID]
		if why == "" {
			why = "still running after SIGKILL"
		}
		msgs = append(msgs, fmt.Sprintf("pid %d (%s): %s", r.PID, ps[i].Role, why))
	}
	if len(msgs) > 0 {
		hint := ""
		if denied {
			hint = " (run the cleanup as the user who owns them, or as root)"
		}
		return gone, fmt.Errorf("%d of %d orphan(s) not killed%s: %s", len(msgs), len(ps), hint, strings.Join(msgs, "; "))
	}
	return gone, nil
}

// defaultPort is a TCP port `ray start --head` (Ray 2.60) binds when no flag
// names another. Object manager, node manager, agent gRPC, runtime-env
// agent and metrics ports default to random ones, and worker ports to a
// range (10002-19999) Ray picks free ports from, so a leftover there harms
// nobody.
type defaultPort struct {
	port   int
	use    string
	effect string
}

var rayDefaultPorts = []defaultPort{
	{6379, "GCS", "the next `ray start --head` without --port will fail"},
	{8265, "dashboard", "the next `ray start --head` without --dashboard-port starts no dashboard (and so no Jobs API)"},
	{10001, "Ray Client server", "the next `ray start --head` without --ray-client-server-port will fail"},
	{52365, "dashboard agent", "the next `ray start --head` without --dashboard-agent-listen-port will fail"},
}

// PortNote says that a leftover Ray process holds one of Ray's default ports.
type PortNote struct {
	PID  int    `json:"pid"`
	Role string `json:"role"`
	// Leftover is "orphan", or the session of the orphaned or stale cluster
	// the process belongs to.
	Leftover string `json:"leftover"`
	Port     int    `json:"port"`
	Use      string `json:"use"`
	Cleanup  string `json:"cleanup_command"`
	Message  string `json:"message"`
}

// portNotes finds leftovers that listen on a Ray default port: orphans, and
// processes of clusters whose GCS server and raylet are gone or whose owner
// (us) is gone. A live cluster on a default port is someone's working
// cluster, not a leftover, and gets no note.
func portNotes(rep *Report, program string) []PortNote {
	notes := []PortNote{}
	add := func(p Process, leftover, what, cleanup string) {
		for _, d := range rayDefaultPorts {
			for _, port := range p.Ports {
				if port != d.port {
					continue
				}
				notes = append(notes, PortNote{
					PID: p.PID, Role: p.Role, Leftover: leftover, Port: port, Use: d.use, Cleanup: cleanup,
					Message: fmt.Sprintf("pid %d (%s, %s) listens on %d, Ray's default %s port: %s; run `%s`",
						p.PID, p.Role, what, port, d.use, d.effect, cleanup),
				})
			}
		}
	}
	for _, p := range rep.Orphans {
		add(p, "orphan", "orphan", program+" ray cleanup --orphans")
	}
	for _, c := range rep.Clusters {
		var what string
		switch {
		case c.Orphaned:
			what = "of orphaned cluster " + c.key()
		case c.Ours && !c.OwnerAlive:
			what = "of stale cluster " + c.key()
		default:
			continue
		}
		for _, p := range c.Processes {
			add(p, c.key(), what, c.Cleanup)
		}
	}
	sort.SliceStable(notes, func(i, j int) bool { return notes[i].Port < notes[j].Port })
	return notes
}

// orphanMinAge: a process younger than this is never killed as an orphan;
// it may be a head starting up that no cluster claims yet.
const orphanMinAge = 15 * time.Second

// killable are the orphans --orphans may kill. Between `ray start --head`
// and its GCS writing the session dir, a starting head's processes belong to
// no cluster either; they still descend from a live `ray start`, while a
// real orphan's head is gone (it was reparented). So an orphan that is a
// `ray start`, or descends from one, is left alone, as is a very young one.
func killable(rep *Report, now time.Time, log *slog.Logger) []Process {
	byPID := map[int]Process{}
	for _, p := range rep.Orphans {
		byPID[p.PID] = p
	}
	for _, c := range rep.Clusters {
		for _, p := range c.Processes {
			byPID[p.PID] = p
		}
	}
	startingHead := func(p Process) bool {
		for range 32 { // a bounded walk: a PID cycle in a racy snapshot ends here
			if p.Role == RoleRayStart {
				return true
			}
			parent, ok := byPID[p.PPID]
			if !ok || p.PPID <= 1 {
				return false
			}
			p = parent
		}
		return false
	}
	var out []Process
	for _, p := range rep.Orphans {
		switch {
		case startingHead(p):
			log.Info("leaving a process of a `ray start` that still runs (a head starting up?)", "pid", p.PID, "role", p.Role)
		case !p.Started.IsZero() && now.Sub(p.Started) < orphanMinAge:
			log.Info("leaving a process younger than "+orphanMinAge.String()+" (a head starting up?)", "pid", p.PID, "role", p.Role)
		default:
			out = append(out, p)
		}
	}
	return out
}

// cleanOrphans is Cleanup's --orphans part: the target it handled, or nil
// when there is no orphan.
func cleanOrphans(ctx context.Context, orphans []Process, opts CleanupOptions, log *slog.Logger) (*CleanupTarget, error) {
	var ps []Process
	for _, p := range orphans {
		if opts.only == nil || opts.only(p) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	t := &CleanupTarget{Orphans: true, Processes: ps}
	if opts.DryRun {
		return t, nil
	}
	log.Info("killing orphaned Ray processes", "count", len(ps))
	killed, err := killOrphans(ctx, ps, opts.Grace, log)
	t.Killed = killed
	if err != nil {
		t.Error = err.Error()
	}
	return t, err
}
