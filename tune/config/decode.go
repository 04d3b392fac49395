package config

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a config file, located and named.
type Error struct {
	File         string
	Line, Column int
	Field        string // dotted path, e.g. optimization.sampler
	Msg          string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	if e.Field == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Field + ": " + e.Msg
}

// Errors is every problem found, in file order.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// dec walks a yaml.Node tree, collecting located errors and warnings.
type dec struct {
	file  string
	errs  Errors
	warns []string
	// bad names the parameters whose own definition failed, so that a
	// constraint using one is not reported a second time.
	bad map[string]bool
}

func (d *dec) fail(n *yaml.Node, field, format string, args ...any) {
	e := &Error{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func (d *dec) warn(n *yaml.Node, field, format string, args ...any) {
	e := &Error{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.warns = append(d.warns, e.Error())
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

type handler func(key, val *yaml.Node, field string)

// mapping calls the handler of each key; an unknown key is an error that
// lists what is allowed and suggests the closest key.
func (d *dec) mapping(n *yaml.Node, field string, hs map[string]handler) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "must be a mapping of keys to values, got %s", describe(n))
		return
	}
	for _, kv := range d.entries(n, field) {
		k, v := kv[0], kv[1]
		key := k.Value
		f := join(field, key)
		h, ok := hs[key]
		if !ok {
			d.fail(k, f, "unknown key%s; allowed: %s", suggest(key, keys(hs)), strings.Join(keys(hs), ", "))
			continue
		}
		h(k, resolve(v), f)
	}
}

// pairs returns a mapping's keys and values in file order.
func (d *dec) pairs(n *yaml.Node, field string) [][2]*yaml.Node {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "must be a mapping of names to values, got %s", describe(n))
		return nil
	}
	var out [][2]*yaml.Node
	for _, kv := range d.entries(n, field) {
		out = append(out, [2]*yaml.Node{kv[0], resolve(kv[1])})
	}
	return out
}

// entries returns a mapping's keys and values. A key given twice is a
// warning and the last value wins, in the place of the first, as PyYAML
// builds a Python dict (so the Python tool read such files the same way).
func (d *dec) entries(n *yaml.Node, field string) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	at := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		j, seen := at[k.Value]
		if !seen {
			at[k.Value] = len(out)
			out = append(out, [2]*yaml.Node{k, v})
			continue
		}
		prev := out[j][0]
		d.warn(k, join(field, k.Value), "appears twice, at lines %d and %d; the last one wins, as in the Python tool", prev.Line, k.Line)
		out[j] = [2]*yaml.Node{k, v}
	}
	return out
}

func keys(hs map[string]handler) []string {
	out := make([]string, 0, len(hs))
	for k := range hs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!null":
		return "nothing (null)"
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	}
	return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
}

func (d *dec) str(n *yaml.Node, field string) (string, bool) {
	if isNull(n) {
		return "", true // `key:` with nothing after it, or an unset ${VAR}
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, field, "must be a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *dec) integer(n *yaml.Node, field string, min int) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		d.fail(n, field, "must be a whole number, got %s", describe(n))
		return 0, false
	}
	if v < min {
		d.fail(n, field, "must be at least %d, got %d", min, v)
		return 0, false
	}
	return v, true
}

func (d *dec) number(n *yaml.Node, field string) (float64, bool) {
	var v float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.fail(n, field, "must be a finite number, got %s", describe(n))
		return 0, false
	}
	return v, true
}

func (d *dec) boolean(n *yaml.Node, field string) (bool, bool) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
		d.fail(n, field, "must be true or false, got %s", describe(n))
		return false, false
	}
	return v, true
}

// oneOf checks a string against the allowed values (case-insensitive).
func (d *dec) oneOf(n *yaml.Node, field string, allowed ...string) (string, bool) {
	s, ok := d.str(n, field)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, true
		}
	}
	d.fail(n, field, "%q is not allowed%s; allowed: %s", s, suggest(s, allowed), strings.Join(allowed, ", "))
	return "", false
}

// scalar decodes a simple YAML value: string, int64, float64, bool or nil.
func (d *dec) scalar(n *yaml.Node, field string) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, field, "must be a simple value (string, number or boolean), got %s", describe(n))
		return nil, false
	}
	switch n.Tag {
	case "!!null":
		return nil, true
	case "!!bool":
		var b bool
		n.Decode(&b)
		return b, true
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i, true
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f, true
		}
	}
	return n.Value, true
}

func (d *dec) strList(n *yaml.Node, field string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return strings.Fields(n.Value), true
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list of strings, got %s", describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolve(c)
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			d.fail(c, fmt.Sprintf("%s[%d]", field, i), "must be a string, got %s", describe(c))
			return nil, false
		}
		out = append(out, c.Value)
	}
	return out, true
}

// suggest returns ` (did you mean "x"?)` for the closest candidate, if close.
func suggest(s string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		if dist := levenshtein(strings.ToLower(s), strings.ToLower(c)); dist < bestD {
			best, bestD = c, dist
		}
	}
	if best != "" && bestD <= max(2, len(s)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
