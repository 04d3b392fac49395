package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/tklauser/go-sysconf"
)

// stat is what this package needs from /proc/<pid>/stat.
type stat struct {
	state byte
	ppid  int
	start time.Time
}

// The kernel counts a process's start in clock ticks since boot; turning
// that into a wall-clock time needs the boot time. gopsutil recomputes it
// on every call, and inside a container it takes now minus /proc/uptime, a
// difference that jitters by tens of milliseconds and, truncated to whole
// seconds, flips between two values when boot fell near a second's edge: the
// same process then seemed to start a second apart from one look to the
// next (a live orphan once read as gone). The kernel's own btime from
// /proc/stat, read once per program, gives every look the same answer.
var boot struct {
	once sync.Once
	at   time.Time
	tick float64
	err  error
}

func bootTime() (time.Time, float64, error) {
	boot.once.Do(func() {
		boot.tick = 100
		if t, err := sysconf.Sysconf(sysconf.SC_CLK_TCK); err == nil && t > 0 {
			boot.tick = float64(t)
		}
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			boot.err = fmt.Errorf("read boot time: %w", err)
			return
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
				sec, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
				if err != nil {
					boot.err = fmt.Errorf("read boot time: %w", err)
					return
				}
				boot.at = time.Unix(sec, 0)
				return
			}
		}
		boot.err = errors.New("read boot time: no btime in /proc/stat")
	})
	return boot.at, boot.tick, boot.err
}

// readStat reads state, parent and start time of pid in one read of
// /proc/<pid>/stat.
func readStat(pid int) (stat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	return parseStat(data)
}

func parseStat(data []byte) (stat, error) {
	// The command name (field 2) is in parentheses and may itself hold
	// spaces and parentheses; the fields after the last ')' are plain.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return stat{}, errors.New("malformed /proc stat: no command name")
	}
	f := bytes.Fields(data[i+1:])
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[19] field 22 (starttime).
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, fmt.Errorf("malformed /proc stat: %d fields after the name", len(f))
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return stat{}, fmt.Errorf("malformed /proc stat: ppid: %w", err)
	}
	ticks, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return stat{}, fmt.Errorf("malformed /proc stat: starttime: %w", err)
	}
	at, hz, err := bootTime()
	if err != nil {
		return stat{}, err
	}
	// Whole milliseconds, as start times are stored in state files.
	ms := int64(float64(ticks) * 1000 / hz)
	return stat{state: f[0][0], ppid: ppid, start: at.Add(time.Duration(ms) * time.Millisecond)}, nil
}
