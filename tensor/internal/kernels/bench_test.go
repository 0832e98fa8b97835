package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Single-goroutine GEMM throughput of every implementation:
//
//	go test -run '^$' -bench 'Gemm' ./tensor/internal/kernels/
//
// The parallel GEMM is benchmarked in package tensor.

func benchGemm(b *testing.B, im Impl, tA, tB bool, m, n, k int) {
	rnd := normals(rand.New(rand.NewPCG(5, 6)))
	a, bb, c := rnd(m*k), rnd(k*n), rnd(m*n)
	lda, ldb := strides(tA, tB, m, n, k)
	im.Gemm(tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	b.ResetTimer()
	for range b.N {
		im.Gemm(tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func transName(tA, tB bool) string {
	s := [2]string{"N", "T"}
	x := func(t bool) string {
		if t {
			return s[1]
		}
		return s[0]
	}
	return x(tA) + x(tB)
}

// benchImpls is Impls and, where the CPU has them, the bfloat16 products.
func benchImpls() []Impl {
	ims := Impls()
	if bf16Of != nil && ims[len(ims)-1].Name == "avx512" {
		ims = append(ims[:len(ims):len(ims)], bf16Of(ims[len(ims)-1]))
	}
	return ims
}

func BenchmarkGemm(b *testing.B) {
	for _, im := range benchImpls() {
		for _, size := range []int{64, 128, 256, 512, 1024, 2048} {
			if im.Name == "generic" && size > 512 {
				continue
			}
			b.Run(fmt.Sprintf("%s/NN/%d", im.Name, size), func(b *testing.B) {
				benchGemm(b, im, false, false, size, size, size)
			})
		}
	}
}

// BenchmarkGemmTrans runs the four transpose cases at one size.
func BenchmarkGemmTrans(b *testing.B) {
	for _, im := range benchImpls() {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/%s/512", im.Name, transName(tA, tB)), func(b *testing.B) {
					benchGemm(b, im, tA, tB, 512, 512, 512)
				})
			}
		}
	}
}

// BenchmarkGemmDecode runs the skinny shapes of decoding: m rows of
// activations against a d×d (or d×4d) weight, as A·B and A·Bᵀ.
func BenchmarkGemmDecode(b *testing.B) {
	for _, im := range Impls() {
		for _, tB := range []bool{false, true} {
			for _, m := range []int{1, 4, 8} {
				for _, nk := range [][2]int{{512, 512}, {2048, 512}, {4096, 4096}} {
					b.Run(fmt.Sprintf("%s/N%s/m=%d/n=%d/k=%d", im.Name, transName(tB, false)[:1], m, nk[0], nk[1]), func(b *testing.B) {
						benchGemm(b, im, false, tB, m, nk[0], nk[1])
					})
				}
			}
		}
	}
}

func BenchmarkDot(b *testing.B) {
	for _, im := range Impls() {
		for _, n := range []int{64, 1024, 16384} {
			b.Run(fmt.Sprintf("%s/%d", im.Name, n), func(b *testing.B) {
				x, y := make([]float32, n), make([]float32, n)
				var s float32
				for range b.N {
					s += im.Dot(x, y)
				}
				_ = s
				b.ReportMetric(2*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkAxpy(b *testing.B) {
	for _, im := range Impls() {
		for _, n := range []int{64, 1024, 16384} {
			b.Run(fmt.Sprintf("%s/%d", im.Name, n), func(b *testing.B) {
				x, y := make([]float32, n), make([]float32, n)
				for range b.N {
					im.Axpy(0.5, x, y)
				}
				b.ReportMetric(2*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGemmSmall runs the small products of attention heads (T×d
// blocks, one goroutine each), where packing and call overheads show.
func BenchmarkGemmSmall(b *testing.B) {
	benchShapes(b, false, []gemmShape{
		{"QK^T/T=32/d=64", false, true, 32, 32, 64},
		{"PV/T=32/d=64", false, false, 32, 64, 32},
		{"dV=P^TdY/T=32/d=64", true, false, 32, 64, 32},
		{"QK^T/T=128/d=64", false, true, 128, 128, 64},
		{"PV/T=128/d=64", false, false, 128, 64, 128},
	})
}

// gemmShape is one product of a benchmark.
type gemmShape struct {
	name    string
	tA, tB  bool
	m, n, k int
}

// benchShapes runs each shape on each implementation (the vector ones only
// when vectorOnly is set).
func benchShapes(b *testing.B, vectorOnly bool, shapes []gemmShape) {
	for _, im := range benchImpls() {
		if vectorOnly && im.Name == "generic" {
			continue
		}
		for _, s := range shapes {
			b.Run(im.Name+"/"+s.name, func(b *testing.B) {
				benchGemm(b, im, s.tA, s.tB, s.m, s.n, s.k)
			})
		}
	}
}

// BenchmarkAdam updates 12M parameters (the small nn.Transformer has 11.7M)
// held in separate allocations, as the optimizer's are; it is memory-bound
// (7 floats moved per parameter).
func BenchmarkAdam(b *testing.B) {
	const n = 12 << 20
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = float32(i%7) - 3
	}
	s := AdamStep{Beta1: 0.9, Beta2: 0.98, C1: 0.1, C2: 0.02, Eps: 1e-8, StepSize: 3e-3, InvBc2Sqrt: 1.7, Decay: 1}
	for _, im := range Impls() {
		b.Run(im.Name, func(b *testing.B) {
			b.SetBytes(7 * 4 * n)
			for range b.N {
				im.Adam(w, g, m, v, &s)
			}
		})
	}
}

// BenchmarkGemmTrain runs one core's share (half the rows) of the products
// of a training step of the small nn.Transformer (1,024 tokens, d 256,
// d_ff 1,024, vocabulary 8,000): Linear's forward x·wᵀ, its input gradient
// dy·w and its weight gradient dyᵀ·x.
func BenchmarkGemmTrain(b *testing.B) {
	benchShapes(b, true, []gemmShape{
		{"fwd/512x256x256", false, true, 512, 256, 256},
		{"fwd/512x1024x256", false, true, 512, 1024, 256},
		{"fwd/512x8000x256", false, true, 512, 8000, 256},
		{"dx/512x256x1024", false, false, 512, 256, 1024},
		{"dw/256x256x512", true, false, 256, 256, 512},
	})
}
