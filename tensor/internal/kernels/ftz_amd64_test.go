//go:build !purego

package kernels

import (
	"math"
	"runtime"
	"testing"
)

// TestGemmFlushesDenormals: the assembly GEMMs read values below float32's
// normal range as zero (a product of them would otherwise take a microcode
// assist per operation), the pure-Go one computes them, and every kernel
// leaves the thread's MXCSR control bits as it found them.
func TestGemmFlushesDenormals(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const m, n, k = 24, 64, 40               // past the skinny paths, whole and edge tiles
	tiny := math.Float32frombits(0x00400000) // 5.9e-39, a denormal
	for _, im := range Impls() {
		prev, _ := Use(im.Name)
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
			for i := range a {
				a[i] = tiny
			}
			for i := range b {
				b[i] = 1
			}
			lda, ldb := strides(tr[0], tr[1], m, n, k)
			const control = 0xffc0 // MXCSR's control bits; the low six are sticky exception flags
			before := mxcsr()
			Gemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0, c, n)
			if after := mxcsr(); after&control != before&control {
				t.Fatalf("%s %v: MXCSR %#x after the product; it was %#x", im.Name, tr, after, before)
			}
			want := float32(0)
			if im.Name == "generic" {
				want = k * tiny
			}
			for i, x := range c {
				if x != want {
					t.Fatalf("%s %v: C[%d] = %g; want %g", im.Name, tr, i, x, want)
				}
			}
		}
		Use(prev.Name)
	}
}
