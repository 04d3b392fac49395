package simstudy

import (
	"os"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
)

// The benches' studies load as configs (they run only under make bench-*).
func TestBodyLoads(t *testing.T) {
	t.Parallel()
	head := "study: {name: s}\noptimization: {n_trials: 20, seed: 1, confirm: false}\n"
	for _, baseline := range []string{"true", "false"} {
		src := strings.NewReplacer("SECONDS", "8", "BASELINE", baseline).Replace(head + Body)
		s, err := config.Parse("simstudy.yaml", []byte(src), os.Getenv)
		if err != nil {
			t.Fatalf("baseline %s: %v", baseline, err)
		}
		if len(s.Parameters) != 5 || (s.Baseline != nil) != (baseline == "true") {
			t.Errorf("baseline %s: %d parameters, baseline %v", baseline, len(s.Parameters), s.Baseline)
		}
	}
}
