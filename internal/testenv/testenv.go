// Package testenv reads the paths of the real programs the integration tests
// run (Python Optuna, Chromium, llm-d-inference-sim), which `make test`
// installs and passes in the environment. Without one a test fails, saying
// what installs it, rather than skips; under -short it is skipped.
package testenv

import (
	"os"
	"testing"
)

// Path is the value of key. what names the test for the -short skip
// ("interop test with real Python Optuna"); install says how to get the
// program ("run the tests with `make test`, which installs Optuna (…)").
func Path(t testing.TB, key, what, install string) string {
	t.Helper()
	if testing.Short() {
		t.Skip(what + ": not run with -short")
	}
	v := os.Getenv(key)
	if v == "" {
		t.Fatal(key + " is not set: " + install)
	}
	return v
}

// Optuna is the bin directory of the pinned Optuna virtualenv.
func Optuna(t testing.TB) string {
	t.Helper()
	return Path(t, "ATV_OPTUNA_BIN", "interop test with real Python Optuna", "run the tests with `make test`, which installs Optuna (scripts/optuna-venv.sh)")
}
