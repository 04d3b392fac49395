package proc

import (
	"io"
	"os"
	"strings"
	"sync"
)

// Tail is an io.Writer that keeps the last n lines written to it.
type Tail struct {
	mu      sync.Mutex
	n       int
	lines   []string
	partial strings.Builder
}

// NewTail keeps the last n lines.
func NewTail(n int) *Tail { return &Tail{n: n} }

func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(b)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			t.partial.WriteString(s)
			break
		}
		t.partial.WriteString(s[:i])
		t.push(t.partial.String())
		t.partial.Reset()
		s = s[i+1:]
	}
	return len(b), nil
}

func (t *Tail) push(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = append(t.lines[:0], t.lines[len(t.lines)-t.n:]...)
	}
}

// String returns the last n lines, counting an unfinished last line.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if t.partial.Len() > 0 {
		lines = append(append([]string{}, lines...), t.partial.String())
	}
	if len(lines) > t.n {
		lines = lines[len(lines)-t.n:]
	}
	return strings.Join(lines, "\n")
}

// fileTail returns the last n lines of the file at path (reading at most its
// last 64 KiB).
func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	maxRead := max(int64(n)<<10, 64<<10) // lines of up to 1 KiB each
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		f.Seek(st.Size()-maxRead, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	t := NewTail(n)
	t.Write(b)
	return strings.TrimRight(t.String(), "\n")
}
