package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/mattn/go-isatty"
)

// streams is the process boundary: everything the commands read from or
// write to the outside world comes through here, so tests run commands
// in-process with buffers and a fake environment.
type streams struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	// StdinTerminal: a person can answer a question on Stdin.
	StdinTerminal bool
	// StdoutTTY: stdout is a terminal that can draw a live progress view
	// (not TERM=dumb); else progress is plain lines.
	StdoutTTY  bool
	Getenv     func(string) string
	Environ    []string
	Home       string
	Executable string
}

func systemStreams() streams {
	home, _ := os.UserHomeDir()
	exe, _ := os.Executable()
	stdinTTY := isatty.IsTerminal(os.Stdin.Fd())
	tty := isatty.IsTerminal(os.Stdout.Fd()) && os.Getenv("TERM") != "dumb"
	return streams{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, StdinTerminal: stdinTTY, StdoutTTY: tty, Getenv: os.Getenv, Environ: os.Environ(), Home: home, Executable: exe}
}

// defaultStateDir is where head state files live: per user, independent of
// TMPDIR, so a later `ray doctor` finds what an earlier run recorded.
func (s streams) defaultStateDir() string {
	if v := s.Getenv("XDG_STATE_HOME"); v != "" {
		return filepath.Join(v, "auto-tune-vllm", "ray-heads")
	}
	return filepath.Join(s.Home, ".local", "state", "auto-tune-vllm", "ray-heads")
}

func (s streams) tempRoot() string {
	if v := s.Getenv("TMPDIR"); v != "" {
		return v
	}
	return "/tmp"
}
