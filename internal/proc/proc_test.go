package proc

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"ray", "start", "--head"}, "ray start --head"},
		{[]string{"echo", "a b", ""}, "echo 'a b' ''"},
		{[]string{"x", "it's"}, `x 'it'\''s'`},
		{[]string{"--resources={\"GPU\": 1}"}, `'--resources={"GPU": 1}'`},
	}
	for _, tt := range tests {
		if got := Quote(tt.argv); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	tl := NewTail(2)
	tl.Write([]byte("one\ntwo\nthr"))
	tl.Write([]byte("ee\nfour"))
	if got := tl.String(); got != "three\nfour" {
		t.Errorf("tail = %q", got)
	}
}

// leftovers lists live processes in group pgid.
func leftovers(t *testing.T, pgid int) []*Info {
	snap, err := Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*Info
	for _, p := range snap {
		if p.PGID == pgid && !p.Zombie {
			out = append(out, p)
		}
	}
	return out
}

func TestStartStopTree(t *testing.T) {
	t.Parallel()
	// A shell that ignores SIGTERM, with two children: Stop must escalate.
	p, err := Start(Spec{Argv: []string{"sh", "-c", "trap '' TERM; sleep 300 & sleep 300 & wait"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(context.Background(), 0) })
	if p.PGID != p.PID || p.StartTime.IsZero() {
		t.Errorf("pid %d pgid %d start %v", p.PID, p.PGID, p.StartTime)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(leftovers(t, p.PGID)) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(leftovers(t, p.PGID)); n != 3 {
		t.Fatalf("%d processes in the group, want 3", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx, 0); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(leftovers(t, p.PGID)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := leftovers(t, p.PGID); len(left) > 0 {
		t.Errorf("%d processes left", len(left))
	}
	if Alive(p.PID, p.StartTime) {
		t.Error("child still alive")
	}
}

func TestExitErrorHasTail(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "out.log")
	for _, spec := range []Spec{
		{Argv: []string{"sh", "-c", "echo first; echo boom >&2; exit 3"}},
		{Argv: []string{"sh", "-c", "echo first; echo boom >&2; exit 3"}, LogFile: log},
	} {
		p, err := Start(spec)
		if err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		var ee *ExitError
		if err := p.Err(); !errors.As(err, &ee) || !strings.Contains(ee.Tail, "first\nboom") || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("log=%q: err = %v", spec.LogFile, err)
		}
	}
}

// Output written to a LogFile does not depend on us: the child keeps
// writing after Start returns (a pipe we stopped reading would break it).
func TestLogFileOutlivesStart(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "out.log")
	p, err := Start(Spec{Argv: []string{"sh", "-c", "sleep 0.2; echo late; sleep 0.2; echo later"}, LogFile: log})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "status 0") {
		t.Errorf("err = %v", p.Err())
	}
	if b, _ := os.ReadFile(log); string(b) != "late\nlater\n" {
		t.Errorf("log = %q", b)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	if _, err := Start(Spec{}); err == nil {
		t.Error("empty argv accepted")
	}
	if _, err := Start(Spec{Argv: []string{"/nonexistent/binary"}}); err == nil {
		t.Error("missing binary accepted")
	}
}

func TestAliveChecksStartTime(t *testing.T) {
	t.Parallel()
	self := os.Getpid()
	st, err := StartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(self, st) || !Alive(self, time.Time{}) {
		t.Error("we are not alive")
	}
	if Alive(self, st.Add(-time.Hour)) {
		t.Error("a recycled pid (other start time) counted as alive")
	}
	if err := Kill(self, st.Add(-time.Hour), syscall.SIGKILL); err != nil {
		t.Errorf("kill of a recycled pid: %v", err)
	}
	if Alive(0, time.Time{}) || Alive(1<<30, time.Time{}) {
		t.Error("impossible pid alive")
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	marker := "atv-sweep-" + strconv.Itoa(os.Getpid())
	// setsid: the processes leave our group, as Ray's job entrypoints do.
	var pids []int
	for range 2 {
		p, err := Start(Spec{Argv: []string{"setsid", "bash", "-c", "exec -a " + marker + " sleep 300"}})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p.PID)
	}
	match := func(p *Info) bool { return strings.Contains(p.CommandLine(), marker) }
	deadline := time.Now().Add(5 * time.Second)
	for {
		snap, _ := Snapshot(context.Background())
		n := 0
		for _, p := range snap {
			if match(p) {
				n++
			}
		}
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed, err := Sweep(context.Background(), match, 5*time.Second)
	if err != nil || len(killed) != 2 {
		t.Fatalf("sweep: killed %d, err %v", len(killed), err)
	}
	if killed, err := Sweep(context.Background(), match, time.Second); err != nil || len(killed) != 0 {
		t.Errorf("second sweep: %d, %v", len(killed), err)
	}
}

func TestLookPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644)
	if got, err := LookPath("tool", "/nonexistent:"+dir); err != nil || got != exe {
		t.Errorf("LookPath = %q, %v", got, err)
	}
	if _, err := LookPath("plain", dir); err == nil {
		t.Error("non-executable file found")
	}
	if _, err := LookPath("tool", "/nonexistent"); err == nil {
		t.Error("found outside PATH")
	}
}

// Our own listeners show up under our PID, sorted; a connected socket and a
// closed listener do not.
func TestListeningPorts(t *testing.T) {
	t.Parallel()
	listen := func() (net.Listener, int) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l, l.Addr().(*net.TCPAddr).Port
	}
	l1, p1 := listen()
	_, p2 := listen()
	closed, p3 := listen()
	closed.Close()
	conn, err := net.Dial("tcp", l1.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := conn.LocalAddr().(*net.TCPAddr).Port

	ports, err := ListeningPorts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Other tests of this package may listen too, so check membership.
	mine := ports[os.Getpid()]
	if !slices.IsSorted(mine) {
		t.Errorf("ports not sorted: %v", mine)
	}
	for _, c := range []struct {
		what   string
		port   int
		listed bool
	}{{"listener", p1, true}, {"second listener", p2, true}, {"closed listener", p3, false}, {"client side", client, false}} {
		if slices.Contains(mine, c.port) != c.listed {
			t.Errorf("%s port %d: listed = %v, want %v (our ports %v)", c.what, c.port, !c.listed, c.listed, mine)
		}
	}
}

// The reaper kills the group when its pipe closes without a release (our
// death), and kills nothing when released.
func TestGroupReaper(t *testing.T) {
	t.Parallel()
	for _, release := range []bool{true, false} {
		victim, err := Start(Spec{Argv: []string{"sh", "-c", "sleep 300 & wait"}, Outlive: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { victim.Stop(context.Background(), 0) })
		g, err := StartGroupReaper(victim.PGID)
		if err != nil {
			t.Fatal(err)
		}
		if release {
			g.Release()
		} else {
			g.w.Close() // what the kernel does when we die
		}
		select {
		case <-victim.Done():
			if release {
				t.Error("released reaper killed the group")
			}
		case <-time.After(2 * time.Second):
			if !release {
				t.Error("reaper did not kill the group")
			}
		}
	}
}

// Stop also ends descendants that left the child's process group.
func TestStopSweepsEscapedDescendants(t *testing.T) {
	t.Parallel()
	marker := "atv-escaped-" + strconv.Itoa(os.Getpid())
	p, err := Start(Spec{Argv: []string{"bash", "-c", "setsid bash -c 'exec -a " + marker + " sleep 300' & sleep 300"}})
	if err != nil {
		t.Fatal(err)
	}
	find := func() []*Info {
		snap, _ := Snapshot(context.Background())
		var out []*Info
		for _, i := range snap {
			if len(i.Cmdline) > 0 && i.Cmdline[0] == marker && !i.Zombie {
				out = append(out, i)
			}
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(find()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := find(); len(left) != 1 || left[0].PGID == p.PGID {
		t.Fatalf("escaped child: %+v", left)
	}
	if err := p.Stop(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(find()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := find(); len(left) > 0 {
		t.Errorf("escaped descendant survived Stop: %d", left[0].PID)
	}
}

func TestKillChecksStart(t *testing.T) {
	t.Parallel()
	p, err := Start(Spec{Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(context.Background(), time.Second) })
	if err := Kill(p.PID, p.StartTime.Add(-time.Hour), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if p.Exited() || !Alive(p.PID, p.StartTime) {
		t.Fatal("a kill with another start time reached the process")
	}
	if err := Kill(p.PID, p.StartTime, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := Kill(p.PID, p.StartTime, syscall.SIGKILL); err != nil {
		t.Errorf("killing a process that is gone: %v", err)
	}
}
