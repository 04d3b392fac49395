package trial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Log file names in a trial's log directory. A Ray trial's directory also
// holds the job's driver log, saved when the job ends.
const (
	ServerLog    = "server.log"
	BenchmarkLog = "benchmark.log"
	JobLog       = "job.log"
)

// LogFiles lists the files of a trial's log directory in reading order:
// the server's, the benchmark's, the Ray job's, the rest by name, then
// each confirmation run's (confirm_<round>/) the same way, by round. only,
// if set, keeps the files of that name.
func LogFiles(dir, only string) []string {
	entries, _ := os.ReadDir(dir)
	rank := map[string]int{ServerLog: 0, BenchmarkLog: 1, JobLog: 2}
	var files []string
	var rounds []int
	for _, e := range entries {
		if r, ok := strings.CutPrefix(e.Name(), "confirm_"); ok && e.IsDir() {
			if n, err := strconv.Atoi(r); err == nil {
				rounds = append(rounds, n)
			}
			continue
		}
		if e.Type().IsRegular() && (only == "" || e.Name() == only) {
			files = append(files, e.Name())
		}
	}
	sort.SliceStable(files, func(i, j int) bool {
		ri, ok := rank[files[i]]
		if !ok {
			ri = len(rank)
		}
		rj, ok := rank[files[j]]
		if !ok {
			rj = len(rank)
		}
		return ri < rj || ri == rj && files[i] < files[j]
	})
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Join(dir, f)
	}
	sort.Ints(rounds)
	for _, r := range rounds {
		out = append(out, LogFiles(filepath.Join(dir, "confirm_"+strconv.Itoa(r)), only)...)
	}
	return out
}

// Tail prints log files, and on later calls what they gained since, with a
// `tail`-style header whenever the file printed changes.
type Tail struct {
	W       io.Writer
	offsets map[string]int64
	last    string
}

// Print writes what each file holds beyond what was printed before. A file
// that shrank was rewritten (a benchmark's repeats restart its log): it is
// printed again from its start.
func (t *Tail) Print(files []string) error {
	if t.offsets == nil {
		t.offsets = map[string]int64{}
	}
	for _, path := range files {
		if err := t.print(path); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tail) print(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // listed, then removed: nothing more to print
	}
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	off, seen := t.offsets[path]
	if fi.Size() < off {
		off = 0
	}
	if seen && fi.Size() == off {
		return nil
	}
	if t.last != path {
		if t.last != "" {
			fmt.Fprintln(t.W)
		}
		fmt.Fprintf(t.W, "==> %s <==\n", path)
		t.last = path
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	n, err := io.Copy(t.W, io.LimitReader(f, fi.Size()-off))
	t.offsets[path] = off + n
	return err
}

// Follow prints the files (listed again on every round: a running trial
// creates them as it goes) until done reports true, after a last round, or
// ctx ends.
func (t *Tail) Follow(ctx context.Context, files func() []string, done func(context.Context) (bool, error), every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		finished, err := done(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if err := t.Print(files()); err != nil {
			return err
		}
		if finished {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
