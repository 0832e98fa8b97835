package tensor

import (
	"fmt"
	"sync"
	"time"

	"github.com/attn-go/attn/tensor/internal/kernels"
)

// gemmGrain is the fewest multiply-adds worth a band of their own (about
// 3 µs at this machine's speed). Products under 8·gemmGrain (160³, ~25 µs)
// stay on the calling goroutine: below that, waking a helper and the
// scheduler's jitter cost about as much as the second core gives.
const gemmGrain = 1 << 19

// Gemm computes C = alpha·op(A)·op(B) + beta·C on row-major slices, where
// op(X) is X or Xᵀ, op(A) is m×k, op(B) is k×n and C is m×n with row strides
// lda, ldb, ldc. When beta is 0, C is not read. The packed assembly
// kernels (every product but decoding's skinny ones) flush values below
// float32's normal range (1.2e-38) to zero, in their operands and their
// results, as TensorFlow's CPU kernels do: computed exactly, each would
// cost a microcode assist. The pure-Go kernels keep them.
//
// Large products with 1,024 rows or more and A read in place are computed
// by a team of the pool's goroutines sharing each packed block of B and
// taking strips of rows of C as they come free (kernels.Team). Other large
// products are split into bands (one per worker; four for skinny products,
// which pack nothing, and eight for bands of columns of a short A), each
// run by the serial blocked kernel with its own packing buffers, choosing
// the split that packs the least in total: bands of rows of C when m >= n
// (each band packs its rows of A and all of B); bands of columns otherwise
// (all of A, its columns of B) or when the kernels read A unpacked; and
// bands of k when k is much the largest dimension (the weight gradients
// Aᵀ·B) or when a decode step's few rows of A meet B untransposed: each
// band then computes a private m×n product from its share of A and B (for
// decoding, one contiguous run of B's rows, where bands of columns would
// read every row in short pieces), and the bands are summed at the end.
// Bands of rows and columns are cut at multiples of the kernel's register
// tile, so only the last has a ragged edge (a decode step's products,
// computed by the dots kernels a row of B at a time, at multiples of 8).
// The bands go to the pool's helpers (parallel.go); the caller works too
// and takes over any band no helper has started, so a busy or sleeping
// pool delays nothing. A Gemm allocates nothing in the steady state.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(transA, transB, m, n, k, alpha, a, lda, operandB{f: b}, ldb, beta, nil, c, ldc)
}

// GemmBias computes C = op(A)·op(B) + bias, bias (n values) added to every
// row, as a layer with a bias does. The AVX-512 kernels add the bias as
// they store C; elsewhere each band sets its own rows of C to the bias just
// before adding the product, while they are in cache.
func GemmBias(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	if len(bias) < n {
		panic(fmt.Sprintf("tensor.GemmBias: %d bias values for %d columns", len(bias), n))
	}
	gemm(transA, transB, m, n, k, 1, a, lda, operandB{f: b}, ldb, 0, bias, c, ldc)
}

// Half is a 16-bit floating-point format a model's weights are kept in:
// BF16 (bfloat16) or F16 (IEEE half precision). Both widen to float32
// exactly.
type Half = kernels.Half

const (
	BF16 = kernels.BF16
	F16  = kernels.F16
)

// GemmHalf computes C = alpha·A·Bᵀ + beta·C (plus bias, n values added to
// every row, when it is not nil: then alpha must be 1 and beta 0) with B's
// n rows of k in the 16-bit format h, ldb apart: a model's weights kept in
// half the memory, which a decoding step then reads in half the time. The
// numbers are those Gemm (GemmBias) gives on B widened to float32, which
// is exact, split over the cores the same way.
func GemmHalf(h Half, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, bias, c []float32, ldc int) {
	if bias != nil && (alpha != 1 || beta != 0) {
		panic("tensor.GemmHalf: a bias with alpha 1 and beta 0 only")
	}
	if bias != nil && len(bias) < n {
		panic(fmt.Sprintf("tensor.GemmHalf: %d bias values for %d columns", len(bias), n))
	}
	gemm(false, true, m, n, k, alpha, a, lda, operandB{h: b, kind: h}, ldb, beta, bias, c, ldc)
}

// GemmQ8 computes C = alpha·A·Bᵀ + beta·C (plus bias, as GemmHalf) with
// B's n rows of k in 8-bit integers q, ldb apart, each block of 32 values
// of a row scaled by its float32 in s (row j's at s[j·ldb/32:]): a model's
// weights quantized to about a quarter of their memory. The numbers are
// those Gemm (GemmBias) gives on the dequantized B (each value s·q
// rounded to float32 once), split over the cores the same way. k and ldb
// must be multiples of 32.
func GemmQ8(m, n, k int, alpha float32, a []float32, lda int, q []int8, s []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	if bias != nil && (alpha != 1 || beta != 0) {
		panic("tensor.GemmQ8: a bias with alpha 1 and beta 0 only")
	}
	if bias != nil && len(bias) < n {
		panic(fmt.Sprintf("tensor.GemmQ8: %d bias values for %d columns", len(bias), n))
	}
	if k%kernels.Q8Block != 0 || ldb%kernels.Q8Block != 0 {
		panic(fmt.Sprintf("tensor.GemmQ8: k %d and ldb %d must be multiples of %d", k, ldb, kernels.Q8Block))
	}
	gemm(false, true, m, n, k, alpha, a, lda, operandB{q: q, s: s}, ldb, beta, bias, c, ldc)
}

// operandB is the B of a product: float32, or 16-bit (h, in the format
// kind) read as its exact widening, or 8-bit (q, with its block scales s)
// read as its dequantized values (A·Bᵀ only, for both).
type operandB struct {
	f    []float32
	h    []uint16
	kind Half
	q    []int8
	s    []float32
}

// from returns B from element off on (for an 8-bit B, off is a multiple
// of its blocks: the cuts of the bands are).
func (b operandB) from(off int) operandB {
	switch {
	case b.h != nil:
		return operandB{h: b.h[off:], kind: b.kind}
	case b.q != nil:
		return operandB{q: b.q[off:], s: b.s[off/kernels.Q8Block:]}
	}
	return operandB{f: b.f[off:]}
}

// gemmBand computes one band of a product on the calling goroutine, with
// the bias if there is one (GemmBias's bands, where alpha is 1 and beta 0).
func gemmBand(band *kernels.Band, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b operandB, ldb int, beta float32, bias, c []float32, ldc int) {
	if b.h != nil || b.q != nil {
		band.Finish() // their kernels share no blocks
	}
	switch {
	case (b.h != nil || b.q != nil) && bias != nil: // as kernels.GemmBias does it for few rows
		for i := 0; i < m; i++ {
			copy(c[i*ldc:i*ldc+n], bias[:n])
		}
		if b.q != nil {
			kernels.GemmQ8(m, n, k, 1, a, lda, b.q, b.s, ldb, 1, c, ldc)
		} else {
			kernels.GemmHalf(b.kind, m, n, k, 1, a, lda, b.h, ldb, 1, c, ldc)
		}
	case b.q != nil:
		kernels.GemmQ8(m, n, k, alpha, a, lda, b.q, b.s, ldb, beta, c, ldc)
	case b.h != nil:
		kernels.GemmHalf(b.kind, m, n, k, alpha, a, lda, b.h, ldb, beta, c, ldc)
	default:
		kernels.GemmBand(band, transA, transB, m, n, k, alpha, a, lda, b.f, ldb, beta, bias, c, ldc)
	}
}

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b operandB, ldb int, beta float32, bias, c []float32, ldc int) {
	if logEnter() {
		defer logProduct(transA, transB, m, n, k, time.Now())
	}
	w := workers
	// A product with few rows of A streams B from memory rather than
	// computing on it: each element of B costs about as much as 8
	// multiply-adds on cached data, so a decode step's m = 1 product with a
	// large weight is worth splitting even though its arithmetic is small.
	//
	// Up to 16 rows of A·Bᵀ (a batch of decoded sequences against a weight)
	// are split exactly as one row is: the kernels compute such rows one by
	// one, so each row gets the numbers it gets alone.
	//
	// They are split by columns (below), in tiles of eight rows of B (those
	// at least 64 wide; narrower ones are split over k when deep), which
	// leaves every number as the serial product has it, and from a quarter
	// of the size, about 512 KB of weight (each element counted as 32
	// multiply-adds): SmolLM2-135M's decode step, whose 576×576 weights
	// had run on one core, 1.05× faster (60 pairs toggled in one process).
	// Counting 16, 64 or 128 gave 1.05, 1.06 and 1.09; 128 against 32 gave
	// 1.015, and GPT-2's decode step 1.00, within the machine's noise, so
	// 32 it is. Those with k at least 2n used to be split over k instead:
	// four bands of k read each row of B as four short runs, and one row of
	// A went through 1,536×576 to 5,632×2,048 weights 1.15–1.25× slower than
	// in bands of columns; with tiles of eight columns instead of a panel's
	// 64, the bands of 576 and 960 columns come out even. Both together made
	// SmolLM2's decode step 1.04× faster with one sequence, 1.01 with four
	// and 1.00 with eight (40 pairs each).
	asOne := transB && !transA && m <= 16
	rows := m // as the split sees them
	if asOne {
		rows = 1
	}
	work := max(rows, 8) * n * max(k, 1)
	if asOne && (n >= 64 || k < 2*n) { // those split by columns
		work *= 4
	}
	if w == 1 || work < 8*gemmGrain || m == 0 || n == 0 {
		gemmBand(nil, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc)
		return
	}
	mr, nr := kernels.Tile()
	split := splitRows
	tiles, tile := (m+mr-1)/mr, mr
	switch {
	case asOne && n >= 64:
		// Tiles of eight rows of B for the dots kernels, which compute a
		// row at a time; whole panels for more than four rows in bfloat16,
		// which go through the packed kernels, whose edge tiles round
		// otherwise.
		tile = 8
		if m > 4 && MatmulBF16() {
			tile = nr
		}
		split, tiles = splitCols, (n+tile-1)/tile
	case m <= 8 && !transB && m*n*(maxKBands-1) <= maxKScratch,
		k >= 2*max(rows, n) && m*n*(min(w, maxKBands)-1) <= maxKScratch:
		split, tiles, tile = splitK, (k+kTile-1)/kTile, kTile
	case m < n || !kernels.PacksA(transA) && (n+nr-1)/nr >= w:
		split, tiles, tile = splitCols, (n+nr-1)/nr, nr
	}
	// Skinny products pack nothing, so finer bands cost nothing and let the
	// caller take over more of the work of a helper that starts late. Bands
	// of columns of a short A (a prompt's 128 tokens against a weight) each
	// pack only their own columns of B and reread only the little A: eight
	// per worker make GPT-2's 128-token prompt about 4% faster (median of
	// five runs alternating A B B A). An A that must be packed (transposed:
	// a weight gradient's dyᵀ) is packed again by every band, so it keeps
	// one band per worker: with eight, 256×1,024×1,024 (dyᵀ) ran 1.28×
	// slower on AVX-512, and GPT-2's prompt products 1.0–1.45× slower on
	// the AVX2 kernels while they still packed every A.
	perWorker := 1
	switch {
	case m <= 8 || asOne:
		perWorker = 4
	case m <= 256 && split == splitCols && !kernels.PacksA(transA):
		perWorker = 8
	}
	bands := min(w*perWorker, maxBands, tiles, max(1, work/gemmGrain))
	switch {
	case split == splitK:
		bands = min(bands, maxKBands)
	case split == splitRows && MatmulBF16():
		// Bands of 2 tiles and more have 7 rows and more: in bfloat16 a
		// band of 4 rows or fewer would be computed in float32, as a
		// skinny product is, and the product's numbers would depend on the
		// workers.
		bands = min(bands, tiles/2)
	}
	if bands <= 1 {
		gemmBand(nil, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc)
		return
	}
	// Large products with A read in place, too narrow for every worker to
	// have a band of at least teamCols columns, are computed by a team
	// sharing each packed block of B (kernels.Team). Against bands that
	// help each other finish (kernels.Band), in one process, toggled, 21
	// pairs: 1,024³ and 2,048³ 3–6% faster in bands, 1,024×8,000×256 4–6%;
	// 1,024×256×1,024 5% faster in a team, whose cores then each run
	// strips of all 256 columns where a band's would be 128 wide.
	if n < w*teamCols && !transA && m >= 1024 && split != splitK && b.h == nil && b.q == nil {
		if t := kernels.NewTeam(transB, m, n, k, alpha, a, lda, b.f, ldb, beta, bias, c, ldc); t != nil {
			j := teamJob{t}
			share(j, min(bands, w)-1)
			t.Work(true)
			j.release()
			return
		}
	}
	call := gemmCalls.Get().(*gemmCall)
	call.transA, call.transB, call.split = transA, transB, split
	call.m, call.n, call.k, call.alpha, call.beta = m, n, k, alpha, beta
	call.a, call.b, call.c, call.lda, call.ldb, call.ldc = a, b, c, lda, ldb, ldc
	call.bias = bias
	call.tiles, call.tile = tiles, tile
	if split == splitK {
		if need := (bands - 1) * m * n; cap(call.scratch) < need {
			call.scratch = make([]float32, need)
		}
		call.scratch = call.scratch[:(bands-1)*m*n]
	}
	if cap(call.bands) < bands {
		call.bands = make([]kernels.Band, bands)
	}
	call.bands = call.bands[:bands] // reset when the last call that used them was released
	call.start(bands)
	share(call, min(bands, w)-1)
	call.run()
	call.wait() // only for bands a helper has started
	if split == splitK {
		for i := 0; i < m; i++ {
			crow := c[i*ldc : i*ldc+n]
			for q := 0; q < bands-1; q++ {
				kernels.Axpy(1, call.scratch[(q*m+i)*n:(q*m+i)*n+n], crow)
			}
		}
	}
	call.release()
}

// The ways a Gemm is split into bands.
const (
	splitRows = iota // bands of rows of C
	splitCols        // bands of columns of C
	splitK           // bands of k, summed at the end
)

const (
	teamCols    = 512     // the narrowest band a large product is split into (a block of packed B)
	maxBands    = 64      // bands of one parallel Gemm
	maxKBands   = 4       // bands of a k split (each but the first needs an m×n scratch)
	maxKScratch = 4 << 20 // floats of scratch a k split may use
	kTile       = 32      // a k split cuts at multiples of kTile (an 8-bit B's blocks)
)

// gemmCall is one parallel Gemm: its arguments and the next band to run.
type gemmCall struct {
	transA, transB bool
	split          int
	m, n, k        int
	alpha, beta    float32
	a, c, bias     []float32
	b              operandB
	lda, ldb, ldc  int
	tiles, tile    int // the split dimension in tiles
	scratch        []float32
	bands          []kernels.Band // one per band: who finishes first helps the rest
	claims                        // of the bands
}

var gemmCalls = sync.Pool{New: func() any { return new(gemmCall) }}

// release drops one reference to the call and recycles it after the last.
func (g *gemmCall) release() {
	if g.drop() {
		g.a, g.b, g.c, g.bias = nil, operandB{}, nil, nil
		bands := g.bands[:cap(g.bands)]
		for i := range bands {
			bands[i].Reset() // ready for the next call, without the matrices its blocks refer to
		}
		gemmCalls.Put(g)
	}
}

// run computes bands until none is left, then helps with the bands still
// running until they are done. Every goroutine takes bands from the front:
// taken from both ends, as ParallelFor's items are, they were no faster.
func (g *gemmCall) run() {
	for {
		i, ok := g.take(true)
		if !ok {
			for j := range g.bands[:g.items] {
				g.bands[j].Help()
			}
			return
		}
		nb := int(g.items)
		lo, hi := i*g.tiles/nb*g.tile, (i+1)*g.tiles/nb*g.tile
		band := &g.bands[i]
		switch g.split {
		case splitRows:
			hi = min(hi, g.m)
			aOff := lo * g.lda
			if g.transA {
				aOff = lo
			}
			gemmBand(band, g.transA, g.transB, hi-lo, g.n, g.k, g.alpha, g.a[aOff:], g.lda, g.b, g.ldb, g.beta, g.bias, g.c[lo*g.ldc:], g.ldc)
		case splitCols:
			hi = min(hi, g.n)
			bOff := lo
			if g.transB {
				bOff = lo * g.ldb
			}
			var bias []float32
			if g.bias != nil {
				bias = g.bias[lo:hi]
			}
			gemmBand(band, g.transA, g.transB, g.m, hi-lo, g.k, g.alpha, g.a, g.lda, g.b.from(bOff), g.ldb, g.beta, bias, g.c[lo:], g.ldc)
		default:
			hi = min(hi, g.k)
			aOff, bOff := lo, lo*g.ldb
			if g.transA {
				aOff = lo * g.lda
			}
			if g.transB {
				bOff = lo
			}
			if i == 0 {
				gemmBand(band, g.transA, g.transB, g.m, g.n, hi-lo, g.alpha, g.a[aOff:], g.lda, g.b.from(bOff), g.ldb, g.beta, g.bias, g.c, g.ldc)
			} else {
				mn := g.m * g.n
				gemmBand(band, g.transA, g.transB, g.m, g.n, hi-lo, g.alpha, g.a[aOff:], g.lda, g.b.from(bOff), g.ldb, 0, nil, g.scratch[(i-1)*mn:i*mn], g.n)
			}
		}
		band.Finish()
		g.done()
	}
}

// GemmSerial is Gemm on the calling goroutine only, for use inside work that
// is already spread over the pool (one GEMM per attention head, say).
func GemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernels.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmSmall computes C = alpha·A·B + beta·C for row-major A (m×k) and B
// (k×n) on the calling goroutine, reading both where they lie: no packing,
// no blocks, no buffers. It is GemmSerial for products whose operands are
// already in cache, such as one attention head's tiles of a short
// sequence, where packing them and fetching a buffer cost as much as the
// arithmetic.
func GemmSmall(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernels.GemmSmall(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dot returns Σ x[i]·y[i].
func Dot(x, y []float32) float32 { return kernels.Dot(x, y) }

// Axpy computes y += alpha·x.
func Axpy(alpha float32, x, y []float32) { kernels.Axpy(alpha, x, y) }

// SumRows adds rows [0, rows) of x (rows ld apart, len(sum) values each) to
// sum, or with fresh set, sets sum to their sum (zero for no rows), each
// column summed in row order: a bias's gradient.
func SumRows(sum, x []float32, rows, ld int, fresh bool) { kernels.SumRows(sum, x, rows, ld, fresh) }

// HasAVX2FMA reports whether this CPU runs the AVX2+FMA kernels (never with
// the purego build tag), for packages with vector loops of their own.
func HasAVX2FMA() bool { return kernels.HasAVX2FMA() }

// Kernels returns the name of the kernels in use: "avx512", "avx2" or
// "generic" (pure Go), the best this CPU runs unless the environment
// variable ATTN_CPU caps them (to time or test an older machine's path on
// this one). err is set when ATTN_CPU names none of them and was ignored.
func Kernels() (name string, err error) { return kernels.Setting() }

// SetMatmulBF16 switches matrix products to bfloat16 (on) or back to
// float32, as PyTorch's torch.set_float32_matmul_precision("medium") does:
// both operands are rounded to bfloat16 (8 bits of mantissa), their
// products summed in float32, at twice the multiply-adds per instruction.
// Tensors, weights and gradients stay float32; attention's own products
// and weights kept in 16 or 8 bits are computed as before, and so are
// products of 4 rows or fewer (decoding one to four sequences), which read
// their weights at the memory's speed either way and would only lose the
// skinny kernels' speed. Kernels then reports "avx512-bf16". It fails,
// changing nothing, unless the CPU has AVX512_BF16 and the avx512 kernels
// are in use. Call it before any product runs, not during one.
func SetMatmulBF16(on bool) error { return kernels.UseBF16(on) }

// MatmulBF16 reports whether matrix products are in bfloat16 (SetMatmulBF16).
func MatmulBF16() bool { return kernels.Active().BF16 }

// HasAVX512DQ reports whether this CPU runs the AVX-512 kernels and
// multiplies 64-bit vector lanes (never with the purego build tag).
func HasAVX512DQ() bool { return kernels.HasAVX512DQ() }

// AdamStep holds the constants of one Adam update; see Adam.
type AdamStep = kernels.AdamStep

// Adam updates weights w in place with gradients g and the moment buffers
// m and v (all of len(w)): w ← w·Decay, g ← g + WeightDecay·w,
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − StepSize·m/(√v·InvBc2Sqrt + Eps).
func Adam(w, g, m, v []float32, s *AdamStep) { kernels.Adam(w, g, m, v, s) }

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

// teamJob offers a kernels.Team to the pool.
type teamJob struct{ t *kernels.Team }

func (j teamJob) run()         { j.t.Work(false) }
func (j teamJob) hold(n int32) { j.t.Hold(n) }
func (j teamJob) release()     { j.t.Release() }

// Product is one product C = Alpha·op(A)·op(B) + Beta·C: Gemm's
// arguments, for GemmPair.
type Product struct {
	TransA, TransB bool
	M, N, K        int
	Alpha          float32
	A              []float32
	Lda            int
	B              []float32
	Ldb            int
	Beta           float32
	C              []float32
	Ldc            int
}

// GemmPair computes two independent products, p and q, as Gemm computes
// each: neither's C may overlap the other's operands or C. A layer's
// backward pass has such a pair, its input gradient dy·w and its weight
// gradient dyᵀ·x, of equal arithmetic. On two workers each product runs
// whole on one core, and the core that finishes first helps with the
// other's blocks (kernels.Band), where Gemm would cut each product into
// bands that each pack all of the other operand. (The pure-Go kernels
// cannot be helped: there the core done first waits, so a pair of unequal
// products runs no faster than its larger one.) Toggled in one process
// against the two Gemm calls, twice: the small training step 1.055× and
// 1.019× faster (20 and 30 pairs), base 1.029 and 1.025 (10 and 16); in
// bfloat16 1.02 and 1.03. With one worker, or more than two (not measured
// here), the products run one after the other, each as Gemm runs it. On
// two, each product's numbers are those GemmSerial gives it.
func GemmPair(p, q Product) {
	work := max(p.M, 8)*p.N*max(p.K, 1) + max(q.M, 8)*q.N*max(q.K, 1)
	if workers != 2 || work < 8*gemmGrain {
		p.gemm()
		q.gemm()
		return
	}
	if logEnter() {
		defer logPair(&p, &q, time.Now())
	}
	call := pairCalls.Get().(*pairCall)
	call.p = [2]Product{p, q}
	call.start(2)
	share(call, 1)
	call.run()
	call.wait() // only for a product a helper has started
	call.release()
}

func (p *Product) gemm() {
	Gemm(p.TransA, p.TransB, p.M, p.N, p.K, p.Alpha, p.A, p.Lda, p.B, p.Ldb, p.Beta, p.C, p.Ldc)
}

// pairCall is one GemmPair shared with the pool: each product is one band.
type pairCall struct {
	claims
	p     [2]Product
	bands [2]kernels.Band
}

var pairCalls = sync.Pool{New: func() any { return new(pairCall) }}

func (g *pairCall) release() {
	if g.drop() {
		g.p = [2]Product{} // drop the matrices
		for i := range g.bands {
			g.bands[i].Reset()
		}
		pairCalls.Put(g)
	}
}

// run computes products until none is left, then helps with any still
// running until it is done.
func (g *pairCall) run() {
	for {
		i, ok := g.take(true)
		if !ok {
			for j := range g.bands {
				g.bands[j].Help()
			}
			return
		}
		p := &g.p[i]
		gemmBand(&g.bands[i], p.TransA, p.TransB, p.M, p.N, p.K, p.Alpha, p.A, p.Lda, operandB{f: p.B}, p.Ldb, p.Beta, nil, p.C, p.Ldc)
		g.bands[i].Finish()
		g.done()
	}
}
