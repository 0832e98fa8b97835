// Package kernels holds the hot loops of attn: GEMM and the vector primitives
// that the tensor package spreads over cores.
//
// Every routine has a pure-Go implementation (the reference, and the fallback
// used with the purego build tag); faster implementations register themselves
// in impls when the CPU supports them. Tests run every registered
// implementation.
package kernels

// Impl is one implementation of the hot loops. All functions work on
// row-major float32 slices and never allocate.
type Impl struct {
	// Name identifies the implementation ("generic", "avx2", "avx512").
	Name string
	// Gemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ.
	// op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb, ldc are row strides.
	// When beta is 0, C is overwritten without being read (NaNs in C vanish).
	Gemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// Dot returns Σ x[i]·y[i] over len(x) elements.
	Dot func(x, y []float32) float32
	// Axpy computes y[i] += alpha·x[i] over len(x) elements.
	Axpy func(alpha float32, x, y []float32)
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

// Gemm computes C = alpha·op(A)·op(B) + beta·C with the active implementation.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	active.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dot returns Σ x[i]·y[i] with the active implementation.
func Dot(x, y []float32) float32 { return active.Dot(x, y) }

// Axpy computes y += alpha·x with the active implementation.
func Axpy(alpha float32, x, y []float32) { active.Axpy(alpha, x, y) }
