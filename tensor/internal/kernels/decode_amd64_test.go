//go:build !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDots8: the eight-row dots kernels give each of their rows of B, bit
// for bit, what the four-row kernels give it, for B in float32, bfloat16
// and half precision, every k from 0 to 300 (whole steps of 16 and every
// masked tail) and rows of B padded or not, and write nothing past their
// eight results.
func TestDots8(t *testing.T) {
	if !registered("avx512") {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	type kernel func(k int, a *float32, lda int, b []float32, h []uint16, ldb int, out *float32)
	kinds := []struct {
		name        string
		four, eight kernel
	}{
		{"float32",
			func(k int, a *float32, lda int, b []float32, _ []uint16, ldb int, out *float32) {
				dots512R1(k, a, lda, &b[0], ldb, out)
			},
			func(k int, a *float32, lda int, b []float32, _ []uint16, ldb int, out *float32) {
				dots512W8R1(k, a, lda, &b[0], ldb, out)
			}},
		{"bfloat16",
			func(k int, a *float32, lda int, _ []float32, h []uint16, ldb int, out *float32) {
				dots512bf16R1(k, a, lda, &h[0], ldb, out)
			},
			func(k int, a *float32, lda int, _ []float32, h []uint16, ldb int, out *float32) {
				dots512W8bf16R1(k, a, lda, &h[0], ldb, out)
			}},
		{"float16",
			func(k int, a *float32, lda int, _ []float32, h []uint16, ldb int, out *float32) {
				dots512f16R1(k, a, lda, &h[0], ldb, out)
			},
			func(k int, a *float32, lda int, _ []float32, h []uint16, ldb int, out *float32) {
				dots512W8f16R1(k, a, lda, &h[0], ldb, out)
			}},
	}
	for _, kind := range kinds {
		for k := 0; k <= 300; k++ {
			for _, pad := range []int{0, 5} {
				ldb := k + pad
				a := make([]float32, k+1)
				b := make([]float32, 8*ldb+1)
				h := make([]uint16, 8*ldb+1)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				if kind.name != "float32" {
					h16 := BF16
					if kind.name == "float16" {
						h16 = F16
					}
					h, _ = halfs(rng, h16, len(h))
				}
				var want, got [16]float32
				for i := range got {
					got[i] = float32(math.NaN())
				}
				kind.four(k, &a[0], k, b, h, ldb, &want[0])
				kind.four(k, &a[0], k, b[4*ldb:], h[4*ldb:], ldb, &want[4])
				kind.eight(k, &a[0], k, b, h, ldb, &got[0])
				for j := range 8 {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s k=%d ldb=%d: row %d gives %v, the four-row kernel %v", kind.name, k, ldb, j, got[j], want[j])
					}
				}
				for j := 8; j < 16; j++ {
					if !math.IsNaN(float64(got[j])) {
						t.Fatalf("%s k=%d ldb=%d: out[%d] written (%v)", kind.name, k, ldb, j, got[j])
					}
				}
			}
		}
	}
}

// TestDots8AVX2: the AVX2 eight-row dots kernels give each of their rows
// of B, bit for bit, what the two-row kernels give it, for B in float32,
// bfloat16 and half precision and every k from 0 to 300, and write nothing
// past their eight results.
func TestDots8AVX2(t *testing.T) {
	if !registered("avx2") {
		t.Skip("no AVX2 and FMA on this CPU")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	type kernel func(k int, a *float32, b []float32, h []uint16, ldb int, out *float32)
	kinds := []struct {
		name       string
		half       Half
		two, eight kernel
	}{
		{"float32", 0,
			func(k int, a *float32, b []float32, _ []uint16, ldb int, out *float32) {
				dots256R1(k, a, k, &b[0], ldb, out)
			},
			func(k int, a *float32, b []float32, _ []uint16, ldb int, out *float32) {
				dots256W8R1(k, a, k, &b[0], ldb, out)
			}},
		{"bfloat16", BF16,
			func(k int, a *float32, _ []float32, h []uint16, ldb int, out *float32) {
				dots256bf16R1(k, a, k, &h[0], ldb, out)
			},
			func(k int, a *float32, _ []float32, h []uint16, ldb int, out *float32) {
				dots256W8bf16R1(k, a, k, &h[0], ldb, out)
			}},
		{"float16", F16,
			func(k int, a *float32, _ []float32, h []uint16, ldb int, out *float32) {
				dots256f16R1(k, a, k, &h[0], ldb, out)
			},
			func(k int, a *float32, _ []float32, h []uint16, ldb int, out *float32) {
				dots256W8f16R1(k, a, k, &h[0], ldb, out)
			}},
	}
	for _, kind := range kinds {
		for k := 0; k <= 300; k++ {
			for _, pad := range []int{0, 3} {
				ldb := k + pad
				a := make([]float32, k+1)
				b := make([]float32, 8*ldb+1)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				h, _ := halfs(rng, kind.half, len(b))
				var want, got [16]float32
				for i := range got {
					got[i] = float32(math.NaN())
				}
				for j := 0; j < 8; j += 2 {
					kind.two(k, &a[0], b[j*ldb:], h[j*ldb:], ldb, &want[j])
				}
				kind.eight(k, &a[0], b, h, ldb, &got[0])
				for j := range 8 {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s k=%d ldb=%d: row %d gives %v, the two-row kernel %v", kind.name, k, ldb, j, got[j], want[j])
					}
				}
				for j := 8; j < 16; j++ {
					if !math.IsNaN(float64(got[j])) {
						t.Fatalf("%s k=%d ldb=%d: out[%d] written (%v)", kind.name, k, ldb, j, got[j])
					}
				}
			}
		}
	}
}

// TestRows1: rows512R1 and rows256R1 add to a row of C, bit for bit, what
// rows512 and rows256 add for r = 1, for n from 32 to 640 and padded rows
// of B, and write nothing past their n columns.
func TestRows1(t *testing.T) {
	type kernel = func(r, n int, a *float32, b *float32, ldb int, c *float32, ldc int)
	for _, k := range []struct {
		impl      string
		rows, one kernel
	}{{"avx512", rows512, rows512R1}, {"avx2", rows256, rows256R1}} {
		t.Run(k.impl, func(t *testing.T) {
			if !registered(k.impl) {
				t.Skip("not on this CPU")
			}
			testRows1(t, k.rows, k.one)
		})
	}
}

func testRows1(t *testing.T, rows, one func(r, n int, a *float32, b *float32, ldb int, c *float32, ldc int)) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 32; n <= 640; n += 32 {
		for _, pad := range []int{0, 7} {
			ldb := n + pad
			coef := make([]float32, 64)
			for p := range 8 {
				coef[p*8] = float32(rng.NormFloat64())
			}
			b := make([]float32, 8*ldb)
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			want := make([]float32, n+16)
			for i := range want {
				want[i] = float32(rng.NormFloat64())
			}
			got := append([]float32(nil), want...)
			rows(1, n, &coef[0], &b[0], ldb, &want[0], n)
			one(1, n, &coef[0], &b[0], ldb, &got[0], n)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("n=%d ldb=%d: C[%d] = %v, the r-row kernel %v", n, ldb, j, got[j], want[j])
				}
			}
		}
	}
}
