package study

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/pgtest"
)

// opener gives a test a fresh, empty storage and where it lives (a path or
// URL that Open accepts).
type opener func(t *testing.T) (*SQL, string)

// conformance runs against every backend.
var conformance = map[string]func(*testing.T, opener){
	"StudyLifecycle":                  cStudyLifecycle,
	"ConcurrentTrialNumbers":          cConcurrentTrialNumbers,
	"FailRunning":                     cFailRunning,
	"DeleteStudy":                     cDeleteStudy,
	"AskTellBaselineDuplicatesResume": cAskTellBaselineDuplicatesResume,
	"TrialCache":                      cTrialCache,
	"Intermediate":                    cIntermediate,
}

func openWhere(t *testing.T, where string) (*SQL, string) {
	t.Helper()
	st, err := Open(context.Background(), where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, where
}

func openTemp(t *testing.T) (*SQL, string) {
	return openWhere(t, filepath.Join(t.TempDir(), "sub", "study.db"))
}

func TestSQLiteStorage(t *testing.T) {
	for name, f := range conformance {
		t.Run(name, func(t *testing.T) { f(t, openTemp) })
	}
}

func TestPostgresStorage(t *testing.T) {
	srv := pgtest.Start(t)
	for name, f := range conformance {
		t.Run(name, func(t *testing.T) {
			f(t, func(t *testing.T) (*SQL, string) { return openWhere(t, srv.NewDB(t)) })
		})
	}
}
