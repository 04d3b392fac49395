package importance

import (
	"math"
	"strings"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var (
	unit   = must(space.NewFloat(0, 1, false, 0))
	wide   = must(space.NewFloat(0, 5, false, 0))
	logInt = must(space.NewInt(1, 16, true, 1))
	abc    = must(space.NewCategorical([]any{"a", "b", "c"}))
	xy     = must(space.NewCategorical([]any{"x", "y"}))
	even   = must(space.NewInt(0, 10, false, 2))
	fixed  = must(space.NewFloat(1.5, 1.5, false, 0))
	posLog = must(space.NewFloat(0.1, 10, true, 0))
)

// basic is ten trials of a float, a log int and a categorical.
func basic() []Trial {
	ns := []float64{1, 2, 4, 8, 16, 3, 5, 9, 12, 7}
	var ts []Trial
	for i := range 10 {
		ts = append(ts, Trial{
			Number: i,
			Params: map[string]float64{"x": float64(i) / 9, "n": ns[i], "c": float64(i % 3)},
			Dists:  map[string]space.Distribution{"x": unit, "n": logInt, "c": abc},
			Value:  float64((i-3)*(i-3)) + 0.1*float64(i),
		})
	}
	return ts
}

// conditional: u has a second range in one trial (a regime too small to
// count), v exists only on branch y.
func conditional() []Trial {
	var ts []Trial
	for i := range 12 {
		t := Trial{Number: i, Params: map[string]float64{"u": float64(i) / 12}, Dists: map[string]space.Distribution{"k": xy, "u": unit}}
		if i%2 == 0 {
			t.Params["k"], t.Value = 0, float64(i)
		} else {
			t.Params["k"], t.Params["v"], t.Dists["v"], t.Value = 1, float64(i%5*2), even, float64(12-i)
		}
		if i == 4 {
			t.Dists["u"] = wide
		}
		ts = append(ts, t)
	}
	return ts
}

// TestEvaluateOptuna compares with raw values Python Optuna 5.0.0 gave for
// the same trials (get_param_importances(…, normalize=False) with
// PedAnovaImportanceEvaluator).
func TestEvaluateOptuna(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		trials []Trial
		dir    Direction
		o      Options
		want   map[string]float64
	}{
		{"basic", basic(), Minimize, Options{}, map[string]float64{"x": 0.0949714487419089, "n": 0.0039736462690140575, "c": 0.0004188879935523779}},
		{"maximize", basic(), Maximize, Options{TargetQuantile: 0.3}, map[string]float64{"x": 0.11271868276577295, "n": 0.030725574588094554, "c": 0.000464141821110669}},
		{"conditional", conditional(), Minimize, Options{TargetQuantile: 0.25}, map[string]float64{"v": 0.007419508092669469, "k": 0.0014062499999971886, "u": 0.0008568519326860074}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Evaluate(tc.trials, tc.dir, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			sum := 0.0
			for i, p := range got {
				if d := math.Abs(p.Raw-tc.want[p.Name]) / tc.want[p.Name]; d > 1e-12 {
					t.Errorf("%s: raw %.17g, Optuna %.17g", p.Name, p.Raw, tc.want[p.Name])
				}
				if i > 0 && got[i-1].Raw < p.Raw {
					t.Errorf("not sorted: %v", got)
				}
				sum += p.Importance
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Errorf("importances sum to %v", sum)
			}
		})
	}
}

// TestEvaluateDegenerate: where there is nothing to tell parameters apart,
// each gets an equal share, as in Optuna; a constant parameter gets none.
func TestEvaluateDegenerate(t *testing.T) {
	t.Parallel()
	withValue := func(ts []Trial, f func(i int) float64) []Trial {
		for i := range ts {
			ts[i].Value = f(i)
		}
		return ts
	}
	withFixed := func(ts []Trial) []Trial {
		for i := range ts {
			ts[i].Params["f"] = 1.5
			ts[i].Dists["f"] = fixed
		}
		return ts
	}
	extra := func(ts []Trial) []Trial {
		return append(ts, Trial{Number: 10, Params: map[string]float64{"z": 0.5}, Dists: map[string]space.Distribution{"z": unit}, Value: math.NaN()})
	}
	for _, tc := range []struct {
		name   string
		trials []Trial
		n      int                // parameters listed
		want   map[string]float64 // normalised, of some of them
	}{
		{"no trials", nil, 0, map[string]float64{}},
		{"one trial", basic()[:1], 3, map[string]float64{"x": 1.0 / 3, "n": 1.0 / 3, "c": 1.0 / 3}},
		{"one finite value", withValue(basic(), func(i int) float64 {
			return []float64{math.NaN(), math.Inf(1), 2, math.Inf(-1), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}[i]
		}), 3, map[string]float64{"x": 1.0 / 3, "n": 1.0 / 3, "c": 1.0 / 3}},
		{"all values equal", withValue(basic(), func(int) float64 { return 7 }), 3, map[string]float64{"x": 1.0 / 3, "n": 1.0 / 3, "c": 1.0 / 3}},
		{"constant parameter", withFixed(basic()), 4, map[string]float64{"f": 0}},
		// Optuna lists the parameters of every complete trial, even one
		// whose value takes no part.
		{"parameter of a NaN trial only", extra(basic()), 4, map[string]float64{"z": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Evaluate(tc.trials, Minimize, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.n {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for _, p := range got {
				if w, ok := tc.want[p.Name]; ok && math.Abs(p.Importance-w) > 1e-15 {
					t.Errorf("%s: %v, want %v (all: %v)", p.Name, p.Importance, w, got)
				}
			}
		})
	}
}

// TestEvaluateDirection: maximising a value is minimising its negation.
func TestEvaluateDirection(t *testing.T) {
	t.Parallel()
	neg := basic()
	for i := range neg {
		neg[i].Value = -neg[i].Value
	}
	a, err := Evaluate(basic(), Maximize, Options{TargetQuantile: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(neg, Minimize, Options{TargetQuantile: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("maximize %v, minimize of the negation %v", a, b)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	bad := func(name string, v float64, d space.Distribution) []Trial {
		ts := basic()
		ts[3].Params[name] = v
		ts[3].Dists[name] = d
		return ts
	}
	for _, tc := range []struct {
		name   string
		trials []Trial
		o      Options
		want   string
	}{
		{"no distribution", bad("z", 1, nil), Options{}, `trial 3: parameter "z" has no distribution`},
		{"NaN parameter", bad("x", math.NaN(), unit), Options{}, "not a finite number"},
		{"choice out of range", bad("c", 3, abc), Options{}, "not a choice index"},
		{"fractional choice", bad("c", 0.5, abc), Options{}, "not a choice index"},
		{"log of zero", bad("p", 0, posLog), Options{}, "not positive"},
		{"int without step", bad("s", 1, &space.Int{Low: 0, High: 4}), Options{}, "invalid distribution"},
		{"float above its high", bad("s", 1, &space.Float{Low: 2, High: 1}), Options{}, "invalid distribution"},
		{"target above region", basic(), Options{TargetQuantile: 0.6, RegionQuantile: 0.5}, "quantiles"},
		{"region above 1", basic(), Options{RegionQuantile: 1.5}, "quantiles"},
		{"negative target", basic(), Options{TargetQuantile: -0.1}, "quantiles"},
		{"NaN target", basic(), Options{TargetQuantile: math.NaN()}, "quantiles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Evaluate(tc.trials, Minimize, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
