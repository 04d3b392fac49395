package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDataset(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+string(rune('a'+len(body)%26))+".jsonl")
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	good := write("{\"prompt\": \"hello\", \"output_tokens\": 5}\n\n{\"text\": \"world\"}\n{\"prompt\": \"x\", \"max_tokens\": 2}\n")
	d, err := LoadDataset(good)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Prompts, ",") != "hello,world,x" || d.OutputTokens[0] != 5 || d.OutputTokens[1] != 0 || d.OutputTokens[2] != 2 {
		t.Errorf("%+v", d)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"hub", "hf://org/set", "need the hub"},
		{"missing", filepath.Join(dir, "none.jsonl"), "no such file"},
		{"bad json", write("{\"prompt\": \"a\"}\nnot json\n"), ".jsonl:2: not a JSON object"},
		{"no prompt", write("{\"output_tokens\": 3}\n"), ".jsonl:1: needs a non-empty \"prompt\""},
		{"bad length", write("{\"prompt\": \"a\", \"output_tokens\": 0}\n"), "output_tokens must be ≥ 1"},
		{"empty", write("\n\n"), "no prompts"},
	} {
		if _, err := LoadDataset(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
