//go:build !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDots8: dots512W8R1 gives each of its eight rows of B, bit for bit,
// what dots512R1 gives it four rows at a time, for every k from 0 to 300
// (whole steps of 16 and every masked tail) and rows of B padded or not,
// and writes nothing past its eight results.
func TestDots8(t *testing.T) {
	if !registered("avx512") {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k <= 300; k++ {
		for _, pad := range []int{0, 5} {
			ldb := k + pad
			a := make([]float32, k+1)
			b := make([]float32, 8*ldb+1)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			var want, got [16]float32
			guard := float32(math.NaN())
			for i := range got {
				got[i] = guard
			}
			dots512R1(k, &a[0], k, &b[0], ldb, &want[0])
			dots512R1(k, &a[0], k, &b[4*ldb], ldb, &want[4])
			dots512W8R1(k, &a[0], k, &b[0], ldb, &got[0])
			for j := range 8 {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("k=%d ldb=%d: row %d gives %v, dots512R1 %v", k, ldb, j, got[j], want[j])
				}
			}
			for j := 8; j < 16; j++ {
				if !math.IsNaN(float64(got[j])) {
					t.Fatalf("k=%d ldb=%d: out[%d] written (%v)", k, ldb, j, got[j])
				}
			}
		}
	}
}
