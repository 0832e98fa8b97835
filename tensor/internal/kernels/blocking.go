package kernels

// Cache blocking of the packed GEMM (blocked_amd64.go). They live here, in a
// file without build constraints, so the tests can size shapes that cross
// every block on every build.
const (
	blockK = 384  // k steps per packed block: a packed 12-row panel of A (12·384·4 B) fits L1
	blockM = 1536 // rows of op(A) packed at once (a multiple of 6, 8 and 12)
	blockN = 512  // columns of op(B) packed at once: 384·512·4 B fits L2
)
