package trial

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// runCommand runs a user's benchmark command: {url}, {model} and
// {params_file} in its template are replaced, the trial's flags are
// appended as arguments, and ATV_URL, ATV_MODEL, ATV_PARAMS_FILE are set.
// It must print the metrics as one JSON object of numbers on stdout (the
// last JSON object printed counts); stderr goes to benchmark.log.
func runCommand(ctx context.Context, s Spec, url string) (map[string]float64, *Failure) {
	params := map[string]any{}
	for _, f := range s.Flags {
		params[f.Name] = f.Value
	}
	for _, f := range s.EnvVars {
		params[f.Name] = f.Value
	}
	paramsFile := filepath.Join(s.LogDir, "params.json")
	b, _ := json.MarshalIndent(params, "", "  ")
	if err := os.WriteFile(paramsFile, b, 0o644); err != nil {
		return nil, &Failure{Class: BenchmarkFailed, Message: err.Error()}
	}
	var argv []string
	for _, t := range s.BenchCommand {
		t = strings.ReplaceAll(t, "{url}", url)
		t = strings.ReplaceAll(t, "{model}", s.Model)
		t = strings.ReplaceAll(t, "{params_file}", paramsFile)
		argv = append(argv, t)
	}
	argv = Argv(argv, s.Model, s.Flags, "", 0) // port 0: no --port for the command
	env := Env(s.BaseEnv, append(append([]Flag{}, s.EnvVars...),
		Flag{Name: "ATV_URL", Value: url}, Flag{Name: "ATV_MODEL", Value: s.Model}, Flag{Name: "ATV_PARAMS_FILE", Value: paramsFile}))
	var stdout bytes.Buffer
	p, err := proc.Start(proc.Spec{Argv: argv, Env: env, LogFile: filepath.Join(s.LogDir, "benchmark.log"), Stdout: &stdout})
	if err != nil {
		return nil, &Failure{Class: BenchmarkFailed, Message: err.Error()}
	}
	if f := waitTool(ctx, p, s.Bench.Duration, "the benchmark command"); f != nil {
		return nil, f
	}
	metrics, err := lastJSONObject(stdout.Bytes())
	if err != nil {
		return nil, &Failure{Class: BenchmarkFailed, Message: "the benchmark command printed no metrics: " + err.Error(), Tail: p.Tail()}
	}
	return metrics, nil
}

// waitTool waits for a benchmark process with the reference's watchdog
// (1.5 × the benchmark's duration, plus slack) and turns how it ended into
// a Failure; nil means it exited 0. The slack is generous: GuideLLM imports
// much of the Python data stack before it sends a request, which has taken
// over a minute on a loaded 2-core machine.
func waitTool(ctx context.Context, p *proc.Process, d time.Duration, what string) *Failure {
	limit := time.Duration(float64(d)*1.5) + 5*time.Minute
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop(context.WithoutCancel(ctx), 5*time.Second)
		return &Failure{Class: Interrupted, Message: "interrupted"}
	case <-timer.C:
		p.Stop(context.WithoutCancel(ctx), 5*time.Second)
		return &Failure{Class: BenchmarkFailed, Message: fmt.Sprintf("%s did not finish within %s", what, limit), Tail: p.Tail()}
	}
	if c := p.ExitCode(); c != 0 {
		return &Failure{Class: BenchmarkFailed, Message: fmt.Sprintf("%s failed (%s)", what, exitText(p)), Tail: p.Tail()}
	}
	return nil
}

// lastJSONObject finds the last line of out that is a JSON object of numbers.
func lastJSONObject(out []byte) (map[string]float64, error) {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	// Also accept one multi-line object as the whole output.
	candidates := append([][]byte{bytes.TrimSpace(out)}, lines...)
	for i := len(candidates) - 1; i >= 0; i-- {
		line := bytes.TrimSpace(candidates[i])
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var raw map[string]any
		if json.Unmarshal(line, &raw) != nil {
			continue
		}
		m := map[string]float64{}
		for k, v := range raw {
			if f, ok := v.(float64); ok && !math.IsNaN(f) {
				m[k] = f
			}
		}
		if len(m) > 0 {
			return m, nil
		}
	}
	return nil, fmt.Errorf("expected a JSON object like {\"output_tokens_per_second_mean\": 1234.5} on stdout")
}
