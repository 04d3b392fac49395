package tune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// OpenExisting opens a storage for reading or deleting: a SQLite file must
// exist already (opening creates one, and an empty database would hide a
// mistyped path).
func OpenExisting(ctx context.Context, where string) (study.Storage, error) {
	if path, ok := strings.CutPrefix(where, "sqlite:///"); ok || !strings.Contains(where, "://") {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w: no study storage at %s", study.ErrStudyNotFound, where)
		}
	}
	return study.Open(ctx, where)
}

// StudyTrials reads every trial of study name, in number order, from the
// storage at where without creating it.
func StudyTrials(ctx context.Context, where, name string) ([]study.Trial, error) {
	st, err := OpenExisting(ctx, where)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_, trials, err := trialsOf(ctx, st, name)
	return trials, err
}

// trialsOf loads study name of an open storage and its trials.
func trialsOf(ctx context.Context, st study.Storage, name string) (*study.Info, []study.Trial, error) {
	info, err := st.LoadStudy(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	trials, err := st.Trials(ctx, info.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("study %s: %w", name, err)
	}
	return info, trials, nil
}

// Studies summarizes every study of a storage, in creation order.
func Studies(ctx context.Context, where string) ([]study.Summary, error) {
	st, err := OpenExisting(ctx, where)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	names, err := st.StudyNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the studies of %s: %w", study.Redact(where), err)
	}
	out := make([]study.Summary, 0, len(names))
	for _, name := range names {
		info, trials, err := trialsOf(ctx, st, name)
		if err != nil {
			return nil, err
		}
		out = append(out, study.Summarize(info, trials))
	}
	return out, nil
}

// Deleted says what DeleteStudy removed and what it left.
type Deleted struct {
	Trials int
	// Dir is the study's own directory of saved files, removed; Kept is
	// one that was left, with why.
	Dir, Kept string
}

// DeleteStudy removes a study and all its rows from the storage at where.
// Its directory under StudiesDir (study_config.yaml, and the default
// study.db) goes too, but only when it is the study's alone: named after
// the study (a prefix's directory is shared by its numbered studies), and
// holding no storage where other studies remain.
func DeleteStudy(ctx context.Context, where, name string) (*Deleted, error) {
	st, err := OpenExisting(ctx, where)
	if err != nil {
		return nil, err
	}
	info, err := st.LoadStudy(ctx, name)
	if err != nil {
		st.Close()
		return nil, err
	}
	trials, err := st.Trials(ctx, info.ID)
	if err == nil {
		err = st.DeleteStudy(ctx, name)
	}
	var rest []string
	if err == nil {
		rest, err = st.StudyNames(ctx)
	}
	st.Close()
	if err != nil {
		return nil, fmt.Errorf("delete study %s: %w", name, err)
	}
	d := &Deleted{Trials: len(trials)}
	// A name from someone else's storage could be "..": only a plain
	// directory name below StudiesDir is ever removed.
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return d, nil
	}
	dir := filepath.Join(StudiesDir, name)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return d, nil
	}
	if why := notOwn(dir, where, len(rest)); why != "" {
		d.Kept = fmt.Sprintf("%s (%s)", dir, why)
		return d, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return d, fmt.Errorf("study %s deleted, but not its directory: %w", name, err)
	}
	d.Dir = dir
	return d, nil
}

// notOwn says why dir is not the deleted study's alone to remove ("" when
// it is): it holds a database other than the storage the study was deleted
// from, that storage still holds other studies, or the config saved in it
// names another storage. A directory that cannot be read is kept.
func notOwn(dir, where string, others int) string {
	isFile := !strings.Contains(where, "://") || strings.HasPrefix(where, "sqlite:///")
	storage := study.Redact(where)
	if isFile {
		storage, _ = filepath.Abs(strings.TrimPrefix(where, "sqlite:///"))
	}
	inside := false
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "it cannot be read: " + err.Error()
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			return "it holds a directory, " + name
		}
		ext := filepath.Ext(strings.TrimSuffix(strings.TrimSuffix(name, "-wal"), "-shm"))
		if ext != ".db" && ext != ".sqlite" && ext != ".sqlite3" && !strings.HasSuffix(name, "-journal") {
			continue
		}
		abs, _ := filepath.Abs(filepath.Join(dir, name))
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(abs, "-wal"), "-shm"), "-journal")
		if !isFile || base != storage {
			return "it holds another storage, " + name
		}
		inside = true
	}
	if inside && others > 0 {
		return fmt.Sprintf("its storage still holds %d other studies", others)
	}
	if cfgPath := filepath.Join(dir, "study_config.yaml"); !inside {
		if _, err := os.Stat(cfgPath); err == nil {
			cfg, err := config.Load(cfgPath, func(string) string { return "" })
			if err != nil {
				return "its saved config does not load, so whose it is is unknown"
			}
			saved, _ := Where(cfg)
			if isFile {
				saved, _ = filepath.Abs(strings.TrimPrefix(saved, "sqlite:///"))
			} else {
				saved = study.Redact(saved)
			}
			if saved != storage {
				return "its saved config names another storage"
			}
		}
	}
	return ""
}

// Storages are the storages of the studies saved under StudiesDir: for each
// directory, the storage its saved config names (read by storageOf), else
// its study.db. Problems with one directory do not hide the others.
func Storages(storageOf func(dir string) (string, error)) ([]string, error) {
	entries, err := os.ReadDir(StudiesDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", StudiesDir, err)
	}
	var out []string
	var errs []error
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(StudiesDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "study_config.yaml")); err == nil {
			s, err := storageOf(dir)
			if err != nil {
				errs = append(errs, err)
			} else if strings.Contains(s, "://") || exists(s) {
				add(s)
			}
		}
		if db := filepath.Join(dir, "study.db"); exists(db) {
			add(db)
		}
	}
	return out, errors.Join(errs...)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
