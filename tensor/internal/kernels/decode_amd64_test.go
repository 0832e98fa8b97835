//go:build !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// archs are the assembly implementations, by the name they register.
var archs = []struct {
	impl string
	g    *gemmArch
}{{"avx512", arch512}, {"avx2", arch256}}

// eachArch runs test on each arch the CPU has, as a subtest named for it.
func eachArch(t *testing.T, test func(t *testing.T, g *gemmArch)) {
	for _, ar := range archs {
		t.Run(ar.impl, func(t *testing.T) {
			if !registered(ar.impl) {
				t.Skip("not on this CPU")
			}
			test(t, ar.g)
		})
	}
}

// TestDots8: each arch's eight-row dots kernels give each of their rows of
// B, bit for bit, what its one-row kernels give it dotsCB[1] rows at a
// time (four on AVX-512, two on AVX2), for B in float32, bfloat16 and half
// precision, every k from 0 to 300 (whole steps and every masked tail) and
// rows of B padded or not, and write nothing past their eight results.
func TestDots8(t *testing.T) {
	eachArch(t, testDots8)
}

func testDots8(t *testing.T, g *gemmArch) {
	rng := rand.New(rand.NewPCG(3, 4))
	cb := g.dotsCB[1]
	for _, kind := range []string{"float32", "bfloat16", "float16"} {
		h16 := map[string]Half{"bfloat16": BF16, "float16": F16}[kind]
		// narrow and eight run the one-row kernel (cb rows of B) and the
		// eight-row one on B's rows from j.
		narrow := func(k int, a *float32, b []float32, h []uint16, ldb, j int, out *float32) {
			if kind == "float32" {
				g.dots[1](k, a, k, &b[j*ldb], ldb, out)
			} else {
				g.dotsHalf[h16][1](k, a, k, &h[j*ldb], ldb, out)
			}
		}
		eight := func(k int, a *float32, b []float32, h []uint16, ldb int, out *float32) {
			if kind == "float32" {
				g.dots8(k, a, k, &b[0], ldb, out)
			} else {
				g.dotsHalf8[h16](k, a, k, &h[0], ldb, out)
			}
		}
		for k := 0; k <= 300; k++ {
			for _, pad := range []int{0, 3, 5} {
				ldb := k + pad
				a := make([]float32, k+1)
				b := make([]float32, 8*ldb+1)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				h, _ := halfs(rng, h16, len(b))
				var want, got [16]float32
				for i := range got {
					got[i] = float32(math.NaN())
				}
				for j := 0; j < 8; j += cb {
					narrow(k, &a[0], b, h, ldb, j, &want[j])
				}
				eight(k, &a[0], b, h, ldb, &got[0])
				for j := range 8 {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s k=%d ldb=%d: row %d gives %v, the %d-row kernel %v", kind, k, ldb, j, got[j], cb, want[j])
					}
				}
				for j := 8; j < 16; j++ {
					if !math.IsNaN(float64(got[j])) {
						t.Fatalf("%s k=%d ldb=%d: out[%d] written (%v)", kind, k, ldb, j, got[j])
					}
				}
			}
		}
	}
}

// TestDotsRows: each arch's dots kernel for r rows of A (r = 2..8) gives
// every one of its r×dotsCB[r] outputs, bit for bit, what the one-row
// kernel gives that row of A against that row of B, for B in float32,
// bfloat16 and half precision (and for the 8-bit kernels, against
// dotsQ8CB[r] rows), every k from 0 to 300 (every masked tail), rows of A
// and B padded or not, and writes nothing past its outputs. A row of C
// then does not depend on which rows were decoded with it.
func TestDotsRows(t *testing.T) {
	eachArch(t, testDotsRows)
}

func testDotsRows(t *testing.T, g *gemmArch) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, kind := range []string{"float32", "bfloat16", "float16", "int8"} {
		h16 := map[string]Half{"bfloat16": BF16, "float16": F16}[kind]
		// run calls the r-row kernel of kind on A's rows and B's from j.
		run := func(r, k int, a []float32, lda int, b []float32, h []uint16, q []int8, s []float32, ldb, j int, out *float32) {
			switch kind {
			case "float32":
				g.dots[r](k, &a[0], lda, &b[j*ldb], ldb, out)
			case "int8":
				g.dotsQ8[r](k, &a[0], lda, &q[j*ldb], ldb, &s[j*ldb/q8Block], out)
			default:
				g.dotsHalf[h16][r](k, &a[0], lda, &h[j*ldb], ldb, out)
			}
		}
		for r := 2; r <= 8; r++ {
			cb, cb1 := g.dotsCB[r], g.dotsCB[1]
			if kind == "int8" {
				cb, cb1 = g.dotsQ8CB[r], g.dotsQ8CB[1]
			}
			rows := cb * cb1 // whole calls of both kernels
			for k := 0; k <= 300; k++ {
				if kind == "int8" && k%q8Block != 0 {
					continue // 8-bit rows are whole blocks
				}
				for _, pad := range []int{0, 3} {
					lda, ldb := k+pad, k+pad
					if kind == "int8" {
						ldb = k + q8Block*pad
					}
					a := make([]float32, r*lda+1)
					b := make([]float32, rows*ldb+1)
					for i := range a {
						a[i] = float32(rng.NormFloat64())
					}
					for i := range b {
						b[i] = float32(rng.NormFloat64())
					}
					h, _ := halfs(rng, h16, len(b))
					q := make([]int8, len(b))
					for i := range q {
						q[i] = int8(rng.IntN(255) - 127)
					}
					sc := make([]float32, len(b)/q8Block+1)
					for i := range sc {
						sc[i] = float32(rng.Float64()) / 64
					}
					// want[i][j]: row i of A against row j of B, one row at a time.
					want := make([][]float32, r)
					var o [32]float32
					for i := range r {
						want[i] = make([]float32, rows)
						for j := 0; j < rows; j += cb1 {
							run(1, k, a[i*lda:], lda, b, h, q, sc, ldb, j, &o[0])
							copy(want[i][j:j+cb1], o[:cb1])
						}
					}
					for j := 0; j+cb <= rows; j += cb {
						var got [40]float32
						for x := range got {
							got[x] = float32(math.NaN())
						}
						run(r, k, a, lda, b, h, q, sc, ldb, j, &got[0])
						for i := range r {
							for jj := range cb {
								if x := got[i*cb+jj]; math.Float32bits(x) != math.Float32bits(want[i][j+jj]) {
									t.Fatalf("%s r=%d k=%d pad=%d: row %d of A against row %d of B gives %v, the one-row kernel %v", kind, r, k, pad, i, j+jj, x, want[i][j+jj])
								}
							}
						}
						// The kernels store whole groups of four.
						for x := (r*cb + 3) &^ 3; x < len(got); x++ {
							if !math.IsNaN(float64(got[x])) {
								t.Fatalf("%s r=%d k=%d: out[%d] written (%v)", kind, r, k, x, got[x])
							}
						}
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
	eachArch(t, func(t *testing.T, g *gemmArch) { testRows1(t, g.rows, g.rows1) })
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
