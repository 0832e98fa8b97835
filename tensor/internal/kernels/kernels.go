// Package kernels holds the hot loops of attn: GEMM and the vector primitives
// that the tensor package spreads over cores.
//
// Every routine has a pure-Go implementation (the reference, and the fallback
// used with the purego build tag); faster implementations register themselves
// in impls when the CPU supports them. Tests run every registered
// implementation.
//
// On amd64 (without purego), gemm_amd64.go detects the CPU's features once
// at start and registers "avx2" (AVX2, FMA and F16C; a 6×16 register tile)
// and "avx512" (AVX-512 F+VL; a 6×64 tile, and 12×32 for products at most
// 32 columns wide). Both have kernels that read a row-major A in place, and
// unpacked kernels for the skinny m <= 8 products of decoding. Their GEMM
// is the cache-blocked, packed GotoBLAS/BLIS scheme of blocked_amd64.go
// around assembly micro-kernels in gemm_amd64.s, which asm_gen.go generates
// (go generate ./tensor/internal/kernels).
//
// UseBF16 swaps in "avx512-bf16", whose products round their operands to
// bfloat16 as they pack them and multiply them with AVX512_BF16's
// VDPBF16PS (bf16_amd64.go).
//
// The environment variable ATTN_CPU caps the implementations registered:
// avx512 (the default, the best this CPU runs), avx2 or generic. One
// machine can then test and time the paths of an older one, as PyTorch's
// ATEN_CPU_CAPABILITY does; the packages with vector loops of their own
// follow it through HasAVX2FMA and HasAVX512DQ.
package kernels

import (
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
)

// EnvCPU is the environment variable read once at start (see the package doc).
const EnvCPU = "ATTN_CPU"

// cpuCap is the widest implementation EnvCPU allows: 0 generic, 1 avx2,
// 2 avx512; envErr is set when EnvCPU names none of them.
var cpuCap, envErr = parseCPU(os.Getenv(EnvCPU))

func parseCPU(v string) (int, error) {
	switch v {
	case "", "avx512":
		return 2, nil
	case "avx2":
		return 1, nil
	case "generic":
		return 0, nil
	}
	return 2, fmt.Errorf("%s=%q: want avx512, avx2 or generic", EnvCPU, v)
}

// Setting returns the name of the implementation in use and, when EnvCPU
// holds a value that names no implementation (and was ignored), an error
// saying so.
func Setting() (name string, err error) { return active.Name, envErr }

// Impl is one implementation of the hot loops. All functions work on
// row-major float32 slices and never allocate.
type Impl struct {
	// Name identifies the implementation ("generic", "avx2", "avx512").
	Name string
	// Gemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ.
	// op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb, ldc are row strides.
	// When beta is 0, C is overwritten without being read (NaNs in C vanish).
	Gemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// GemmBias, when set, computes C = op(A)·op(B) + bias (n values added
	// to every row) without first writing the bias into C.
	GemmBias func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int)
	// GemmHalf, when set, computes C = alpha·A·Bᵀ + beta·C with B (n×k,
	// rows ldb apart) in a 16-bit format, giving the numbers Gemm gives on
	// B widened to float32 (which is exact); else GemmHalf widens B a
	// block at a time and calls Gemm.
	GemmHalf func(h Half, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int)
	// GemmQ8, when set, computes GemmQ8 (see there); else GemmQ8
	// dequantizes B a block at a time and calls Gemm.
	GemmQ8 func(m, n, k int, alpha float32, a []float32, lda int, b []int8, s []float32, ldb int, beta float32, c []float32, ldc int)
	// GemmSmall, when set, computes Gemm for row-major A and B (no
	// transposes) read in place, without blocking or packing: for products
	// whose operands fit in L1; else GemmSmall calls Gemm.
	GemmSmall func(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// Dot returns Σ x[i]·y[i] over len(x) elements.
	Dot func(x, y []float32) float32
	// Axpy computes y[i] += alpha·x[i] over len(x) elements.
	Axpy func(alpha float32, x, y []float32)
	// Adam applies one Adam step (see AdamStep) to the weights w with
	// gradients g and moments m, v, all of len(w) elements.
	Adam func(w, g, m, v []float32, s *AdamStep)
	// SumRows adds rows [0, rows) of x (rows ld apart, len(sum) values
	// each; rows >= 1) to sum, or with fresh set, sets sum to their sum:
	// each column summed in row order, so every implementation, and any
	// split of the columns, gives the bits of the plain loop.
	SumRows func(sum, x []float32, rows, ld int, fresh bool)
	// MR and NR are the register tile of Gemm: a parallel split of C along
	// rows (columns) should cut at multiples of MR (NR) so that no piece
	// but the last has a ragged edge.
	MR, NR int
	// DirectA is set when Gemm reads a row-major op(A) (transA false) in
	// place instead of packing it, so splitting C by columns costs no
	// packing twice.
	DirectA bool
	// BF16 is set when Gemm, GemmBias and GemmBand round op(A) and op(B)
	// to bfloat16 (see UseBF16).
	BF16 bool
	// team is set when NewTeam can share this implementation's products
	// (avx512 only).
	team bool
	// gemmBand, when set, is GemmBand: Gemm or GemmBias whose blocks
	// goroutines calling Band.Help may share.
	gemmBand func(band *Band, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int)
}

// impls lists the implementations this CPU supports, best last.
var impls = []Impl{generic}

// active is the implementation in use.
var active = impls[len(impls)-1]

// Impls returns the implementations this CPU supports, best last.
func Impls() []Impl { return impls }

// Active returns the implementation in use.
func Active() Impl { return active }

// Use switches to the implementation named name and returns the previous one,
// so tests can run every path. It reports false if name is not supported here.
func Use(name string) (prev Impl, ok bool) {
	for _, im := range impls {
		if im.Name == name {
			prev, active = active, im
			return prev, true
		}
	}
	return active, false
}

// skinnyRowsBF16 is the most rows of a product that UseBF16 leaves in
// float32 (skinnyBF16).
const skinnyRowsBF16 = 4

// UseBF16 switches the products of the active implementation to bfloat16
// (on) or back to float32, as PyTorch's
// torch.set_float32_matmul_precision("medium") does: op(A) and op(B) are
// rounded to bfloat16 and their products summed in float32, at twice the
// multiply-adds per instruction. GemmSmall (attention's tiles), GemmHalf,
// GemmQ8 and products of 4 rows or fewer (skinnyBF16) stay in float32. It
// fails, changing nothing, where the CPU lacks AVX512_BF16 or the active
// implementation is not avx512. Not safe to call while products run.
func UseBF16(on bool) error {
	if active.BF16 == on {
		return nil
	}
	if !on {
		for _, im := range impls {
			if im.Name == "avx512" {
				active = im
				return nil
			}
		}
	}
	if active.Name != "avx512" || bf16Of == nil {
		return fmt.Errorf("bfloat16 products need the avx512 kernels and a CPU with AVX512_BF16 (kernels in use: %s)", active.Name)
	}
	active = bf16Of(active)
	return nil
}

// toBF16 rounds f to the nearest bfloat16 (ties to even), returned in the
// low 16 bits, as VCVTNEPS2BF16 does: a NaN stays a NaN (quiet), and a
// denormal becomes a zero of its sign.
func toBF16(f float32) uint32 {
	b := math.Float32bits(f)
	switch e := b & 0x7f800000; {
	case b&0x7fffffff > 0x7f800000:
		return b>>16 | 0x40
	case e == 0:
		return b >> 16 & 0x8000
	}
	return (b + 0x7fff + b>>16&1) >> 16
}

// bf16Of returns an implementation with its products in bfloat16; it is
// set where the CPU has them.
var bf16Of func(Impl) Impl

// PeakLoop runs n iterations of the widest fused multiply-add loop this CPU
// has, on registers only, and returns the floating-point operations it did.
// Timing it on every core at once measures the machine's FMA peak, the
// ceiling GEMM throughput is read against.
func PeakLoop(n int) (flops float64) { return peakLoop(n) }

var peakLoop = func(n int) float64 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	x, y := float32(0.999), float32(1e-3)
	for range n {
		s0 = s0*x + y
		s1 = s1*x + y
		s2 = s2*x + y
		s3 = s3*x + y
		s4 = s4*x + y
		s5 = s5*x + y
		s6 = s6*x + y
		s7 = s7*x + y
	}
	peakSink.Store(math.Float32bits(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7))
	return 16 * float64(n)
}

// peakSink keeps the pure-Go loop's sums live; atomic, as every core runs
// the loop at once.
var peakSink atomic.Uint32

// HasAVX2FMA reports whether the CPU (and OS) run AVX2 and FMA code and
// this build has assembly: an "avx2" implementation is registered.
func HasAVX2FMA() bool { return registered("avx2") }

// HasAVX512DQ reports whether the "avx512" implementation is registered
// and the CPU also multiplies 64-bit lanes (AVX-512 DQ), for packages with
// vector loops of their own.
func HasAVX512DQ() bool { return avx512DQ && registered("avx512") }

// registered reports whether the implementation called name is registered.
func registered(name string) bool {
	for _, im := range impls {
		if im.Name == name {
			return true
		}
	}
	return false
}

// avx512DQ is set by the CPU detection of builds with assembly.
var avx512DQ bool

// Tile returns the register tile (MR, NR) of the active implementation.
func Tile() (mr, nr int) { return active.MR, active.NR }

// PacksA reports whether the active Gemm packs op(A) (see Impl.DirectA).
func PacksA(transA bool) bool { return transA || !active.DirectA }

// Gemm computes C = alpha·op(A)·op(B) + beta·C with the active implementation.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	active.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmSmall computes C = alpha·A·B + beta·C, A (m×k) and B (k×n) row-major,
// for small products whose operands are in cache; see Impl.GemmSmall.
func GemmSmall(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if active.GemmSmall != nil {
		active.GemmSmall(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	active.Gemm(false, false, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmBias computes C = op(A)·op(B) + bias, bias (n values) added to every
// row, with the active implementation: in the kernels' last step where it
// has them, else by setting C's rows to the bias and adding the product.
func GemmBias(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	if active.GemmBias != nil {
		active.GemmBias(transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	gemmBiasByRows(active.Gemm, transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
}

// GemmBand computes Gemm (bias nil) or GemmBias as band's share of a
// parallel product, letting goroutines that call band.Help take part of it
// (see Band). It does not finish the band.
func GemmBand(band *Band, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	if active.gemmBand != nil {
		active.gemmBand(band, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc)
		return
	}
	band.Finish() // nothing here to share
	if bias != nil {
		GemmBias(transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmBiasByRows is GemmBias for a gemm without a bias of its own: C's rows
// are set to the bias and the product added.
func gemmBiasByRows(gemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int),
	transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		copy(c[i*ldc:i*ldc+n], bias[:n])
	}
	gemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 1, c, ldc)
}

// Half is a 16-bit floating-point format of stored weights; both widen to
// float32 exactly.
type Half uint8

const (
	BF16 Half = iota // bfloat16: the upper half of a float32
	F16              // IEEE 754 half precision
)

func (h Half) String() string {
	if h == F16 {
		return "f16"
	}
	return "bf16"
}

// value returns x widened to float32.
func (h Half) value(x uint16) float32 {
	if h == F16 {
		return f16ToF32(x)
	}
	return math.Float32frombits(uint32(x) << 16)
}

// Widen sets dst[i] to src[i] widened to float32.
func (h Half) Widen(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = h.value(x)
	}
}

// f16ToF32 widens an IEEE half-precision value exactly (a NaN stays a NaN,
// quieted as the hardware conversion quiets it).
func f16ToF32(x uint16) float32 {
	sign := uint32(x&0x8000) << 16
	exp := uint32(x>>10) & 0x1f
	mant := uint32(x) & 0x3ff
	switch {
	case exp == 0x1f && mant != 0:
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
	return math.Float32frombits(sign | math.Float32bits(float32(mant)*(1.0/(1<<24)))) // zero or subnormal
}

// GemmHalf computes C = alpha·A·Bᵀ + beta·C, A m×k in float32, B n×k in
// the 16-bit format h (a model's weights kept in half the memory), with the
// active implementation: the numbers of Gemm(false, true, …) on B widened
// to float32, which is exact.
func GemmHalf(h Half, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	if active.GemmHalf != nil {
		active.GemmHalf(h, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmWidened(active.Gemm, bOperand{h: b, kind: h}, m, n, k, alpha, a, lda, ldb, beta, c, ldc)
}

// bOperand is the B of a product stored in float32 (f) or, transposed
// (A·Bᵀ), in fewer bits read as float32: 16-bit (h, in the format kind) or
// 8-bit with a scale for each block of q8Block values of a row (q, s).
type bOperand struct {
	f    []float32
	h    []uint16
	kind Half
	q    []int8
	s    []float32
}

// from returns B from row j on (rows ldb apart).
func (b bOperand) from(j, ldb int) bOperand {
	switch {
	case b.q != nil:
		return bOperand{q: b.q[j*ldb:], s: b.s[j*ldb/q8Block:]}
	case b.h != nil:
		return bOperand{h: b.h[j*ldb:], kind: b.kind}
	}
	return bOperand{f: b.f[j*ldb:]}
}

// row returns the k values of row j of a transposed B in float32: its own,
// or widened (dequantized) into dst, which has room for k.
func (b bOperand) row(j, k, ldb int, dst []float32) []float32 {
	switch {
	case b.q != nil:
		dequantizeQ8(dst[:k], b.q[j*ldb:j*ldb+k], b.s[j*ldb/q8Block:])
	case b.h != nil:
		b.kind.Widen(dst[:k], b.h[j*ldb:j*ldb+k])
	default:
		return b.f[j*ldb : j*ldb+k]
	}
	return dst[:k]
}

// widenBlock is the most rows of a 16- or 8-bit B that gemmWidened widens
// at once: a multiple of every implementation's column tile, so that the
// blocks split the product where a parallel split would.
const widenBlock = 512

// gemmWidened computes C = alpha·A·Bᵀ + beta·C with gemm on blocks of a
// 16- or 8-bit B widened to float32 (widenBlock rows at a time, in a
// buffer of its own): GemmHalf and GemmQ8 where the implementation has no
// kernels of its own for them.
func gemmWidened(gemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int),
	b bOperand, m, n, k int, alpha float32, a []float32, lda, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		gemm(false, true, m, n, 0, alpha, a, lda, nil, 1, beta, c, ldc)
		return
	}
	w := widenBufs.Get().(*[]float32)
	if need := min(n, widenBlock) * k; cap(*w) < need {
		*w = make([]float32, need)
	}
	for j0 := 0; j0 < n; j0 += widenBlock {
		rows := min(widenBlock, n-j0)
		blk := (*w)[:rows*k]
		for r := range rows {
			b.row(j0+r, k, ldb, blk[r*k:(r+1)*k])
		}
		gemm(false, true, m, rows, k, alpha, a, lda, blk, k, beta, c[j0:], ldc)
	}
	widenBufs.Put(w)
}

var widenBufs = sync.Pool{New: func() any { return new([]float32) }}

// q8Block is the number of values of a row of an 8-bit B that share a
// scale.
const q8Block = 32

// Q8Block is q8Block, for the packages that quantize.
const Q8Block = q8Block

// GemmQ8 computes C = alpha·A·Bᵀ + beta·C, A m×k in float32, B n×k in 8-bit
// integers b (rows ldb apart) with a float32 scale for each block of
// q8Block values of a row (s: row j's at s[j·ldb/q8Block:]), with the
// active implementation: the numbers of Gemm(false, true, …) on the
// dequantized B, whose values are s·b rounded to float32 once. k and ldb
// must be multiples of q8Block.
func GemmQ8(m, n, k int, alpha float32, a []float32, lda int, b []int8, s []float32, ldb int, beta float32, c []float32, ldc int) {
	if k%q8Block != 0 || ldb%q8Block != 0 {
		panic(fmt.Sprintf("kernels.GemmQ8: k %d and ldb %d must be multiples of %d", k, ldb, q8Block))
	}
	if active.GemmQ8 != nil {
		active.GemmQ8(m, n, k, alpha, a, lda, b, s, ldb, beta, c, ldc)
		return
	}
	gemmWidened(active.Gemm, bOperand{q: b, s: s}, m, n, k, alpha, a, lda, ldb, beta, c, ldc)
}

// dequantizeQ8 sets dst[i] = s[i/q8Block]·float32(q[i]).
func dequantizeQ8(dst []float32, q []int8, s []float32) {
	dst = dst[:len(q)]
	for i, v := range q {
		dst[i] = s[i/q8Block] * float32(v)
	}
}

// DequantizeQ8 is dequantizeQ8, for the packages that quantize.
func DequantizeQ8(dst []float32, q []int8, s []float32) { dequantizeQ8(dst, q, s) }

// Dot returns Σ x[i]·y[i] with the active implementation.
func Dot(x, y []float32) float32 { return active.Dot(x, y) }

// Axpy computes y += alpha·x with the active implementation.
func Axpy(alpha float32, x, y []float32) { active.Axpy(alpha, x, y) }

// SumRows sums rows of x into sum with the active implementation (see
// Impl.SumRows).
func SumRows(sum, x []float32, rows, ld int, fresh bool) {
	if len(sum) == 0 || rows <= 0 {
		if fresh {
			clear(sum)
		}
		return
	}
	_ = x[(rows-1)*ld+len(sum)-1]
	active.SumRows(sum, x, rows, ld, fresh)
}

// Adam applies one Adam step with the active implementation.
func Adam(w, g, m, v []float32, s *AdamStep) { active.Adam(w, g, m, v, s) }
