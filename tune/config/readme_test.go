package config

import (
	"os"
	"strings"
	"testing"
)

// The README's config reference is a config: it must load without a problem
// or a warning, so that what it documents is what the loader accepts.
func TestReadmeReferenceLoads(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Config reference")
	if !ok {
		t.Fatal("README has no \"### Config reference\" section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the config reference has no ```yaml block")
	}
	s, err := Parse("README.md", []byte(block), func(string) string { return "" })
	if err != nil {
		t.Fatalf("the README's config reference does not load:\n%v", err)
	}
	if len(s.Warnings) > 0 {
		t.Errorf("the README's config reference loads with warnings: %q", s.Warnings)
	}
	// Defaults the reference states must be the loader's.
	if s.NTrials != DefaultNTrials || s.NStartupTrials != DefaultStartupTrials || s.Benchmark.Rate != DefaultRate ||
		s.Confirm != DefaultConfirm || s.Benchmark.Model != DefaultModel || s.Server.StartupTimeout != DefaultStartupTimeout {
		t.Errorf("the reference's values differ from the loader's defaults: %+v", s)
	}
}
