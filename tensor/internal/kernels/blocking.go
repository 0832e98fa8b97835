package kernels

// Cache blocking of the packed GEMM (blocked_amd64.go). They live here, in a
// file without build constraints, so the tests can size shapes that cross
// every block on every build.
const (
	blockK = 384  // k steps per packed block: a packed 12-row panel of A (12·384·4 B) fits L1
	blockM = 1536 // rows of op(A) packed at once (a multiple of 6, 8 and 12)
	blockN = 512  // columns of op(B) packed at once: 384·512·4 B fits L2
)

// A product whose A is read in place (the direct kernels) into a C at
// least deepC columns wide cuts k deeper, into blocks of up to deepK
// steps, with blocks of B deepN columns wide, so that a block of B takes
// what blockK·blockN takes of L2 and A's 6-row strip (6·1,536·4 B) still
// fits L1. Each block of k reads and writes its rows of C once, so fewer,
// deeper blocks spare most of that traffic, at the price of reading A's
// strips again for every 128 columns. Toggled in one process (16–30
// pairs) against blocks of at most 384 × 512: 1,024³ 1.07–1.11× faster,
// 2,048³ 1.06–1.08, the base step's 512×512×1,536 1.06, a 128-token
// prompt against GPT-2's 768×2,304 weight 1.10; on the AVX2 kernels
// 1,024³ 1.05 and 2,048³ 1.02; the training steps base 1.011, small
// 1.000. Narrower C (a team's products, 1,024 rows and more against
// fewer than 1,024 columns) ran 2–5% slower deep, and at k = 256 narrow
// blocks of B were 0.97–1.07, so both keep the shallow blocks. The choice
// rests on k and ldc alone, which every band and every member of a team
// sees alike, so a product's numbers do not depend on how it was split.
const (
	deepK  = 1536
	deepN  = 128
	deepC  = 1024
	blockB = blockK * blockN // floats in a packed block of B, either shape
)

// The deep blocks of B hold no more than the shallow ones, and blocks of k
// start on a block of an 8-bit B's scales.
var (
	_ [blockB - deepK*deepN]struct{}
	_ [-(blockK%q8Block + deepK%q8Block)]struct{}
)

// blockShape returns the steps of k and the columns of B per block of a
// product whose A is read in place, into a C with rows ldc apart.
func blockShape(k, ldc int) (kb, nb int) {
	if k > blockK && ldc >= deepC {
		return kStep(k, deepK), deepN
	}
	return kStep(k, blockK), blockN
}

// kStep returns the steps of k per block of at most max (a multiple of
// q8Block): k cut into as few blocks as it takes, of equal size rounded up
// to a multiple of q8Block, since a block of an 8-bit B must start on a
// block of its scales (packQ8), as OpenBLAS evens out its last two. A
// short last block (2,048 = 5·384 + 128; now 5·352 + 288) reads and
// writes C and packs B as often as a full one for a third of the work:
// even blocks made 1,024³ and 2,048³ 1.009 and 1.007× faster (medians of
// 40 pairs toggled in one process, blocks rounded to 8 steps then; 1.017
// and 1.013 over 30 in a quieter half hour), and the training steps no
// slower.
func kStep(k, max int) int {
	nb := (k + max - 1) / max
	if nb <= 1 {
		return max
	}
	return min(max, ((k+nb-1)/nb+q8Block-1)/q8Block*q8Block)
}
