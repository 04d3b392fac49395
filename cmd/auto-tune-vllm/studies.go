package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

type studiesCmd struct {
	storageFlags
	JSON bool `help:"Print JSON." name:"json"`
}

func (c *studiesCmd) Help() string {
	return "Without --storage or --config, lists the studies of every storage found under optuna_studies/ (each study's saved config names its storage).\n\n" + exitCodesHelp
}

// storageStudies are the studies of one storage.
type storageStudies struct {
	Storage string          `json:"storage"`
	Studies []study.Summary `json:"studies"`
}

func (c *studiesCmd) Run(ctx context.Context, g *globals) error {
	storages, err := c.all(g)
	if err != nil {
		return err
	}
	out := []storageStudies{}
	for _, where := range storages {
		list, err := tune.Studies(ctx, where)
		if err != nil && c.Storage == "" && c.Config == "" && ctx.Err() == nil {
			// Found by the scan: one broken storage hides only its studies.
			g.log.Warn(err.Error())
			continue
		}
		if err != nil {
			return err
		}
		out = append(out, storageStudies{Storage: study.Redact(where), Studies: list})
	}
	if c.JSON {
		return printJSON(g.io, out)
	}
	if len(out) == 0 {
		fmt.Fprintf(g.io.Stdout, "No studies under %s/ (give --storage URL or --config FILE for a study stored elsewhere).\n", tune.StudiesDir)
		return nil
	}
	tw := tabwriter.NewWriter(g.io.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "STUDY\tSTATE\tTRIALS\tCOMPLETE\tPRUNED\tFAILED\tRUNNING\tBEST\tSTORAGE")
	for _, s := range out {
		for _, st := range s.Studies {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", st.Name, st.State, st.Trials, st.Complete, st.Pruned, st.Failed, st.Running, bestText(st), s.Storage)
		}
		if len(s.Studies) == 0 {
			fmt.Fprintf(tw, "(none)\t\t\t\t\t\t\t\t%s\n", s.Storage)
		}
	}
	return tw.Flush()
}

// bestText is the best value with its objective and direction; for several
// objectives, each one's best and the size of the Pareto set.
func bestText(s study.Summary) string {
	if len(s.Best) == 0 {
		return "-"
	}
	parts := make([]string, len(s.Best))
	for i, v := range s.Best {
		name := "value"
		if i < len(s.Metrics) {
			name = s.Metrics[i]
		} else if len(s.Best) > 1 {
			name += strconv.Itoa(i)
		}
		arrow := "↓"
		if s.Directions[i] == study.Maximize {
			arrow = "↑"
		}
		parts[i] = fmt.Sprintf("%s%s %s", name, arrow, strconv.FormatFloat(v, 'g', 6, 64))
	}
	text := strings.Join(parts, ", ")
	if s.BestTrial != nil {
		return fmt.Sprintf("%s (trial %d)", text, *s.BestTrial)
	}
	return fmt.Sprintf("%s (Pareto set: %d trials)", text, s.ParetoSize)
}
