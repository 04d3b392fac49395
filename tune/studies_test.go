package tune

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// Deleting a study removes its own directory under StudiesDir, and never a
// directory its name could reach outside it (a storage written by someone
// else may hold a study named "..").
func TestDeleteStudyDirectory(t *testing.T) {
	tests := []struct {
		name    string
		inDir   map[string]string // files put in optuna_studies/mine first
		removed bool
	}{
		{"mine", nil, true},
		{"mine", map[string]string{"study_config.yaml": "study: {storage_file: other.db}\noptimization: {n_trials: 2}\nbenchmark: {model: m}\n", "report.html": "x"}, true},
		{"mine", map[string]string{"study.db": "a local study of the same name"}, false},
		{"mine", map[string]string{"study_config.yaml": "optimization: {n_trials: 2}\nbenchmark: {model: m}\n"}, false},
		{"..", nil, false},
		{"a/../..", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			t.Chdir(root)
			keep := filepath.Join(root, "keep.txt")
			if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(StudiesDir, "mine"), 0o755); err != nil {
				t.Fatal(err)
			}
			for f, text := range tt.inDir {
				if err := os.WriteFile(filepath.Join(StudiesDir, "mine", f), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			where := "other.db"
			ctx := context.Background()
			st, err := study.OpenSQLite(ctx, where)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := study.Create(ctx, st, study.Options{Name: tt.name, Directions: []study.Direction{study.Maximize}}); err != nil {
				t.Fatal(err)
			}
			st.Close()
			d, err := DeleteStudy(ctx, where, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(keep); err != nil {
				t.Fatalf("a file outside %s went: %v", StudiesDir, err)
			}
			_, err = os.Stat(filepath.Join(StudiesDir, "mine"))
			if gone := os.IsNotExist(err); gone != tt.removed || (d.Dir != "") != tt.removed {
				t.Errorf("directory removed: %v (reported %q), want %v", gone, d.Dir, tt.removed)
			}
		})
	}
}
