package trial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench/external"
)

// External selects a third-party load generator instead of the built-in one.
type External struct {
	Tool         string // external.GuideLLM or external.VLLMBench
	Executable   string // default guidellm / vllm, from PATH
	Processor    string // tokenizer (a local directory when air-gapped); default the model
	Samples      int
	Dataset      string // a JSONL file (or hf://name for GuideLLM) instead of synthetic prompts
	LoggingLevel string // GuideLLM's console log level
	// GuideLLMCLI, if set, is the installed GuideLLM's CLI, detected once
	// for a study (DetectGuideLLM); nil asks `guidellm --help` every trial.
	GuideLLMCLI *external.GuideLLMCLI
}

// runExternal runs GuideLLM or `vllm bench serve` against url; its output
// goes to benchmark.log and its JSON report to the trial's log dir.
func runExternal(ctx context.Context, s Spec, url string) (map[string]float64, *Failure) {
	x := s.External
	b := s.Bench
	req := external.Request{
		Executable: x.Executable, URL: url, Model: s.Model, Processor: x.Processor,
		Concurrency: b.Concurrency, RequestRate: b.RequestRate, MaxRequests: b.MaxRequests, Duration: b.Duration, Samples: x.Samples, Dataset: x.Dataset,
		PromptTokens: b.Prompt.Mean, OutputTokens: b.Output.Mean, Seed: b.Seed,
		ResultFile: filepath.Join(s.LogDir, x.Tool+"_results.json"),
	}
	req.PromptStdev, req.PromptMin, req.PromptMax = nonZero(b.Prompt.Stdev), nonZero(b.Prompt.Min), nonZero(b.Prompt.Max)
	req.OutputStdev, req.OutputMin, req.OutputMax = nonZero(b.Output.Stdev), nonZero(b.Output.Min), nonZero(b.Output.Max)
	env := Env(s.BaseEnv, s.EnvVars)
	var argv []string
	parse := external.ParseVLLMBench
	name := "vllm bench serve"
	switch x.Tool {
	case external.GuideLLM:
		name = "GuideLLM"
		var cli external.GuideLLMCLI
		if x.GuideLLMCLI != nil {
			cli = *x.GuideLLMCLI
		} else {
			var f *Failure
			if cli, f = DetectGuideLLM(ctx, req.Executable, env); f != nil {
				return nil, f
			}
		}
		argv = external.GuideLLMArgs(req, cli)
		parse = external.ParseGuideLLM
		if x.LoggingLevel != "" {
			env = append(env, "GUIDELLM__LOGGING__CONSOLE_LOG_LEVEL="+x.LoggingLevel)
		}
	case external.VLLMBench:
		argv = external.VLLMBenchArgs(req)
	default:
		return nil, &Failure{Class: BenchmarkFailed, Message: fmt.Sprintf("unknown benchmark tool %q", x.Tool)}
	}
	os.Remove(req.ResultFile) // a stale report must not pass for this run's
	p, err := proc.Start(proc.Spec{Argv: argv, Env: env, LogFile: filepath.Join(s.LogDir, "benchmark.log")})
	if err != nil {
		return nil, &Failure{Class: BenchmarkFailed, Message: fmt.Sprintf("start %s: %v", name, notFoundHint(err, argv[0]))}
	}
	if f := waitTool(ctx, p, b.Duration, name); f != nil {
		return nil, f
	}
	data, err := os.ReadFile(req.ResultFile)
	if err != nil {
		return nil, &Failure{Class: BenchmarkFailed, Message: fmt.Sprintf("%s wrote no report: %v", name, err), Tail: p.Tail()}
	}
	m, err := parse(data)
	if err != nil {
		return nil, &Failure{Class: BenchmarkFailed, Message: fmt.Sprintf("%s (%s)", err, req.ResultFile), Tail: p.Tail()}
	}
	return m, nil
}

// DetectGuideLLM asks the installed GuideLLM which CLI it has.
func DetectGuideLLM(ctx context.Context, exe string, env []string) (external.GuideLLMCLI, *Failure) {
	if exe == "" {
		exe = "guidellm"
	}
	var out bytes.Buffer
	p, err := proc.Start(proc.Spec{Argv: []string{exe, "--help"}, Env: env, Output: &out})
	if err != nil {
		return 0, &Failure{Class: BenchmarkFailed, Message: "start GuideLLM: " + notFoundHint(err, exe).Error()}
	}
	// Generous: GuideLLM imports much of the Python data stack before it
	// prints its help, which has taken over a minute on a loaded 2-core machine.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	select {
	case <-p.Done():
	case <-cctx.Done():
		p.Stop(context.WithoutCancel(ctx), time.Second)
		if ctx.Err() != nil {
			return 0, &Failure{Class: Interrupted, Message: "interrupted"}
		}
		return 0, &Failure{Class: BenchmarkFailed, Message: "`guidellm --help` did not answer within 5 minutes"}
	}
	cli, err := external.DetectGuideLLM(out.String())
	if err != nil {
		return 0, &Failure{Class: BenchmarkFailed, Message: err.Error(), Tail: p.Tail()}
	}
	return cli, nil
}

func notFoundHint(err error, exe string) error {
	if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "executable file not found") {
		return fmt.Errorf("%w (install it, or set benchmark.executable to its path)", err)
	}
	return err
}

func nonZero(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}
