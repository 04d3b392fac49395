package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gpu"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/local"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/report"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

// studyFlags are shared by optimize and resume.
type studyFlags struct {
	Trials                 int    `help:"Number of trials to complete (overrides the config's n_trials)." placeholder:"N"`
	MaxConcurrentTrials    int    `help:"Trials run at once (overrides the config's max_concurrent_trials)." name:"max-concurrent-trials" aliases:"max-concurrent" placeholder:"N"`
	MaxConsecutiveFailures int    `help:"Stop after this many failed or infeasible trials in a row." default:"10"`
	LogDir                 string `help:"Where trial logs go (<dir>/<study>/trial_<n>)." default:"logs" placeholder:"DIR"`
	JSON                   bool   `help:"Print the final report as JSON." name:"json"`
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

// runLocal runs (resume=false: creates) the study on this machine and prints the outcome.
func runLocal(ctx context.Context, g *globals, cfg *config.Study, text []byte, f studyFlags, resume bool) error {
	// {self} in a command is this program (for `simulate`). On Ray the node
	// that runs the trial puts in its own path.
	if cfg.Server != nil {
		trial.Self(cfg.Server.Command, g.io.Executable)
	}
	trial.Self(cfg.Benchmark.Command, g.io.Executable)
	return runStudy(ctx, g, cfg, text, f, resume, false, func(string, int) (tune.Backend, error) {
		return localBackend(ctx, g, f, cfg), nil
	})
}

// runStudy opens (or resumes) the study, runs it on the backend that
// newBackend makes for it, and prints the report.
func runStudy(ctx context.Context, g *globals, cfg *config.Study, text []byte, f studyFlags, resume, remote bool, newBackend func(study string, concurrency int) (tune.Backend, error)) error {
	opened, err := tune.Open(context.WithoutCancel(ctx), cfg, text, resume)
	if err != nil {
		return err
	}
	defer opened.Close()
	if resume {
		g.log.Info("Resuming study", "study", opened.Study.Name(), "interrupted_trials_failed", opened.Interrupted)
	} else {
		g.log.Info("Created study", "study", opened.Study.Name(), "storage", storageOf(cfg), "config_saved_in", opened.Dir)
	}
	conc := concurrency(f, cfg)
	backend, err := newBackend(opened.Study.Name(), conc)
	if err != nil {
		return err
	}
	defer func() {
		// Jobs still running are stopped, even after Ctrl-C.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		backend.Close(cctx)
	}()
	runErr := tune.Run(ctx, tune.RunOptions{
		Config: cfg, Study: opened.Study, Backend: backend, Concurrency: conc,
		MaxConsecutiveFailures: f.MaxConsecutiveFailures, LogDir: f.LogDir, BaseEnv: g.io.Environ, Remote: remote, Logger: g.log,
	})
	trials, err := opened.Study.Trials(context.WithoutCancel(ctx))
	if err != nil {
		return errors.Join(runErr, err)
	}
	rep := report.Build(trials, reportOptions(cfg, opened.Study.Name(), g.io.Executable))
	if f.JSON {
		rep.JSON(g.io.Stdout)
	} else {
		rep.Text(g.io.Stdout)
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
func localBackend(ctx context.Context, g *globals, f studyFlags, cfg *config.Study) *local.Backend {
	backend := &local.Backend{Concurrency: concurrency(f, cfg)}
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

func reportOptions(cfg *config.Study, name, self string) report.Options {
	objs := make([]report.Objective, len(cfg.Objectives))
	for i, o := range cfg.Objectives {
		objs[i] = report.Objective{Key: o.Key(), Maximize: o.Direction == "maximize"}
	}
	return report.Options{Study: name, Objectives: objs, Command: func(params map[string]any) []string {
		var flags []trial.Flag
		for _, v := range cfg.Static {
			flags = append(flags, trial.Flag{Name: v.Name, Value: v.Value})
		}
		for _, p := range cfg.Parameters {
			if v, ok := params[p.Name]; ok && !p.Env {
				flags = append(flags, trial.Flag{Name: p.Name, Value: v})
			}
		}
		template := cfg.Benchmark.Command
		if cfg.Server != nil {
			template = cfg.Server.Command
		}
		argv := trial.Argv(template, cfg.Benchmark.Model, flags, "", 0) // no --port: the user's own
		trial.Self(argv, self)                                          // left in the config for the nodes of a Ray cluster
		return argv
	}}
}

type resumeCmd struct {
	Config string `help:"Study config (YAML)." required:"" type:"existingfile" placeholder:"FILE"`
	rayFlags
	studyFlags
}

func (c *resumeCmd) Help() string { return exitCodesHelp }

func (c *resumeCmd) Run(ctx context.Context, g *globals) error {
	cfg, text, err := loadStudy(g, c.Config, c.Trials)
	if err != nil {
		return err
	}
	return c.rayFlags.run(ctx, g, cfg, text, c.studyFlags, true)
}
