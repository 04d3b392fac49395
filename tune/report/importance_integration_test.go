package report

import (
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/testenv"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/importance"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// optunaCase is one evaluation by Python Optuna (scripts/optuna-importance.py).
type optunaCase struct {
	Study     string `json:"study"`
	Objective int    `json:"objective"`
	Direction string `json:"direction"`
	Options   struct {
		Target float64 `json:"target_quantile"`
		Region float64 `json:"region_quantile"`
		Global bool    `json:"global"`
	} `json:"options"`
	Importances map[string]float64 `json:"importances"`
	Raw         map[string]float64 `json:"raw"`
}

// importanceTolerance is relative, with an absolute floor for values that
// are 0 up to rounding: our sums run in another order than numpy's.
const importanceTolerance = 1e-10

// TestIntegrationImportanceOptuna has Python Optuna build studies of every
// distribution kind (conditional parameters, ties at the quantile cut,
// infinite values, two objectives, a constant objective, a single trial)
// and checks that our PED-ANOVA, reading the same SQLite file through our
// storage, gives Optuna's importances.
func TestIntegrationImportanceOptuna(t *testing.T) {
	bin := testenv.Optuna(t)
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "python"), filepath.Join("..", "..", "scripts", "optuna-importance.py"), "make", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("optuna-importance.py: %v\n%s", err, stderr.String())
	}
	var cases []optunaCase
	if err := json.Unmarshal(out, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("optuna-importance.py evaluated no study")
	}

	ctx := context.Background()
	st, err := study.OpenSQLite(ctx, filepath.Join(dir, "studies.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	worst := 0.0
	for _, c := range cases {
		o := importance.Options{TargetQuantile: c.Options.Target, RegionQuantile: c.Options.Region, Global: c.Options.Global}
		info, err := st.LoadStudy(ctx, c.Study)
		if err != nil {
			t.Fatal(err)
		}
		trials, err := st.Trials(ctx, info.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(info.Directions[c.Objective]); got != c.Direction {
			t.Fatalf("%s: objective %d is %s for us, %s for Optuna", c.Study, c.Objective, got, c.Direction)
		}
		got, err := Importances(trials, c.Objective, info.Directions[c.Objective], o)
		if err != nil {
			t.Fatalf("%s objective %d %+v: %v", c.Study, c.Objective, o, err)
		}
		if len(got) != len(c.Importances) {
			t.Errorf("%s objective %d %+v: %d parameters, Optuna has %d: %v vs %v", c.Study, c.Objective, o, len(got), len(c.Importances), got, c.Importances)
			continue
		}
		for i, p := range got {
			want, ok := c.Importances[p.Name]
			if !ok {
				t.Errorf("%s: parameter %q unknown to Optuna", c.Study, p.Name)
				continue
			}
			for _, pair := range [][2]float64{{p.Importance, want}, {p.Raw, c.Raw[p.Name]}} {
				d := math.Abs(pair[0]-pair[1]) / math.Max(math.Abs(pair[1]), 1e-12)
				worst = math.Max(worst, d)
				if d > importanceTolerance {
					t.Errorf("%s objective %d %+v: %s = %.17g, Optuna %.17g (relative difference %.3g)", c.Study, c.Objective, o, p.Name, pair[0], pair[1], d)
				}
			}
			if i > 0 && got[i-1].Importance < p.Importance {
				t.Errorf("%s: not sorted descending: %v", c.Study, got)
			}
		}
	}
	t.Logf("%d evaluations; largest relative difference from Optuna: %.3g", len(cases), worst)
}
