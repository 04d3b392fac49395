// Package archtest checks the package graph of ../shared/style.md §4
// mechanically, so the arrows of the layering stay as drawn without anyone
// policing them by hand.
package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const mod = "github.com/auto-tune-vllm/auto-tune-vllm/"

type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

// listed is the module's packages, read once for both tests: `go list`
// loads the whole module.
var listed = sync.OnceValues(func() ([]pkg, error) {
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		p.ImportPath = strings.TrimPrefix(p.ImportPath, mod)
		pkgs = append(pkgs, p)
	}
})

func list(t *testing.T) []pkg {
	t.Helper()
	pkgs, err := listed()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// under reports whether package p is prefix or inside it.
func under(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }

// rows of the graph, most specific prefix first: a package imports only
// packages on lower rows, or its own subtree (gcs/dashboard → gcs).
var rows = []struct {
	prefix string
	row    int
}{
	{"cmd", 5},
	{"bench", 5}, // the benchmark programs sit beside the CLI
	{"tune/report", 4}, {"tune/backend", 4},
	{"tune/study", 3}, {"tune/trial", 3}, {"tune/config", 3}, {"head", 3},
	{"tune/sampler/gp", 1}, // the GP maths: a leaf under its sampler
	{"tune/sampler", 2}, {"tune/importance", 2}, {"tune/bench", 2}, {"gcs", 2}, {"gpu", 2},
	{"tune/space", 1}, {"tune/metric", 1}, {"tune/stats", 1}, {"tune/sim", 1}, {"internal/proc", 1}, {"third_party", 1},
	{"tune", 4},
}

func rowOf(p string) (int, string) {
	for _, r := range rows {
		if under(p, r.prefix) {
			return r.row, r.prefix
		}
	}
	return 0, ""
}

// never are the imports style.md §4 forbids outright, with why.
var never = []struct {
	from, to []string
	why      string
}{
	{[]string{"gcs", "head", "gpu", "internal/proc"}, []string{"tune", "cmd"}, "they know nothing of tuning, so `ray doctor` works without a study"},
	{[]string{"tune/sampler"}, []string{"tune/study", "tune/trial", "tune/bench"}, "samplers are pure: history in, parameters out"},
	{[]string{"tune/importance"}, []string{"tune/study", "tune/trial", "tune/bench", "tune/config"}, "importance is pure: trials in, importances out"},
	{[]string{"tune/bench"}, []string{"tune/study", "tune/sampler", "tune/trial", "tune/config"}, "the load generator takes its own options"},
	{[]string{"tune/trial"}, []string{"tune/config", "tune/study"}, "tune turns the config into a trial.Spec"},
	{[]string{"tune/study"}, []string{"tune/backend", "tune/trial", "tune/bench", "internal/proc"}, "the study stores values and states, never servers"},
	{[]string{"tune/backend/local"}, []string{"tune/backend/ray"}, "backends never import each other"},
	{[]string{"tune/backend/ray"}, []string{"tune/backend/local"}, "backends never import each other"},
	{[]string{"tune/backend"}, []string{"tune/config", "tune/study", "tune/sampler"}, "a backend runs trial specs; it knows no study"},
	{[]string{"tune/report"}, []string{"tune/backend", "tune/trial", "tune/bench"}, "the report reads the study only"},
}

// Standard packages that mean I/O, processes or a clock, which the pure
// packages (search space, samplers, metric names) never use.
var impure = map[string]bool{"os": true, "os/exec": true, "net": true, "net/http": true, "database/sql": true, "time": true, "syscall": true, "os/signal": true}

func TestLayering(t *testing.T) {
	t.Parallel()
	for _, p := range list(t) {
		from := p.ImportPath
		fromRow, fromTop := rowOf(from)
		if fromRow == 0 && !under(from, "internal") {
			t.Errorf("%s is on no row of the graph: add it to rows (and to style.md §4)", from)
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				switch {
				case imp == "os/exec" && !under(from, "internal/proc") && !under(from, "cmd") && !under(from, "bench"):
					t.Errorf("%s imports os/exec: only internal/proc starts processes", from)
				case impure[imp] && (under(from, "tune/space") || under(from, "tune/sampler") || under(from, "tune/importance") || under(from, "tune/metric")):
					t.Errorf("%s imports %s: the search space, samplers, importance and metric names do no I/O and read no clock", from, imp)
				}
				continue
			}
			to := strings.TrimPrefix(imp, mod)
			if under(to, "cmd") {
				t.Errorf("%s imports %s: nothing imports the CLI", from, to)
			}
			if under(to, "internal/raytest") || under(to, "internal/pgtest") || under(to, "internal/testenv") || under(to, "internal/archtest") {
				t.Errorf("%s imports %s: test helpers are for tests", from, to)
			}
			if under(to, "third_party/ray") && !under(from, "gcs") {
				t.Errorf("%s imports %s: only gcs uses the generated Ray protos", from, to)
			}
			if under(to, "third_party/echarts") && !under(from, "tune/report") {
				t.Errorf("%s imports %s: only the HTML report inlines the chart library", from, to)
			}
			if under(from, "internal/proc") && !under(to, "internal/proc") {
				t.Errorf("%s imports %s: internal/proc is a leaf", from, to)
			}
			for _, n := range never {
				if anyUnder(from, n.from) && anyUnder(to, n.to) {
					t.Errorf("%s imports %s: %s", from, to, n.why)
				}
			}
			toRow, toTop := rowOf(to)
			if fromRow > 0 && toRow > 0 && toRow >= fromRow && fromTop != toTop {
				t.Errorf("%s (row %d) imports %s (row %d): arrows point down only", from, fromRow, to, toRow)
			}
		}
	}
}

func anyUnder(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if under(p, pre) {
			return true
		}
	}
	return false
}

// What an import list cannot show: only cmd ends the process or reads its
// arguments, only internal/proc sends signals, and the environment is read
// in cmd and passed down.
func TestCallsOnlyWhereAllowed(t *testing.T) {
	t.Parallel()
	rules := []struct {
		re      *regexp.Regexp
		allowed []string
		why     string
	}{
		{regexp.MustCompile(`\bos\.(Exit|Args)\b`), []string{"cmd", "bench"}, "only cmd touches os.Args and os.Exit"},
		{regexp.MustCompile(`\b(syscall|unix)\.Kill\(`), []string{"internal/proc"}, "only internal/proc sends signals"},
		{regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ)\(`), []string{"cmd", "bench", "internal/raytest", "internal/pgtest", "internal/testenv"}, "cmd reads the environment and passes values down"},
	}
	for _, p := range list(t) {
		for _, f := range p.GoFiles {
			src, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			text := stripComments(string(src))
			for _, r := range rules {
				if loc := r.re.FindStringIndex(text); loc != nil && !anyUnder(p.ImportPath, r.allowed) {
					t.Errorf("%s/%s: %s: %s", p.ImportPath, f, text[loc[0]:loc[1]], r.why)
				}
			}
		}
	}
}

var comment = regexp.MustCompile(`(?m)//.*$`)

func stripComments(s string) string { return comment.ReplaceAllString(s, "") }
