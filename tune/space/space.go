// Package space defines the search space: Optuna's three distributions with
// their internal float representation (a categorical is its choice index) and
// their `distribution_json` form, so studies stay readable by Optuna itself.
// It does no I/O and draws no random numbers.
package space

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Distribution is one parameter's domain.
type Distribution interface {
	// Contains reports whether the internal value lies in the domain.
	Contains(internal float64) bool
	// External converts an internal value to the user's value (float64, int64,
	// bool, string or nil).
	External(internal float64) any
	// Internal converts a user value to the internal float.
	Internal(external any) (float64, error)
	// Single reports whether the domain has exactly one value.
	Single() bool
	// Size is the number of distinct values, or +Inf for a continuous range.
	Size() float64
	// JSON is Optuna's distribution_json.
	JSON() string
	fmt.Stringer
}

// Float is a real range, optionally log-scaled or stepped (never both).
type Float struct {
	Low, High float64
	Log       bool
	Step      float64 // 0 = continuous
}

// Int is an integer range with a step (default 1), optionally log-scaled
// (then the step must be 1).
type Int struct {
	Low, High int64
	Log       bool
	Step      int64
}

// Categorical is a list of choices: nil, bool, int64, float64 or string.
type Categorical struct {
	Choices []any
}

// NewFloat validates and normalises a float range like Optuna does: with a
// step, High is lowered to the last reachable grid point.
func NewFloat(low, high float64, log bool, step float64) (*Float, error) {
	switch {
	case math.IsNaN(low) || math.IsNaN(high) || math.IsInf(low, 0) || math.IsInf(high, 0):
		return nil, errors.New("bounds must be finite numbers")
	case low > high:
		return nil, fmt.Errorf("min %v is greater than max %v", low, high)
	case log && step != 0:
		return nil, errors.New("log and step cannot be used together")
	case log && low <= 0:
		return nil, fmt.Errorf("a log range needs min > 0, got %v", low)
	case step < 0:
		return nil, fmt.Errorf("step must be positive, got %v", step)
	}
	if step > 0 {
		n := math.Floor((high-low)/step + 1e-9)
		high = low + n*step
		// Keep the decimal form of the user's numbers (0.7 + 25*0.01 is not 0.95).
		high = roundLike(high, low, step)
	}
	return &Float{Low: low, High: high, Log: log, Step: step}, nil
}

// NewInt validates and normalises an int range (High lowered to the grid).
func NewInt(low, high int64, log bool, step int64) (*Int, error) {
	if step == 0 {
		step = 1
	}
	switch {
	case low > high:
		return nil, fmt.Errorf("min %d is greater than max %d", low, high)
	case step < 0:
		return nil, fmt.Errorf("step must be positive, got %d", step)
	case log && step != 1:
		return nil, errors.New("log and step cannot be used together")
	case log && low < 1:
		return nil, fmt.Errorf("a log range needs min >= 1, got %d", low)
	}
	high = low + (high-low)/step*step
	return &Int{Low: low, High: high, Log: log, Step: step}, nil
}

// NewCategorical validates the choices (at least one, no duplicates, only
// scalar JSON values).
func NewCategorical(choices []any) (*Categorical, error) {
	if len(choices) == 0 {
		return nil, errors.New("options must not be empty")
	}
	out := make([]any, len(choices))
	seen := map[string]bool{}
	for i, c := range choices {
		v, err := normalizeChoice(c)
		if err != nil {
			return nil, fmt.Errorf("option %d: %w", i+1, err)
		}
		key := choiceKey(v)
		if seen[key] {
			return nil, fmt.Errorf("option %v appears twice", c)
		}
		seen[key] = true
		out[i] = v
	}
	return &Categorical{Choices: out}, nil
}

func normalizeChoice(c any) (any, error) {
	switch v := c.(type) {
	case nil, bool, string, float64:
		return v, nil
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case float32:
		return float64(v), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		return v.Float64()
	}
	return nil, fmt.Errorf("%v (%T) is not a scalar (string, number, boolean or null)", c, c)
}

func choiceKey(v any) string {
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%T:%s", v, b)
}

// OnStep returns the point of the grid low, low+step, … nearest to x, in the
// decimals of low and step (so 0.7 + 12 steps of 0.01 is 0.82, not
// 0.8200000000000001). Samplers use it for stepped ranges.
func OnStep(x, low, high, step float64) float64 {
	v := low + math.Round((x-low)/step)*step
	v = math.Min(math.Max(v, low), high)
	return roundLike(v, low, step)
}

func roundLike(x, low, step float64) float64 {
	digits := max(decimals(low), decimals(step))
	if digits > 12 {
		return x
	}
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func decimals(x float64) int {
	s := strconv.FormatFloat(x, 'f', -1, 64)
	for i := range s {
		if s[i] == '.' {
			return len(s) - i - 1
		}
	}
	return 0
}

func (d *Float) Contains(v float64) bool {
	if math.IsNaN(v) || v < d.Low || v > d.High {
		return false
	}
	if d.Step == 0 {
		return true
	}
	k := (v - d.Low) / d.Step
	return math.Abs(k-math.Round(k)) < 1e-8
}

// External of a stepped range is the grid point in the decimals of low and
// step: a value another sampler stored (Optuna's GPSampler gives
// 0.6400000000000001) reaches flags and reports as 0.64.
func (d *Float) External(v float64) any {
	if d.Step > 0 && d.Contains(v) {
		return OnStep(v, d.Low, d.High, d.Step)
	}
	return v
}

func (d *Float) Internal(x any) (float64, error) { return numericInternal(d, x) }

func (d *Float) Single() bool { return d.Low == d.High }

func (d *Float) Size() float64 {
	if d.Single() {
		return 1
	}
	if d.Step == 0 {
		return math.Inf(1)
	}
	return math.Round((d.High-d.Low)/d.Step) + 1
}

func (d *Float) JSON() string {
	var step any
	if d.Step != 0 {
		step = d.Step
	}
	return distJSON("FloatDistribution", map[string]any{"low": d.Low, "high": d.High, "log": d.Log, "step": step})
}

func (d *Float) String() string {
	switch {
	case d.Log:
		return fmt.Sprintf("float [%v, %v] log", d.Low, d.High)
	case d.Step != 0:
		return fmt.Sprintf("float [%v, %v] step %v", d.Low, d.High, d.Step)
	}
	return fmt.Sprintf("float [%v, %v]", d.Low, d.High)
}

func (d *Int) Contains(v float64) bool {
	if math.IsNaN(v) || v != math.Trunc(v) || v < float64(d.Low) || v > float64(d.High) {
		return false
	}
	return (int64(v)-d.Low)%d.Step == 0
}

func (d *Int) External(v float64) any { return int64(math.Round(v)) }

func (d *Int) Internal(x any) (float64, error) { return numericInternal(d, x) }

// numericInternal: a number's internal value is itself, if in the domain.
func numericInternal(d Distribution, x any) (float64, error) {
	f, ok := number(x)
	if !ok || !d.Contains(f) {
		return 0, fmt.Errorf("%v is not in %s", x, d)
	}
	return f, nil
}

func (d *Int) Single() bool  { return d.Low == d.High }
func (d *Int) Size() float64 { return float64((d.High-d.Low)/d.Step + 1) }

func (d *Int) JSON() string {
	return distJSON("IntDistribution", map[string]any{"low": d.Low, "high": d.High, "log": d.Log, "step": d.Step})
}

func (d *Int) String() string {
	switch {
	case d.Log:
		return fmt.Sprintf("int [%d, %d] log", d.Low, d.High)
	case d.Step != 1:
		return fmt.Sprintf("int [%d, %d] step %d", d.Low, d.High, d.Step)
	}
	return fmt.Sprintf("int [%d, %d]", d.Low, d.High)
}

func (d *Categorical) Contains(v float64) bool {
	return v == math.Trunc(v) && v >= 0 && int(v) < len(d.Choices)
}

func (d *Categorical) External(v float64) any { return d.Choices[int(v)] }

func (d *Categorical) Internal(x any) (float64, error) {
	v, err := normalizeChoice(x)
	if err == nil {
		key := choiceKey(v)
		for i, c := range d.Choices {
			if choiceKey(c) == key {
				return float64(i), nil
			}
		}
		// 8 and 8.0 name the same choice.
		if f, ok := number(v); ok {
			for i, c := range d.Choices {
				if g, ok := number(c); ok && f == g {
					return float64(i), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("%v is not one of %s", x, d)
}

func (d *Categorical) Single() bool  { return len(d.Choices) == 1 }
func (d *Categorical) Size() float64 { return float64(len(d.Choices)) }

func (d *Categorical) JSON() string {
	return distJSON("CategoricalDistribution", map[string]any{"choices": d.Choices})
}

func (d *Categorical) String() string {
	b, _ := json.Marshal(d.Choices)
	return "one of " + string(b)
}

func number(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

func distJSON(name string, attrs map[string]any) string {
	b, _ := json.Marshal(map[string]any{"name": name, "attributes": attrs})
	return string(b)
}

// ParseJSON reads Optuna's distribution_json (current names, and the legacy
// Uniform/LogUniform/DiscreteUniform/Int/IntLogUniform ones Optuna still reads).
func ParseJSON(s string) (Distribution, error) {
	var raw struct {
		Name       string                     `json:"name"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("distribution_json: %w", err)
	}
	f := func(k string) float64 {
		var v float64
		json.Unmarshal(raw.Attributes[k], &v)
		return v
	}
	i := func(k string) int64 {
		var v float64
		json.Unmarshal(raw.Attributes[k], &v)
		return int64(v)
	}
	b := func(k string) bool {
		var v bool
		json.Unmarshal(raw.Attributes[k], &v)
		return v
	}
	switch raw.Name {
	case "FloatDistribution":
		return NewFloat(f("low"), f("high"), b("log"), f("step"))
	case "UniformDistribution":
		return NewFloat(f("low"), f("high"), false, 0)
	case "LogUniformDistribution":
		return NewFloat(f("low"), f("high"), true, 0)
	case "DiscreteUniformDistribution":
		return NewFloat(f("low"), f("high"), false, f("q"))
	case "IntDistribution":
		return NewInt(i("low"), i("high"), b("log"), i("step"))
	case "IntUniformDistribution":
		return NewInt(i("low"), i("high"), false, i("step"))
	case "IntLogUniformDistribution":
		return NewInt(i("low"), i("high"), true, 1)
	case "CategoricalDistribution":
		var choices []any
		d := json.NewDecoder(strings.NewReader(string(raw.Attributes["choices"])))
		d.UseNumber()
		if err := d.Decode(&choices); err != nil {
			return nil, fmt.Errorf("distribution_json choices: %w", err)
		}
		return NewCategorical(choices)
	}
	return nil, fmt.Errorf("distribution_json: unknown distribution %q", raw.Name)
}

// Param is a named dimension of the space.
type Param struct {
	Name string
	Dist Distribution
}

// Space is an ordered set of parameters.
type Space []Param

// Size is the number of distinct configurations (+Inf if any range is continuous).
func (s Space) Size() float64 {
	n := 1.0
	for _, p := range s {
		n *= p.Dist.Size()
	}
	return n
}

// Lookup finds a parameter by name.
func (s Space) Lookup(name string) (Distribution, bool) {
	for _, p := range s {
		if p.Name == name {
			return p.Dist, true
		}
	}
	return nil, false
}
