package head

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// State is what we record about a head we started, in a 0600 file in the
// state directory. It is how `ray doctor` and `ray cleanup` recognise our
// heads and their owners after a crash, without guessing from process names.
type State struct {
	ID         string    `json:"id"`
	Hostname   string    `json:"hostname"`
	OwnerPID   int       `json:"owner_pid"`
	OwnerStart time.Time `json:"owner_start"`
	// PID is the `ray start --head --block` process; PGID its process group,
	// which every Ray daemon of the head inherits.
	PID        int       `json:"pid"`
	PGID       int       `json:"pgid"`
	Start      time.Time `json:"start"`
	Pids       []int     `json:"pids,omitempty"`
	RayletPID  int       `json:"raylet_pid,omitempty"`
	NodeID     string    `json:"node_id,omitempty"`
	TempDir    string    `json:"temp_dir"`
	SessionDir string    `json:"session_dir,omitempty"`
	GCSAddress string    `json:"gcs_address,omitempty"`
	Dashboard  string    `json:"dashboard_url,omitempty"`
	Ports      Ports     `json:"ports"`
	Command    []string  `json:"command"`
	Created    time.Time `json:"created"`
	Ready      bool      `json:"ready"`
}

// SessionName is the Ray session name (basename of the session dir), if known.
func (s *State) SessionName() string {
	if s.SessionDir == "" {
		return ""
	}
	return filepath.Base(s.SessionDir)
}

// OwnerAlive reports whether the process that started the head still runs.
func (s *State) OwnerAlive() bool { return proc.Alive(s.OwnerPID, s.OwnerStart) }

func statePath(dir, id string) string { return filepath.Join(dir, id+".json") }

// write stores the state atomically with mode 0600.
func (s *State) write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+s.ID+"-*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), statePath(dir, s.ID))
}

func removeState(dir, id string) error {
	err := os.Remove(statePath(dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// ReadStates loads every state file in dir; a missing dir means none.
// Unreadable files are skipped and reported in the error, the rest returned.
func ReadStates(dir string) ([]*State, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state dir: %w", err)
	}
	var out []*State
	var bad []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			bad = append(bad, e.Name()+": "+err.Error())
			continue
		}
		var s State
		if err := json.Unmarshal(b, &s); err != nil || s.ID == "" {
			bad = append(bad, e.Name()+": not a head state file")
			continue
		}
		out = append(out, &s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	if len(bad) > 0 {
		return out, fmt.Errorf("state dir %s: %s", dir, strings.Join(bad, "; "))
	}
	return out, nil
}
