package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gpu"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/local"
	rayb "github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// studyFlags are shared by optimize and resume.
type studyFlags struct {
	Trials                 int    `help:"Number of trials to complete (overrides the config's n_trials)." placeholder:"N"`
	MaxConcurrentTrials    int    `help:"Trials run at once (overrides the config's max_concurrent_trials)." name:"max-concurrent-trials" aliases:"max-concurrent" placeholder:"N"`
	MaxConsecutiveFailures int    `help:"Stop after this many failed or infeasible trials in a row." default:"10"`
	LogDir                 string `help:"Where trial logs go (<dir>/<study>/trial_<n>; default: the config's logging.file_path, else logs)." placeholder:"DIR"`
	JSON                   bool   `help:"Print the final report as JSON (progress goes to stderr)." name:"json"`
	Quiet                  bool   `help:"Print only the final report and errors (every log line still goes to <log-dir>/<study>/controller.log)." short:"q"`
	NoConfirm              bool   `help:"Skip the confirmation phase (the best trials and the baseline measured again after the search; optimization.confirm)." name:"no-confirm"`
}

// logDir is where trials log: --log-dir, else the Python tool's
// logging.file_path, else ./logs.
func logDir(flag string, cfg *config.Study) string {
	switch {
	case flag != "":
		return flag
	case cfg != nil && cfg.Logging.FilePath != "":
		return cfg.Logging.FilePath
	}
	return "logs"
}

// loadStudy reads and validates the config, printing problems.
func loadStudy(g *globals, path string, trials int) (*config.Study, []byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := config.Parse(path, text, g.io.Getenv)
	if err != nil {
		if config.IsErrors(err) {
			fmt.Fprintf(g.io.Stderr, "%s is not valid:\n%v\n", path, err)
			return nil, nil, &exitError{code: exitFailure}
		}
		return nil, nil, err
	}
	for _, w := range cfg.Warnings {
		g.log.Warn(w)
	}
	if trials > 0 {
		cfg.NTrials = trials
	}
	return cfg, text, nil
}

// studyRun is one optimize or resume: a loaded config, run on a backend
// until the study is done, and the report printed.
type studyRun struct {
	cfg    *config.Study
	text   []byte // the config as written, saved with the study
	flags  studyFlags
	resume bool
}

func newStudyRun(g *globals, path string, f studyFlags, resume bool) (*studyRun, error) {
	if s := sinkOf(g.log); f.Quiet && s != nil {
		s.redirect(g.io.Stderr, slog.LevelError, nil) // for the whole command
	}
	// Checked before anything starts: a typo must not cost a Ray head start.
	cfg, text, err := loadStudy(g, path, f.Trials)
	if err != nil {
		return nil, err
	}
	if f.NoConfirm {
		cfg.Confirm = config.Confirm{}
	}
	f.LogDir = logDir(f.LogDir, cfg)
	return &studyRun{cfg: cfg, text: text, flags: f, resume: resume}, nil
}

// exec runs the study where the flags say: on this machine, or on Ray.
func (r *studyRun) exec(ctx context.Context, g *globals, ray rayFlags) error {
	if ray.useRay() {
		return r.onRay(ctx, g, ray)
	}
	// {self} in a command is this program (for `simulate`). On Ray the node
	// that runs the trial puts in its own path.
	if r.cfg.Server != nil {
		trial.Self(r.cfg.Server.Command, g.io.Executable)
	}
	trial.Self(r.cfg.Benchmark.Command, g.io.Executable)
	return r.run(ctx, g, nil)
}

// run opens (or resumes) the study, runs it, and prints the report. ray,
// if set, runs the trials; otherwise they run on this machine.
func (r *studyRun) run(ctx context.Context, g *globals, ray *rayb.Backend) error {
	cfg := r.cfg
	opened, err := tune.Open(context.WithoutCancel(ctx), cfg, r.text, r.resume)
	if err != nil {
		return err
	}
	defer opened.Close()
	if r.resume {
		g.log.Info("Resuming study", "study", opened.Study.Name(), "interrupted_trials_failed", opened.Interrupted)
	} else {
		g.log.Info("Created study", "study", opened.Study.Name(), "storage", storageOf(cfg), "config_saved_in", opened.Dir)
	}
	conc := concurrency(r.flags, cfg)
	var backend tune.Backend
	if ray != nil {
		// The job namespace is the study's: known once it is open.
		ray.Study, ray.Concurrency = opened.Study.Name(), conc
		backend = ray
	} else {
		backend = localBackend(ctx, g, conc)
	}
	defer func() {
		// Jobs still running are stopped, even after Ctrl-C.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		backend.Close(cctx)
	}()
	progress, stopProgress := r.showProgress(g, opened.Study.Name())
	defer stopProgress()
	runErr := tune.Run(ctx, tune.RunOptions{
		Config: cfg, Study: opened.Study, Backend: backend, Concurrency: conc,
		MaxConsecutiveFailures: r.flags.MaxConsecutiveFailures, LogDir: r.flags.LogDir, BaseEnv: g.io.Environ, Remote: ray != nil, Logger: g.log,
		Progress: progress,
	})
	stopProgress()
	trials, err := opened.Study.Trials(context.WithoutCancel(ctx))
	if err != nil {
		return errors.Join(runErr, err)
	}
	rep := report.Build(trials, reportOptions(cfg, opened.Study.Name(), g.io.Executable))
	if r.flags.JSON {
		if err := rep.JSON(g.io.Stdout); err != nil && runErr == nil {
			runErr = fmt.Errorf("write the report: %w", err)
		}
	} else {
		rep.Text(g.io.Stdout)
	}
	// Also after Ctrl-C: the page shows what the study got to.
	if path, err := writeHTMLReport(rep, trials, ""); err != nil {
		g.log.Warn("No HTML report", "error", err)
	} else {
		fmt.Fprintf(g.io.Stderr, "HTML report: %s\n", path)
	}
	if runErr != nil && ctx.Err() != nil {
		fmt.Fprintf(g.io.Stderr, "Interrupted: resume with `auto-tune-vllm resume --config %s`\n", cfg.File)
	}
	return runErr
}

func concurrency(f studyFlags, cfg *config.Study) int {
	if f.MaxConcurrentTrials > 0 {
		return f.MaxConcurrentTrials
	}
	return cfg.MaxConcurrent
}

// localBackend gives each trial GPUs of this machine, when it has any.
func localBackend(ctx context.Context, g *globals, conc int) *local.Backend {
	backend := &local.Backend{Concurrency: conc}
	if inv := gpu.Discover(ctx, g.io.Getenv("PATH")); len(inv.Devices) > 0 {
		ids := make([]int, len(inv.Devices))
		for i, d := range inv.Devices {
			ids[i] = d.Index
		}
		backend.GPUs = gpu.NewAllocator(ids)
		path := g.io.Getenv("PATH")
		backend.Inventory = func(ctx context.Context) gpu.Inventory { return gpu.Discover(ctx, path) }
		backend.Logger = g.log
		g.log.Info(fmt.Sprintf("Trials get their own GPUs: %d found (%s)", len(ids), inv.Devices[0].Name))
	} else {
		g.log.Debug("no GPUs: trials share the machine", "reason", inv.Reason)
	}
	return backend
}

// reportOptions describe a study of this config to the report. self is
// this program, put in for {self} in the commands printed.
func reportOptions(cfg *config.Study, name, self string) report.Options {
	objs := make([]report.Objective, len(cfg.Objectives))
	for i, o := range cfg.Objectives {
		objs[i] = report.Objective{Key: o.Key(), Maximize: o.Direction == "maximize"}
	}
	o := report.Options{Study: name, Objectives: objs, Concurrency: cfg.Benchmark.Rate, Defaults: map[string]any{}}
	for _, slo := range cfg.SLOs {
		o.SLOs = append(o.SLOs, report.Limit{Key: slo.Key(), Max: slo.Max, Min: slo.Min, Name: slo.String()})
	}
	o.Command = func(params map[string]any) []string {
		argv := tune.Command(cfg, params)
		trial.Self(argv, self) // left in the config for the nodes of a Ray cluster
		return argv
	}
	if argv := tune.BaselineCommand(cfg); argv != nil {
		trial.Self(argv, self)
		o.BaselineCommand = argv
		// The baseline's parameters are vLLM's defaults as the config
		// states them.
		for _, v := range cfg.Baseline.Parameters {
			o.Defaults[v.Name] = v.Value
		}
	}
	return o
}
