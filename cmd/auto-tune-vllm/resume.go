package main

import "context"

type resumeCmd struct {
	Config string `help:"Study config (YAML)." required:"" type:"existingfile" placeholder:"FILE"`
	rayFlags
	studyFlags
}

func (c *resumeCmd) Help() string { return exitCodesHelp }

func (c *resumeCmd) Run(ctx context.Context, g *globals) error {
	r, err := newStudyRun(g, c.Config, c.studyFlags, true)
	if err != nil {
		return err
	}
	return r.exec(ctx, g, c.rayFlags)
}
