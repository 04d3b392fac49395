package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/head"
)

type rayDoctorCmd struct {
	JSON bool `help:"Print JSON." name:"json"`
}

func (c *rayDoctorCmd) Run(ctx context.Context, g *globals) error {
	token, _ := gcs.LoadToken(g.io.Getenv, g.io.Home)
	rep, err := head.Doctor(ctx, head.DoctorOptions{StateDir: g.StateDir, Token: token.Value})
	if rep == nil {
		return err
	}
	if err != nil {
		g.log.Warn(err.Error())
	}
	if c.JSON {
		return printJSON(g.io, rep)
	}
	out := g.io.Stdout
	if len(rep.Clusters) == 0 && len(rep.Orphans) == 0 && len(rep.StaleRecords) == 0 {
		fmt.Fprintln(out, "No Ray processes on this host.")
		return nil
	}
	fmt.Fprintf(out, "Ray clusters on this host: %d\n", len(rep.Clusters))
	for _, cl := range rep.Clusters {
		fmt.Fprintf(out, "\n%s\n", cl.Session)
		owner := "no (not started by auto-tune-vllm)"
		if cl.Ours {
			state := "alive"
			if !cl.OwnerAlive {
				state = "gone: stale"
			}
			owner = fmt.Sprintf("yes, head %s, owner pid %d (%s)", cl.HeadID, cl.OwnerPID, state)
		}
		gcsState := "does not answer: " + cl.GCSError
		if cl.GCSAnswers {
			gcsState = "answers (Ray " + cl.RayVersion + ")"
		}
		fmt.Fprintf(out, "  temp dir:    %s\n", cl.TempDir)
		fmt.Fprintf(out, "  GCS:         %s %s\n", orNone(cl.GCSAddress), gcsState)
		fmt.Fprintf(out, "  started by us: %s\n", owner)
		if cl.Orphaned {
			fmt.Fprintln(out, "  orphaned:    yes (its gcs_server and raylet are gone)")
		}
		procTable(out, cl.Processes, "  ")
		fmt.Fprintf(out, "  clean up:    %s\n", cl.Cleanup)
	}
	if len(rep.Orphans) > 0 {
		fmt.Fprintf(out, "\nOrphans (Ray processes of no cluster found): %d\n", len(rep.Orphans))
		procTable(out, rep.Orphans, "  ")
		fmt.Fprintln(out, "  clean up:    auto-tune-vllm ray cleanup --orphans")
	}
	if len(rep.StaleRecords) > 0 {
		fmt.Fprintf(out, "\nRecords of heads we started with no process left: %d\n", len(rep.StaleRecords))
		for _, r := range rep.StaleRecords {
			fmt.Fprintf(out, "  %s  temp dir %s, owner pid %d  clean up: %s\n", r.HeadID, r.TempDir, r.OwnerPID, r.Cleanup)
		}
	}
	if len(rep.PortNotes) > 0 {
		fmt.Fprintf(out, "\nLeftovers on Ray's default ports: %d\n", len(rep.PortNotes))
		for _, n := range rep.PortNotes {
			fmt.Fprintf(out, "  %s\n", n.Message)
		}
	}
	return nil
}

func procTable(out io.Writer, ps []head.Process, indent string) {
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintf(tw, "%sPID\tPPID\tROLE\tPORTS\tCOMMAND\n", indent)
	for _, p := range ps {
		ports := make([]string, len(p.Ports))
		for i, n := range p.Ports {
			ports[i] = fmt.Sprint(n)
		}
		cmd := p.Command
		if len(cmd) > 80 {
			cmd = cmd[:77] + "..."
		}
		fmt.Fprintf(tw, "%s%d\t%d\t%s\t%s\t%s\n", indent, p.PID, p.PPID, p.Role, strings.Join(ports, ","), cmd)
	}
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
