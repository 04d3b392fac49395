package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// chunk is what one streamed event of the OpenAI API carries that we use.
type chunk struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error   json.RawMessage `json:"error"`
	Object  string          `json:"object"`
	Message string          `json:"message"`
}

// text is the token text of the chunk (completions or chat).
func (c *chunk) text() string {
	if len(c.Choices) == 0 {
		return ""
	}
	if c.Choices[0].Text != "" {
		return c.Choices[0].Text
	}
	return c.Choices[0].Delta.Content
}

// errDone ends a stream normally ("data: [DONE]").
var errDone = errors.New("done")

// sseReader reads server-sent events; an event's data may come split over
// any number of reads.
type sseReader struct {
	r    *bufio.Reader
	data bytes.Buffer
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(r, 16<<10)} }

// next returns the data of the next event, errDone at [DONE], or io.EOF.
func (s *sseReader) next() ([]byte, error) {
	s.data.Reset()
	for {
		line, err := s.r.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			switch {
			case len(line) == 0: // end of an event
				if s.data.Len() > 0 {
					return s.event()
				}
			case line[0] == ':': // comment / keep-alive
			case bytes.HasPrefix(line, []byte("data:")):
				if s.data.Len() > 0 {
					s.data.WriteByte('\n')
				}
				s.data.Write(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
			}
		}
		if err != nil {
			if err == io.EOF && s.data.Len() > 0 {
				return s.event()
			}
			return nil, err
		}
	}
}

func (s *sseReader) event() ([]byte, error) {
	if bytes.Equal(s.data.Bytes(), []byte("[DONE]")) {
		return nil, errDone
	}
	return s.data.Bytes(), nil
}

// parseChunk decodes one event; an error event becomes a Go error.
func parseChunk(data []byte) (*chunk, error) {
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("bad stream event %q: %w", truncate(data), err)
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return nil, fmt.Errorf("server error in stream: %s", truncate(c.Error))
	}
	if c.Object == "error" {
		return nil, fmt.Errorf("server error in stream: %s", c.Message)
	}
	return &c, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
