//go:build purego || !amd64

package kernels

func cpuInfo() CPUInfo { return CPUInfo{} }
