package main

import (
	"github.com/alecthomas/kong"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/complete"
)

type completionCmd struct {
	Shell string `arg:"" help:"bash, zsh or fish." enum:"bash,zsh,fish"`
}

func (c *completionCmd) Help() string {
	return `Prints a completion script for every command and flag. Load it:
  bash:  source <(auto-tune-vllm completion bash)   (or save it in ~/.local/share/bash-completion/completions/auto-tune-vllm)
  zsh:   source <(auto-tune-vllm completion zsh)
  fish:  auto-tune-vllm completion fish > ~/.config/fish/completions/auto-tune-vllm.fish`
}

func (c *completionCmd) Run(kctx *kong.Context, g *globals) error {
	return complete.Write(g.io.Stdout, kctx.Model, c.Shell)
}
