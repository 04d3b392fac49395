package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand substitutes ${VAR} and ${VAR:-default} in the raw text, as the
// Python tool does (so values may change type). An unset ${VAR} without a
// default becomes "" with a warning naming the line.
func expand(data []byte, getenv func(string) string, warnings *[]string) []byte {
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if !bytes.Contains(line, []byte("${")) {
			continue
		}
		lines[i] = envRef.ReplaceAllFunc(line, func(m []byte) []byte {
			sub := envRef.FindSubmatch(m)
			name, hasDefault := string(sub[1]), len(sub[2]) > 0
			if v := getenv(name); v != "" {
				return []byte(v)
			}
			if hasDefault {
				return sub[3]
			}
			*warnings = append(*warnings, fmt.Sprintf("line %d: environment variable %s is not set; using an empty string", i+1, name))
			return nil
		})
	}
	return bytes.Join(lines, []byte("\n"))
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// syntaxError locates a YAML syntax error as file:line:col like every other
// error. yaml.v3 gives only a line, often that of the enclosing block rather
// than of the fault, so the fault is taken to be on the line after the
// longest prefix of whole lines that still parses; the column is that
// line's first non-blank character.
func syntaxError(name string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	// Each try parses a prefix; past a few thousand lines yaml.v3's line
	// is good enough and the search would cost more than it is worth.
	if len(lines) <= 2000 {
		for k := len(lines) - 1; k >= 0; k-- {
			var n yaml.Node
			if yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) == nil {
				line = k + 1
				break
			}
		}
	}
	line = max(1, min(line, len(lines)))
	text := strings.TrimRight(string(lines[line-1]), "\r\n")
	col := len(text) - len(strings.TrimLeft(text, " ")) + 1
	if strings.TrimSpace(text) == "" {
		col = 1
	}
	return &Error{File: name, Line: line, Column: col, Msg: msg}
}
