//go:build !purego

package kernels

import (
	"encoding/binary"
	"strings"
)

func cpuInfo() CPUInfo {
	var info CPUInfo
	maxID, ebx, ecx, edx := cpuid(0, 0)
	info.Vendor = string(regBytes(ebx, edx, ecx))
	if maxID >= 1 {
		eax, _, _, _ := cpuid(1, 0)
		family, model := int(eax>>8&0xf), int(eax>>4&0xf)
		if family == 0xf {
			family += int(eax >> 20 & 0xff)
		}
		if family >= 6 {
			model |= int(eax>>16&0xf) << 4
		}
		info.Family, info.Model = family, model
	}
	maxExt, _, _, _ := cpuid(0x80000000, 0)
	if maxExt >= 0x80000004 {
		var name []byte
		for leaf := uint32(0x80000002); leaf <= 0x80000004; leaf++ {
			a, b, c, d := cpuid(leaf, 0)
			name = append(name, regBytes(a, b, c, d)...)
		}
		info.Name = strings.Trim(string(name), " \x00") // NUL-padded, and often space-padded
	}
	// The deterministic cache parameters: leaf 4 on Intel, 0x8000001D on
	// AMD (the same layout), one subleaf per cache until a null type.
	leaf := uint32(4)
	switch {
	case info.Vendor == "AuthenticAMD" && maxExt >= 0x8000001d:
		leaf = 0x8000001d
	case maxID < 4:
		return info
	}
	for sub := uint32(0); sub < 16; sub++ {
		eax, ebx, ecx, _ := cpuid(leaf, sub)
		kind, level := eax&0x1f, eax>>5&0x7
		if kind == 0 {
			break
		}
		size := int(ebx>>22+1) * int(ebx>>12&0x3ff+1) * int(ebx&0xfff+1) * int(ecx+1)
		switch {
		case level == 1 && kind == 1: // data
			info.L1D = size
		case level == 2 && (kind == 1 || kind == 3): // data or unified
			info.L2 = size
		}
	}
	return info
}

// regBytes returns the registers' bytes in order, as CPUID packs text.
func regBytes(regs ...uint32) []byte {
	b := make([]byte, 0, 4*len(regs))
	for _, r := range regs {
		b = binary.LittleEndian.AppendUint32(b, r)
	}
	return b
}
