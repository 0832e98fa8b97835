//go:build amd64 && !purego

package autograd

import (
	"math"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// vectorPath is one set of the element-wise loops: the Go ones, AVX2's or
// AVX-512's, chosen by attnSIMD and attnAVX512.
type vectorPath struct {
	name         string
	simd, avx512 bool
}

// vectorPaths returns the sets of loops this CPU runs.
func vectorPaths() []vectorPath {
	paths := []vectorPath{{"go", false, false}}
	if tensor.HasAVX2FMA() {
		paths = append(paths, vectorPath{"avx2", true, false})
	}
	if tensor.HasAVX512DQ() {
		paths = append(paths, vectorPath{"avx512", true, true})
	}
	return paths
}

// TestDropMask requires the vector draws of attention's dropout masks
// (AVX-512 and AVX2) to give exactly dropMaskGo's mask, for lengths around
// their eight lanes, thresholds at both ends, and counters that wrap.
func TestDropMask(t *testing.T) {
	paths := vectorPaths()
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

// TestDropoutPaths requires dropout's vector loops (AVX-512 and AVX2) to
// give dropoutGo's mask and outputs bit for bit, for lengths around their
// lanes, element numbers that do not start at 0, thresholds at both ends,
// and dropped values whose product with 0 is -0 or NaN; with guards past
// the end.
func TestDropoutPaths(t *testing.T) {
	paths := vectorPaths()
	defer func(simd, avx512 bool) { attnSIMD, attnAVX512 = simd, avx512 }(attnSIMD, attnAVX512)
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), -3.5}
	rng := tensor.NewRNG(11)
	for _, p := range paths {
		attnSIMD, attnAVX512 = p.simd, p.avx512
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 24, 31, 32, 40, 1000} {
			for _, thr := range []int32{0, 1, 1677722, 1 << 23, 1<<24 - 1, 1 << 24} {
				x := make([]float32, n)
				for i := range x {
					x[i] = special[i%len(special)] * float32(1+i%3)
				}
				seed, base := rng.Uint64(), int(rng.Uint64()%1000)
				for _, withMask := range []bool{false, true} {
					want, got := make([]float32, n+2), make([]float32, n+2)
					wm, gm := make([]float32, n+2), make([]float32, n+2)
					for _, s := range [][]float32{want, got, wm, gm} {
						s[n], s[n+1] = -1, -1
					}
					var mg, mw []float32
					if withMask {
						mg, mw = gm[:n], wm[:n]
					}
					dropoutGo(x, mw, want[:n], seed, base, thr, 1.25)
					dropout(x, mg, got[:n], seed, base, thr, 1.25)
					for j := range got {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) || math.Float32bits(gm[j]) != math.Float32bits(wm[j]) {
							t.Fatalf("%s: n=%d thr=%d mask %v: y[%d] = %v (mask %v), want %v (%v)", p.name, n, thr, withMask, j, got[j], gm[j], want[j], wm[j])
						}
					}
				}
			}
		}
	}
}
