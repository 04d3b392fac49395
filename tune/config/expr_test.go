package config

import (
	"strings"
	"testing"
)

func TestExpr(t *testing.T) {
	t.Parallel()
	vars := map[string]float64{"a": 8192, "b": 4096, "tp": 2, "pp": 4}
	tests := []struct {
		src     string
		want    float64
		wantErr string
	}{
		{"a - b", 4096, ""},
		{"b - a", -4096, ""},
		{"tp * pp - 4", 4, ""},
		{"2 ** 3 ** 2", 512, ""},
		{"-2 ** 2", -4, ""},
		{"7 // 2 + 7 % 3", 4, ""},
		{"-7 % 3", 2, ""},
		{"a > b", 1, ""},
		{"a > b and tp > 4", 0, ""},
		{"not tp == 2 or pp", 4, ""},
		{"max(tp, pp, 3) - min(a, b) / 1024", 0, ""},
		{"abs(b - a) >= 4096", 1, ""},
		{"(tp + pp) * 2", 12, ""},
		{"1e3 + 1_000", 2000, ""},
		{"a -", 0, "unexpected end of expression"},
		{"__import__('os')", 0, "unexpected"},
		{"open(a)", 0, "only min, max and abs"},
		{"a.b", 0, "unexpected"},
		{"(a + b", 0, "missing )"},
		{"a b", 0, `unexpected "b"`},
	}
	for _, tt := range tests {
		e, err := ParseExpr(tt.src)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want %q", tt.src, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		got, err := e.Eval(vars)
		if err != nil || got != tt.want {
			t.Errorf("%q = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
	e, _ := ParseExpr("x / y + x")
	if got := e.Names(); len(got) != 2 || got[0] != "x" || got[1] != "y" {
		t.Errorf("names %v", got)
	}
	if _, err := e.Eval(map[string]float64{"x": 1, "y": 0}); err == nil {
		t.Error("division by zero accepted")
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"a - b", "max(a, 2) ** -1", "not (a < b) or c // 2", "1e-3 % x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			return
		}
		vars := map[string]float64{}
		for _, n := range e.Names() {
			vars[n] = 3
		}
		e.Eval(vars) // must not panic
	})
}
