package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	gnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
	"golang.org/x/sys/unix"
)

// Info is one process in a snapshot of the host's process table.
type Info struct {
	PID       int
	PPID      int
	PGID      int
	Name      string // kernel comm (15 chars at most)
	Cmdline   []string
	StartTime time.Time
	Zombie    bool

	p       *process.Process
	env     map[string]string
	envRead bool
}

// Env returns the value of key in the process's environment ("" if unset or
// unreadable). The environment is read once, on first use.
func (i *Info) Env(key string) string {
	if !i.envRead {
		i.envRead = true
		if i.p != nil {
			if kv, err := i.p.Environ(); err == nil {
				i.env = make(map[string]string, len(kv))
				for _, e := range kv {
					if k, v, ok := strings.Cut(e, "="); ok {
						i.env[k] = v
					}
				}
			}
		}
	}
	return i.env[key]
}

// CommandLine is the process's argv joined by spaces.
func (i *Info) CommandLine() string { return strings.Join(i.Cmdline, " ") }

// Snapshot lists every process on the host that can be read. Processes that
// exit while being read are skipped.
func Snapshot(ctx context.Context) ([]*Info, error) {
	ps, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	out := make([]*Info, 0, len(ps))
	for _, p := range ps {
		if int(p.Pid) == self {
			continue
		}
		info, err := read(ctx, p)
		if err != nil {
			continue
		}
		out = append(out, info)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].PID < out[b].PID })
	return out, nil
}

// Lookup reads one process; it fails when pid does not exist.
func Lookup(ctx context.Context, pid int) (*Info, error) {
	p, err := process.NewProcessWithContext(ctx, int32(pid))
	if err != nil {
		return nil, err
	}
	return read(ctx, p)
}

func read(ctx context.Context, p *process.Process) (*Info, error) {
	st, err := readStat(int(p.Pid))
	if err != nil {
		return nil, err
	}
	info := &Info{PID: int(p.Pid), PPID: st.ppid, StartTime: st.start, Zombie: st.state == 'Z', p: p}
	info.Name, _ = p.NameWithContext(ctx)
	info.Cmdline, _ = p.CmdlineSliceWithContext(ctx)
	if pg, err := syscall.Getpgid(info.PID); err == nil {
		info.PGID = pg
	}
	return info, nil
}

// StartTime returns the kernel start time of pid.
func StartTime(pid int) (time.Time, error) {
	st, err := readStat(pid)
	if err != nil {
		return time.Time{}, err
	}
	return st.start, nil
}

// SameStart reports whether two start times name the same process; it
// tolerates the rounding of start times stored in state files.
func SameStart(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Second && d < time.Second
}

// Alive reports whether pid runs (not a zombie) and, when start is non-zero,
// is still the process that started at start rather than a recycled PID.
func Alive(pid int, start time.Time) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	if err != nil || st.state == 'Z' || st.state == 'X' {
		return false
	}
	return start.IsZero() || SameStart(st.start, start)
}

// Kill signals pid only if it is still the process that started at start.
//
// The check and the signal go through a pidfd: once opened it names that one
// process, so a PID that is freed and reused between the start-time check and
// the signal cannot send the signal to the newcomer. Kernels without pidfds
// (before 5.3) get the plain check-then-kill.
func Kill(pid int, start time.Time, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		if !Alive(pid, start) {
			return nil
		}
		return ignoreGone(syscall.Kill(pid, sig))
	}
	defer unix.Close(fd)
	if !Alive(pid, start) {
		return nil
	}
	return ignoreGone(unix.PidfdSendSignal(fd, sig, nil, 0))
}

// Ref names one process by PID and start time.
type Ref struct {
	PID   int
	Start time.Time
}

// WaitGone waits up to d for every referenced process to be gone (or a
// zombie) and reports whether they all are.
func WaitGone(ctx context.Context, refs []Ref, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		alive := false
		for _, r := range refs {
			if Alive(r.PID, r.Start) {
				alive = true
				break
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Sweep SIGKILLs every live process for which match is true (each checked by
// start time just before the signal) and waits up to timeout for all of them
// to be gone. It returns the processes it signalled and, if some survive, an
// error naming them.
func Sweep(ctx context.Context, match func(*Info) bool, timeout time.Duration) ([]*Info, error) {
	var killed []*Info
	seen := map[int]bool{}
	deadline := time.Now().Add(timeout)
	for {
		snap, err := Snapshot(ctx)
		if err != nil {
			return killed, err
		}
		var left []*Info
		for _, p := range snap {
			if p.Zombie || !match(p) {
				continue
			}
			left = append(left, p)
			if err := Kill(p.PID, p.StartTime, syscall.SIGKILL); err != nil {
				return killed, fmt.Errorf("kill pid %d: %w", p.PID, err)
			}
			if !seen[p.PID] {
				seen[p.PID] = true
				killed = append(killed, p)
			}
		}
		if len(left) == 0 {
			return killed, nil
		}
		if time.Now().After(deadline) {
			return killed, &LeftError{Left: left}
		}
		select {
		case <-ctx.Done():
			return killed, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LeftError names processes that survived a sweep.
type LeftError struct{ Left []*Info }

func (e *LeftError) Error() string {
	parts := make([]string, len(e.Left))
	for i, p := range e.Left {
		parts[i] = fmt.Sprintf("%d (%s)", p.PID, p.Name)
	}
	return fmt.Sprintf("%d process(es) still running: %s", len(e.Left), strings.Join(parts, ", "))
}

// ErrLeft matches a *LeftError with errors.Is.
var ErrLeft = errors.New("processes left")

func (e *LeftError) Is(target error) bool { return target == ErrLeft }

// ListeningPorts maps PIDs to the TCP ports they listen on.
func ListeningPorts(ctx context.Context) (map[int][]int, error) {
	conns, err := gnet.ConnectionsWithContext(ctx, "tcp")
	if err != nil {
		return nil, fmt.Errorf("list sockets: %w", err)
	}
	out := map[int][]int{}
	seen := map[[2]int]bool{}
	for _, c := range conns {
		if c.Status != "LISTEN" || c.Pid == 0 {
			continue
		}
		k := [2]int{int(c.Pid), int(c.Laddr.Port)}
		if seen[k] {
			continue
		}
		seen[k] = true
		out[int(c.Pid)] = append(out[int(c.Pid)], int(c.Laddr.Port))
	}
	for _, ports := range out {
		sort.Ints(ports)
	}
	return out, nil
}

// NewInfo builds an Info by hand, for snapshots made up in tests of code
// that classifies processes.
func NewInfo(pid, ppid, pgid int, name string, cmdline []string, env map[string]string, start time.Time) *Info {
	return &Info{PID: pid, PPID: ppid, PGID: pgid, Name: name, Cmdline: cmdline, StartTime: start, env: env, envRead: true}
}

// Descendants lists the live descendants of pid (children, grandchildren…)
// from one snapshot of the process table.
func Descendants(ctx context.Context, pid int) ([]*Info, error) {
	snap, err := Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	children := map[int][]*Info{}
	for _, p := range snap {
		children[p.PPID] = append(children[p.PPID], p)
	}
	var out []*Info
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			if !c.Zombie {
				out = append(out, c)
			}
			queue = append(queue, c.PID)
		}
	}
	return out, nil
}
