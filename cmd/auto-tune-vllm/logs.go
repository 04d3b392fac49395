package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	rayb "github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/trial"
)

type logsCmd struct {
	Study string `help:"Study name." required:"" placeholder:"NAME" aliases:"study-name"`
	Trial int    `help:"Trial number." required:"" placeholder:"N"`
	storageFlags
	Server     bool          `help:"Only the vLLM server's log." xor:"which"`
	Benchmark  bool          `help:"Only the benchmark's log." xor:"which"`
	Job        bool          `help:"Only the Ray job's driver log: the copy saved with the trial, else read from the cluster's Jobs API." xor:"which"`
	Follow     bool          `help:"Keep printing what the logs gain, like tail -f, until the trial ends or Ctrl-C." short:"f"`
	LogDir     string        `help:"The --log-dir the study ran with: where a trial not yet finished logs (default: the config's logging.file_path, else logs)." placeholder:"DIR" aliases:"log-path"`
	RayAddress string        `help:"GCS address (host:port) of the Ray cluster, for --job (default: RAY_ADDRESS, then ray_current_cluster)." placeholder:"HOST:PORT"`
	Every      time.Duration `help:"How often --follow looks for more." default:"500ms" hidden:""`
}

func (c *logsCmd) Help() string {
	return "Prints a trial's logs, each under a header: the server's, the benchmark's, a Ray trial's job log, and those of its confirmation runs (confirm_<round>/). Logs are found where the trial recorded them, relative to the directory the study ran in.\n\n" + exitCodesHelp
}

func (c *logsCmd) Run(ctx context.Context, g *globals) error {
	where, cfg, err := c.resolve(g, c.Study)
	if err != nil {
		return err
	}
	if path := savedConfig(c.Study); cfg == nil && c.LogDir == "" && exists(path) {
		cfg, _, _ = loadStudy(g, path, 0) // --storage named the storage; the study's config its logs
	}
	// A trial not finished yet logs where optimize put it: --log-dir, else
	// the config's logging.file_path, else logs.
	l, err := tune.FindTrialLogs(ctx, where, c.Study, c.Trial, logDir(c.LogDir, cfg))
	if err != nil {
		return err
	}
	only := ""
	switch {
	case c.Server:
		only = trial.ServerLog
	case c.Benchmark:
		only = trial.BenchmarkLog
	case c.Job:
		only = trial.JobLog
	}
	files := func() []string {
		out := trial.LogFiles(l.Dir, only)
		for _, d := range l.Confirm {
			if !strings.HasPrefix(d, l.Dir+string(filepath.Separator)) {
				out = append(out, trial.LogFiles(d, only)...)
			}
		}
		return out
	}
	running := !l.State.Finished()
	if c.Job && (running || len(files()) == 0) {
		// A Ray trial's job log is saved with it when the job ends.
		return c.jobLogs(ctx, g, l)
	}
	if len(files()) == 0 && !(c.Follow && running) {
		return fmt.Errorf("trial %d of study %s (%s): %s", c.Trial, c.Study, strings.ToLower(string(l.State)), c.noLogs(l, only))
	}
	if len(files()) == 0 {
		g.log.Info("Waiting for the trial's logs: " + c.noLogs(l, only))
	}
	tail := &trial.Tail{W: g.io.Stdout}
	if !c.Follow {
		return tail.Print(files())
	}
	done := func(ctx context.Context) (bool, error) {
		state, err := tune.TrialState(ctx, where, c.Study, c.Trial)
		return state.Finished(), err
	}
	return tail.Follow(ctx, files, done, c.Every)
}

// noLogs says where we looked, and why that may be empty.
func (c *logsCmd) noLogs(l *tune.TrialLogs, only string) string {
	what := "no logs"
	if only != "" {
		what = "no " + only
	}
	abs, _ := filepath.Abs(l.Dir)
	if l.Recorded {
		return fmt.Sprintf("%s in %s, the log directory recorded with the trial (run from the directory the study ran in)", what, abs)
	}
	return fmt.Sprintf("%s in %s, where a trial of this study logs while it runs (give --log-dir if the study ran with one; a trial on Ray leaves its logs there when its job ends: --job reads the job's log meanwhile)", what, abs)
}

// jobLogs prints the driver logs of the trial's Ray jobs, read from the
// cluster's Jobs API.
func (c *logsCmd) jobLogs(ctx context.Context, g *globals, l *tune.TrialLogs) error {
	token, err := gcs.LoadToken(g.io.Getenv, g.io.Home)
	if err != nil {
		return err
	}
	client, _, err := gcs.Connect(ctx, gcs.FindOptions{Address: c.RayAddress, Getenv: g.io.Getenv}, gcs.Options{Token: token.Value, Logger: g.log})
	if err != nil {
		abs, _ := filepath.Abs(l.Dir)
		return fmt.Errorf("trial %d of study %s: no %s in %s, and no Ray cluster to read its job's log from: %w", c.Trial, c.Study, trial.JobLog, abs, err)
	}
	defer client.Close()
	cl, err := client.Describe(ctx)
	if err != nil {
		return err
	}
	if cl.Dashboard == "" {
		return fmt.Errorf("the Ray cluster at %s has no dashboard to read job logs from", cl.Address)
	}
	jobs := dashboard.New(cl.Dashboard, token.Value)
	list, err := rayb.TrialJobs(ctx, jobs, c.Study, c.Trial)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("no Ray job of trial %d of study %s on the cluster at %s, and no job.log saved with the trial (did the trial run on Ray, on this cluster?)", c.Trial, c.Study, cl.Address)
	}
	return rayb.PrintJobLogs(ctx, g.io.Stdout, jobs, list, c.Follow, c.Every)
}
