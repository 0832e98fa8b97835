//go:build !purego

package kernels

//go:generate go run asm_gen.go

// Assembly in gemm_amd64.s, written by asm_gen.go.

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

//go:noescape
func xgetbv() (eax, edx uint32)

// The micro-kernels compute an r×nr tile of C (nr = 64 for AVX-512, 16 for
// AVX2): C[i, 0:nr] = alpha·Σp a[p·pw+i]·b[p·ldb+j] (+ beta·C[i, j] when
// accum != 0), with a pointing into a packed panel of A of k steps of pw
// values (pwAVX512, pwAVX2) and b k rows of nr values, ldb apart. ldb and
// ldc count elements.

//go:noescape
func gemm512R1(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R3(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R4(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R5(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R6(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm256R1(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm256R2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm256R3(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm256R4(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm256R5(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm256R6(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

// gemm256D<r> computes the same r×16 tile as gemm256R<r> but reads A
// unpacked and row-major, with an optional bias, as gemm512D<r> does.

//go:noescape
func gemm256D1(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm256D2(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm256D3(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm256D4(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm256D5(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm256D6(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

// gemm512D<r> computes the same r×64 tile as gemm512R<r> but reads A
// unpacked and row-major: A(i, p) = a[i·lda+p]; with a bias (64 values) and
// accum 0 it also adds the bias to every row.
//
//go:noescape
func gemm512D1(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D2(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D3(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D4(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D5(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D6(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

// gemm512R<r>N and gemm512D<r>N compute r×32 tiles (r <= 12): the
// narrow arch512N, and for 6 rows arch512's last panel when it is at most
// 32 columns wide.

//go:noescape
func gemm512R1N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R2N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R3N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R4N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R5N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R6N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R7N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R8N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R9N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R10N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R11N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512R12N(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512D1N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D2N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D3N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D4N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D5N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D6N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D7N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D8N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D9N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D10N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D11N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

//go:noescape
func gemm512D12N(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

// dots512bf16R<r> is dots512R<r> with B in bfloat16 (uint16), widened
// exactly as it is loaded: the same sums as dots512R<r> on the widened B.

//go:noescape
func dots512bf16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512bf16R2(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512bf16R3(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512bf16R4(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512bf16R5(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512bf16R6(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512bf16R7(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512bf16R8(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

// dots512f16R<r> is dots512R<r> with B in IEEE half precision (uint16),
// widened exactly as it is loaded.

//go:noescape
func dots512f16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512f16R2(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512f16R3(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512f16R4(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512f16R5(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512f16R6(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512f16R7(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512f16R8(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

// dots512W8R1 is dots512R1 for eight rows of B: out[j] = Σp a[p]·b[j·ldb+p]
// for j < 8, each exactly as dots512R1 computes it; dots512W8bf16R1 and
// dots512W8f16R1 are dots512bf16R1 and dots512f16R1 for eight rows.
//
//go:noescape
func dots512W8R1(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512W8bf16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots512W8f16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

// dots256W8R1 is dots256R1 for eight rows of B, each exactly as dots256R1
// computes it (AVX2).
//
//go:noescape
func dots256W8R1(k int, a *float32, lda int, b *float32, ldb int, out *float32)

// dots256W8bf16R1 and dots256W8f16R1 are dots256bf16R1 and dots256f16R1
// for eight rows of B (AVX2).
//
//go:noescape
func dots256W8bf16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256W8f16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

// dots512R<r> computes out[i·cb+j] = Σp a[i·lda+p]·b[j·ldb+p] for i < r,
// j < cb, p < k, where cb = 4 for r <= 4, else 2 (AVX-512). out must have
// room for 16 values.
//
//go:noescape
func dots512R1(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512R2(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512R3(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512R4(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512R5(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512R6(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512R7(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots512R8(k int, a *float32, lda int, b *float32, ldb int, out *float32)

// rows512 adds, for 8 rows of B and n (a multiple of 32, > 0) columns,
// C[i, 0:n] += Σp a[p·8+i]·B[p, 0:n] for i < r (AVX-512).
//
//go:noescape
func rows512(r, n int, a *float32, b *float32, ldb int, c *float32, ldc int)

// rows256R1 is rows256 for r = 1, with its numbers (AVX2).
//
//go:noescape
func rows256R1(r, n int, a *float32, b *float32, ldb int, c *float32, ldc int)

// rows512R1 is rows512 for r = 1, with its numbers: the coefficients
// broadcast once, B multiplied straight from memory.
//
//go:noescape
func rows512R1(r, n int, a *float32, b *float32, ldb int, c *float32, ldc int)

// dots256R<r> are dots512R<r> for AVX2: r rows of A against 2 rows of B
// (r <= 4) or 1 (r > 4).

//go:noescape
func dots256R1(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots256R2(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots256R3(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots256R4(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots256R5(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots256R6(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots256R7(k int, a *float32, lda int, b *float32, ldb int, out *float32)

//go:noescape
func dots256R8(k int, a *float32, lda int, b *float32, ldb int, out *float32)

// dots256bf16R<r>, dots256f16R<r> and dots256q8R<r> are dots256R<r> on B in
// bfloat16, half precision (F16C) and 8 bits with block scales, as
// dots512's variants are.

//go:noescape
func dots256bf16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256bf16R2(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256bf16R3(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256bf16R4(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256bf16R5(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256bf16R6(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256bf16R7(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256bf16R8(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R1(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R2(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R3(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R4(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R5(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R6(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R7(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256f16R8(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

//go:noescape
func dots256q8R1(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots256q8R2(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots256q8R3(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots256q8R4(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots256q8R5(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots256q8R6(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots256q8R7(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots256q8R8(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

// rows256 is rows512 for AVX2.
//
//go:noescape
func rows256(r, n int, a *float32, b *float32, ldb int, c *float32, ldc int)

// transpose8 sets dst[(8b+q)·dstStride + r] = src[r·ld + 8b+q] for r, q < 8
// and b < n8 (AVX).
//
//go:noescape
func transpose8(src *float32, ld int, dst *float32, dstStride int, n8 int)

// dots512q8R<r> is dots512R<r> with B in 8-bit integers and a float32
// scale per block of 32 (k a multiple of 32): each value widened and
// scaled as it is loaded.

//go:noescape
func dots512q8R1(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots512q8R2(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots512q8R3(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots512q8R4(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots512q8R5(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots512q8R6(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots512q8R7(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

//go:noescape
func dots512q8R8(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

// transpose8bf16 is transpose8 from bfloat16 values, widened.
//
//go:noescape
func transpose8bf16(src *uint16, ld int, dst *float32, dstStride int, n8 int)

// transpose8q8 is transpose8 from 8-bit values with a float32 scale for
// each block of 32 of a row (row r's at s[r·ld/32:]), dequantized; n8 is a
// multiple of 4.
//
//go:noescape
func transpose8q8(src *int8, ld int, s *float32, dst *float32, dstStride int, n8 int)

// transpose8f16 is transpose8 from IEEE half-precision values, widened.
//
//go:noescape
func transpose8f16(src *uint16, ld int, dst *float32, dstStride int, n8 int)

// copyPanels<w> sets dst[q·ps + p·w + j] = src[p·ld + q·w + j] for p < k,
// q < np, j < w (AVX).
//
//go:noescape
func copyPanels6(dst *float32, ps int, src *float32, ld, k, np int)

//go:noescape
func copyPanels12(dst *float32, ps int, src *float32, ld, k, np int)

//go:noescape
func copyPanels16(dst *float32, ps int, src *float32, ld, k, np int)

// mxcsr returns this thread's MXCSR, whose flush-to-zero and
// denormals-are-zero bits the GEMM micro-kernels set while they run (see
// ftzEnter in asm_gen.go) and must leave as they found them.
func mxcsr() uint32

//go:noescape
func copyPanels64(dst *float32, ps int, src *float32, ld, k, np int)

// peak512 and peak256 run n iterations of register-only FMAs: 24 zmm
// (768 flops) and 12 ymm (192 flops) per iteration.
func peak512(n int)

func peak256(n int)

//go:noescape
func dot512(x, y *float32, n int) float32

//go:noescape
func axpy512(alpha float32, x, y *float32, n int)

// dot256 and axpy256 need n to be a multiple of 8.
//
//go:noescape
func dot256(x, y *float32, n int) float32

//go:noescape
func axpy256(alpha float32, x, y *float32, n int)

// sumRows512 and sumRows256 are SumRows over the first nv vectors (16 or 8
// floats) of sum.
//
//go:noescape
func sumRows512(sum, x *float32, rows, ld, nv, fresh int)

//go:noescape
func sumRows256(sum, x *float32, rows, ld, nv, fresh int)

// sumRowsVec returns SumRows with the kernel kern over vectors of w floats
// and the plain loop on the last columns.
func sumRowsVec(kern func(sum, x *float32, rows, ld, nv, fresh int), w int) func(sum, x []float32, rows, ld int, fresh bool) {
	return func(sum, x []float32, rows, ld int, fresh bool) {
		nv := len(sum) / w
		if nv > 0 {
			f := 0
			if fresh {
				f = 1
			}
			kern(&sum[0], &x[0], rows, ld, nv, f)
		}
		if n := nv * w; n < len(sum) {
			sumRowsGeneric(sum[n:], x[n:], rows, ld, fresh)
		}
	}
}

var (
	hasAVX2FMA bool // AVX2, FMA and F16C, with the OS saving ymm state
	hasAVX512  bool // AVX-512 F and VL, with the OS saving zmm and opmask state
)

func detect() {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
		f16c    = 1 << 29 // half-precision conversions, on every CPU with AVX2
	)
	if ecx1&(fma|osxsave|avx|f16c) != fma|osxsave|avx|f16c {
		return
	}
	xcr0, _ := xgetbv()
	if xcr0&0x6 != 0x6 { // SSE and AVX state
		return
	}
	maxSub7, ebx7, _, _ := cpuid(7, 0) // eax: the highest subleaf of leaf 7
	const (
		avx2     = 1 << 5
		avx512f  = 1 << 16
		avx512dq = 1 << 17
		avx512vl = 1 << 31
	)
	hasAVX2FMA = ebx7&avx2 != 0
	hasAVX512 = hasAVX2FMA && ebx7&(avx512f|avx512vl) == avx512f|avx512vl && xcr0&0xe6 == 0xe6 // + opmask, ZMM_Hi256, Hi16_ZMM
	hasAVX2FMA = hasAVX2FMA && cpuCap >= 1
	hasAVX512 = hasAVX512 && cpuCap >= 2
	avx512DQ = hasAVX512 && ebx7&avx512dq != 0
	if hasAVX512 && maxSub7 >= 1 {
		eax71, _, _, _ := cpuid(7, 1)
		const (
			avx512bf16 = 1 << 5  // of eax, leaf 7.1
			avx512bw   = 1 << 30 // of ebx, leaf 7.0: VPERMW, which packing uses
		)
		hasBF16 = eax71&avx512bf16 != 0 && ebx7&avx512bw != 0
	}
}

// Values per step of k in a packed panel of A, as asm_gen.go's pw512 and
// pw256 compile them into the R kernels. AVX-512's 6-row strips take either
// half of a 12-row panel, so a transposed A is packed by copyPanels12:
// copying 6 floats a row ran at half its speed (2.0 against 3.9 GB/s from
// a 1,024×8,000 dy) and made the weight gradients 2–11% slower.
const (
	pwAVX512 = 12
	pwAVX2   = 6
)

// arch512's register tile is 6×64: 24 zmm accumulators, four for the row
// of B and two for broadcasts (see gemm512 in asm_gen.go for why not 12×32).
var arch512 = &gemmArch{
	mr: 6, nr: 64, pw: pwAVX512,
	kern:   [13]microKernel{nil, gemm512R1, gemm512R2, gemm512R3, gemm512R4, gemm512R5, gemm512R6},
	direct: [13]directKernel{nil, gemm512D1, gemm512D2, gemm512D3, gemm512D4, gemm512D5, gemm512D6},
	narrow: arch512N,
	dots:   [...]dotsKernel{nil, dots512R1, dots512R2, dots512R3, dots512R4, dots512R5, dots512R6, dots512R7, dots512R8},
	dotsCB: [9]int{0, 4, 8, 4, 4, 4, 4, 3, 3}, // asm_gen.go's dotsCB512
	dots8:  dots512W8R1,
	dotsHalf8: [2]dotsHalfKernel{
		BF16: dots512W8bf16R1,
		F16:  dots512W8f16R1,
	},
	dot:  dotAVX512,
	axpy: axpyAVX512,
	dotsHalf: [2][9]dotsHalfKernel{
		BF16: {nil, dots512bf16R1, dots512bf16R2, dots512bf16R3, dots512bf16R4, dots512bf16R5, dots512bf16R6, dots512bf16R7, dots512bf16R8},
		F16:  {nil, dots512f16R1, dots512f16R2, dots512f16R3, dots512f16R4, dots512f16R5, dots512f16R6, dots512f16R7, dots512f16R8},
	},
	dotsQ8:   [9]dotsQ8Kernel{nil, dots512q8R1, dots512q8R2, dots512q8R3, dots512q8R4, dots512q8R5, dots512q8R6, dots512q8R7, dots512q8R8},
	dotsQ8CB: [9]int{0, 4, 4, 4, 4, 3, 3, 3, 3}, // asm_gen.go's dotsQ8CB512
	rows:     rows512,
	rows1:    rows512R1,
}

// arch512N computes the products at most 32 columns wide (attention's
// scores over blocks of 32 keys) with the 12×32 tile arch512 had before:
// there, 6×64 computed half-empty panels, and 6×32 ran 30–37% slower than
// 12×32 on 32×32×64 products (41 pairs toggled in one process).
var arch512N = &gemmArch{
	mr: 12, nr: 32, pw: pwAVX512,
	kern:   [13]microKernel{nil, gemm512R1N, gemm512R2N, gemm512R3N, gemm512R4N, gemm512R5N, gemm512R6N, gemm512R7N, gemm512R8N, gemm512R9N, gemm512R10N, gemm512R11N, gemm512R12N},
	direct: [13]directKernel{nil, gemm512D1N, gemm512D2N, gemm512D3N, gemm512D4N, gemm512D5N, gemm512D6N, gemm512D7N, gemm512D8N, gemm512D9N, gemm512D10N, gemm512D11N, gemm512D12N},
}

// arch256 is the AVX2 arch: a 6×16 tile, 12 ymm accumulators. Its direct
// kernels read a row-major A in place as arch512's do; packing A took 13%
// of the small training step on these kernels, and reading it in place
// made that step 1.045× faster and GPT-2's 128-token prompt products
// 1.03–1.10× (in-process toggles, ATTN_CPU=avx2 on an AVX-512 machine).
// Its dots and rows kernels keep decoding at memory speed: GPT-2 small's
// token took 2.1× the time of reading its weights once through the packed
// kernels, 1.15× with them (attn bench decode).
var arch256 = &gemmArch{
	mr: 6, nr: 16, pw: pwAVX2,
	kern:   [13]microKernel{nil, gemm256R1, gemm256R2, gemm256R3, gemm256R4, gemm256R5, gemm256R6},
	direct: [13]directKernel{nil, gemm256D1, gemm256D2, gemm256D3, gemm256D4, gemm256D5, gemm256D6},
	dots:   [...]dotsKernel{nil, dots256R1, dots256R2, dots256R3, dots256R4, dots256R5, dots256R6, dots256R7, dots256R8},
	dotsHalf: [2][9]dotsHalfKernel{
		BF16: {nil, dots256bf16R1, dots256bf16R2, dots256bf16R3, dots256bf16R4, dots256bf16R5, dots256bf16R6, dots256bf16R7, dots256bf16R8},
		F16:  {nil, dots256f16R1, dots256f16R2, dots256f16R3, dots256f16R4, dots256f16R5, dots256f16R6, dots256f16R7, dots256f16R8},
	},
	dotsQ8:   [9]dotsQ8Kernel{nil, dots256q8R1, dots256q8R2, dots256q8R3, dots256q8R4, dots256q8R5, dots256q8R6, dots256q8R7, dots256q8R8},
	dotsCB:   [9]int{0, 2, 4, 3, 2, 2, 2, 1, 1}, // asm_gen.go's dotsCB256
	dotsQ8CB: [9]int{0, 2, 2, 2, 2, 1, 1, 1, 1},
	dot:      dotAVX2,
	axpy:     axpyAVX2,
	rows:     rows256,
	rows1:    rows256R1,
	dots8:    dots256W8R1,
	dotsHalf8: [2]dotsHalfKernel{
		BF16: dots256W8bf16R1,
		F16:  dots256W8f16R1,
	},
}

func init() {
	detect()
	if hasAVX2FMA {
		impls = append(impls, Impl{Name: "avx2", Gemm: arch256.gemm, GemmBias: arch256.gemmBias, GemmSmall: arch256.gemmSmall, GemmHalf: arch256.gemmHalf, GemmQ8: arch256.gemmQ8, Dot: dotAVX2, Axpy: axpyAVX2, Adam: adamAVX2Go, SumRows: sumRowsVec(sumRows256, 8), MR: 6, NR: 16, DirectA: true, gemmBand: arch256.gemmBand})
	}
	if hasAVX512 {
		impls = append(impls, Impl{Name: "avx512", Gemm: arch512.gemm, GemmBias: arch512.gemmBias, GemmSmall: arch512.gemmSmall, GemmHalf: arch512.gemmHalf, GemmQ8: arch512.gemmQ8, Dot: dotAVX512, Axpy: axpyAVX512, Adam: adamAVX2Go, SumRows: sumRowsVec(sumRows512, 16), MR: 6, NR: 64, DirectA: true, gemmBand: arch512.gemmBand, team: true})
	}
	active = impls[len(impls)-1]
	if hasBF16 { // only set with hasAVX512
		bf16Of = bf16Impl
	}
	switch {
	case hasAVX512:
		peakLoop = func(n int) float64 { peak512(n); return 768 * float64(n) }
	case hasAVX2FMA:
		peakLoop = func(n int) float64 { peak256(n); return 192 * float64(n) }
	}
}

func dotAVX512(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	y = y[:len(x)]
	return dot512(&x[0], &y[0], len(x))
}

func axpyAVX512(alpha float32, x, y []float32) {
	if len(x) == 0 {
		return
	}
	y = y[:len(x)]
	axpy512(alpha, &x[0], &y[0], len(x))
}

func dotAVX2(x, y []float32) float32 {
	y = y[:len(x)]
	n := len(x) &^ 7
	var s float32
	if n > 0 {
		s = dot256(&x[0], &y[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

//go:noescape
func adamAVX2(w, grad, m, v *float32, n int, s *AdamStep)

// adamAVX2Go runs Adam in AVX2 assembly (memory-bound, so AVX-512 gains
// nothing) and the tail in Go.
func adamAVX2Go(w, g, m, v []float32, s *AdamStep) {
	n := len(w) &^ 7
	if n > 0 {
		adamAVX2(&w[0], &g[:n][0], &m[:n][0], &v[:n][0], n, s)
	}
	adamGeneric(w[n:], g[n:], m[n:], v[n:], s)
}

func axpyAVX2(alpha float32, x, y []float32) {
	y = y[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		axpy256(alpha, &x[0], &y[0], n)
	}
	for i := n; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}
