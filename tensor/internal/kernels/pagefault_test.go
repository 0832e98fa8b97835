//go:build linux

package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"unsafe"
)

// pageEnd returns a slice of n values of type T ending exactly where an
// inaccessible page begins: a kernel that reads one byte past the slice
// faults. free unmaps it.
func pageEnd[T any](t *testing.T, n int) (s []T, free func()) {
	t.Helper()
	ps := syscall.Getpagesize()
	size := int(unsafe.Sizeof(*new(T)))
	bytes := (n*size + ps - 1) / ps * ps
	mem, err := syscall.Mmap(-1, 0, bytes+ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	if err := syscall.Mprotect(mem[bytes:], syscall.PROT_NONE); err != nil {
		syscall.Munmap(mem)
		t.Skip("mprotect:", err)
	}
	p := unsafe.Pointer(&mem[bytes-n*size])
	return unsafe.Slice((*T)(p), n), func() { syscall.Munmap(mem) }
}

// TestGemmDecodePageEnd: a decode step's products of one to eight rows
// (the dots kernels against Bᵀ, up to eight rows of B a call; the rows
// kernels against B), with A and B ending at an inaccessible page, read
// nothing past them and give the numbers they give on ordinary memory, on
// every implementation.
func TestGemmDecodePageEnd(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			prev, _ := Use(im.Name)
			defer Use(prev.Name)
			rng := rand.New(rand.NewPCG(9, 10))
			for _, m := range []int{1, 2, 3, 5, 8} {
				for _, transB := range []bool{true, false} {
					for _, n := range []int{8, 12, 17, 32, 33, 96} {
						for _, k := range []int{1, 7, 15, 17, 31, 40, 72} {
							b, freeB := pageEnd[float32](t, n*k)
							a, freeA := pageEnd[float32](t, m*k)
							for i := range b {
								b[i] = float32(rng.NormFloat64())
							}
							for i := range a {
								a[i] = float32(rng.NormFloat64())
							}
							ldb := k
							if !transB {
								ldb = n
							}
							want, got := make([]float32, m*n), make([]float32, m*n)
							Gemm(false, transB, m, n, k, 1, slices.Clone(a), k, slices.Clone(b), ldb, 0, want, n)
							Gemm(false, transB, m, n, k, 1, a, k, b, ldb, 0, got, n)
							if !slices.Equal(got, want) {
								t.Errorf("m=%d transB=%v n=%d k=%d: the product at a page's end differs", m, transB, n, k)
							}
							freeA()
							freeB()
						}
					}
				}
			}
		})
	}
}

// TestGemmHalfPageEnd: with A and B ending at an inaccessible page, the
// kernels' masked k tails (and everything else) read nothing past them,
// for every row count and k tail, on every implementation.
func TestGemmHalfPageEnd(t *testing.T) {
	for _, h := range []Half{BF16, F16} {
		for _, im := range Impls() {
			t.Run(fmt.Sprint(im.Name, "/", h), func(t *testing.T) {
				prev, _ := Use(im.Name)
				defer Use(prev.Name)
				rng := rand.New(rand.NewPCG(3, 4))
				for _, m := range []int{1, 3, 4, 5, 8, 9, 16, 17} {
					for _, n := range []int{1, 4, 6, 9, 33} {
						for _, k := range []int{1, 7, 15, 17, 31, 40} {
							bh, freeB := pageEnd[uint16](t, n*k)
							vals, bw := halfs(rng, h, n*k)
							copy(bh, vals)
							a, freeA := pageEnd[float32](t, m*k)
							for i := range a {
								a[i] = float32(rng.NormFloat64())
							}
							want, got := make([]float32, m*n), make([]float32, m*n)
							Gemm(false, true, m, n, k, 1, a, k, bw, k, 0, want, n)
							GemmHalf(h, m, n, k, 1, a, k, bh, k, 0, got, n)
							if !slices.Equal(got, want) {
								t.Errorf("m=%d n=%d k=%d: GemmHalf differs from Gemm on the widened B", m, n, k)
							}
							freeA()
							freeB()
						}
					}
				}
			})
		}
	}
}

// TestGemmQ8PageEnd: with A, B and the scales ending at an inaccessible
// page, the 8-bit kernels read nothing past them.
func TestGemmQ8PageEnd(t *testing.T) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			prev, _ := Use(im.Name)
			defer Use(prev.Name)
			rng := rand.New(rand.NewPCG(5, 6))
			for _, m := range []int{1, 3, 5, 8, 9, 16, 17} { // 17: B dequantized as it is packed
				for _, n := range []int{1, 4, 6, 9, 16} {
					for _, k := range []int{32, 64, 96} {
						qv, sv, w := q8s(rng, n, k, k)
						q, freeQ := pageEnd[int8](t, n*k)
						s, freeS := pageEnd[float32](t, n*k/q8Block)
						copy(q, qv)
						copy(s, sv)
						a, freeA := pageEnd[float32](t, m*k)
						for i := range a {
							a[i] = float32(rng.NormFloat64())
						}
						want, got := make([]float32, m*n), make([]float32, m*n)
						Gemm(false, true, m, n, k, 1, a, k, w, k, 0, want, n)
						GemmQ8(m, n, k, 1, a, k, q, s, k, 0, got, n)
						if !slices.Equal(got, want) {
							t.Errorf("m=%d n=%d k=%d: GemmQ8 differs from Gemm on the dequantized B", m, n, k)
						}
						freeA()
						freeS()
						freeQ()
					}
				}
			}
		})
	}
}
