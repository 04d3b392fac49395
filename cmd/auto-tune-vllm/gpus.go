package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/auto-tune-vllm/auto-tune-vllm/gpu"
)

type gpusCmd struct {
	JSON bool `help:"Print JSON." name:"json"`
}

func (c *gpusCmd) Run(ctx context.Context, g *globals) error {
	inv := gpu.Discover(ctx, g.io.Getenv("PATH"))
	if c.JSON {
		return printJSON(g.io, inv)
	}
	out := g.io.Stdout
	if len(inv.Devices) == 0 {
		fmt.Fprintf(out, "No NVIDIA GPUs (%s).\n", inv.Reason)
		return nil
	}
	fmt.Fprintf(out, "%d NVIDIA GPU(s), driver %s (via %s)\n", len(inv.Devices), inv.Driver, inv.Source)
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tMEMORY USED / TOTAL\tPROCESSES\tUUID")
	for _, d := range inv.Devices {
		fmt.Fprintf(tw, "%d\t%s\t%s / %s\t%d\t%s\n", d.Index, d.Name, byteSize(float64(d.MemoryUsed)), byteSize(float64(d.MemoryTotal)), len(d.Processes), d.UUID)
	}
	return tw.Flush()
}
