package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/gpu"
)

type checkEnvCmd struct {
	RayAddress string        `help:"GCS address (host:port) of the Ray cluster trials will run on (default: RAY_ADDRESS, then ray_current_cluster). Given, the cluster is required." placeholder:"HOST:PORT"`
	Timeout    time.Duration `help:"Deadline of each version command and of the cluster probe." default:"20s"`
	JSON       bool          `help:"Print JSON." name:"json"`
}

func (c *checkEnvCmd) Help() string {
	return "One line per check: ok, warning or missing, with the fix. Exits 1 when something required is missing: vllm on PATH (trials run `vllm serve` on this machine), or, with --ray-address, a cluster that answers (trials then run on its nodes, and a local vllm is optional). guidellm, ray, python3, GPUs and a cluster found without --ray-address are reported, never required.\n\n" + exitCodesHelp
}

// check is one line of the report.
type check struct {
	Name     string `json:"name"`
	Status   string `json:"status"` // ok, warning, missing
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
	Required bool   `json:"required"`
}

func (c *checkEnvCmd) Run(ctx context.Context, g *globals) error {
	onRay := c.RayAddress != ""
	checks := []check{
		c.tool(ctx, g, "vllm", !onRay, "install vLLM: pip install vllm (trials on Ray need it on the nodes instead)"),
		c.tool(ctx, g, "guidellm", false, "pip install guidellm, for benchmark.tool: guidellm (the built-in benchmark needs nothing)"),
		c.tool(ctx, g, "ray", false, "pip install 'ray[default]', to start clusters with `ray start` (optimize --start-ray-head needs it)"),
		c.tool(ctx, g, "python3", false, "install Python 3, which vLLM, guidellm and Ray run on"),
		c.gpus(ctx, g),
		c.cluster(ctx, g),
	}
	if c.JSON {
		if err := printJSON(g.io, checks); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.io.Stdout, 0, 2, 2, ' ', 0)
		for _, ch := range checks {
			line := ch.Detail
			if ch.Fix != "" {
				line += ": " + ch.Fix
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", ch.Status, ch.Name, line)
		}
		tw.Flush()
	}
	for _, ch := range checks {
		if ch.Required && ch.Status != "ok" {
			return &exitError{code: exitFailure}
		}
	}
	return nil
}

// tool finds name on PATH and asks its version.
func (c *checkEnvCmd) tool(ctx context.Context, g *globals, name string, required bool, fix string) check {
	ch := check{Name: name, Required: required}
	path, ok := lookPath(name, g.io.Getenv("PATH"))
	if !ok {
		ch.Status, ch.Detail, ch.Fix = "warning", "not on PATH", fix
		if required {
			ch.Status = "missing"
		}
		return ch
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = g.io.Environ
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A child that keeps the output open must not hold us past the kill.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	version := lastLine(out.String())
	switch {
	case ctx.Err() != nil:
		ch.Status, ch.Detail, ch.Fix = "warning", fmt.Sprintf("%s --version did not answer within %s", path, c.Timeout), "check the installation (a broken Python environment hangs or fails on import)"
	case err != nil:
		ch.Status, ch.Detail, ch.Fix = "warning", fmt.Sprintf("%s --version failed (%v): %s", path, err, version), "check the installation"
	default:
		ch.Status, ch.Detail = "ok", fmt.Sprintf("%s (%s)", version, path)
	}
	if required && ch.Status != "ok" {
		ch.Status = "missing"
	}
	return ch
}

// lookPath is exec.LookPath over the PATH the command was given.
func lookPath(name, path string) (string, bool) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// lastLine is a version command's answer: tools log before they print it.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (c *checkEnvCmd) gpus(ctx context.Context, g *globals) check {
	inv := gpu.Discover(ctx, g.io.Getenv("PATH"))
	if len(inv.Devices) == 0 {
		return check{Name: "gpus", Status: "warning", Detail: "no NVIDIA GPU found (" + inv.Reason + ")", Fix: "vLLM needs a GPU and its driver here, unless trials run on Ray nodes or use `auto-tune-vllm simulate`"}
	}
	d := inv.Devices[0]
	return check{Name: "gpus", Status: "ok", Detail: fmt.Sprintf("%d × %s, %s, driver %s (via %s)", len(inv.Devices), d.Name, byteSize(float64(d.MemoryTotal)), inv.Driver, inv.Source)}
}

func (c *checkEnvCmd) cluster(ctx context.Context, g *globals) check {
	ch := check{Name: "ray cluster", Required: c.RayAddress != ""}
	// One deadline for the whole probe: a GCS that accepts connections and
	// never answers must not hang the check.
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	token, err := gcs.LoadToken(g.io.Getenv, g.io.Home)
	if err == nil {
		var client *gcs.Client
		client, _, err = gcs.Connect(ctx, gcs.FindOptions{Address: c.RayAddress, Getenv: g.io.Getenv}, gcs.Options{Token: token.Value, ProbeTimeout: c.Timeout, Logger: g.log})
		if err == nil {
			defer client.Close()
			var cl *gcs.Cluster
			if cl, err = client.Describe(ctx); err == nil {
				ch.Status = "ok"
				ch.Detail = fmt.Sprintf("Ray %s at %s: %d alive nodes, %s CPUs, %s GPUs, dashboard %s", cl.RayVersion, cl.Address, cl.AliveNodes(), count(cl.Total["CPU"]), count(cl.Total["GPU"]), orNone(cl.Dashboard))
				if cl.Dashboard == "" {
					ch.Status, ch.Fix = "warning", "trials are submitted through the dashboard's Jobs API: start the head with --include-dashboard=true"
				}
				return ch
			}
		}
	}
	ch.Status, ch.Detail = "warning", err.Error()
	if errors.Is(err, gcs.ErrNoCluster) && c.RayAddress == "" {
		ch.Detail = "none reachable: fine for trials on this machine (" + err.Error() + ")"
		ch.Fix = "for Ray, start one with `ray start --head` or let optimize --start-ray-head do it"
	}
	if ch.Required {
		ch.Status, ch.Fix = "missing", "start the cluster or correct --ray-address"
	}
	return ch
}
