package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
)

type rayStatusCmd struct {
	Address string        `help:"GCS address host:port (default: RAY_ADDRESS, then ray_current_cluster)." placeholder:"HOST:PORT"`
	Timeout time.Duration `help:"Deadline of the connection probe." default:"2s"`
	JSON    bool          `help:"Print JSON." name:"json"`
}

func (c *rayStatusCmd) Run(ctx context.Context, g *globals) error {
	token, err := gcs.LoadToken(g.io.Getenv, g.io.Home)
	if err != nil {
		return err
	}
	client, _, err := gcs.Connect(ctx, gcs.FindOptions{Address: c.Address, Getenv: g.io.Getenv}, gcs.Options{Token: token.Value, ProbeTimeout: c.Timeout, Logger: g.log})
	if err != nil {
		return err
	}
	defer client.Close()
	cl, err := client.Describe(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(g.io, cl)
	}
	out := g.io.Stdout
	fmt.Fprintf(out, "Ray cluster %s  (Ray %s)\n", cl.Address, cl.RayVersion)
	fmt.Fprintf(out, "Cluster ID:  %s\n", cl.ClusterID)
	dash := cl.Dashboard
	if dash == "" {
		dash = "(none)"
	}
	fmt.Fprintf(out, "Dashboard:   %s\n", dash)
	fmt.Fprintf(out, "Nodes:       %d alive, %d dead\n\n", cl.AliveNodes(), len(cl.Nodes)-cl.AliveNodes())
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tSTATE\tCPU\tGPU\tMEMORY\tOBJECT STORE")
	for _, n := range cl.Nodes {
		state := "alive"
		if !n.Alive {
			state = "dead"
		}
		if n.Head {
			state += " (head)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shortID(n.ID), n.Address, state,
			pair(n.Available["CPU"], n.Total["CPU"], count), pair(n.Available["GPU"], n.Total["GPU"], count),
			pair(n.Available["memory"], n.Total["memory"], byteSize), pair(n.Available["object_store_memory"], n.Total["object_store_memory"], byteSize))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nResources (available / total):")
	tw = tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	for _, k := range resourceKeys(cl.Total) {
		f := count
		if k == "memory" || k == "object_store_memory" {
			f = byteSize
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k, pair(cl.Available[k], cl.Total[k], f))
	}
	return tw.Flush()
}

// resourceKeys orders the common resources first and hides node:<ip> markers.
func resourceKeys(m map[string]float64) []string {
	first := []string{"CPU", "GPU", "memory", "object_store_memory"}
	var keys []string
	for _, k := range first {
		if _, ok := m[k]; ok || k == "GPU" {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range m {
		if strings.HasPrefix(k, "node:") || k == "CPU" || k == "GPU" || k == "memory" || k == "object_store_memory" {
			continue
		}
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func pair(avail, total float64, f func(float64) string) string {
	return f(avail) + " / " + f(total)
}

func count(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

func byteSize(v float64) string {
	const gib = 1 << 30
	if v >= gib {
		return fmt.Sprintf("%.1f GiB", v/gib)
	}
	return fmt.Sprintf("%.0f MiB", v/(1<<20))
}
