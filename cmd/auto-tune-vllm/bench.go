package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
)

// benchCmd is the load generator a trial runs, on its own: a number the
// study recorded can be checked by hand against any server.
type benchCmd struct {
	URL          string  `help:"Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000." required:"" placeholder:"URL"`
	Model        string  `help:"Model name sent with each request." required:""`
	Rate         int     `help:"Requests kept in flight (a trial's benchmark.rate)." default:"8"`
	RequestRate  float64 `name:"request-rate" help:"Start requests as a Poisson process at this many per second; --rate then caps those in flight." placeholder:"R"`
	MaxSeconds   float64 `name:"max-seconds" help:"Seconds of full load to measure." default:"30"`
	MaxRequests  int     `name:"max-requests" help:"Stop after this many requests (0: no limit)." placeholder:"N"`
	Warmup       float64 `help:"Seconds to load the server before measuring at the least (measuring also waits until every stream has its first token)." default:"0"`
	PromptTokens int     `name:"prompt-tokens" help:"Tokens per synthetic prompt." default:"512"`
	OutputTokens int     `name:"output-tokens" help:"Tokens generated per request (ignore_eos)." default:"256"`
	Chat         bool    `help:"Use /v1/chat/completions instead of /v1/completions."`
	Seed         uint64  `help:"Seed of the synthetic prompts." default:"1"`
	NoStagger    bool    `name:"no-stagger" help:"Start every stream with a whole request (GuideLLM's way) instead of cutting each stream's first to a share of its length, as trials do so the streams do not move in lock-step."`
	JSON         bool    `help:"Print JSON: the counts and the metrics a trial records." name:"json"`
}

func (c *benchCmd) Run(ctx context.Context, g *globals) error {
	o, err := c.options()
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	o.Logger = g.log
	s, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(g.io, benchJSON(s))
	}
	c.print(g, s)
	if s.Requests == 0 {
		msg := "no request completed"
		if s.FirstError != "" {
			msg += ": " + s.FirstError
		}
		return errors.New(msg)
	}
	return nil
}

func (c *benchCmd) options() (bench.Options, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bench.Options{}, fmt.Errorf("--url %q: give the server's base URL, e.g. http://127.0.0.1:8000", c.URL)
	}
	switch {
	case c.Rate < 1:
		return bench.Options{}, fmt.Errorf("--rate %d: at least one request must be in flight", c.Rate)
	case c.RequestRate < 0:
		return bench.Options{}, fmt.Errorf("--request-rate %g: give requests per second above 0, or leave it out for a closed loop", c.RequestRate)
	case c.MaxSeconds <= 0 && c.MaxRequests <= 0:
		return bench.Options{}, errors.New("--max-seconds or --max-requests must be above 0: the run needs an end")
	case c.MaxSeconds < 0 || c.MaxRequests < 0 || c.Warmup < 0:
		return bench.Options{}, errors.New("--max-seconds, --max-requests and --warmup cannot be negative")
	case c.PromptTokens < 1 || c.OutputTokens < 1:
		return bench.Options{}, errors.New("--prompt-tokens and --output-tokens must be at least 1")
	}
	return bench.Options{
		BaseURL: strings.TrimRight(c.URL, "/"), Model: c.Model, Chat: c.Chat,
		Concurrency: c.Rate, RequestRate: c.RequestRate, MaxRequests: c.MaxRequests,
		Duration: seconds(c.MaxSeconds), Warmup: seconds(c.Warmup),
		Prompt: bench.TokenDist{Mean: c.PromptTokens}, Output: bench.TokenDist{Mean: c.OutputTokens}, Seed: c.Seed,
		Stagger: !c.NoStagger,
	}, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// benchResult is the JSON form: what a trial stores (metric names and all).
type benchResult struct {
	MeasuredSeconds    float64            `json:"measured_seconds"`
	WindowStartSeconds float64            `json:"window_start_seconds"`
	Requests           int                `json:"requests"`
	Errors             int                `json:"errors"`
	Incomplete         int                `json:"incomplete"`
	Dropped            int                `json:"dropped"`
	FirstError         string             `json:"first_error,omitempty"`
	Metrics            map[string]float64 `json:"metrics"`
}

func benchJSON(s *bench.Summary) benchResult {
	m := map[string]float64{}
	for k, v := range s.Metrics {
		if !math.IsNaN(v) && !math.IsInf(v, 0) { // JSON has no NaN
			m[k] = v
		}
	}
	return benchResult{MeasuredSeconds: s.Duration.Seconds(), WindowStartSeconds: s.WindowStart.Seconds(),
		Requests: s.Requests, Errors: s.Errors, Incomplete: s.Incomplete, Dropped: s.Dropped, FirstError: s.FirstError, Metrics: m}
}

func (c *benchCmd) print(g *globals, s *bench.Summary) {
	out := g.io.Stdout
	load := fmt.Sprintf("%d in flight", c.Rate)
	if c.RequestRate > 0 {
		load = fmt.Sprintf("%g requests/s (at most %d in flight)", c.RequestRate, c.Rate)
	}
	fmt.Fprintf(out, "%s at %s, %s: %.1f s measured, from %.2f s into the run\n",
		c.Model, c.URL, load, s.Duration.Seconds(), s.WindowStart.Seconds())
	fmt.Fprintf(out, "%d requests completed, %d failed, %d cut at the end", s.Requests, s.Errors, s.Incomplete)
	if s.Dropped > 0 {
		fmt.Fprintf(out, ", %d dropped (no free slot)", s.Dropped)
	}
	fmt.Fprintln(out)
	if s.FirstError != "" {
		fmt.Fprintf(out, "first error: %s\n", s.FirstError)
	}
	m := s.Metrics
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "\tmean\t95 % interval\tper-second sd")
	for _, r := range []struct{ label, key string }{
		{"output tok/s", metric.OutputThroughput}, {"total tok/s", metric.TokenThroughput}, {"requests/s", metric.RequestThroughput},
	} {
		ci := "-"
		if lo, ok := m[metric.Stat(r.key, metric.CI95Low)]; ok {
			ci = fmt.Sprintf("%.1f … %.1f", lo, m[metric.Stat(r.key, metric.CI95High)])
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%.1f\n", r.label, m[metric.Stat(r.key, metric.Mean)], ci, m[metric.Stat(r.key, metric.StdDev)])
	}
	tw.Flush()
	tw = tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "per request\tmedian\tp90\tp95\tp99")
	rows := []struct{ label, key string }{
		{"TTFT ms", metric.TTFT}, {"ITL ms", metric.ITL}, {"latency s", metric.RequestLatency},
	}
	for _, r := range rows {
		if _, ok := m[r.key]; !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t%.4g\t%.4g\n", r.label, m[metric.Stat(r.key, metric.Median)],
			m[metric.Stat(r.key, metric.P90)], m[metric.Stat(r.key, metric.P95)], m[metric.Stat(r.key, metric.P99)])
	}
	tw.Flush()
}
