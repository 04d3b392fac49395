package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gcs/dashboard"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	rayb "github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
)

type optimizeCmd struct {
	Config string `help:"Study config (YAML)." required:"" type:"existingfile" placeholder:"FILE"`
	rayFlags
	studyFlags
}

// rayFlags choose the backend and, for Ray, the cluster (optimize and resume).
type rayFlags struct {
	Backend         string        `help:"Where trials run: local or ray (default: ray when --start-ray-head or --ray-address is given, else local)." enum:"local,ray," default:""`
	StartRayHead    bool          `help:"Start a Ray head on this machine if no cluster is found; it is stopped when the study ends." name:"start-ray-head"`
	RayAddress      string        `help:"GCS address (host:port) of the Ray cluster (default: RAY_ADDRESS, then ray_current_cluster)." placeholder:"HOST:PORT"`
	DashboardHost   string        `help:"Bind address of the dashboard of a head we start." default:"0.0.0.0" placeholder:"HOST"`
	RayTempDir      string        `help:"Parent directory of a started head's private temp dir (default: TMPDIR or /tmp)." placeholder:"DIR"`
	RayStartTimeout time.Duration `help:"How long a started head may take to become ready." default:"120s"`
	RayProbeTimeout time.Duration `help:"Deadline of the cluster detection probe." default:"2s"`
	RayExecutable   string        `help:"Run this auto-tune-vllm from the nodes' PATH (or this absolute path on the nodes) in each trial's Ray job, instead of shipping this binary as the job's working_dir." placeholder:"PATH"`
	RayCPUsPerTrial float64       `help:"CPUs each trial's Ray job reserves (entrypoint_num_cpus)." default:"1" name:"ray-cpus-per-trial"`
	Retain          bool          `help:"Debug: leave a head we started running at exit instead of stopping it." hidden:""`
	Hold            bool          `help:"Debug: after connecting, hold the cluster until interrupted." hidden:""`
}

func (o *optimizeCmd) Help() string { return exitCodesHelp }

func (o *optimizeCmd) Run(ctx context.Context, g *globals) error {
	r, err := newStudyRun(g, o.Config, o.studyFlags, false)
	if err != nil {
		return err
	}
	return r.exec(ctx, g, o.rayFlags)
}

// useRay: --backend, else ray when a cluster is named or a head is to be
// started.
func (o *rayFlags) useRay() bool {
	if o.Backend != "" {
		return o.Backend == "ray"
	}
	return o.StartRayHead || o.RayAddress != ""
}

// onRay runs the study's trials as jobs of a Ray cluster: found, or a head
// started for it and stopped after it, on every exit path.
func (r *studyRun) onRay(ctx context.Context, g *globals, o rayFlags) (err error) {
	token, err := gcs.LoadToken(g.io.Getenv, g.io.Home)
	if err != nil {
		return err
	}
	cluster, err := o.connect(ctx, g, token.Value)
	if err != nil {
		return err
	}
	defer func() {
		if o.Retain && cluster.Head != nil {
			g.log.Warn("Leaving the Ray head running (--retain)", "head", cluster.Head.ID(), "cleanup", "auto-tune-vllm ray cleanup --session "+cluster.Head.ID())
			return
		}
		// Cleanup runs even after Ctrl-C, with its own time limit.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := cluster.Close(cctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if o.Hold {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-headLost(cluster):
			return cluster.Head.LostErr()
		}
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	b, err := o.backend(g, cluster, token.Value)
	if err != nil {
		return err
	}
	// Before the study exists: a trial no node can hold is refused first.
	lo, hi := tune.GPUNeeds(r.cfg)
	if err := b.Check(lo, hi); err != nil {
		return err
	}
	// Trials are jobs; the head they need must outlive them (the deferred
	// cluster close runs after run has stopped every job).
	return r.run(ctx, g, b)
}

func (o *rayFlags) backend(g *globals, cluster *rayb.Cluster, token string) (*rayb.Backend, error) {
	if cluster.Info.Dashboard == "" {
		return nil, fmt.Errorf("the Ray cluster at %s has no dashboard: trials are submitted through its Jobs API (start the head with --include-dashboard=true)", cluster.Info.Address)
	}
	b := &rayb.Backend{
		GCS: cluster.Client, Jobs: dashboard.New(cluster.Info.Dashboard, token), Cluster: cluster.Info,
		Executable: g.io.Executable, RemoteExecutable: o.RayExecutable, CPUsPerTrial: o.RayCPUsPerTrial,
		LogLevel: g.LogLevel, Logger: g.log,
	}
	if cluster.Head != nil {
		b.Lost, b.LostErr = cluster.Head.Lost(), cluster.Head.LostErr
	}
	return b, nil
}

func headLost(c *rayb.Cluster) <-chan struct{} {
	if c.Head == nil {
		return nil
	}
	return c.Head.Lost()
}

func (o *rayFlags) connect(ctx context.Context, g *globals, token string) (*rayb.Cluster, error) {
	tempRoot := o.RayTempDir
	if tempRoot == "" {
		tempRoot = g.io.tempRoot()
	}
	return rayb.Connect(ctx, rayb.ClusterOptions{
		Find:         gcs.FindOptions{Address: o.RayAddress, Getenv: g.io.Getenv},
		StartHead:    o.StartRayHead,
		Token:        token,
		ProbeTimeout: o.RayProbeTimeout,
		Logger:       g.log,
		Head: head.Options{
			Env:           g.io.Environ,
			TempRoot:      tempRoot,
			StateDir:      g.StateDir,
			DashboardHost: o.DashboardHost,
			NumGPUs:       -1,
			ReadyTimeout:  o.RayStartTimeout,
		},
	})
}
