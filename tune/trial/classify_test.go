package trial

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fixtureSuffix lets one class keep several fixtures per vLLM version (vLLM
// has more than one message for some classes) while the class stays readable
// from the file name alone.
var fixtureSuffix = regexp.MustCompile(`-[0-9]+$`)

// TestClassifyVLLMOutput runs Classify on what vLLM servers print when they
// fail, not on the bare messages of TestClassify: the text around a message
// (tracebacks full of "ValueError", the API server's "Engine core
// initialization failed" wrapper, pydantic rewording config errors) is what
// makes a signature fire too early or not at all.
func TestClassifyVLLMOutput(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "vllm", "*", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	type fixture struct{ file, want string }
	var cases []fixture
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".log")
		cases = append(cases, fixture{file: file, want: fixtureSuffix.ReplaceAllString(name, "")})
	}

	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.want] = true
		// The version directory is part of the name so a failure says which
		// vLLM release changed its wording.
		rel, _ := filepath.Rel(filepath.Join("testdata", "vllm"), c.file)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			t.Parallel()
			out, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			// What a trial searches: the last classifyLines lines.
			lines := strings.SplitAfter(string(out), "\n")
			tail := strings.Join(lines[max(0, len(lines)-classifyLines):], "")
			if got := Classify(tail); got != c.want {
				t.Errorf("%s: Classify = %s, want %s", c.file, got, c.want)
			}
		})
	}

	// The sampler learns constraints from these classes; one without a real
	// message could stop matching after a vLLM upgrade and nobody would see it.
	for _, class := range []string{OOM, KVCache, InvalidCombination, UnknownFlag, GPUBusy, PortInUse} {
		if !covered[class] {
			t.Errorf("no fixture in testdata/vllm/*/%s.log for class %s", class, class)
		}
	}
}
