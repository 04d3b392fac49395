package proc

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	at, hz, err := bootTime()
	if err != nil {
		t.Fatal(err)
	}
	tail := " 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %s 1000 10 0"
	cases := []struct {
		name, line string
		state      byte
		ppid       int
		ticks      float64
		bad        string
	}{
		{"plain", "42 (sleep) S 7" + strings.Replace(tail, "%s", "250", 1), 'S', 7, 250, ""},
		{"spaces and parens in the name", "43 (a) b (c)) Z 1" + strings.Replace(tail, "%s", "12345", 1), 'Z', 1, 12345, ""},
		{"no name", "44 sleep S 7", 0, 0, 0, "no command name"},
		{"cut short", "45 (x) S 7 1 1", 0, 0, 0, "fields after the name"},
		{"bad ppid", "46 (x) S q" + strings.Replace(tail, "%s", "1", 1), 0, 0, 0, "ppid"},
		{"bad start", "47 (x) S 1" + strings.Replace(tail, "%s", "-3", 1), 0, 0, 0, "starttime"},
	}
	for _, c := range cases {
		st, err := parseStat([]byte(c.line + "\n"))
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%s: err %v, want one about %q", c.name, err, c.bad)
			}
			continue
		}
		want := at.Add(time.Duration(c.ticks / hz * float64(time.Second)))
		if err != nil || st.state != c.state || st.ppid != c.ppid || st.start.Sub(want).Abs() > time.Millisecond {
			t.Errorf("%s: %+v, %v; want state %c ppid %d start %v", c.name, st, err, c.state, c.ppid, want)
		}
	}
}

// A process's start time reads the same on every look (it once flipped by a
// second inside a container, where boot time was recomputed each time).
func TestStartTimeStable(t *testing.T) {
	t.Parallel()
	first, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(first); d < 0 || d > time.Hour {
		t.Fatalf("this test's process started %v ago", d)
	}
	for range 2000 {
		if st, err := StartTime(os.Getpid()); err != nil || !st.Equal(first) {
			t.Fatalf("start time %v, %v; first read %v", st, err, first)
		}
	}
}
