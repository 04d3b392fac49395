package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// lineHandler prints user-facing log lines as "LEVEL: message key=value ...",
// the form the Ray auto-start spec shows; no timestamps (terminals and CI
// logs add their own).
type lineHandler struct {
	sink  *logSink // shared by the handlers derived from one logger
	level slog.Level
	attrs []slog.Attr
}

// logSink is where a logger's lines go: the terminal (stderr, or above a
// live progress view) from a level up, and a file (a study's
// controller.log) at the logger's level. A study run redirects it while it
// runs, so loggers handed out before (a Ray backend's) follow.
type logSink struct {
	mu        sync.Mutex
	term      io.Writer
	termLevel slog.Level
	file      io.Writer // nil: none
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(&lineHandler{sink: &logSink{term: w, termLevel: level}, level: level})
}

// sinkOf is the sink of a logger made by newLogger, nil for another.
func sinkOf(l *slog.Logger) *logSink {
	if h, ok := l.Handler().(*lineHandler); ok {
		return h.sink
	}
	return nil
}

// redirect sends the terminal's lines to term from level up, and every
// line to file too (nil: none), until restore is called.
func (s *logSink) redirect(term io.Writer, level slog.Level, file io.Writer) (restore func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	oldTerm, oldLevel, oldFile := s.term, s.termLevel, s.file
	s.term, s.termLevel, s.file = term, max(level, oldLevel), file
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.term, s.termLevel, s.file = oldTerm, oldLevel, oldFile
	}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(levelName(r.Level))
	b.WriteString(": ")
	b.WriteString(r.Message)
	write := func(a slog.Attr) {
		v := a.Value.Resolve().String()
		if strings.ContainsAny(v, " \t\"=") || v == "" {
			v = fmt.Sprintf("%q", v)
		}
		b.WriteString(" " + a.Key + "=" + v)
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(func(a slog.Attr) bool { write(a); return true })
	b.WriteByte('\n')
	return h.sink.write(r.Level, b.String())
}

func (s *logSink) write(l slog.Level, line string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.file != nil {
		// A file is read later: its lines say when.
		_, err = io.WriteString(s.file, time.Now().Format("2006-01-02T15:04:05.000 ")+line)
	}
	if l >= s.termLevel {
		if _, werr := io.WriteString(s.term, line); werr != nil {
			err = werr
		}
	}
	return err
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
