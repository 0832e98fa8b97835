package kernels

// CPUInfo describes the processor the kernels run on, for benchmarks to
// report beside their numbers: the same name can hide machines whose
// vector units differ twofold (an "AMD EPYC" of family 25 model 17, Zen 4,
// runs a 512-bit FMA in two halves; one of family 26, Zen 5, at once), and
// a result means little without them.
type CPUInfo struct {
	Name          string // as the processor gives it (CPUID's brand string)
	Vendor        string // "AuthenticAMD", "GenuineIntel", ...
	Family, Model int    // with the extended fields added in, as Linux prints them
	L1D, L2       int    // bytes of the core's level 1 data and level 2 caches (an L2 may be shared by a cluster of cores); 0 when unknown
}

// CPU returns what this machine's processor says of itself; its zero value
// on machines the kernels cannot ask (other architectures, purego builds).
func CPU() CPUInfo { return cpuInfo() }
