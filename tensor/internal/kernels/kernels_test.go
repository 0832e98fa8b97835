package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/safetensors"
)

// guard fills the space around every buffer handed to a kernel; a write
// out of bounds changes it.
const guard = float32(-7.3125e7)

const guardLen = 67

// guarded returns a buffer of n values (random, or NaN when nan is set)
// between guard regions, and the whole allocation.
func guarded(rng *rand.Rand, n int, nan bool) (data, all []float32) {
	all = make([]float32, n+2*guardLen)
	for i := range all {
		all[i] = guard
	}
	data = all[guardLen : guardLen+n : guardLen+n]
	for i := range data {
		if nan {
			data[i] = float32(math.NaN())
		} else {
			data[i] = float32(rng.NormFloat64())
		}
	}
	return data, all
}

func checkGuards(t *testing.T, what string, all []float32, n int) {
	t.Helper()
	for i := 0; i < guardLen; i++ {
		if all[i] != guard || all[guardLen+n+i] != guard {
			t.Fatalf("%s: write outside the buffer", what)
		}
	}
}

func sameBits(x, y []float32) bool {
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int  // extra stride on every matrix
	bf16           bool // A and B hold bfloat16 values (TestGemmBF16)
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v pad=%d bf16=%v", g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.beta, g.pad, g.bf16)
}

type gemmFunc = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// gemmSmallOf returns im's GemmSmall (for transA and transB false), or
// what GemmSmall does without one.
func gemmSmallOf(im Impl) gemmFunc {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		if im.GemmSmall == nil {
			im.Gemm(false, false, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		im.GemmSmall(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// extent is the number of elements a rows×cols matrix with stride ld spans.
func extent(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func runGemmCase(t *testing.T, im Impl, rng *rand.Rand, g gemmCase) {
	t.Helper()
	runGemmWith(t, im.Name, im.Gemm, rng, g)
}

// runGemmWith runs gemm on case g with guards around every buffer and
// checks C against a float64 sum, and that nothing else changed.
func runGemmWith(t *testing.T, name string, gemm gemmFunc, rng *rand.Rand, g gemmCase) {
	t.Helper()
	ar, ac := g.m, g.k
	if g.transA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.transB {
		br, bc = g.n, g.k
	}
	lda, ldb, ldc := ac+g.pad, bc+g.pad, g.n+g.pad
	a, aAll := guarded(rng, extent(ar, ac, lda), false)
	b, bAll := guarded(rng, extent(br, bc, ldb), false)
	c, cAll := guarded(rng, extent(g.m, g.n, ldc), g.beta == 0)
	if g.bf16 {
		roundBF16(a)
		roundBF16(b)
	}
	// Padding between rows of C must survive too.
	for i := 0; i+1 < g.m && g.n > 0; i++ {
		for j := g.n; j < ldc; j++ {
			c[i*ldc+j] = guard
		}
	}
	a0 := append([]float32(nil), a...)
	b0 := append([]float32(nil), b...)
	c0 := append([]float32(nil), c...)

	gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, c, ldc)

	checkGuards(t, g.String()+": A", aAll, len(a))
	checkGuards(t, g.String()+": B", bAll, len(b))
	checkGuards(t, g.String()+": C", cAll, len(c))
	if !sameBits(a, a0) || !sameBits(b, b0) {
		t.Fatalf("%s: %s modified an input", g, name)
	}
	at := func(i, p int) float64 {
		if g.transA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if g.transB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	for i := 0; i < g.m; i++ {
		for j := g.n; j < ldc && i+1 < g.m && g.n > 0; j++ {
			if c[i*ldc+j] != guard {
				t.Fatalf("%s: %s wrote into the padding of C row %d", g, name, i)
			}
		}
		for j := 0; j < g.n; j++ {
			var s, mag float64
			for p := 0; p < g.k; p++ {
				v := at(i, p) * bt(p, j)
				s += v
				mag += math.Abs(v)
			}
			want := float64(g.alpha) * s
			mag *= math.Abs(float64(g.alpha))
			if g.beta != 0 {
				want += float64(g.beta) * float64(c0[i*ldc+j])
				mag += math.Abs(float64(g.beta) * float64(c0[i*ldc+j]))
			}
			got := float64(c[i*ldc+j])
			if !(math.Abs(got-want) <= 2e-5*mag+1e-30) {
				t.Fatalf("%s: %s C[%d,%d] = %v, want %v", g, name, i, j, got, want)
			}
		}
	}
}

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {0.75, -1.5}, {-2, 0}, {0, 0.5}, {0, 0}, {1.25, 1}}

// dim draws a matrix dimension, mostly small, often just around a tile edge.
func dim(rng *rand.Rand) int {
	switch rng.IntN(3) {
	case 0:
		return rng.IntN(18)
	case 1:
		return []int{6, 8, 12, 16, 24, 31, 32, 33, 48, 63, 64, 65, 96, 97}[rng.IntN(14)]
	default:
		return rng.IntN(131)
	}
}

func TestGemm(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for _, g := range gemmCases(rng) {
				runGemmCase(t, im, rng, g)
			}
		})
	}
}

// gemmCases returns TestGemm's shapes in all four transpose cases:
// exhaustive small ones, random ones up to 130, and ones that cross every
// cache block.
func gemmCases(rng *rand.Rand) []gemmCase {
	var cases []gemmCase
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			// Exhaustive small shapes, every tile remainder.
			for m := 0; m <= 9; m++ {
				for n := 0; n <= 34; n += 1 + n/8 {
					for _, k := range []int{0, 1, 3, 8, 17} {
						ab := alphaBetas[(m+n+k)%len(alphaBetas)]
						cases = append(cases, gemmCase{tA, tB, m, n, k, ab[0], ab[1], (m + n) % 3, false})
					}
				}
			}
			// Random shapes up to 130.
			for range 120 {
				ab := alphaBetas[rng.IntN(len(alphaBetas))]
				cases = append(cases, gemmCase{tA, tB, dim(rng), dim(rng), dim(rng), ab[0], ab[1], rng.IntN(4), false})
			}
			// Shapes that cross the cache blocks (k, n and m blocks).
			for _, s := range [...]struct {
				m, n, k     int
				alpha, beta float32
				pad         int
			}{
				{37, 45, 2*blockK + 9, 1, 0, 1},
				// A C at least deepC wide: deep blocks of k and narrow ones of B.
				{20, deepC + 37, 2*deepK + 9, 1, 0.5, 1},
				{7, deepC, blockK + 1, 1, 0, 0},
				{19, blockN + 45, 70, 0.5, 1, 2},
				{blockM + 13, 35, 9, 1, -1, 3},
				// Packed blocks that fill the buffers to their ends:
				// blockM rows, 2·blockK steps (bfloat16's block of k).
				// An output layer's weight gradient over 768 tokens,
				// transposed A in bfloat16, once sliced past the end.
				{blockM, 16, 2 * blockK, 1, 0, 0},
				{13, blockN, 2 * blockK, 1, 0, 0},
				{7, deepC, deepK, 1, 0, 0}, // a deep block of B, deepK × deepN
				{3, 300, 1100, 1, 0.5, 1},
				// A·Bᵀ of 9–16 rows runs as dot products over blocks of B's rows.
				{12, 300, 1100, 1, 0.5, 1},
				{16, 131, 1025, 1, 0, 2},
				{9, 57, 9, 0.5, 1, 0},
				{17, 70, 513, 1, 0, 1},
				{8, 1027, 13, 1, 0, 0},
				{1, 64, 517, 2, 0, 5},
				{5, 70, 801, 1, 0.25, 1},
				{8, 67, 40, -1, 1, 2},
				{7, 1100, 9, 1, 0, 0},
				// Row-major A 1,024 and 2,048 apart, whose rows share
				// a set of the L1 cache (see directStrip).
				{30, 100, 1000, 1, 0.5, 24},
				{26, 70, 2040, 1, 0, 8},
				// Small products whose row-major B, whole panels
				// wide, is read in place (attention's tiles).
				{32, 64, 32, 1, 1, 3},
				{64, 32, 64, 0.5, 0, 5},
				{23, 128, 64, 1, -1, 0},
				{40, 192, 7, 1, 0, 1},
			} {
				cases = append(cases, gemmCase{tA, tB, s.m, s.n, s.k, s.alpha, s.beta, s.pad, false})
			}
		}
	}
	return cases
}

// TestGemmSmall runs GemmSmall on every implementation: every remainder of
// its strips of rows and of its whole panels, the columns past them (which
// go through Gemm), and attention's tiles, with guards around every buffer.
func TestGemmSmall(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			var cases []gemmCase
			for m := 0; m <= 13; m++ {
				for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 80, 96, 97, 128, 130, 192} {
					for _, k := range []int{0, 1, 5, 32, 64} {
						ab := alphaBetas[(m+n+k)%len(alphaBetas)]
						cases = append(cases, gemmCase{m: m, n: n, k: k, alpha: ab[0], beta: ab[1], pad: (m + n) % 3})
					}
				}
			}
			for range 150 {
				ab := alphaBetas[rng.IntN(len(alphaBetas))]
				cases = append(cases, gemmCase{m: dim(rng), n: dim(rng), k: dim(rng), alpha: ab[0], beta: ab[1], pad: rng.IntN(4)})
			}
			for _, tile := range [][3]int{{32, 32, 64}, {32, 64, 32}, {64, 64, 64}, {17, 64, 23}, {1, 256, 300}} {
				cases = append(cases, gemmCase{m: tile[0], n: tile[1], k: tile[2], alpha: 0.125, beta: 1, pad: 5})
			}
			small := gemmSmallOf(im)
			for _, g := range cases {
				runGemmWith(t, im.Name, small, rng, g)
			}
		})
	}
}

// TestSumRows requires every implementation to give the bits of a plain
// loop over the rows, for widths around its vectors and blocks of eight,
// one row or many, fresh or adding, and to write nothing outside sum.
func TestSumRows(t *testing.T) {
	for _, im := range Impls() {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, cols := range []int{1, 7, 8, 15, 16, 17, 63, 64, 127, 128, 129, 200, 256, 300} {
			for _, rows := range []int{1, 2, 5, 33} {
				for _, fresh := range []bool{false, true} {
					ld := cols + rows%3
					x := make([]float32, (rows-1)*ld+cols)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					x[0] = float32(math.Copysign(0, -1)) // a fresh sum starts from row 0: -0 stays -0
					sum, all := guarded(rng, cols, false)
					want := append([]float32(nil), sum...)
					r := 0
					if fresh {
						copy(want, x[:cols])
						r = 1
					}
					for ; r < rows; r++ {
						for j := range want {
							want[j] += x[r*ld+j]
						}
					}
					x0 := append([]float32(nil), x...)
					im.SumRows(sum, x, rows, ld, fresh)
					what := fmt.Sprintf("%s SumRows cols=%d rows=%d fresh=%v", im.Name, cols, rows, fresh)
					if !sameBits(sum, want) {
						t.Fatalf("%s: got %v, want %v", what, sum, want)
					}
					if !sameBits(x, x0) {
						t.Fatalf("%s modified x", what)
					}
					checkGuards(t, what, all, cols)
				}
			}
		}
	}
}

func TestDotAxpy(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			for n := 0; n <= 300; n++ {
				x, xAll := guarded(rng, n, false)
				y, yAll := guarded(rng, n, false)
				x0 := append([]float32(nil), x...)
				y0 := append([]float32(nil), y...)
				got := im.Dot(x, y)
				var want, mag float64
				for i := range x {
					want += float64(x[i]) * float64(y[i])
					mag += math.Abs(float64(x[i]) * float64(y[i]))
				}
				if !(math.Abs(float64(got)-want) <= 1e-5*mag+1e-30) {
					t.Fatalf("%s Dot n=%d: got %v want %v", im.Name, n, got, want)
				}
				if !sameBits(x, x0) || !sameBits(y, y0) {
					t.Fatalf("%s Dot n=%d modified an input", im.Name, n)
				}
				alpha := float32(rng.NormFloat64())
				im.Axpy(alpha, x, y)
				for i := range y {
					w := float64(y0[i]) + float64(alpha)*float64(x[i])
					if !(math.Abs(float64(y[i])-w) <= 1e-6*(math.Abs(float64(y0[i]))+math.Abs(float64(alpha*x[i])))+1e-30) {
						t.Fatalf("%s Axpy n=%d: y[%d] = %v, want %v", im.Name, n, i, y[i], w)
					}
				}
				if !sameBits(x, x0) {
					t.Fatalf("%s Axpy n=%d modified x", im.Name, n)
				}
				checkGuards(t, "x", xAll, n)
				checkGuards(t, "y", yAll, n)
			}
		})
	}
}

func TestUse(t *testing.T) {
	for _, im := range Impls() {
		prev, ok := Use(im.Name)
		if !ok || Active().Name != im.Name {
			t.Fatalf("Use(%q) failed", im.Name)
		}
		Use(prev.Name)
	}
	if _, ok := Use("no such implementation"); ok {
		t.Fatal("Use accepted an unknown name")
	}
	t.Logf("implementations: %d, active %s", len(Impls()), Active().Name)
}

// TestAdam runs every implementation's Adam step on every length up to 300,
// with guard values around each buffer, against the update in float64, in
// both of its forms (L2 added to the gradient; decoupled decay).
func TestAdam(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			for n := 0; n <= 300; n++ {
				for _, decoupled := range []bool{false, true} {
					w, wAll := guarded(rng, n, false)
					g, gAll := guarded(rng, n, false)
					m, mAll := guarded(rng, n, false)
					v, vAll := guarded(rng, n, false)
					for i := range v {
						v[i] *= v[i] // a second moment is not negative
					}
					s := AdamStep{Beta1: 0.9, Beta2: 0.98, C1: 0.1, C2: 0.02, Eps: 1e-8, StepSize: 3e-3, InvBc2Sqrt: 1.7, WeightDecay: 0.01, Decay: 1}
					if decoupled {
						s.WeightDecay, s.Decay = 0, 0.999
					}
					w0, g0, m0, v0 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
					im.Adam(w, g, m, v, &s)
					for i := range w {
						wi := float64(w0[i]) * float64(s.Decay)
						gi := float64(g0[i]) + float64(s.WeightDecay)*wi
						mi := float64(s.Beta1)*float64(m0[i]) + float64(s.C1)*gi
						vi := float64(s.Beta2)*float64(v0[i]) + float64(s.C2)*gi*gi
						wi -= float64(s.StepSize) * mi / (math.Sqrt(vi)*float64(s.InvBc2Sqrt) + float64(s.Eps))
						for _, c := range []struct {
							what      string
							got, want float64
						}{{"w", float64(w[i]), wi}, {"m", float64(m[i]), mi}, {"v", float64(v[i]), vi}} {
							if math.Abs(c.got-c.want) > 1e-6*max(1, math.Abs(c.want)) {
								t.Fatalf("%s n=%d decoupled=%v: %s[%d] = %v, want %v", im.Name, n, decoupled, c.what, i, c.got, c.want)
							}
						}
					}
					if !sameBits(g, g0) {
						t.Fatalf("%s n=%d modified the gradient", im.Name, n)
					}
					for _, b := range []struct {
						name string
						all  []float32
					}{{"w", wAll}, {"g", gAll}, {"m", mAll}, {"v", vAll}} {
						checkGuards(t, im.Name+" Adam "+b.name, b.all, n)
					}
				}
			}
		})
	}
}

// TestGemmBias checks kernels.GemmBias on every implementation (the AVX-512
// and AVX2 ones add the bias as their direct kernels store C, the generic
// one through C)
// against a float64 reference, with guards around C and NaNs in C before
// (GemmBias overwrites C, so they must vanish).
func TestGemmBias(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			prev, _ := Use(im.Name)
			defer Use(prev.Name)
			rng := rand.New(rand.NewPCG(5, 6))
			// 96 and 32 columns end in half a panel of the AVX-512 kernels.
			shapes := [][3]int{{1, 1, 1}, {9, 33, 5}, {13, 31, 400}, {12, 64, 17}, {25, 100, 2*blockK + 3}, {40, blockN + 7, 30}, {7, 70, 9}, {30, 96, 40}, {17, 32, 9}}
			for _, tB := range []bool{false, true} {
				for _, s := range shapes {
					m, n, k := s[0], s[1], s[2]
					lda, ldb, ldc := k+3, n+1, n+2
					if tB {
						ldb = k + 1
					}
					bRows := k
					if tB {
						bRows = n
					}
					a := make([]float32, m*lda)
					b := make([]float32, bRows*ldb)
					bias := make([]float32, n)
					for _, x := range [][]float32{a, b, bias} {
						for i := range x {
							x[i] = float32(rng.NormFloat64())
						}
					}
					c, all := guarded(rng, m*ldc, true)
					GemmBias(false, tB, m, n, k, a, lda, b, ldb, bias, c, ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							want, mag := float64(bias[j]), math.Abs(float64(bias[j]))
							for p := 0; p < k; p++ {
								var bv float32
								if tB {
									bv = b[j*ldb+p]
								} else {
									bv = b[p*ldb+j]
								}
								want += float64(a[i*lda+p]) * float64(bv)
								mag += math.Abs(float64(a[i*lda+p]) * float64(bv))
							}
							if got := c[i*ldc+j]; !(math.Abs(float64(got)-want) <= 1e-5*mag+1e-6) {
								t.Fatalf("%s tB=%v %dx%dx%d: C[%d,%d] = %v, want %v", im.Name, tB, m, n, k, i, j, got, want)
							}
						}
					}
					checkGuards(t, "C", all, m*ldc)
				}
			}
		})
	}
}

// TestGemmHalf: on every implementation, A·Bᵀ with B in bfloat16 or half
// precision gives bit for bit what Gemm gives on B widened to float32, whatever the rows
// (the dot products up to 16 rows, blocks of B widened beyond), with
// guards around C.
func TestGemmHalf(t *testing.T) {
	for _, h := range []Half{BF16, F16} {
		for _, im := range Impls() {
			t.Run(fmt.Sprint(im.Name, "/", h), func(t *testing.T) {
				prev, _ := Use(im.Name)
				defer Use(prev.Name)
				rng := rand.New(rand.NewPCG(7, 8))
				for _, m := range []int{1, 2, 5, 8, 9, 12, 16, 17, 40} {
					for _, n := range []int{1, 3, 4, 6, 31, 64, 130, 600} {
						for _, k := range []int{1, 7, 16, 17, 100, 576} {
							ab := alphaBetas[(m+n+k)%len(alphaBetas)]
							ldb := k + (n % 3)
							bh, bw := halfs(rng, h, n*ldb)
							a := make([]float32, m*k)
							for i := range a {
								a[i] = float32(rng.NormFloat64())
							}
							const guard = 8
							c0 := make([]float32, m*n+2*guard)
							for i := range c0 {
								c0[i] = float32(rng.NormFloat64())
							}
							want, got := slices.Clone(c0), slices.Clone(c0)
							Gemm(false, true, m, n, k, ab[0], a, k, bw, ldb, ab[1], want[guard:guard+m*n], n)
							GemmHalf(h, m, n, k, ab[0], a, k, bh, ldb, ab[1], got[guard:guard+m*n], n)
							if !slices.Equal(got, want) {
								t.Fatalf("m=%d n=%d k=%d alpha=%v beta=%v: GemmHalf differs from Gemm on the widened B", m, n, k, ab[0], ab[1])
							}
						}
					}
				}
			})
		}
	}
}

// TestGemmHalfDeepK: a k beyond the packing buffers (which hold a row of
// B widened for the last n%4 columns) on every implementation, with 1 to
// 16 rows.
func TestGemmHalfDeepK(t *testing.T) {
	for _, h := range []Half{BF16, F16} {
		for _, im := range Impls() {
			t.Run(fmt.Sprint(im.Name, "/", h), func(t *testing.T) {
				prev, _ := Use(im.Name)
				defer Use(prev.Name)
				rng := rand.New(rand.NewPCG(9, 10))
				k := blockK*blockN + 37
				for _, s := range [][2]int{{1, 5}, {3, 7}, {12, 6}} {
					m, n := s[0], s[1]
					bh, bw := halfs(rng, h, n*k)
					a := make([]float32, m*k)
					for i := range a {
						a[i] = float32(rng.NormFloat64())
					}
					want, got := make([]float32, m*n), make([]float32, m*n)
					Gemm(false, true, m, n, k, 1, a, k, bw, k, 0, want, n)
					GemmHalf(h, m, n, k, 1, a, k, bh, k, 0, got, n)
					if !slices.Equal(got, want) {
						t.Errorf("m=%d n=%d k=%d: GemmHalf differs from Gemm on the widened B", m, n, k)
					}
				}
			})
		}
	}
}

// halfs returns n random values in the format h, as stored and widened by
// safetensors' conversions (independent of the kernels'): bfloat16 from
// normal draws; half precision from every bit pattern but infinities and
// NaNs, subnormals and zeros included.
func halfs(rng *rand.Rand, h Half, n int) ([]uint16, []float32) {
	bh, bw := make([]uint16, n), make([]float32, n)
	for i := range bh {
		if h == BF16 {
			bh[i] = uint16(math.Float32bits(float32(rng.NormFloat64())) >> 16)
			bw[i] = safetensors.BFloat16ToFloat32(bh[i])
			continue
		}
		for bh[i] = uint16(rng.Uint32()); bh[i]&0x7c00 == 0x7c00; bh[i] = uint16(rng.Uint32()) {
		}
		bw[i] = safetensors.Float16ToFloat32(bh[i])
	}
	return bh, bw
}

// TestF16ToF32: the kernels' widening of every half-precision value is
// safetensors' (NaNs: a NaN).
func TestF16ToF32(t *testing.T) {
	for x := range 1 << 16 {
		got, want := f16ToF32(uint16(x)), safetensors.Float16ToFloat32(uint16(x))
		if got != want && !(got != got && want != want) || math.Signbit(float64(got)) != math.Signbit(float64(want)) {
			t.Fatalf("%#04x: %v; want %v", x, got, want)
		}
	}
}

// q8s returns n rows of k random 8-bit values (the full range, -128
// included), ldb apart, with a random scale per block of 32, and the
// dequantized n×k matrix.
func q8s(rng *rand.Rand, n, k, ldb int) ([]int8, []float32, []float32) {
	q, s, w := make([]int8, n*ldb), make([]float32, n*ldb/q8Block), make([]float32, n*k)
	for i := range s {
		s[i] = float32(rng.ExpFloat64()) / 127
	}
	for i := range q {
		q[i] = int8(rng.Uint32())
	}
	for j := range n {
		for p := range k {
			w[j*k+p] = s[(j*ldb+p)/q8Block] * float32(q[j*ldb+p])
		}
	}
	return q, s, w
}

// TestGemmQ8: on every implementation, A·Bᵀ with B in 8-bit integers and
// block scales gives bit for bit what Gemm gives on the dequantized B,
// whatever the rows, with guards around C; a k that is not a multiple of
// the block panics.
func TestGemmQ8(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			prev, _ := Use(im.Name)
			defer Use(prev.Name)
			rng := rand.New(rand.NewPCG(17, 18))
			for _, m := range []int{1, 2, 5, 8, 9, 12, 16, 17, 40} {
				for _, n := range []int{1, 3, 4, 6, 31, 64, 130} {
					for _, k := range []int{32, 64, 96, 576} {
						ab := alphaBetas[(m+n+k)%len(alphaBetas)]
						ldb := k + q8Block*(n%2) // rows with room after them
						q, s, w := q8s(rng, n, k, ldb)
						a := make([]float32, m*k)
						for i := range a {
							a[i] = float32(rng.NormFloat64())
						}
						const guard = 8
						c0 := make([]float32, m*n+2*guard)
						for i := range c0 {
							c0[i] = float32(rng.NormFloat64())
						}
						want, got := slices.Clone(c0), slices.Clone(c0)
						Gemm(false, true, m, n, k, ab[0], a, k, w, k, ab[1], want[guard:guard+m*n], n)
						GemmQ8(m, n, k, ab[0], a, k, q, s, ldb, ab[1], got[guard:guard+m*n], n)
						if !slices.Equal(got, want) {
							t.Fatalf("m=%d n=%d k=%d alpha=%v beta=%v: GemmQ8 differs from Gemm on the dequantized B", m, n, k, ab[0], ab[1])
						}
					}
				}
			}
		})
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "multiples of 32") {
			t.Errorf("k 40: %v; want a panic naming the block", r)
		}
	}()
	GemmQ8(1, 1, 40, 1, make([]float32, 40), 40, make([]int8, 40), make([]float32, 2), 40, 0, make([]float32, 1), 1)
}

// TestParseCPU checks the values ATTN_CPU takes, and that a value naming
// no implementation is reported, with the value, instead of silently used.
func TestParseCPU(t *testing.T) {
	// Read here, not only at init, so that go test's cache keys this
	// package's results on the variable (it records what tests read).
	env := os.Getenv(EnvCPU)
	for v, want := range map[string]int{"": 2, "avx512": 2, "avx2": 1, "generic": 0} {
		if got, err := parseCPU(v); got != want || err != nil {
			t.Errorf("parseCPU(%q) = %d, %v; want %d, nil", v, got, err, want)
		}
	}
	for _, v := range []string{"avx3", "AVX2", "purego"} {
		got, err := parseCPU(v)
		if err == nil || !strings.Contains(err.Error(), EnvCPU+`="`+v+`"`) || got != 2 {
			t.Errorf("parseCPU(%q) = %d, %v; want 2 and an error naming %s=%q", v, got, err, EnvCPU, v)
		}
	}
	if best := impls[len(impls)-1].Name; cpuCap < 2 && best == "avx512" || cpuCap < 1 && best != "generic" {
		t.Errorf("with %s=%q the best implementation registered is %q", EnvCPU, env, best)
	}
}
