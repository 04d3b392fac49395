package sim

//go:generate sh -c "python3 genflags.py $VLLM_SRC 0.33.0 > vllmflags.go && gofmt -w vllmflags.go"

import (
	"fmt"
	"slices"
	"strings"
)

// argKind is how many values an option takes, as argparse sees it.
type argKind int

const (
	argOne      argKind = iota // --x V
	argNone                    // --x (a switch)
	argOptional                // --x [V]
	argList                    // --x V [V ...]
	argN2                      // --x V V
	argN3                      // --x V V V
)

// option is one parsed command-line option: its full name and values.
type option struct {
	name   string
	values []string
}

// splitArgs splits `vllm serve` arguments the way vLLM's
// FlexibleArgumentParser and argparse do: underscores in names become
// dashes, --name=value, unique prefixes of an option, --json-arg.key value,
// -O3; an option vLLM does not have is argparse's "unrecognized arguments"
// error. Options starting with --sim- are the simulator's own and are passed
// through (sim lists them) for the caller to check.
func splitArgs(args []string, sim map[string]argKind) (positional []string, opts []option, err error) {
	var unknown []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || isNumber(a) {
			if len(positional) == 0 { // serve takes one: the model
				positional = append(positional, a)
			} else {
				unknown = append(unknown, a)
			}
			continue
		}
		if strings.HasPrefix(a, "-O") && !strings.HasPrefix(a, "--") && a != "-O" {
			// vLLM rewrites -O3 and -O=3 to --optimization-level.
			a = "--optimization-level=" + strings.TrimPrefix(strings.TrimPrefix(a, "-O"), "=")
		}
		name, val, hasVal := strings.Cut(a, "=")
		if strings.HasPrefix(name, "--") {
			head, rest, dotted := strings.Cut(strings.TrimPrefix(name, "--"), ".")
			name = "--" + strings.ReplaceAll(head, "_", "-")
			if dotted {
				// --json-arg.key value sets one key of a JSON option.
				if vllmOptions[name] != argOne {
					unknown = append(unknown, a)
					continue
				}
				v, next, err := takeOne(args, i, name+"."+rest, val, hasVal)
				if err != nil {
					return nil, nil, err
				}
				i = next
				opts = append(opts, option{name: name, values: []string{"." + rest + "=" + v}})
				continue
			}
		}
		kind, full, err := lookup(name, sim)
		if err != nil {
			return nil, nil, err
		}
		if full == "" {
			unknown = append(unknown, a)
			continue
		}
		o := option{name: full}
		switch kind {
		case argNone:
			if hasVal {
				return nil, nil, fmt.Errorf("argument %s: ignored explicit argument '%s'", full, val)
			}
		case argOne:
			var v string
			if v, i, err = takeOne(args, i, full, val, hasVal); err != nil {
				return nil, nil, err
			}
			o.values = []string{v}
		default:
			if hasVal {
				o.values = []string{val}
				break
			}
			for i+1 < len(args) && (!strings.HasPrefix(args[i+1], "-") || isNumber(args[i+1])) {
				i++
				o.values = append(o.values, args[i])
				if kind == argOptional || (kind == argN2 && len(o.values) == 2) || (kind == argN3 && len(o.values) == 3) {
					break
				}
			}
			if kind != argOptional && len(o.values) == 0 {
				return nil, nil, fmt.Errorf("argument %s: expected at least one argument", full)
			}
		}
		opts = append(opts, o)
	}
	if len(unknown) > 0 {
		return nil, nil, fmt.Errorf("unrecognized arguments: %s", strings.Join(unknown, " "))
	}
	return positional, opts, nil
}

// lookup finds an option by its exact name, else (as argparse does) by a
// prefix of exactly one long option. full is "" when nothing matches.
func lookup(name string, sim map[string]argKind) (kind argKind, full string, err error) {
	if k, ok := vllmOptions[name]; ok {
		return k, name, nil
	}
	if k, ok := sim[name]; ok {
		return k, name, nil
	}
	if !strings.HasPrefix(name, "--") {
		return 0, "", nil
	}
	var matches []string
	for _, table := range []map[string]argKind{vllmOptions, sim} {
		for o := range table {
			if strings.HasPrefix(o, name) {
				matches = append(matches, o)
			}
		}
	}
	switch len(matches) {
	case 0:
		return 0, "", nil
	case 1:
		if k, ok := vllmOptions[matches[0]]; ok {
			return k, matches[0], nil
		}
		return sim[matches[0]], matches[0], nil
	}
	slices.Sort(matches)
	return 0, "", fmt.Errorf("ambiguous option: %s could match %s", name, strings.Join(matches, ", "))
}

// takeOne returns the value of a one-value option and the index it was at.
func takeOne(args []string, i int, name, val string, hasVal bool) (string, int, error) {
	if hasVal {
		return val, i, nil
	}
	if i+1 >= len(args) || (strings.HasPrefix(args[i+1], "-") && !isNumber(args[i+1])) {
		return "", i, fmt.Errorf("argument %s: expected one argument", name)
	}
	return args[i+1], i + 1, nil
}

// isNumber reports whether s reads as a negative number, which argparse
// takes as a value rather than an option.
func isNumber(s string) bool {
	if !strings.HasPrefix(s, "-") || len(s) < 2 {
		return false
	}
	for _, r := range s[1:] {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}
