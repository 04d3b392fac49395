package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
	rayb "github.com/auto-tune-vllm/auto-tune-vllm/tune/backend/ray"
)

type optimizeCmd struct {
	Config          string        `help:"Study config (YAML)." required:"" type:"existingfile" placeholder:"FILE"`
	Backend         string        `help:"Where trials run: local or ray (default: ray when --start-ray-head or --ray-address is given, else local)." enum:"local,ray," default:""`
	StartRayHead    bool          `help:"Start a Ray head on this machine if no cluster is found; it is stopped when the study ends." name:"start-ray-head"`
	RayAddress      string        `help:"GCS address (host:port) of the Ray cluster (default: RAY_ADDRESS, then ray_current_cluster)." placeholder:"HOST:PORT"`
	DashboardHost   string        `help:"Bind address of the dashboard of a head we start." default:"0.0.0.0" placeholder:"HOST"`
	RayTempDir      string        `help:"Parent directory of a started head's private temp dir (default: TMPDIR or /tmp)." placeholder:"DIR"`
	RayStartTimeout time.Duration `help:"How long a started head may take to become ready." default:"120s"`
	RayProbeTimeout time.Duration `help:"Deadline of the cluster detection probe." default:"2s"`
	Retain          bool          `help:"Debug: leave a head we started running at exit instead of stopping it." hidden:""`
	Hold            bool          `help:"Debug: after connecting, hold the cluster until interrupted." hidden:""`
	studyFlags
}

func (o *optimizeCmd) Help() string { return exitCodesHelp }

func (o *optimizeCmd) Run(ctx context.Context, g *globals) (err error) {
	// Checked before anything starts: a typo must not cost a Ray head start.
	study, text, err := loadStudy(g, o.Config, o.Trials)
	if err != nil {
		return err
	}
	backend := o.Backend
	if backend == "" {
		backend = "local"
		if o.StartRayHead || o.RayAddress != "" {
			backend = "ray"
		}
	}
	if backend == "local" {
		return runLocal(ctx, g, study, text, o.studyFlags, false)
	}
	cluster, err := o.connect(ctx, g)
	if err != nil {
		return err
	}
	// From here every exit path goes through the deferred cleanup.
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
	return &exitError{code: exitNotImplemented, err: fmt.Errorf("connected to Ray cluster %s, but running trials is not available in this build yet; nothing was tuned", cluster.Info.Address)}
}

func headLost(c *rayb.Cluster) <-chan struct{} {
	if c.Head == nil {
		return nil
	}
	return c.Head.Lost()
}

func (o *optimizeCmd) connect(ctx context.Context, g *globals) (*rayb.Cluster, error) {
	token, err := gcs.LoadToken(g.io.Getenv, g.io.Home)
	if err != nil {
		return nil, err
	}
	tempRoot := o.RayTempDir
	if tempRoot == "" {
		tempRoot = g.io.tempRoot()
	}
	return rayb.Connect(ctx, rayb.ClusterOptions{
		Find:         gcs.FindOptions{Address: o.RayAddress, Getenv: g.io.Getenv},
		StartHead:    o.StartRayHead,
		Token:        token.Value,
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
