// Package archtest checks the package graph mechanically, so the arrows of
// the layering (cmd → tune → gcs/head/gpu → internal/proc, third_party) stay
// as drawn without anyone policing them by hand.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/auto-tune-vllm/auto-tune-vllm/"

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestLayering(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	rel := func(s string) string { return strings.TrimPrefix(s, mod) }
	has := func(s, prefix string) bool { return s == prefix || strings.HasPrefix(s, prefix+"/") }
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				if imp == "os/exec" && !has(from, "internal/proc") && !has(from, "cmd") {
					t.Errorf("%s imports os/exec: only internal/proc starts processes", from)
				}
				continue
			}
			to := rel(imp)
			switch {
			case has(to, "cmd"):
				t.Errorf("%s imports %s: nothing imports the CLI", from, to)
			case (has(from, "gcs") || has(from, "head") || has(from, "gpu") || has(from, "internal/proc")) && (has(to, "tune") || has(to, "cmd")):
				t.Errorf("%s imports %s: gcs, head, gpu and internal/proc know nothing of tuning", from, to)
			case has(to, "third_party") && !has(from, "gcs"):
				t.Errorf("%s imports %s: only gcs uses the generated Ray protos", from, to)
			case has(to, "internal/raytest") || has(to, "internal/pgtest"):
				t.Errorf("%s imports %s: test helpers are for tests", from, to)
			case has(from, "internal/proc") && !has(to, "internal/proc"):
				t.Errorf("%s imports %s: internal/proc is a leaf", from, to)
			}
		}
	}
}
