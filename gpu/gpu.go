// Package gpu lists the NVIDIA GPUs of this machine and hands out disjoint
// sets of them to trials. Without a driver (or NVML), it reports no GPUs
// and why, rather than failing.
package gpu

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Device is one GPU.
type Device struct {
	Index       int       `json:"index"`
	UUID        string    `json:"uuid"`
	Name        string    `json:"name"`
	MemoryTotal uint64    `json:"memory_total_bytes"`
	MemoryUsed  uint64    `json:"memory_used_bytes"`
	Processes   []Process `json:"processes"`
}

// Process is a compute process holding GPU memory.
type Process struct {
	PID        int    `json:"pid"`
	UsedMemory uint64 `json:"used_memory_bytes"`
}

// Inventory is what was found.
type Inventory struct {
	Devices []Device `json:"devices"`
	// Source is "nvml", "nvidia-smi" or "none".
	Source string `json:"source"`
	Driver string `json:"driver_version,omitempty"`
	// Reason says why no GPU was found, when none was.
	Reason string `json:"reason,omitempty"`
}

// Discover lists the GPUs: NVML when built with cgo, else nvidia-smi found
// in path (the PATH value to search).
func Discover(ctx context.Context, path string) Inventory {
	inv := discoverNVML()
	if inv.Source == "nvml" {
		return inv
	}
	smi := discoverSMI(ctx, path)
	if smi.Source == "nvidia-smi" {
		return smi
	}
	reasons := []string{}
	for _, r := range []string{inv.Reason, smi.Reason} {
		if r != "" {
			reasons = append(reasons, r)
		}
	}
	return Inventory{Source: "none", Reason: strings.Join(reasons, "; ")}
}

// parseSMI reads `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,driver_version --format=csv,noheader,nounits`.
func parseSMI(out string) (Inventory, error) {
	inv := Inventory{Source: "nvidia-smi"}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 6 {
			return inv, fmt.Errorf("nvidia-smi: unexpected line %q", line)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		idx, err1 := strconv.Atoi(f[0])
		total, err2 := strconv.ParseUint(f[3], 10, 64)
		used, err3 := strconv.ParseUint(f[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return inv, fmt.Errorf("nvidia-smi: unexpected line %q", line)
		}
		inv.Devices = append(inv.Devices, Device{Index: idx, UUID: f[1], Name: f[2], MemoryTotal: total << 20, MemoryUsed: used << 20})
		inv.Driver = f[5]
	}
	return inv, nil
}

// PIDsOn is the set of compute processes on the GPUs with these indexes.
func (inv Inventory) PIDsOn(indexes []int) map[int]bool {
	want := map[int]bool{}
	for _, i := range indexes {
		want[i] = true
	}
	pids := map[int]bool{}
	for _, d := range inv.Devices {
		if want[d.Index] {
			for _, p := range d.Processes {
				pids[p.PID] = true
			}
		}
	}
	return pids
}
