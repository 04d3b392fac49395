package trial

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/bench"
)

// The wire forms carry a trial to another machine (a Ray job) and its result
// back, as JSON. Flag values keep their Go type: 8 and 8.0 render differently
// on a server's command line, and JSON alone would not tell them apart.
// The controller's environment and logger stay behind: the trial runs in the
// environment of the node it lands on.

type wireSpec struct {
	Number         int           `json:"number"`
	Server         []string      `json:"server,omitempty"`
	Model          string        `json:"model"`
	Host           string        `json:"host,omitempty"`
	NoHostArg      bool          `json:"no_host_arg,omitempty"`
	ReadinessPath  string        `json:"readiness_path,omitempty"`
	StartupTimeout float64       `json:"startup_timeout_s,omitempty"`
	StopGrace      float64       `json:"stop_grace_s,omitempty"`
	Flags          []wireFlag    `json:"flags,omitempty"`
	EnvVars        []wireFlag    `json:"env_vars,omitempty"`
	Bench          wireBench     `json:"bench"`
	BenchCommand   []string      `json:"bench_command,omitempty"`
	External       *wireExternal `json:"external,omitempty"`
	Repeats        int           `json:"repeats,omitempty"`
}

type wireFlag struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"` // int, float, bool, string, null, json
	Value json.RawMessage `json:"value,omitempty"`
}

type wireBench struct {
	Chat         bool            `json:"chat,omitempty"`
	Concurrency  int             `json:"concurrency,omitempty"`
	RequestRate  float64         `json:"request_rate,omitempty"`
	Duration     float64         `json:"duration_s,omitempty"`
	MaxRequests  int             `json:"max_requests,omitempty"`
	Warmup       float64         `json:"warmup_s,omitempty"`
	Prompt       bench.TokenDist `json:"prompt"`
	Output       bench.TokenDist `json:"output"`
	Prompts      []string        `json:"prompts,omitempty"`
	OutputTokens []int           `json:"output_tokens,omitempty"`
	Seed         uint64          `json:"seed"`
	Stagger      bool            `json:"stagger,omitempty"`
}

type wireExternal struct {
	Tool         string `json:"tool"`
	Executable   string `json:"executable,omitempty"`
	Processor    string `json:"processor,omitempty"`
	Samples      int    `json:"samples,omitempty"`
	Dataset      string `json:"dataset,omitempty"`
	LoggingLevel string `json:"logging_level,omitempty"`
}

// EncodeSpec renders a spec for another machine.
func EncodeSpec(s Spec) ([]byte, error) {
	w := wireSpec{
		Number: s.Number, Server: s.Server, Model: s.Model, Host: s.Host, NoHostArg: s.NoHostArg,
		ReadinessPath: s.ReadinessPath, StartupTimeout: s.StartupTimeout.Seconds(), StopGrace: s.StopGrace.Seconds(),
		BenchCommand: s.BenchCommand, Repeats: s.Repeats,
		Bench: wireBench{
			Chat: s.Bench.Chat, Concurrency: s.Bench.Concurrency, RequestRate: s.Bench.RequestRate,
			Duration: s.Bench.Duration.Seconds(), MaxRequests: s.Bench.MaxRequests, Warmup: s.Bench.Warmup.Seconds(),
			Prompt: s.Bench.Prompt, Output: s.Bench.Output, Prompts: s.Bench.Prompts, OutputTokens: s.Bench.OutputTokens,
			Seed: s.Bench.Seed, Stagger: s.Bench.Stagger,
		},
	}
	var err error
	if w.Flags, err = encodeFlags(s.Flags); err != nil {
		return nil, err
	}
	if w.EnvVars, err = encodeFlags(s.EnvVars); err != nil {
		return nil, err
	}
	if x := s.External; x != nil {
		w.External = &wireExternal{Tool: x.Tool, Executable: x.Executable, Processor: x.Processor, Samples: x.Samples, Dataset: x.Dataset, LoggingLevel: x.LoggingLevel}
	}
	return json.Marshal(w)
}

// DecodeSpec reads a spec written by EncodeSpec.
func DecodeSpec(b []byte) (Spec, error) {
	var w wireSpec
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		return Spec{}, fmt.Errorf("trial spec: %w", err)
	}
	s := Spec{
		Number: w.Number, Server: w.Server, Model: w.Model, Host: w.Host, NoHostArg: w.NoHostArg,
		ReadinessPath: w.ReadinessPath, StartupTimeout: seconds(w.StartupTimeout), StopGrace: seconds(w.StopGrace),
		BenchCommand: w.BenchCommand, Repeats: w.Repeats,
		Bench: bench.Options{
			Chat: w.Bench.Chat, Concurrency: w.Bench.Concurrency, RequestRate: w.Bench.RequestRate,
			Duration: seconds(w.Bench.Duration), MaxRequests: w.Bench.MaxRequests, Warmup: seconds(w.Bench.Warmup),
			Prompt: w.Bench.Prompt, Output: w.Bench.Output, Prompts: w.Bench.Prompts, OutputTokens: w.Bench.OutputTokens,
			Seed: w.Bench.Seed, Stagger: w.Bench.Stagger,
		},
	}
	var err error
	if s.Flags, err = decodeFlags(w.Flags); err != nil {
		return Spec{}, err
	}
	if s.EnvVars, err = decodeFlags(w.EnvVars); err != nil {
		return Spec{}, err
	}
	if x := w.External; x != nil {
		s.External = &External{Tool: x.Tool, Executable: x.Executable, Processor: x.Processor, Samples: x.Samples, Dataset: x.Dataset, LoggingLevel: x.LoggingLevel}
	}
	return s, nil
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

func encodeFlags(fs []Flag) ([]wireFlag, error) {
	out := make([]wireFlag, 0, len(fs))
	for _, f := range fs {
		w := wireFlag{Name: f.Name}
		switch v := f.Value.(type) {
		case nil:
			w.Type = "null"
		case int64:
			w.Type, w.Value = "int", json.RawMessage(strconv.FormatInt(v, 10))
		case int:
			w.Type, w.Value = "int", json.RawMessage(strconv.Itoa(v))
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				w.Type, w.Value = "float", json.RawMessage(strconv.Quote(strconv.FormatFloat(v, 'g', -1, 64)))
			} else {
				w.Type, w.Value = "float", json.RawMessage(strconv.FormatFloat(v, 'g', -1, 64))
			}
		case bool:
			w.Type, w.Value = "bool", json.RawMessage(strconv.FormatBool(v))
		case string:
			b, _ := json.Marshal(v)
			w.Type, w.Value = "string", b
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("trial spec: flag %s: %w", f.Name, err)
			}
			w.Type, w.Value = "json", b
		}
		out = append(out, w)
	}
	return out, nil
}

func decodeFlags(ws []wireFlag) ([]Flag, error) {
	out := make([]Flag, 0, len(ws))
	for _, w := range ws {
		f := Flag{Name: w.Name}
		var err error
		switch w.Type {
		case "null":
		case "int":
			f.Value, err = unmarshalAs[int64](w.Value)
		case "float":
			if f.Value, err = unmarshalAs[float64](w.Value); err != nil {
				// NaN and ±Inf travel as strings.
				var s any
				if s, err = unmarshalAs[string](w.Value); err == nil {
					f.Value, err = strconv.ParseFloat(s.(string), 64)
				}
			}
		case "bool":
			f.Value, err = unmarshalAs[bool](w.Value)
		case "string":
			f.Value, err = unmarshalAs[string](w.Value)
		case "json":
			f.Value, err = unmarshalAs[any](w.Value)
		default:
			err = fmt.Errorf("unknown type %q", w.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("trial spec: flag %s: %w", w.Name, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func unmarshalAs[T any](raw json.RawMessage) (any, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}

type wireResult struct {
	Command []string             `json:"command,omitempty"`
	Metrics map[string]float64   `json:"metrics,omitempty"`
	Failure *wireFailure         `json:"failure,omitempty"`
	Startup float64              `json:"startup_s"`
	Bench   float64              `json:"bench_s"`
	Total   float64              `json:"total_s"`
	Start   time.Time            `json:"start"`
	End     time.Time            `json:"end"`
	LogDir  string               `json:"log_dir,omitempty"`
	Stopped bool                 `json:"stopped,omitempty"`
	Runs    []map[string]float64 `json:"runs,omitempty"`
	// Error is the runner's own error (Run's error), not the server's.
	Error string `json:"error,omitempty"`
}

type wireFailure struct {
	Class   string `json:"class"`
	Message string `json:"message"`
	Tail    string `json:"tail,omitempty"`
}

// EncodeResult renders what Run returned. Metrics that JSON cannot carry
// (NaN, ±Inf) are left out: a missing metric is how a benchmark that did not
// measure it is reported anyway.
func EncodeResult(r *Result, runErr error) ([]byte, error) {
	w := wireResult{}
	if r != nil {
		w = wireResult{Command: r.Command, Startup: r.Startup.Seconds(), Bench: r.Bench.Seconds(), Total: r.Total.Seconds(), Start: r.Start, End: r.End, LogDir: r.LogDir}
		w.Metrics, w.Stopped = finite(r.Metrics), r.Stopped
		for _, run := range r.Runs {
			w.Runs = append(w.Runs, finite(run))
		}
		if f := r.Failure; f != nil {
			w.Failure = &wireFailure{Class: f.Class, Message: f.Message, Tail: f.Tail}
		}
	}
	if runErr != nil {
		w.Error = runErr.Error()
	}
	return json.Marshal(w)
}

// DecodeResult reads a result written by EncodeResult; the runner's own
// error comes back as text.
func DecodeResult(b []byte) (*Result, string, error) {
	var w wireResult
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, "", fmt.Errorf("trial result: %w", err)
	}
	r := &Result{Command: w.Command, Metrics: w.Metrics, Startup: seconds(w.Startup), Bench: seconds(w.Bench), Total: seconds(w.Total), Start: w.Start, End: w.End, LogDir: w.LogDir, Stopped: w.Stopped, Runs: w.Runs}
	if f := w.Failure; f != nil {
		r.Failure = &Failure{Class: f.Class, Message: f.Message, Tail: f.Tail}
	}
	return r, w.Error, nil
}

// finite is m without the values JSON cannot carry (NaN, ±Inf); nil stays nil.
func finite(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// EncodeEvent renders an event for another machine (a Ray trial's go to
// the controller through the GCS KV); metrics JSON cannot carry are left out.
func EncodeEvent(e Event) ([]byte, error) {
	e.Metrics = finite(e.Metrics)
	return json.Marshal(e)
}

// DecodeEvent reads an event written by EncodeEvent.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("trial event: %w", err)
	}
	return e, nil
}

// Self puts exe in place of {self} in a command: this program, wherever
// the trial runs.
func Self(argv []string, exe string) {
	for i, a := range argv {
		if a == "{self}" {
			argv[i] = exe
		}
	}
}
