//go:build !purego

package kernels

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCPU holds CPU's family, model and name to what Linux read from the
// same CPUID leaves (/proc/cpuinfo), where the kernels can ask.
func TestCPU(t *testing.T) {
	info := CPU()
	if info.Vendor == "" || info.Family == 0 {
		t.Fatalf("CPU returned %+v", info)
	}
	// 0 is "unknown" (a CPU or VM without the cache leaves); anything else
	// must be a size a core's cache could have.
	if info.L1D != 0 && (info.L1D < 8<<10 || info.L1D > 1<<20) || info.L2 != 0 && (info.L2 < 64<<10 || info.L2 > 64<<20) {
		t.Errorf("caches L1d %d and L2 %d bytes: not a core's", info.L1D, info.L2)
	}
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Log("no /proc/cpuinfo to compare with:", err)
		return
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" {
			break // the first processor's block
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for _, c := range []struct {
		key string
		got int
	}{{"cpu family", info.Family}, {"model", info.Model}} {
		want, err := strconv.Atoi(fields[c.key])
		if err != nil {
			t.Fatalf("/proc/cpuinfo's %q: %v", c.key, err)
		}
		if c.got != want {
			t.Errorf("%s %d, /proc/cpuinfo says %d", c.key, c.got, want)
		}
	}
	// Without a brand string Linux prints a name of its own; with one, the
	// same text, trimmed.
	if want := fields["model name"]; info.Name != "" && info.Name != want {
		t.Errorf("name %q, /proc/cpuinfo says %q", info.Name, want)
	}
	if want := fields["vendor_id"]; strings.TrimSpace(info.Vendor) != want {
		t.Errorf("vendor %q, /proc/cpuinfo says %q", info.Vendor, want)
	}
}
