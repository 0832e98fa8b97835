package tensor

import "github.com/attn-go/attn/tensor/internal/kernels"

// gemmGrain is roughly the number of multiply-adds below which splitting a
// GEMM over goroutines costs more than it saves.
const gemmGrain = 1 << 15

// Gemm computes C = alpha·op(A)·op(B) + beta·C on row-major slices, where
// op(X) is X or Xᵀ, op(A) is m×k, op(B) is k×n and C is m×n with row strides
// lda, ldb, ldc. It splits the rows (or, for short wide products, the columns)
// of C over the worker pool. When beta is 0, C is not read.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	work := m * n * max(k, 1)
	if workers == 1 || work < 2*gemmGrain {
		kernels.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= 2*workers || m >= n {
		rowsPer := max(1, gemmGrain/(n*max(k, 1)))
		Parallel(m, rowsPer, func(lo, hi int) {
			aOff := lo * lda
			if transA {
				aOff = lo
			}
			kernels.Gemm(transA, transB, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	colsPer := max(1, gemmGrain/(m*max(k, 1)))
	Parallel(n, colsPer, func(lo, hi int) {
		bOff := lo
		if transB {
			bOff = lo * ldb
		}
		kernels.Gemm(transA, transB, m, hi-lo, k, alpha, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
	})
}

// GemmSerial is Gemm on the calling goroutine only, for use inside work that
// is already spread over the pool (one GEMM per attention head, say).
func GemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernels.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dot returns Σ x[i]·y[i].
func Dot(x, y []float32) float32 { return kernels.Dot(x, y) }

// Axpy computes y += alpha·x.
func Axpy(alpha float32, x, y []float32) { kernels.Axpy(alpha, x, y) }

// MatMul computes dst = op(a)·op(b) for 2-D tensors (or dst += when
// accumulate is set), where op transposes when the flag is set.
func MatMul(dst, a, b *Tensor, transA, transB, accumulate bool) {
	m, k := a.Shape[0], a.Shape[1]
	if transA {
		m, k = k, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if transB {
		kb, n = n, kb
	}
	if k != kb || dst.Shape[0] != m || dst.Shape[1] != n {
		panic("tensor.MatMul: shapes do not match")
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	Gemm(transA, transB, m, n, k, 1, a.Data, a.Shape[1], b.Data, b.Shape[1], beta, dst.Data, n)
}
