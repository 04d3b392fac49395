// Package trial runs one trial: start the inference server with the
// trial's flags, wait until it is ready, load it with the benchmark, record
// the metrics, and stop it — exactly, on every path.
package trial

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Flag is one server flag or environment parameter, in order.
type Flag struct {
	Name  string // as in the config: max_num_seqs
	Value any    // string, int64, float64, bool, nil, or a map/list (JSON)
}

// Argv builds the server command: the template with {model} replaced, then
// the flags (static ones first, then sampled: the last one wins, as with
// argparse), then --host (unless host is empty) and --port (unless 0: the
// command a user runs by hand). Never through a shell.
func Argv(template []string, model string, flags []Flag, host string, port int) []string {
	argv := make([]string, 0, len(template)+2*len(flags)+4)
	for _, t := range template {
		argv = append(argv, strings.ReplaceAll(t, "{model}", model))
	}
	for _, f := range flags {
		name := "--" + strings.ReplaceAll(f.Name, "_", "-")
		switch v := f.Value.(type) {
		case bool:
			if v {
				argv = append(argv, name)
			} else {
				argv = append(argv, "--no-"+strings.TrimPrefix(name, "--"))
			}
		case nil:
			argv = append(argv, name)
		default:
			argv = append(argv, name, FormatValue(v))
		}
	}
	if host != "" {
		argv = append(argv, "--host", host)
	}
	if port == 0 {
		return argv
	}
	return append(argv, "--port", strconv.Itoa(port))
}

// FormatValue renders a value as vLLM's argparse expects it.
func FormatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// Env applies environment parameters over a base environment ("K=V").
func Env(base []string, vars []Flag) []string {
	out := make([]string, 0, len(base)+len(vars))
	set := map[string]bool{}
	for _, v := range vars {
		set[v.Name] = true
	}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !set[k] {
			out = append(out, kv)
		}
	}
	for _, v := range vars {
		out = append(out, v.Name+"="+FormatValue(v.Value))
	}
	return out
}
