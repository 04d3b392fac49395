// Package complete writes shell completion scripts from a kong CLI model:
// static scripts, so completing never runs the program, and no library
// beyond kong (the completion libraries for kong wrap an unmaintained
// one and answer by re-running the program).
package complete

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// command is one command path with what may follow it.
type command struct {
	path  string // space-separated names from the root ("" for the root)
	help  string
	subs  []string // names and aliases of its subcommands
	args  []string // values of its positional arguments, where they are an enum
	flags []flag   // its own and its parents' (kong accepts both)
}

type flag struct {
	long, short string // with dashes
	help        string
	value       string // "" for a switch; else file, dir, any or enum:a b c
}

// commands walks the model: every visible command, parents first.
func commands(app *kong.Application) []command {
	var out []command
	var walk func(n *kong.Node, path string, inherited []flag)
	walk = func(n *kong.Node, path string, inherited []flag) {
		c := command{path: path, help: n.Help, flags: append(append([]flag(nil), inherited...), flags(n)...)}
		for _, ch := range n.Children {
			if ch.Hidden || ch.Type != kong.CommandNode {
				continue
			}
			c.subs = append(c.subs, ch.Name)
			c.subs = append(c.subs, ch.Aliases...)
		}
		for _, p := range n.Positional {
			if p.Enum != "" {
				c.args = append(c.args, nonEmpty(p.EnumSlice())...)
			}
		}
		out = append(out, c)
		for _, ch := range n.Children {
			if ch.Hidden || ch.Type != kong.CommandNode {
				continue
			}
			for _, name := range append([]string{ch.Name}, ch.Aliases...) {
				walk(ch, strings.TrimSpace(path+" "+name), c.flags)
			}
		}
	}
	walk(app.Node, "", nil)
	return out
}

func flags(n *kong.Node) []flag {
	var out []flag
	for _, f := range n.Flags {
		if f.Hidden {
			continue
		}
		fl := flag{long: "--" + f.Name, help: f.Help}
		if f.Short != 0 {
			fl.short = "-" + string(f.Short)
		}
		switch {
		case f.IsBool() || f.IsCounter():
		case f.Enum != "":
			fl.value = "enum:" + strings.Join(nonEmpty(f.EnumSlice()), " ")
		case f.Tag != nil && (f.Tag.Type == "existingfile" || f.Tag.Type == "path" || f.Tag.Type == "file"):
			fl.value = "file"
		case f.Tag != nil && f.Tag.Type == "existingdir" || strings.HasSuffix(f.Name, "-dir"):
			fl.value = "dir"
		default:
			fl.value = "any"
		}
		out = append(out, fl)
		for _, a := range f.Aliases {
			alias := fl
			alias.long, alias.short = "--"+a, ""
			out = append(out, alias)
		}
	}
	return out
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Write writes the script for shell (bash, zsh or fish) of program name.
func Write(w io.Writer, app *kong.Application, shell string) error {
	cmds := commands(app)
	switch shell {
	case "bash":
		bash(w, app.Name, cmds)
	case "zsh":
		// zsh runs bash completion functions through bashcompinit: one
		// script to keep right instead of two.
		fmt.Fprintf(w, "#compdef %s\nautoload -U +X bashcompinit && bashcompinit\n", app.Name)
		bash(w, app.Name, cmds)
	case "fish":
		fish(w, app.Name, cmds)
	default:
		return fmt.Errorf("no completion for shell %q: bash, zsh or fish", shell)
	}
	return nil
}

func bash(w io.Writer, name string, cmds []command) {
	fn := "_" + strings.NewReplacer("-", "_", ".", "_").Replace(name)
	fmt.Fprintf(w, "# %s completion for bash. Load it with: source <(%s completion bash)\n\n", name, name)
	fmt.Fprintf(w, "%s_cmds() {\n\tcase \"$1\" in\n", fn)
	for _, c := range cmds {
		if words := append(c.subs, c.args...); len(words) > 0 {
			fmt.Fprintf(w, "\t%q) echo %q ;;\n", c.path, strings.Join(words, " "))
		}
	}
	fmt.Fprintf(w, "\tesac\n}\n\n%s_flags() {\n\tcase \"$1\" in\n", fn)
	for _, c := range cmds {
		var names []string
		for _, f := range c.flags {
			names = append(names, f.long)
		}
		fmt.Fprintf(w, "\t%q) echo %q ;;\n", c.path, strings.Join(names, " "))
	}
	fmt.Fprintf(w, "\tesac\n}\n\n# The kind of value a flag takes: file, dir, any, enum:<values>, or nothing.\n%s_value() {\n\tcase \"$1 $2\" in\n", fn)
	for _, c := range cmds {
		for _, f := range c.flags {
			if f.value == "" {
				continue
			}
			pats := []string{fmt.Sprintf("%q", c.path+" "+f.long)}
			if f.short != "" {
				pats = append(pats, fmt.Sprintf("%q", c.path+" "+f.short))
			}
			fmt.Fprintf(w, "\t%s) echo %q ;;\n", strings.Join(pats, "|"), f.value)
		}
	}
	fmt.Fprintf(w, "\tesac\n}\n\n")
	fmt.Fprintf(w, `%[1]s() {
	local cur=${COMP_WORDS[COMP_CWORD]} path="" i w c kind="" skip=0
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((skip)); then
			skip=0
			continue
		fi
		case $w in
		--*=*) continue ;;
		-*)
			kind=$(%[1]s_value "$path" "$w")
			[[ -n $kind ]] && skip=1
			continue
			;;
		esac
		for c in $(%[1]s_cmds "$path"); do
			if [[ $c == "$w" ]]; then
				path="${path:+$path }$w"
				break
			fi
		done
	done
	if ((skip)); then
		case $kind in
		file) COMPREPLY=($(compgen -f -- "$cur")) ;;
		dir) COMPREPLY=($(compgen -d -- "$cur")) ;;
		enum:*) COMPREPLY=($(compgen -W "${kind#enum:}" -- "$cur")) ;;
		esac
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(%[1]s_flags "$path")" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$(%[1]s_cmds "$path")" -- "$cur"))
	fi
}
complete -o default -F %[1]s %[2]s
`, fn, name)
}

func fish(w io.Writer, name string, cmds []command) {
	fmt.Fprintf(w, "# %s completion for fish. Load it with: %s completion fish | source\n", name, name)
	fmt.Fprintf(w, "complete -c %s -f\n", name)
	helps := map[string]string{}
	for _, c := range cmds {
		helps[c.path] = c.help
	}
	for _, c := range cmds {
		cond := fishCond(c.path, c.subs)
		subs := append([]string(nil), c.subs...)
		sort.Strings(subs)
		for _, s := range subs {
			fmt.Fprintf(w, "complete -c %s -n %s -a %s -d %s\n", name, fishQuote(cond), s, fishQuote(firstLine(helps[strings.TrimSpace(c.path+" "+s)])))
		}
		if len(c.args) > 0 {
			fmt.Fprintf(w, "complete -c %s -n %s -a %s\n", name, fishQuote(fishCond(c.path, c.args)), fishQuote(strings.Join(c.args, " ")))
		}
		for _, f := range c.flags {
			line := fmt.Sprintf("complete -c %s -n %s -l %s", name, fishQuote(fishCond(c.path, nil)), strings.TrimPrefix(f.long, "--"))
			if f.short != "" {
				line += " -s " + strings.TrimPrefix(f.short, "-")
			}
			switch {
			case f.value == "file":
				line += " -r -F"
			case f.value == "dir":
				line += " -r -a '(__fish_complete_directories)'"
			case strings.HasPrefix(f.value, "enum:"):
				line += " -x -a " + fishQuote(strings.TrimPrefix(f.value, "enum:"))
			case f.value == "any":
				line += " -x"
			}
			fmt.Fprintln(w, line+" -d "+fishQuote(firstLine(f.help)))
		}
	}
}

// fishCond holds on the command line of path exactly: its commands typed,
// and none of subs after them.
func fishCond(path string, subs []string) string {
	var parts []string
	if path == "" {
		parts = append(parts, "__fish_use_subcommand")
	} else {
		for _, p := range strings.Fields(path) {
			parts = append(parts, "__fish_seen_subcommand_from "+p)
		}
		if len(subs) > 0 {
			parts = append(parts, "not __fish_seen_subcommand_from "+strings.Join(subs, " "))
		}
	}
	return strings.Join(parts, "; and ")
}

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
