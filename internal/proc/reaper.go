package proc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// GroupReaper kills a process group if we die without releasing it first.
//
// A parent-death signal reaches only a direct child; daemons further down a
// tree (Ray's dashboard helpers, say) outlive a SIGKILLed parent. Nothing of
// ours runs after SIGKILL, so a tiny helper process does it: a shell blocked
// reading a pipe whose only writer is us. When we die the kernel closes the
// pipe, the read returns empty, and the shell kills the group. Release tells
// it to exit without killing.
type GroupReaper struct {
	w *os.File
	p *Process
}

// reaperScript kills group $1 unless it reads "release".
const reaperScript = `read -r line; [ "$line" = release ] || kill -9 -"$1"`

// StartGroupReaper starts a reaper for process group pgid.
func StartGroupReaper(pgid int) (*GroupReaper, error) {
	if pgid <= 1 {
		return nil, fmt.Errorf("start reaper: invalid process group %d", pgid)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start reaper: %w", err)
	}
	defer r.Close()
	p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", reaperScript, "atv-reaper", strconv.Itoa(pgid)}, Stdin: r, Outlive: true})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start reaper: %w", err)
	}
	return &GroupReaper{w: w, p: p}, nil
}

// PID is the reaper's process ID.
func (g *GroupReaper) PID() int { return g.p.PID }

// Release ends the reaper without it killing anything, and reaps it.
func (g *GroupReaper) Release() {
	if g == nil || g.w == nil {
		return
	}
	g.w.WriteString("release\n")
	g.w.Close()
	g.w = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.p.KillAfter(ctx, 2*time.Second)
}
