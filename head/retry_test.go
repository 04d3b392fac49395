package head

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A `ray start` that gives up on its raylet is started once more; any other
// failure is reported at once. The fake ray counts its starts in a file.
func TestStartRetriesSlowRaylet(t *testing.T) {
	tests := []struct {
		name   string
		output string
		starts int
		slow   bool
	}{
		{"raylet too slow", "Exception: The current node timed out during startup. This could happen because", 2, true},
		{"other failure", "ValueError: port 6379 is in use", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			count := filepath.Join(dir, "starts")
			script := "#!/bin/sh\necho x >> " + count + "\necho '" + tt.output + "' >&2\nexit 1\n"
			if err := os.WriteFile(filepath.Join(dir, "ray"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := Start(context.Background(), Options{
				Env: []string{"PATH=" + dir}, TempRoot: filepath.Join(dir, "tmp"), StateDir: filepath.Join(dir, "state"),
				ReadyTimeout: 2 * rayletWait, StopGrace: time.Second,
			})
			if err == nil {
				t.Fatal("start succeeded with a ray that fails")
			}
			if errors.Is(err, errRayletSlow) != tt.slow || !strings.Contains(err.Error(), tt.output) {
				t.Errorf("error %q: want slow=%v and Ray's output", err, tt.slow)
			}
			b, _ := os.ReadFile(count)
			if n := strings.Count(string(b), "x"); n != tt.starts {
				t.Errorf("ray started %d times, want %d", n, tt.starts)
			}
			left, _ := os.ReadDir(filepath.Join(dir, "state"))
			tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
			if len(left) != 0 || len(tmp) != 0 {
				t.Errorf("left behind: state %v, temp %v", left, tmp)
			}
		})
	}
}
