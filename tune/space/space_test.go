package space

import (
	"math"
	"strings"
	"testing"
)

func TestNewRanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		make    func() (Distribution, error)
		want    string
		size    float64
		wantErr string
	}{
		{"float stepped high adjusted", func() (Distribution, error) { return NewFloat(0.7, 0.955, false, 0.01) }, "float [0.7, 0.95] step 0.01", 26, ""},
		{"float continuous", func() (Distribution, error) { return NewFloat(0, 1, false, 0) }, "float [0, 1]", math.Inf(1), ""},
		{"float log", func() (Distribution, error) { return NewFloat(1e-3, 1, true, 0) }, "float [0.001, 1] log", math.Inf(1), ""},
		{"float log and step", func() (Distribution, error) { return NewFloat(1, 2, true, 0.1) }, "", 0, "log and step"},
		{"float reversed", func() (Distribution, error) { return NewFloat(2, 1, false, 0) }, "", 0, "greater than max"},
		{"float log needs positive", func() (Distribution, error) { return NewFloat(0, 1, true, 0) }, "", 0, "min > 0"},
		{"int stepped", func() (Distribution, error) { return NewInt(1024, 32000, false, 1024) }, "int [1024, 31744] step 1024", 31, ""},
		{"int default step", func() (Distribution, error) { return NewInt(1, 8, false, 0) }, "int [1, 8]", 8, ""},
		{"int log with step", func() (Distribution, error) { return NewInt(1, 8, true, 2) }, "", 0, "log and step"},
		{"int single", func() (Distribution, error) { return NewInt(4, 4, false, 1) }, "int [4, 4]", 1, ""},
		{"categorical", func() (Distribution, error) { return NewCategorical([]any{"auto", "fp8", nil, 3}) }, `one of ["auto","fp8",null,3]`, 4, ""},
		{"categorical duplicate", func() (Distribution, error) { return NewCategorical([]any{8, 16, 8}) }, "", 0, "twice"},
		{"categorical empty", func() (Distribution, error) { return NewCategorical(nil) }, "", 0, "empty"},
		{"categorical nested", func() (Distribution, error) { return NewCategorical([]any{[]any{1}}) }, "", 0, "not a scalar"},
	}
	for _, tt := range tests {
		d, err := tt.make()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if d.String() != tt.want || d.Size() != tt.size {
			t.Errorf("%s: %s size %v, want %s size %v", tt.name, d, d.Size(), tt.want, tt.size)
		}
	}
}

func TestInternalExternal(t *testing.T) {
	t.Parallel()
	i, _ := NewInt(8, 512, false, 8)
	f, _ := NewFloat(0.7, 0.95, false, 0.01)
	c, _ := NewCategorical([]any{true, false})
	mixed, _ := NewCategorical([]any{"auto", nil, 8})
	tests := []struct {
		d        Distribution
		external any
		internal float64
		ok       bool
	}{
		{i, int64(376), 376, true},
		{i, int64(377), 0, false},
		{f, 0.83, 0.83, true},
		{f, 0.835, 0, false},
		{c, true, 0, true},
		{c, false, 1, true},
		{mixed, nil, 1, true},
		{mixed, 8.0, 2, true},
		{mixed, "fp8", 0, false},
	}
	if got := f.External(0.8200000000000001); got != 0.82 {
		t.Errorf("%s.External(0.8200000000000001) = %v, want 0.82", f, got)
	}
	for _, tt := range tests {
		got, err := tt.d.Internal(tt.external)
		if (err == nil) != tt.ok || (tt.ok && got != tt.internal) {
			t.Errorf("%s.Internal(%v) = %v, %v", tt.d, tt.external, got, err)
			continue
		}
		if tt.ok {
			back := tt.d.External(got)
			if n, ok := number(back); ok {
				if m, _ := number(tt.external); n != m {
					t.Errorf("%s round trip %v → %v", tt.d, tt.external, back)
				}
			} else if back != tt.external {
				t.Errorf("%s round trip %v → %v", tt.d, tt.external, back)
			}
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	i, _ := NewInt(8, 512, false, 8)
	il, _ := NewInt(1, 1024, true, 1)
	f, _ := NewFloat(0.7, 0.95, false, 0.01)
	fl, _ := NewFloat(1e-4, 1, true, 0)
	c, _ := NewCategorical([]any{"auto", "fp8", nil, int64(3), true, 2.5})
	for _, d := range []Distribution{i, il, f, fl, c} {
		back, err := ParseJSON(d.JSON())
		if err != nil {
			t.Fatalf("%s: %v", d.JSON(), err)
		}
		if back.JSON() != d.JSON() {
			t.Errorf("round trip:\n %s\n %s", d.JSON(), back.JSON())
		}
	}
	if got := i.JSON(); got != `{"attributes":{"high":512,"log":false,"low":8,"step":8},"name":"IntDistribution"}` {
		t.Errorf("int json %s", got)
	}
	if got := f.JSON(); !strings.Contains(got, `"step":0.01`) || !strings.Contains(got, `"name":"FloatDistribution"`) {
		t.Errorf("float json %s", got)
	}
	legacy, err := ParseJSON(`{"name": "UniformDistribution", "attributes": {"low": 0.0, "high": 2.0}}`)
	if err != nil || legacy.String() != "float [0, 2]" {
		t.Errorf("legacy: %v %v", legacy, err)
	}
}

func TestSpaceSize(t *testing.T) {
	t.Parallel()
	i, _ := NewInt(1, 4, false, 1)
	c, _ := NewCategorical([]any{"a", "b", "c"})
	f, _ := NewFloat(0, 1, false, 0)
	if got := (Space{{"a", i}, {"b", c}}).Size(); got != 12 {
		t.Errorf("size %v", got)
	}
	if got := (Space{{"a", i}, {"f", f}}).Size(); !math.IsInf(got, 1) {
		t.Errorf("size %v", got)
	}
}

func TestOnStep(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ x, want float64 }{{0.7 + 12*0.01, 0.82}, {0.8349, 0.83}, {2, 0.95}, {0.1, 0.7}} {
		if got := OnStep(c.x, 0.7, 0.95, 0.01); got != c.want {
			t.Errorf("OnStep(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := OnStep(1000, 8, 512, 8); got != 512 {
		t.Errorf("int grid: %v", got)
	}
}
