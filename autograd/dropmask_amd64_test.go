//go:build amd64 && !purego

package autograd

import (
	"math"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// TestDropMask requires the vector draws of attention's dropout masks
// (AVX-512 and AVX2) to give exactly dropMaskGo's mask, for lengths around
// their eight lanes, thresholds at both ends, and counters that wrap.
func TestDropMask(t *testing.T) {
	type path struct {
		name         string
		simd, avx512 bool
	}
	paths := []path{{"go", false, false}}
	if tensor.HasAVX2FMA() {
		paths = append(paths, path{"avx2", true, false})
	}
	if tensor.HasAVX512DQ() {
		paths = append(paths, path{"avx512", true, true})
	}
	defer func(simd, avx512 bool) { attnSIMD, attnAVX512 = simd, avx512 }(attnSIMD, attnAVX512)
	rng := tensor.NewRNG(9)
	golden := uint64(tensor.Golden64)
	for _, p := range paths {
		attnSIMD, attnAVX512 = p.simd, p.avx512
		for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 33, 128, 1000} {
			for _, thr := range []uint64{0, 1, 1677722, 1 << 23, 1<<24 - 1, 1 << 24} {
				ctr := rng.Uint64()
				if n == 33 {
					ctr = 0 - 5*golden // wraps within the row
				}
				want := make([]float32, n+2)
				got := make([]float32, n+2)
				want[n], want[n+1] = -1, -1
				got[n], got[n+1] = -1, -1
				dropMaskGo(want[:n], ctr, thr, 1.25)
				dropMask(got[:n], ctr, thr, 1.25)
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s: n=%d thr=%d ctr=%#x: m[%d] = %v, want %v", p.name, n, thr, ctr, j, got[j], want[j])
					}
				}
			}
		}
	}
}
