package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

func (d *dec) parameters(n *yaml.Node, field string, s *Study) {
	for _, kv := range d.pairs(n, field) {
		if p, ok := d.parameter(kv[0], kv[1], join(field, kv[0].Value)); ok {
			s.Parameters = append(s.Parameters, p)
		}
	}
}

// rawParam is a parameter entry as written, before its range is resolved.
type rawParam struct {
	min, max, step, options, log *yaml.Node
	enabled, env                 bool
}

func (d *dec) parameter(k, n *yaml.Node, field string) (Parameter, bool) {
	p := Parameter{Name: k.Value, Line: k.Line}
	r := rawParam{enabled: true}
	before := len(d.errs)
	d.mapping(n, field, map[string]handler{
		"enabled": func(_, v *yaml.Node, f string) { r.enabled, _ = d.boolean(v, f) },
		"min":     func(_, v *yaml.Node, f string) { r.min = v },
		"max":     func(_, v *yaml.Node, f string) { r.max = v },
		"step":    func(_, v *yaml.Node, f string) { r.step = v },
		"log":     func(_, v *yaml.Node, f string) { r.log = v },
		"options": func(_, v *yaml.Node, f string) { r.options = v },
		"env_var": func(_, v *yaml.Node, f string) { r.env, _ = d.boolean(v, f) },
		"type": func(_, v *yaml.Node, f string) {
			// Old docs used `type: environment`; other values were informational.
			if t, ok := d.str(v, f); ok && t == "environment" {
				r.env = true
			}
		},
		"description": func(_, v *yaml.Node, f string) {},
		"data_type":   func(_, v *yaml.Node, f string) {},
	})
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			d.fail(n, field, "a parameter is a mapping with min/max[/step] or options; for a fixed value use static_parameters")
		} else if isNull(n) {
			d.fail(k, field, "is empty: give `enabled: true` (a built-in range), min and max (a range) or options (a list)")
		}
		d.bad[p.Name] = true
		return p, false
	}
	note, noted := flagNotes[p.Name]
	switch {
	case len(d.errs) > before:
		d.bad[p.Name] = true
		return p, false
	case !r.enabled:
		if noted && note.kind == notAFlag && !r.env {
			d.warn(k, field, "%s; this entry is disabled, so nothing is passed", note.why)
		}
		return p, false
	case noted && note.kind == notAFlag && !r.env:
		d.fail(k, field, "%s", note.why)
		d.bad[p.Name] = true
		return p, false
	}
	p.Dist, p.Bool, p.Source = d.paramRange(k, r, field)
	if p.Dist == nil {
		d.bad[p.Name] = true
		return p, false
	}
	p.Env = r.env
	if !r.env {
		p.Flag = "--" + strings.ReplaceAll(p.Name, "_", "-")
		if f, ok := LookupFlag(p.Name); ok {
			p.Default = f.Default
		}
		if noted && (note.kind == removed || note.kind == untunable) {
			d.warn(k, field, "%s", note.why)
		}
	}
	return p, true
}

// paramRange resolves the distribution of an enabled parameter and says
// where it came from: the file, or the built-in table for `enabled: true`
// alone (and for a bound left out of a range).
func (d *dec) paramRange(k *yaml.Node, r rawParam, field string) (space.Distribution, bool, string) {
	here := fmt.Sprintf("%s:%d", d.file, k.Line)
	isRange := r.min != nil || r.max != nil
	switch {
	case isRange && r.options != nil:
		d.fail(k, field, "give either min/max (a range) or options (a list), not both")
	case r.env && isRange:
		d.fail(k, field, "an environment parameter takes options (a list), not a range")
	case r.env && r.options == nil:
		d.fail(k, field, "an environment parameter needs options (a list of values to try)")
	case isRange:
		dist, filled := d.rangeDist(k, r, field)
		if filled != "" {
			here += fmt.Sprintf(" (%s from the built-in table, vLLM %s)", filled, VLLMVersion)
		}
		return dist, false, here
	case r.options != nil:
		dist, isBool := d.options(r.options, join(field, "options"))
		return dist, isBool, here
	case r.step != nil || r.log != nil:
		d.fail(k, field, "step and log belong to a range: give min and max too")
	default:
		f, ok := LookupFlag(k.Value)
		if !ok {
			d.fail(k, field, "%s", shortFormError(k.Value))
			return nil, false, ""
		}
		dist, err := f.Dist()
		if err != nil {
			d.fail(k, field, "%v", err)
			return nil, false, ""
		}
		return dist, f.Bool, tableSource(f)
	}
	return nil, false, ""
}

// rangeDist builds a min/max[/step] range. A bound left out is taken from
// the built-in table when it has a range for the flag, as the Python tool's
// docs promised; filled names the bound(s) taken.
func (d *dec) rangeDist(k *yaml.Node, r rawParam, field string) (dist space.Distribution, filled string) {
	var lo, hi, step float64
	ok := true
	isFloat := false
	read := func(n *yaml.Node, key string, dst *float64) {
		if n == nil {
			return
		}
		x, good := d.number(n, join(field, key))
		*dst, ok = x, ok && good
		isFloat = isFloat || n.Tag == "!!float"
	}
	read(r.min, "min", &lo)
	read(r.max, "max", &hi)
	read(r.step, "step", &step)
	log := false
	if r.log != nil {
		log, _ = d.boolean(r.log, join(field, "log"))
	}
	if r.min == nil || r.max == nil {
		f, known := LookupFlag(k.Value)
		if !known || f.Options != nil || f.Bool {
			d.fail(k, field, "a range needs both min and max (the built-in table has no range for %s to fill in)", k.Value)
			return nil, ""
		}
		if r.min == nil {
			lo, filled = f.Min, "min"
		} else {
			hi, filled = f.Max, "max"
		}
		isFloat = isFloat || f.Float
		if ok && r.step == nil && !log {
			// The table's step too, where it fits the user's bound: half a
			// range should not turn 30 values into 28,000.
			if d, err := newRange(isFloat, lo, hi, false, f.Step); err == nil {
				return d, filled + " and step"
			}
		}
	}
	if !ok {
		return nil, ""
	}
	dist, err := newRange(isFloat, lo, hi, log, step)
	if err != nil {
		d.fail(k, field, "%v", err)
		return nil, ""
	}
	return dist, filled
}

func newRange(isFloat bool, lo, hi float64, log bool, step float64) (space.Distribution, error) {
	if isFloat {
		return space.NewFloat(lo, hi, log, step)
	}
	return space.NewInt(int64(lo), int64(hi), log, int64(step))
}

func (d *dec) options(n *yaml.Node, field string) (space.Distribution, bool) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list, got %s", describe(n))
		return nil, false
	}
	var choices []any
	for i, c := range n.Content {
		v, ok := d.scalar(resolve(c), fmt.Sprintf("%s[%d]", field, i))
		if !ok {
			return nil, false
		}
		choices = append(choices, v)
	}
	dist, err := space.NewCategorical(choices)
	if err != nil {
		d.fail(n, field, "%v", err)
		return nil, false
	}
	isBool := len(choices) == 2 && choices[0] != choices[1]
	for _, c := range choices {
		if _, ok := c.(bool); !ok {
			isBool = false
		}
	}
	return dist, isBool
}

// values reads static_parameters / static_environment_variables.
func (d *dec) values(n *yaml.Node, field string, stringify bool) []Value {
	var out []Value
	for _, kv := range d.pairs(n, field) {
		v, ok := d.scalar(kv[1], join(field, kv[0].Value))
		if !ok {
			continue
		}
		if note, bad := flagNotes[kv[0].Value]; bad && note.kind == notAFlag && !stringify {
			// vLLM would refuse it at every trial's start.
			d.fail(kv[0], join(field, kv[0].Value), "%s", note.why)
			continue
		}
		if stringify {
			v = stringValue(v)
		}
		out = append(out, Value{Name: kv[0].Value, Value: v})
	}
	return out
}

func stringValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		// The Python tool exports str(True) = "True".
		if x {
			return "True"
		}
		return "False"
	}
	return fmt.Sprint(v)
}
