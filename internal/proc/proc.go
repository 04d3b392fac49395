// Package proc is the one place that starts, reaps and kills process trees.
//
// A child gets its own process group and a parent-death signal, so that a
// crash of ours takes its direct child down with it, and so that Stop can
// signal the whole group at once. Processes that leave the group are found
// again by the caller's Match rules (see Sweep), always double-checked by
// start time so a recycled PID is never signalled.
package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec describes a child process. Argv is executed directly, never via a shell.
type Spec struct {
	Argv []string
	Env  []string // full environment; nil inherits ours
	Dir  string
	// LogFile, if set, receives the child's stdout and stderr directly (the
	// child holds the file itself, so its output never depends on us being
	// alive to copy it). Otherwise Output, if set, receives them through a
	// pipe; the writer must outlive the child.
	LogFile string
	Output  io.Writer
	// Stdout, if set, receives stdout alone (for programs that answer on
	// stdout); stderr then goes to LogFile or Output.
	Stdout io.Writer
	// TailLines is how many last lines of output errors quote (default 40).
	TailLines int
	// Stdin is given to the child as is (default: /dev/null).
	Stdin *os.File
	// Outlive lets the child survive us: no parent-death signal. Only for
	// helpers that must act after we die (see StartGroupReaper).
	Outlive bool
}

// Process is a started child.
type Process struct {
	PID       int
	PGID      int
	StartTime time.Time // kernel start time, used to guard against PID reuse
	Argv      []string

	done    chan struct{}
	waitErr error
	tail    *Tail
	logFile string
	lines   int
	stopMu  sync.Mutex
}

// ExitError reports a child that ended, with the tail of its output.
type ExitError struct {
	Command string
	Err     error
	Tail    string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Command, e.Err)
	if e.Tail != "" {
		msg += "\n" + e.Tail
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// Start starts the child. The goroutine that starts it stays locked to its OS
// thread until the child is reaped: Linux delivers the parent-death signal
// when the *thread* that forked exits, and the Go runtime may otherwise retire
// that thread while the child still runs.
func Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("start process: empty command")
	}
	lines := spec.TailLines
	if lines <= 0 {
		lines = 40
	}
	p := &Process{Argv: spec.Argv, done: make(chan struct{}), tail: NewTail(lines), logFile: spec.LogFile, lines: lines}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	if spec.LogFile != "" {
		f, err := os.OpenFile(spec.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", Quote(spec.Argv), err)
		}
		// The child has its own descriptor once started.
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
		if spec.Stdout != nil {
			cmd.Stdout = spec.Stdout
		}
	} else {
		out := io.Writer(p.tail)
		if spec.Output != nil {
			out = io.MultiWriter(spec.Output, p.tail)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if spec.Stdout != nil {
			cmd.Stdout = spec.Stdout
		}
	}
	if spec.Stdin != nil {
		cmd.Stdin = spec.Stdin
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if spec.Outlive {
		cmd.SysProcAttr.Pdeathsig = 0
	}

	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", Quote(spec.Argv), err)
	}
	p.PID = cmd.Process.Pid
	p.PGID = cmd.Process.Pid
	if st, err := StartTime(p.PID); err == nil {
		p.StartTime = st
	}
	return p, nil
}

// Done is closed once the child has been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has been reaped.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns how the child ended, with its output tail; nil while it runs.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	err := p.waitErr
	if err == nil {
		err = errors.New("exited with status 0")
	}
	return &ExitError{Command: Quote(p.Argv), Err: err, Tail: p.Tail()}
}

// ExitCode is the child's exit status, or -1 while it runs or if a signal
// ended it.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	var ee *exec.ExitError
	if p.waitErr == nil {
		return 0
	}
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Tail returns the last lines the child printed.
func (p *Process) Tail() string { return p.LastLines(p.lines) }

// LastLines returns the last n lines the child printed: more than Tail, for
// a reader that looks for a cause printed well before the end. Without a log
// file only Tail's lines are kept.
func (p *Process) LastLines(n int) string {
	if p.logFile != "" {
		return fileTail(p.logFile, n)
	}
	return p.tail.String()
}

// Signal sends sig to the child alone (not its group), if it still runs.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	return ignoreGone(syscall.Kill(p.PID, sig))
}

// Stop ends the child's process group: SIGTERM to the group, up to grace for
// the child to exit, then SIGKILL to the group; descendants that had left
// the group (found before the stop) are killed too, each checked by start
// time. It is idempotent and returns once the child is reaped or ctx ends.
func (p *Process) Stop(ctx context.Context, grace time.Duration) error {
	p.stopMu.Lock()
	defer p.stopMu.Unlock()
	var escaped []Ref
	if !p.Exited() {
		if ds, err := Descendants(ctx, p.PID); err == nil {
			for _, d := range ds {
				if d.PGID != p.PGID {
					escaped = append(escaped, Ref{PID: d.PID, Start: d.StartTime})
				}
			}
		}
		_ = ignoreGone(syscall.Kill(-p.PGID, syscall.SIGTERM))
		for _, r := range escaped {
			_ = Kill(r.PID, r.Start, syscall.SIGTERM)
		}
	}
	err := p.KillAfter(ctx, grace)
	for _, r := range escaped {
		_ = Kill(r.PID, r.Start, syscall.SIGKILL)
	}
	return err
}

// KillAfter waits up to grace for the child to exit, then SIGKILLs its whole
// group (also when the child already exited: members may have stayed behind)
// and waits for the child to be reaped.
func (p *Process) KillAfter(ctx context.Context, grace time.Duration) error {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	_ = ignoreGone(syscall.Kill(-p.PGID, syscall.SIGKILL))
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", Quote(p.Argv), context.Cause(ctx))
	}
}

func ignoreGone(err error) error {
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Quote renders argv as a command a user can paste into a POSIX shell.
func Quote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = quoteArg(a)
	}
	return strings.Join(parts, " ")
}

func quoteArg(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// LookPath finds an executable in the given PATH value (not ours: callers pass
// the environment the child will get).
func LookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		if full := dir + "/" + name; isExecutable(full) {
			return full, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH: %w", name, exec.ErrNotFound)
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// ParentGone closes the returned channel once this process's parent has
// exited (it is then reparented, so its parent PID changes), or when ctx
// ends. Polling instead of PR_SET_PDEATHSIG: that signal fires when the
// parent's forking *thread* exits, which a threaded parent does routinely.
func ParentGone(ctx context.Context, every time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	ppid := os.Getppid()
	go func() {
		defer close(ch)
		t := time.NewTicker(every)
		defer t.Stop()
		for os.Getppid() == ppid {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch
}
