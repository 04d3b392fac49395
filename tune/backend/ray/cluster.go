// Package ray is the Ray execution backend. This file owns the cluster
// lifecycle of the Ray auto-start feature: use an existing cluster if one is
// found, otherwise start a head when asked to, and stop only a head we started.
package ray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
)

// ClusterOptions configure Connect.
type ClusterOptions struct {
	Find gcs.FindOptions
	// StartHead starts a Ray head when no cluster is found (--start-ray-head).
	StartHead bool
	Head      head.Options
	Token     string
	// ProbeTimeout bounds the detection probe (default 2 s).
	ProbeTimeout time.Duration
	Logger       *slog.Logger
}

// NoClusterError is returned when no cluster was found and none may be
// started; the CLI prints the spec's hint after it.
type NoClusterError struct{ Cause error }

func (e *NoClusterError) Error() string {
	return "Failed to connect to Ray cluster: " + e.Cause.Error()
}
func (e *NoClusterError) Unwrap() error { return e.Cause }

// Hint is what the user can do: the spec's words.
func (e *NoClusterError) Hint() string {
	return "Use --start-ray-head to automatically start a Ray head, or start one manually:\n  ray start --head"
}

// AddressError is returned when --ray-address names a cluster that does not
// answer: --start-ray-head starts a head only when no address was given, so
// a typo in the address never starts a second cluster beside the one meant.
type AddressError struct {
	Address string
	Cause   error
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("Failed to connect to Ray cluster: the cluster at %s (--ray-address) does not answer: %v", e.Address, e.Cause)
}
func (e *AddressError) Unwrap() error { return e.Cause }

// Hint says why no head was started and what to do instead.
func (e *AddressError) Hint() string {
	return "--start-ray-head starts a head only when no address is given: check the address, or drop --ray-address to start a head on this machine"
}

// Cluster is a connected cluster, and the head we started for it, if any.
type Cluster struct {
	Client *gcs.Client
	Info   *gcs.Cluster
	// Head is nil when the cluster existed before us; it is never stopped then.
	Head *head.Head
	log  *slog.Logger
}

// Connect detects a cluster over GCS, or starts a head when none is found and
// StartHead is set, and connects to it.
func Connect(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gopts := gcs.Options{Token: opts.Token, ProbeTimeout: opts.ProbeTimeout, Logger: log}
	client, addr, err := gcs.Connect(ctx, opts.Find, gopts)
	if err == nil {
		c := &Cluster{Client: client, log: log}
		if err := c.describe(ctx); err != nil {
			client.Close()
			return nil, err
		}
		log.Info("Connected to existing Ray cluster", c.summary()...)
		return c, nil
	}
	if !errors.Is(err, gcs.ErrNoCluster) {
		return nil, fmt.Errorf("connect to Ray cluster: %w", err)
	}
	if !opts.StartHead {
		return nil, &NoClusterError{Cause: err}
	}
	if addr.Source == "--ray-address" {
		return nil, &AddressError{Address: addr.HostPort, Cause: err}
	}
	log.Info("No existing Ray cluster found, starting Ray head...", "reason", err.Error())
	opts.Head.Token = opts.Token
	opts.Head.Logger = log
	h, err := head.Start(ctx, opts.Head)
	if err != nil {
		return nil, err
	}
	client, err = gcs.Dial(ctx, h.LocalAddress, gopts)
	if err != nil {
		h.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("connect to the Ray head we started: %w", err)
	}
	c := &Cluster{Client: client, Head: h, log: log}
	if err := c.describe(ctx); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	log.Info("Connected to newly started Ray head", c.summary()...)
	return c, nil
}

func (c *Cluster) describe(ctx context.Context) error {
	info, err := c.Client.Describe(ctx)
	if err != nil {
		return fmt.Errorf("read Ray cluster state: %w", err)
	}
	if c.Head != nil {
		// Report the address the cluster advertises, not our loopback route.
		info.Address = c.Head.Address
	}
	c.Info = info
	return nil
}

func (c *Cluster) summary() []any {
	return []any{
		"address", c.Info.Address,
		"ray_version", c.Info.RayVersion,
		"alive_nodes", c.Info.AliveNodes(),
		"gpus", c.Info.Total["GPU"],
		"cpus", c.Info.Total["CPU"],
		"dashboard", c.Info.Dashboard,
	}
}

// Close disconnects, then stops the head if we started it. An existing
// cluster is left running.
func (c *Cluster) Close(ctx context.Context) error {
	c.Client.Close()
	if c.Head == nil {
		return nil
	}
	return c.Head.Stop(ctx)
}
