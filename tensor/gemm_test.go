package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor/internal/kernels"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestGemmParallel checks the parallel Gemm against GemmSerial for every
// transpose case and implementation, several worker counts and shapes on
// both sides of the thresholds where the work is split by rows, by columns,
// over k or not at all.
func TestGemmParallel(t *testing.T) {
	for _, im := range kernels.Impls() {
		t.Run(im.Name, func(t *testing.T) {
			prev, _ := kernels.Use(im.Name)
			defer kernels.Use(prev.Name)
			testGemmParallel(t, 2, 3, 7)
		})
	}
	// The bfloat16 products, serial and split alike: each band must round
	// and sum as the serial product does, and none may be so few rows
	// high that it goes to float32's skinny kernels (64 workers would cut
	// 217×217×433 into 37 bands, the last of one row).
	if SetMatmulBF16(true) == nil {
		t.Run("avx512-bf16", func(t *testing.T) { testGemmParallel(t, 2, 3, 7, 64) })
		SetMatmulBF16(false)
	}
}

func testGemmParallel(t *testing.T, workers ...int) {
	defer SetWorkers(SetWorkers(1))
	rng := rand.New(rand.NewPCG(7, 8))
	shapes := [][3]int{
		{1, 1, 1}, {0, 5, 3}, {5, 0, 3}, {4, 4, 0},
		{1, 300, 200}, {3, 517, 64}, {8, 1000, 33}, {9, 700, 40},
		{64, 64, 64}, {100, 37, 129}, {250, 260, 70}, {513, 17, 90},
		{33, 1500, 20}, {600, 8, 300}, {130, 131, 129},
		// Large enough (8·gemmGrain) to be split: by rows, by columns
		// (the last two with m <= 8, the decode kernels: split by columns
		// with Bᵀ, over k with B), over k.
		{517, 33, 300}, {250, 260, 70}, {33, 1500, 100}, {3, 2000, 800}, {8, 1001, 600},
		{40, 50, 2300}, {100, 37, 3001}, {2, 5, 450001}, {217, 217, 433},
		// Shared by a team (1,024 rows or more, A read in place): blocks
		// of k and n with ragged last ones, and a ragged last strip.
		{1030, 100, 450}, {1025, 530, 40},
	}
	betas := []float32{0, 1, -0.5, 0}
	for _, w := range workers {
		SetWorkers(w)
		for si, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, beta := range betas[(si+w)%3 : (si+w)%3+2] {
						lda, ldb, ldc := k+1, n+2, n+3
						if tA {
							lda = m + 1
						}
						if tB {
							ldb = k + 2
						}
						aRows, bRows := m, k
						if tA {
							aRows = k
						}
						if tB {
							bRows = n
						}
						a := randSlice(rng, max(aRows, 1)*lda)
						b := randSlice(rng, max(bRows, 1)*ldb)
						c0 := randSlice(rng, max(m, 1)*ldc)
						want := append([]float32(nil), c0...)
						got := append([]float32(nil), c0...)
						GemmSerial(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, want, ldc)
						Gemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, got, ldc)
						// A sum of k products of unit normals is about √k in
						// size, and its rounding error about ε·k; the parallel
						// split may sum in another order.
						sk := math.Sqrt(float64(k) + 1)
						for i := range want {
							if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*sk*(sk+math.Abs(float64(want[i]))) {
								t.Fatalf("workers=%d m=%d n=%d k=%d tA=%v tB=%v beta=%v: C[%d] = %v, serial %v",
									w, m, n, k, tA, tB, beta, i, got[i], want[i])
							}
						}
						if beta != 0 || m == 0 || n == 0 {
							continue
						}
						// GemmBias: the serial product (alpha 1) plus the bias
						// in every row; C's old values and its padding are
						// kept out of the result and untouched.
						bias := randSlice(rng, n)
						GemmSerial(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, want, ldc)
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								want[i*ldc+j] += bias[j]
							}
						}
						copy(got, c0)
						GemmBias(tA, tB, m, n, k, a, lda, b, ldb, bias, got, ldc)
						for i := range want {
							if i%ldc >= n {
								want[i] = c0[i]
							}
							if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*sk*(sk+math.Abs(float64(want[i]))) {
								t.Fatalf("GemmBias workers=%d m=%d n=%d k=%d tA=%v tB=%v: C[%d] = %v, want %v",
									w, m, n, k, tA, tB, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmPair checks GemmPair against GemmSerial, bit for bit, on every
// implementation and on one, two and three workers: pairs below and above
// the size worth sharing, of every transpose case, the second product
// much larger or smaller than the first (the core done first then helps
// with the other), into C with padding that must stay untouched.
func TestGemmPair(t *testing.T) {
	for _, im := range kernels.Impls() {
		t.Run(im.Name, func(t *testing.T) {
			prev, _ := kernels.Use(im.Name)
			defer kernels.Use(prev.Name)
			testGemmPair(t)
		})
	}
	if SetMatmulBF16(true) == nil {
		t.Run("avx512-bf16", testGemmPair)
		SetMatmulBF16(false)
	}
}

func testGemmPair(t *testing.T) {
	defer SetWorkers(SetWorkers(1))
	rng := rand.New(rand.NewPCG(9, 10))
	// product returns a random product, op(A) m×k and op(B) k×n, with
	// padded rows, and the C GemmSerial computes for it.
	product := func(tA, tB bool, m, n, k int, beta float32) (p Product, want []float32) {
		p = Product{TransA: tA, TransB: tB, M: m, N: n, K: k, Alpha: 0.5, Lda: k + 1, Ldb: n + 2, Beta: beta, Ldc: n + 3}
		aRows, bRows := m, k
		if tA {
			p.Lda, aRows = m+1, k
		}
		if tB {
			p.Ldb, bRows = k+2, n
		}
		p.A = randSlice(rng, max(aRows, 1)*p.Lda)
		p.B = randSlice(rng, max(bRows, 1)*p.Ldb)
		p.C = randSlice(rng, max(m, 1)*p.Ldc)
		want = slices.Clone(p.C)
		GemmSerial(tA, tB, m, n, k, p.Alpha, p.A, p.Lda, p.B, p.Ldb, beta, want, p.Ldc)
		return p, want
	}
	pairs := [][2][3]int{
		{{20, 30, 40}, {30, 20, 10}},         // too small to share
		{{300, 200, 400}, {400, 200, 300}},   // a layer's dx and dw
		{{517, 130, 260}, {60, 70, 80}},      // the first much the larger
		{{64, 33, 9}, {1030, 600, 500}},      // the second
		{{0, 100, 100}, {600, 500, 400}},     // one empty
		{{1025, 260, 700}, {700, 260, 1025}}, // several blocks of k each
	}
	// None of these products is split over k, where Gemm's numbers would
	// depend on the workers: on one and three workers GemmPair runs Gemm.
	for _, w := range []int{1, 2, 3} {
		SetWorkers(w)
		for i, pr := range pairs {
			tA, tB := i%2 == 1, i%3 == 2
			p, wantP := product(tA, tB, pr[0][0], pr[0][1], pr[0][2], float32(i%2))
			q, wantQ := product(!tA, tB, pr[1][0], pr[1][1], pr[1][2], 1-float32(i%2))
			GemmPair(p, q)
			for j, x := range []struct {
				got, want []float32
			}{{p.C, wantP}, {q.C, wantQ}} {
				if !slices.Equal(x.got, x.want) {
					t.Fatalf("workers=%d pair %v, product %d: C differs from GemmSerial's", w, pr, j)
				}
			}
		}
	}
}

func TestMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	a := &Tensor{Shape: []int{3, 4}, Data: randSlice(rng, 12)}
	b := &Tensor{Shape: []int{5, 4}, Data: randSlice(rng, 20)}
	dst := &Tensor{Shape: []int{3, 5}, Data: make([]float32, 15)}
	MatMul(dst, a, b, false, true, false)
	for i := 0; i < 3; i++ {
		for j := 0; j < 5; j++ {
			var s float64
			for p := 0; p < 4; p++ {
				s += float64(a.Data[i*4+p]) * float64(b.Data[j*4+p])
			}
			if math.Abs(float64(dst.Data[i*5+j])-s) > 1e-5 {
				t.Fatalf("MatMul[%d,%d] = %v, want %v", i, j, dst.Data[i*5+j], s)
			}
		}
	}
}

func benchGemm(b *testing.B, tA, tB bool, m, n, k int) {
	rng := rand.New(rand.NewPCG(11, 12))
	a, bb, c := randSlice(rng, m*k), randSlice(rng, k*n), randSlice(rng, m*n)
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	Gemm(tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		Gemm(tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkPeak measures the FMA peak (register-only fused multiply-adds of
// the widest vectors the CPU has) on one goroutine and on all workers at
// once, the ceiling the GEMM numbers are read against in the same run:
//
//	go test -run '^$' -bench 'Peak|Gemm' ./tensor/
func BenchmarkPeak(b *testing.B) {
	for _, w := range []int{1, Workers()} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			const iters = 1 << 18
			perIter := kernels.PeakLoop(1)
			var flops float64
			for range b.N {
				// Every loop on a goroutine of its own: a loop on the calling
				// goroutine can hold the new goroutine in its P's run queue.
				var wg sync.WaitGroup
				for range w {
					wg.Go(func() { kernels.PeakLoop(iters) })
				}
				wg.Wait()
				flops += float64(w) * perIter * iters
			}
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGemm measures the parallel Gemm on all workers:
//
//	go test -run '^$' -bench 'Gemm' ./tensor/
func BenchmarkGemm(b *testing.B) {
	for _, size := range []int{64, 128, 256, 512, 1024, 2048} {
		b.Run(fmt.Sprintf("NN/%d", size), func(b *testing.B) { benchGemm(b, false, false, size, size, size) })
	}
	for _, size := range []int{512, 1024} {
		b.Run(fmt.Sprintf("NT/%d", size), func(b *testing.B) { benchGemm(b, false, true, size, size, size) })
		b.Run(fmt.Sprintf("TN/%d", size), func(b *testing.B) { benchGemm(b, true, false, size, size, size) })
	}
}

// BenchmarkGemmDecode measures the skinny products of decoding.
func BenchmarkGemmDecode(b *testing.B) {
	for _, tB := range []bool{false, true} {
		for _, m := range []int{1, 8} {
			for _, nk := range [][2]int{{512, 512}, {4096, 4096}} {
				name := "NN"
				if tB {
					name = "NT"
				}
				b.Run(fmt.Sprintf("%s/m=%d/n=%d/k=%d", name, m, nk[0], nk[1]), func(b *testing.B) {
					benchGemm(b, false, tB, m, nk[0], nk[1])
				})
			}
		}
	}
}

// TestGemmHalf: with B in bfloat16 or half precision, the parallel product gives bit for bit
// what Gemm (GemmBias) gives on B widened to float32, for the splits a
// model's shapes take: decoding rows against a wide or a deep weight (the
// latter split along k), a batch of 12 and a 128-token prompt's rows, and
// 40 rows into a C 1,030 wide over 1,700 steps (two deep blocks of k).
func TestGemmHalf(t *testing.T) {
	rng := NewRNG(3)
	for i, s := range [][3]int{{1, 576, 576}, {1, 576, 1536}, {1, 4096, 64}, {3, 1536, 576}, {12, 960, 576}, {16, 576, 1536}, {128, 1536, 576}, {40, 100, 7}, {40, 1030, 1700}} {
		m, n, k := s[0], s[1], s[2]
		a, bw, bias := New(m, k), New(n, k), New(n)
		rng.FillNormal(a, 0, 1)
		rng.FillNormal(bw, 0, 1)
		rng.FillNormal(bias, 0, 1)
		h := []Half{BF16, F16}[i%2]
		bh := toHalf(h, bw.Data)
		want, got := New(m, n), New(m, n)
		Gemm(false, true, m, n, k, 0.5, a.Data, k, bw.Data, k, 0, want.Data, n)
		GemmHalf(h, m, n, k, 0.5, a.Data, k, bh, k, 0, nil, got.Data, n)
		if !slices.Equal(got.Data, want.Data) {
			t.Errorf("%v %v: GemmHalf differs from Gemm on the widened B", h, s)
		}
		GemmBias(false, true, m, n, k, a.Data, k, bw.Data, k, bias.Data, want.Data, n)
		GemmHalf(h, m, n, k, 1, a.Data, k, bh, k, 0, bias.Data, got.Data, n)
		if !slices.Equal(got.Data, want.Data) {
			t.Errorf("%v %v with a bias: GemmHalf differs from GemmBias on the widened B", h, s)
		}
	}
}

// TestGemmHalfSplits: GemmHalf (BF16 and F16 by turns) against Gemm and GemmBias on the widened B
// over every way the product is split (rows, columns, k, the team Gemm
// uses from 1,024 rows) at several worker counts, with padded rows.
func TestGemmHalfSplits(t *testing.T) {
	defer SetWorkers(SetWorkers(1))
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := [][3]int{
		{1, 1, 1}, {3, 517, 64}, {9, 700, 40}, {17, 300, 33},
		{517, 33, 300}, {33, 1500, 100}, {3, 2000, 800}, {8, 1001, 600},
		{40, 50, 2300}, {2, 5, 450001}, {1030, 100, 450}, {1025, 530, 40},
	}
	for _, w := range []int{1, 2, 3, 7} {
		SetWorkers(w)
		for i, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			lda, ldb, ldc := k+1, k+2, n+3
			a := randSlice(rng, m*lda)
			h := []Half{BF16, F16}[(i+w)%2]
			bw := randSlice(rng, n*ldb)
			bh := toHalf(h, bw)
			bias := randSlice(rng, n)
			c0 := randSlice(rng, m*ldc)
			for _, ab := range [][2]float32{{1, 0}, {1.5, -0.5}} {
				want, got := slices.Clone(c0), slices.Clone(c0)
				Gemm(false, true, m, n, k, ab[0], a, lda, bw, ldb, ab[1], want, ldc)
				GemmHalf(h, m, n, k, ab[0], a, lda, bh, ldb, ab[1], nil, got, ldc)
				if !slices.Equal(got, want) {
					t.Errorf("workers=%d %v %v alpha=%v beta=%v: GemmHalf differs from Gemm on the widened B", w, h, s, ab[0], ab[1])
				}
			}
			want, got := slices.Clone(c0), slices.Clone(c0)
			GemmBias(false, true, m, n, k, a, lda, bw, ldb, bias, want, ldc)
			GemmHalf(h, m, n, k, 1, a, lda, bh, ldb, 0, bias, got, ldc)
			if !slices.Equal(got, want) {
				t.Errorf("workers=%d %v %v with a bias: GemmHalf differs from GemmBias on the widened B", w, h, s)
			}
		}
	}
}

// TestGemmDecodeSplit: the decode products against Bᵀ that two workers
// split by columns from about 512 KB of weight give GemmSerial's numbers
// bit for bit, the deep ones (k >= 2n, once split over k) too.
func TestGemmDecodeSplit(t *testing.T) {
	defer SetWorkers(SetWorkers(2))
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range [][2]int{{576, 576}, {512, 300}, {960, 200}, {256, 1536}, {128, 2048}, {576, 1536}, {100, 3001}, {68, 4096}, {32, 4096}, {63, 2100}} {
		n, k := s[0], s[1]
		b := randSlice(rng, n*k)
		for _, m := range []int{1, 4, 16} {
			a := randSlice(rng, m*k)
			want, got := make([]float32, m*n), make([]float32, m*n)
			GemmSerial(false, true, m, n, k, 1, a, k, b, k, 0, want, n)
			Gemm(false, true, m, n, k, 1, a, k, b, k, 0, got, n)
			if !slices.Equal(got, want) {
				t.Errorf("m=%d n=%d k=%d: two workers' numbers differ from GemmSerial's", m, n, k)
			}
		}
	}
	// Products of more than four rows in bfloat16 run on the packed
	// kernels, whose edge tiles add beta·C apart from the product: their
	// bands end at whole panels, as one worker's do.
	if SetMatmulBF16(true) != nil {
		return // the CPU has no bfloat16 products
	}
	defer SetMatmulBF16(false)
	for _, m := range []int{5, 8, 16} {
		n, k := 576, 576
		a, b, c0 := randSlice(rng, m*k), randSlice(rng, n*k), randSlice(rng, m*n)
		want, got := slices.Clone(c0), slices.Clone(c0)
		SetWorkers(1)
		Gemm(false, true, m, n, k, 1, a, k, b, k, 0.3, want, n)
		SetWorkers(2)
		Gemm(false, true, m, n, k, 1, a, k, b, k, 0.3, got, n)
		if !slices.Equal(got, want) {
			t.Errorf("bfloat16 m=%d n=%d k=%d beta 0.3: two workers' numbers differ from one's", m, n, k)
		}
	}
}

// TestGemmRowsAlone: a product of up to 16 rows of A with Bᵀ (a batch of
// decoded sequences against a weight) gives each row the numbers it gets
// alone, at every worker count, however the product is split: over
// columns, or over k (a deep weight, the k split then cut as it is for
// one row), in float32, bfloat16 and half precision, with a bias and
// without.
func TestGemmRowsAlone(t *testing.T) {
	defer SetWorkers(SetWorkers(1))
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range [][2]int{{576, 1536}, {256, 1536}, {1536, 576}, {100, 4000}, {103, 700}, {8, 300}, {21, 65}, {6, 100}} {
		n, k := s[0], s[1]
		bw := randSlice(rng, n*k)
		bh := toHalf(BF16, bw)
		fw := randSlice(rng, n*k)
		fh := toHalf(F16, fw)
		bias := randSlice(rng, n)
		a := randSlice(rng, 16*k)
		products := map[string]func(m int, a, c []float32){
			"Gemm":     func(m int, a, c []float32) { Gemm(false, true, m, n, k, 1, a, k, bw, k, 0, c, n) },
			"GemmBias": func(m int, a, c []float32) { GemmBias(false, true, m, n, k, a, k, bw, k, bias, c, n) },
			"BF16":     func(m int, a, c []float32) { GemmHalf(BF16, m, n, k, 1, a, k, bh, k, 0, bias, c, n) },
			"F16":      func(m int, a, c []float32) { GemmHalf(F16, m, n, k, 1, a, k, fh, k, 0, nil, c, n) },
			// C read once (beta), where a tile that overlaps the one
			// before it must not add beta·C twice.
			"Beta": func(m int, a, c []float32) { Gemm(false, true, m, n, k, 0.5, a, k, bw, k, 0.25, c, n) },
		}
		start := func(c []float32) { // C's values before the product
			for j := range c {
				c[j] = float32(j%n%7) - 3
			}
		}
		for name, f := range products {
			for _, w := range []int{1, 2, 3, 4, 7} {
				SetWorkers(w)
				alone := make([]float32, 16*n)
				start(alone)
				for i := range 16 {
					f(1, a[i*k:(i+1)*k], alone[i*n:(i+1)*n])
				}
				for _, m := range []int{2, 3, 5, 7, 8, 9, 12, 15, 16} {
					c := make([]float32, m*n)
					start(c)
					f(m, a, c)
					for i := range m {
						if !slices.Equal(c[i*n:(i+1)*n], alone[i*n:(i+1)*n]) {
							t.Errorf("%s n=%d k=%d workers=%d: row %d of %d differs from the row alone", name, n, k, w, i, m)
							break
						}
					}
				}
			}
		}
	}
}

// toHalf rounds v to the format h in place (safetensors' conversions,
// independent of the kernels') and returns the stored values.
func toHalf(h Half, v []float32) []uint16 {
	out := make([]uint16, len(v))
	for i, x := range v {
		if h == BF16 {
			out[i] = safetensors.Float32ToBFloat16(x)
			v[i] = safetensors.BFloat16ToFloat32(out[i])
		} else {
			out[i] = safetensors.Float32ToFloat16(x)
			v[i] = safetensors.Float16ToFloat32(out[i])
		}
	}
	return out
}

// TestGemmQ8: with B quantized to 8 bits, the parallel product gives bit
// for bit what Gemm (GemmBias) gives on the dequantized B, over the splits
// (rows, columns, k) at several worker counts, with padded rows of B, and
// with blocks of k that must start on a block of scales (800 steps cut in
// three, 1,696 in two deep ones); a product of up to 16 rows gives each
// row its numbers alone.
func TestGemmQ8(t *testing.T) {
	defer SetWorkers(SetWorkers(1))
	rng := rand.New(rand.NewPCG(21, 22))
	for _, w := range []int{1, 2, 3, 7} {
		SetWorkers(w)
		for _, s := range [][3]int{{1, 576, 576}, {1, 100, 4096}, {3, 1536, 576}, {12, 960, 576}, {16, 64, 2048}, {40, 100, 96}, {128, 1536, 576}, {128, 100, 800}, {40, 1030, 1696}} {
			m, n, k := s[0], s[1], s[2]
			ldb := k + 32*(n%2)
			a := randSlice(rng, m*k)
			q, sc := QuantizeQ8(randSlice(rng, n*ldb), ldb)
			deq := make([]float32, n*ldb)
			DequantizeQ8(deq, q, sc)
			bias := randSlice(rng, n)
			c0 := randSlice(rng, m*n)
			for _, ab := range [][2]float32{{1, 0}, {1.5, -0.5}} {
				want, got := slices.Clone(c0), slices.Clone(c0)
				Gemm(false, true, m, n, k, ab[0], a, k, deq, ldb, ab[1], want, n)
				GemmQ8(m, n, k, ab[0], a, k, q, sc, ldb, ab[1], nil, got, n)
				if !slices.Equal(got, want) {
					t.Errorf("workers=%d %v alpha=%v beta=%v: GemmQ8 differs from Gemm on the dequantized B", w, s, ab[0], ab[1])
				}
			}
			want, got := slices.Clone(c0), slices.Clone(c0)
			GemmBias(false, true, m, n, k, a, k, deq, ldb, bias, want, n)
			GemmQ8(m, n, k, 1, a, k, q, sc, ldb, 0, bias, got, n)
			if !slices.Equal(got, want) {
				t.Errorf("workers=%d %v with a bias: GemmQ8 differs from GemmBias on the dequantized B", w, s)
			}
			if m <= 16 {
				for i := range m {
					alone := make([]float32, n)
					GemmQ8(1, n, k, 1, a[i*k:(i+1)*k], k, q, sc, ldb, 0, nil, alone, n)
					GemmQ8(m, n, k, 1, a, k, q, sc, ldb, 0, nil, got, n)
					if !slices.Equal(got[i*n:(i+1)*n], alone) {
						t.Errorf("workers=%d %v: row %d differs from the row alone", w, s, i)
						break
					}
				}
			}
		}
	}
}

// TestQuantizeQ8: each value moves by at most half its block's scale (the
// block's largest magnitude over 127), the largest lands on ±127, zeros
// stay zeros, a block of subnormal values too (whose scale's reciprocal
// overflows); rows that are not whole blocks panic.
func TestQuantizeQ8(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	w := randSlice(rng, 4*64)
	for i := range w[:32] {
		w[i] = 0
	}
	w[70] = -9
	for i := range w[224:] {
		w[224+i] *= 1e-39
	}
	q, s := QuantizeQ8(w, 64)
	deq := make([]float32, len(w))
	DequantizeQ8(deq, q, s)
	for i, v := range w {
		if d := math.Abs(float64(deq[i] - v)); d > float64(s[i/32])/2*1.0001 {
			t.Fatalf("value %d: %v became %v (scale %v)", i, v, deq[i], s[i/32])
		}
	}
	if s[0] != 0 || q[70] != -127 || deq[70] != -9 {
		t.Errorf("a zero block's scale %v; the largest magnitude %d → %v", s[0], q[70], deq[70])
	}
	defer func() {
		if recover() == nil {
			t.Error("rows of 40: no panic")
		}
	}()
	QuantizeQ8(make([]float32, 80), 40)
}
