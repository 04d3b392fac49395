package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Server is a running simulator.
type Server struct {
	cfg    Config
	mem    memory
	engine *Engine
	http   *http.Server
	ln     net.Listener
}

// Start checks the configuration (failing like vLLM), prints vLLM-style
// start-up lines to log, waits the simulated start-up time and listens.
func Start(ctx context.Context, cfg Config, log io.Writer) (*Server, error) {
	mem, err := cfg.Check()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "INFO Simulating vLLM %s: %s on %d× %s, max_num_seqs=%d, max_num_batched_tokens=%d, max_model_len=%d\n", vllmVersion, cfg.Shape.Name, cfg.TensorParallel, cfg.GPU.Name, cfg.MaxNumSeqs, cfg.MaxNumBatchedTokens, cfg.MaxModelLen)
	fmt.Fprintf(log, "INFO Memory per GPU: %.2f GiB budget, weights %.2f GiB, activations %.2f GiB, KV cache %.2f GiB\n", mem.budget/gib, mem.weights/gib, mem.activations/gib, mem.kv/gib)
	fmt.Fprintf(log, "INFO GPU KV cache size: %d tokens\n", mem.kvTokens)
	fmt.Fprintf(log, "INFO Maximum concurrency for %d tokens per request: %.2fx\n", cfg.MaxModelLen, float64(mem.kvTokens)/float64(cfg.MaxModelLen))
	select {
	case <-time.After(cfg.StartupDelay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("OSError: [Errno 98] error while attempting to bind on address: %w", err)
	}
	s := &Server{cfg: cfg, mem: mem, engine: newEngine(cfg, mem.blocks), ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, `{"version":"%s"}`, vllmVersion) })
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, true) })
	s.http = &http.Server{Handler: mux}
	go s.engine.run(ctx)
	go s.http.Serve(ln)
	go func() {
		<-ctx.Done()
		s.http.Close()
	}()
	fmt.Fprintf(log, "INFO Application startup complete. Listening on http://%s\n", ln.Addr())
	return s, nil
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []map[string]any{{"id": s.cfg.Model, "object": "model", "max_model_len": s.cfg.MaxModelLen}}})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	e := s.engine
	e.mu.Lock()
	running, waiting := len(e.running), len(e.waiting)
	usage := 1 - float64(e.free)/float64(max(s.mem.blocks, 1))
	pre, pt, gt, fin := e.preemptions, e.promptTokens, e.genTokens, e.finished
	e.mu.Unlock()
	m := fmt.Sprintf(`model_name=%q`, s.cfg.Model)
	fmt.Fprintf(w, "vllm:num_requests_running{%s} %d\nvllm:num_requests_waiting{%s} %d\nvllm:kv_cache_usage_perc{%s} %g\n", m, running, m, waiting, m, usage)
	fmt.Fprintf(w, "vllm:num_preemptions_total{%s} %d\nvllm:prompt_tokens_total{%s} %d\nvllm:generation_tokens_total{%s} %d\nvllm:request_success_total{%s,finished_reason=\"length\"} %d\n", m, pre, m, pt, m, gt, m, fin)
}

type genRequest struct {
	Model     string                         `json:"model"`
	Prompt    json.RawMessage                `json:"prompt"`
	Messages  []struct{ Content msgContent } `json:"messages"`
	MaxTokens *int                           `json:"max_tokens"`
	// Newer OpenAI clients send this instead of max_tokens for chat.
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	Stream              bool `json:"stream"`
	StreamOptions       struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// msgContent is a chat message's content: a string, or a list of parts of
// which the text ones count (the OpenAI multi-part form, which vLLM takes).
type msgContent string

func (c *msgContent) UnmarshalJSON(b []byte) error {
	var str string
	if json.Unmarshal(b, &str) == nil {
		*c = msgContent(str)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return fmt.Errorf("content must be a string or a list of parts: %w", err)
	}
	var texts []string
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	*c = msgContent(strings.Join(texts, " "))
	return nil
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"object": "error", "message": msg, "type": "BadRequestError", "code": code})
}

// promptTokens approximates the prompt's length: one token per word.
func promptTokens(req *genRequest) int {
	var text string
	if len(req.Messages) > 0 {
		for _, m := range req.Messages {
			text += " " + string(m.Content)
		}
	} else {
		var str string
		if json.Unmarshal(req.Prompt, &str) == nil {
			text = str
		}
	}
	return max(len(strings.Fields(text)), 1)
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, chat bool) {
	var req genRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, 400, "invalid JSON: "+err.Error())
		return
	}
	prompt := promptTokens(&req)
	maxTokens := 16
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	} else if req.MaxCompletionTokens != nil {
		maxTokens = *req.MaxCompletionTokens
	}
	if prompt+maxTokens > s.cfg.MaxModelLen {
		apiError(w, 400, fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.", s.cfg.MaxModelLen, prompt+maxTokens, prompt, maxTokens))
		return
	}
	if maxTokens < 1 {
		apiError(w, 400, "max_tokens must be at least 1")
		return
	}
	gen := newRequest(prompt, maxTokens)
	s.engine.submit(gen)
	id := fmt.Sprintf("cmpl-sim-%d", time.Now().UnixNano())
	object := "text_completion"
	if chat {
		object = "chat.completion.chunk"
	}
	event := func(text string) string {
		if chat {
			b, _ := json.Marshal(map[string]any{"id": id, "object": object, "model": s.cfg.Model, "choices": []map[string]any{{"index": 0, "delta": map[string]string{"content": text}, "finish_reason": nil}}})
			return string(b)
		}
		b, _ := json.Marshal(map[string]any{"id": id, "object": object, "model": s.cfg.Model, "choices": []map[string]any{{"index": 0, "text": text, "finish_reason": nil}}})
		return string(b)
	}
	usage := map[string]int{"prompt_tokens": prompt, "completion_tokens": maxTokens, "total_tokens": prompt + maxTokens}
	if !req.Stream {
		n := 0
		for range gen.tokens {
			n++
		}
		if r.Context().Err() != nil {
			s.engine.abort(gen)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": id, "object": strings.TrimSuffix(object, ".chunk"), "model": s.cfg.Model,
			"choices": []map[string]any{{"index": 0, "text": strings.Repeat("x ", n), "finish_reason": "length"}}, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	// Every token's event is the same bytes: encoded once, not per token
	// (the client often shares the machine, and its turn-around is time
	// the batch runs short).
	chunk := []byte("data: " + event("x") + "\n\n")
	for {
		select {
		case <-r.Context().Done():
			s.engine.abort(gen)
			return
		case _, ok := <-gen.tokens:
			if !ok {
				if req.StreamOptions.IncludeUsage {
					b, _ := json.Marshal(map[string]any{"id": id, "object": object, "model": s.cfg.Model, "choices": []any{}, "usage": usage})
					fmt.Fprintf(w, "data: %s\n\n", b)
				}
				io.WriteString(w, "data: [DONE]\n\n")
				if fl != nil {
					fl.Flush()
				}
				return
			}
			w.Write(chunk)
			if fl != nil {
				fl.Flush()
			}
		}
	}
}
