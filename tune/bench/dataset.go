package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Dataset is a list of prompts read from a JSONL file.
type Dataset struct {
	Prompts      []string
	OutputTokens []int // 0: the configured output length
}

// LoadDataset reads a JSONL file: one object per line with the prompt in
// "prompt" (or "text"), and optionally its output length in
// "output_tokens" (or "max_tokens"). Blank lines are skipped; errors name
// the line.
func LoadDataset(path string) (*Dataset, error) {
	if strings.HasPrefix(path, "hf://") {
		return nil, fmt.Errorf("dataset %s: Hugging Face datasets need the hub; export it to a JSONL file of {\"prompt\": …} lines and give its path", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	d := &Dataset{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec struct {
			Prompt       *string `json:"prompt"`
			Text         *string `json:"text"`
			OutputTokens *int    `json:"output_tokens"`
			MaxTokens    *int    `json:"max_tokens"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON object: %v", path, n, err)
		}
		p := rec.Prompt
		if p == nil {
			p = rec.Text
		}
		if p == nil || *p == "" {
			return nil, fmt.Errorf("%s:%d: needs a non-empty \"prompt\" (or \"text\") string", path, n)
		}
		out := 0
		for _, v := range []*int{rec.OutputTokens, rec.MaxTokens} {
			if v != nil {
				if *v < 1 {
					return nil, fmt.Errorf("%s:%d: output_tokens must be ≥ 1, got %d", path, n, *v)
				}
				out = *v
				break
			}
		}
		d.Prompts = append(d.Prompts, *p)
		d.OutputTokens = append(d.OutputTokens, out)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	if len(d.Prompts) == 0 {
		return nil, fmt.Errorf("dataset %s: no prompts", path)
	}
	return d, nil
}
