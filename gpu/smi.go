package gpu

import (
	"bytes"
	"context"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

func discoverSMI(ctx context.Context, searchPath string) Inventory {
	path, err := proc.LookPath("nvidia-smi", searchPath)
	if err != nil {
		return Inventory{Source: "none", Reason: "nvidia-smi not found"}
	}
	var out bytes.Buffer
	p, err := proc.Start(proc.Spec{Argv: []string{path, "--query-gpu=index,uuid,name,memory.total,memory.used,driver_version", "--format=csv,noheader,nounits"}, Output: &out})
	if err != nil {
		return Inventory{Source: "none", Reason: "nvidia-smi: " + err.Error()}
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		p.Stop(ctx, 0)
		return Inventory{Source: "none", Reason: "nvidia-smi did not answer in 10 s"}
	}
	if p.ExitCode() != 0 {
		return Inventory{Source: "none", Reason: "nvidia-smi: " + p.Tail()}
	}
	inv, err := parseSMI(out.String())
	if err != nil {
		return Inventory{Source: "none", Reason: err.Error()}
	}
	return inv
}
