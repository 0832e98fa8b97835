package kernels

// Cache blocking of the packed GEMM (blocked_amd64.go). They live here, in a
// file without build constraints, so the tests can size shapes that cross
// every block on every build.
const (
	blockK = 384  // k steps per packed block: a packed 12-row panel of A (12·384·4 B) fits L1
	blockM = 1536 // rows of op(A) packed at once (a multiple of 6, 8 and 12)
	blockN = 512  // columns of op(B) packed at once: 384·512·4 B fits L2
)

// kStep returns the steps of k per block: k cut into as few blocks of at
// most blockK as it takes, of equal size (rounded up to a multiple of 8),
// as OpenBLAS evens out its last two. A short last block (2,048 = 5·384 +
// 128) reads and writes C and packs B as often as a full one for a third
// of the work: even blocks made 1,024³ and 2,048³ 1.009 and 1.007× faster
// (medians of 40 pairs toggled in one process; 1.017 and 1.013 over 30
// in a quieter half hour), and the training steps no slower.
func kStep(k int) int {
	nb := (k + blockK - 1) / blockK
	if nb <= 1 {
		return blockK
	}
	return min(blockK, ((k+nb-1)/nb+7)&^7)
}
