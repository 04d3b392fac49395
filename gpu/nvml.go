//go:build cgo

package gpu

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// discoverNVML reads the GPUs through NVML. Nothing is called after a failed
// Init: on a machine without the driver the library is simply not there.
func discoverNVML() Inventory {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return Inventory{Source: "none", Reason: "NVML: " + nvml.ErrorString(ret)}
	}
	defer nvml.Shutdown()
	inv := Inventory{Source: "nvml"}
	if v, ret := nvml.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		inv.Driver = v
	}
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return Inventory{Source: "none", Reason: "NVML device count: " + nvml.ErrorString(ret)}
	}
	for i := 0; i < n; i++ {
		h, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue
		}
		d := Device{Index: i}
		d.Name, _ = h.GetName()
		d.UUID, _ = h.GetUUID()
		if mem, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
			d.MemoryTotal, d.MemoryUsed = mem.Total, mem.Used
		}
		if procs, ret := h.GetComputeRunningProcesses(); ret == nvml.SUCCESS {
			for _, p := range procs {
				d.Processes = append(d.Processes, Process{PID: int(p.Pid), UsedMemory: p.UsedGpuMemory})
			}
		}
		inv.Devices = append(inv.Devices, d)
	}
	return inv
}
