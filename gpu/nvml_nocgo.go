//go:build !cgo

package gpu

func discoverNVML() Inventory {
	return Inventory{Source: "none", Reason: "built without cgo, so without NVML"}
}
