package main

import (
	"context"
	"fmt"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"os"
	"path/filepath"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench/external"
)

// compareGuideLLM runs our load generator and GuideLLM (0.3.x CLI, the
// Python tool's) one after the other against the same in-process servers:
// sustained rate against an instant server, and TTFT against fixed delays.
func compareGuideLLM(ctx context.Context, bin string) {
	tmp, err := os.MkdirTemp("", "atv-bench-guidellm")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	tokenizer := filepath.Join(filepath.Dir(bin), "tokenizer")
	guide := func(url string, conc int, d time.Duration, out int) map[string]float64 {
		req := external.Request{Executable: filepath.Join(bin, "guidellm"), URL: url, Model: "m", Processor: tokenizer,
			Concurrency: conc, Duration: d, Samples: 2000, PromptTokens: 32, OutputTokens: out,
			ResultFile: filepath.Join(tmp, fmt.Sprintf("r-%d.json", time.Now().UnixNano()))}
		p, err := proc.Start(proc.Spec{Argv: external.GuideLLMArgs(req, external.GuideLLMBenchmark),
			Env: append(os.Environ(), "HF_HUB_OFFLINE=1"), LogFile: filepath.Join(tmp, "guidellm.log")})
		if err != nil {
			fail(err)
		}
		<-p.Done()
		data, err := os.ReadFile(req.ResultFile)
		if err != nil {
			fail(fmt.Errorf("guidellm: %v\n%s", err, p.Tail()))
		}
		m, err := external.ParseGuideLLM(data)
		if err != nil {
			fail(err)
		}
		return m
	}
	ours := func(url string, conc int, d time.Duration, out int) map[string]float64 {
		s, err := bench.Run(ctx, bench.Options{BaseURL: url, Model: "m", Concurrency: conc, Duration: d,
			Prompt: bench.TokenDist{Mean: 32}, Output: bench.TokenDist{Mean: out}})
		if err != nil {
			fail(err)
		}
		return s.Metrics
	}

	fmt.Println("## Side by side with GuideLLM 0.3 (same in-process server, one after the other)")
	fmt.Println("\n| server | concurrency | ours req/s | GuideLLM req/s | ratio | ours tok/s | GuideLLM tok/s |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, conc := range []int{16, 64} {
		url := serve(0, 16)
		o, g := ours(url, conc, 10*time.Second, 16), guide(url, conc, 10*time.Second, 16)
		fmt.Printf("| instant, 16 tokens | %d | %.0f | %.0f | %.1f× | %.0f | %.0f |\n", conc,
			o[metric.RequestThroughput+"_mean"], g[metric.RequestThroughput+"_mean"],
			o[metric.RequestThroughput+"_mean"]/g[metric.RequestThroughput+"_mean"],
			o[metric.OutputThroughput+"_mean"], g[metric.OutputThroughput+"_mean"])
	}
	fmt.Println("\n| configured TTFT | server's actual p50 / ours p50 (error) | server's actual p50 / GuideLLM p50 (error) |")
	fmt.Println("|---|---|---|")
	for _, ttft := range []time.Duration{5 * time.Millisecond, 50 * time.Millisecond} {
		url, actual := serveTimed(ttft, 4)
		want := float64(ttft) / float64(time.Millisecond)
		o := ours(url, 8, 5*time.Second, 4)
		ao := actual()
		g := guide(url, 8, 5*time.Second, 4)
		ag := actual()
		fmt.Printf("| %.0f ms | %.3f / %.3f ms (%+.3f) | %.3f / %.3f ms (%+.3f) |\n", want,
			ao, o[metric.TTFT+"_median"], o[metric.TTFT+"_median"]-ao, ag, g[metric.TTFT+"_median"], g[metric.TTFT+"_median"]-ag)
	}
	fmt.Println()
}
