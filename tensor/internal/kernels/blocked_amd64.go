//go:build !purego

package kernels

import (
	"sync"
	"sync/atomic"
)

// The blocked GEMM (GotoBLAS/BLIS scheme) behind the assembly
// implementations. For each block of blockM rows of C and blockK steps of k
// it packs op(A) into panels of pw rows (k-major, so the kernel reads a
// strip's mr values of each step side by side; pw is mr or a multiple); for
// each block of blockN columns it packs op(B) into micro-panels of nr
// columns. The register tile mr×nr is then computed by the assembly
// micro-kernel, walking the nr-panels of B (which stay in L2) with one strip
// of A (which stays in L1). Transposes are
// absorbed by the packing routines, so all four cases run the same kernel.
// Where the arch has direct kernels, a row-major op(A) is not packed at all:
// its mr rows are read in place, lda apart (packing them would be a
// transpose per block, and measured 2–9% slower on a training step's shapes),
// and into a wide C its blocks of k are deeper and those of B narrower
// (blockShape).
//
// Skinny products (m <= 8, the shapes of decoding one token at a time) skip
// packing (AVX-512 and AVX2): A·Bᵀ becomes dot products of rows of A with
// rows of B, and A·B a sweep down the rows of B, so B is read once, in
// order, at memory speed. A·Bᵀ stays dot products up to dotsRows rows,
// eight at a time over blocks of B held in L2.

type microKernel func(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

// directKernel is a microKernel reading A unpacked: A(i, p) = a[i·lda+p];
// with a bias (nr values) and accum 0 it adds the bias to every row.
type directKernel func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, bias *float32)

type dotsKernel func(k int, a *float32, lda int, b *float32, ldb int, out *float32)

type dotsHalfKernel func(k int, a *float32, lda int, b *uint16, ldb int, out *float32)

type dotsQ8Kernel func(k int, a *float32, lda int, b *int8, ldb int, s *float32, out *float32)

// gemmArch describes one family of micro-kernels.
type gemmArch struct {
	mr, nr int
	pw     int              // values per step of k in a packed panel of A: a multiple of mr
	kern   [13]microKernel  // kern[r] computes an r×nr tile, r = 1..mr
	direct [13]directKernel // optional: kern reading a row-major A in place
	// narrow (optional) computes the products at most nr/2 columns wide
	// (its nr is nr/2, its mr at least mr, its pw the same), and its
	// kernels a last panel of B at most nr/2 wide.
	narrow *gemmArch
	// dots (optional) compute r×dotsCB[r] dot products of rows of A and
	// B for r = 1..8: as many columns as the registers hold accumulators
	// for. Each gives every output the bits dots[1] gives it.
	dots   [9]dotsKernel
	dotsCB [9]int
	// dots8 and dotsHalf8 (optional) are dots[1] and dotsHalf[h][1] for
	// eight rows of B: one row of A's products (a decode step against
	// [out, in] weights) then keep twice as many of B's loads in flight,
	// with the numbers dots[1] gives. SmolLM2-135M's decode step ran 1.17×
	// faster in float32 and 1.11× kept in bfloat16, GPT-2's 1.06× (its
	// logits; its layers are [in, out]); on the AVX2 kernels, whose
	// four-row kernels take two rows of B at a time, SmolLM2's 1.30×, and
	// kept in bfloat16 1.50×: 60 pairs each, toggled in one process.
	dots8     dotsKernel
	dotsHalf8 [2]dotsHalfKernel
	// dot and axpy are the arch's Dot and Axpy, for the columns and steps
	// the dots and rows kernels leave.
	dot  func(x, y []float32) float32
	axpy func(alpha float32, x, y []float32)
	// dotsHalf are dots with B in each 16-bit format (optional).
	dotsHalf [2][9]dotsHalfKernel
	// dotsQ8 are dots with B in 8-bit integers scaled by blocks (optional),
	// dotsQ8[r] for dotsQ8CB[r] rows of B at a time.
	dotsQ8   [9]dotsQ8Kernel
	dotsQ8CB [9]int
	rows     func(r, n int, a, b *float32, ldb int, c *float32, ldc int)
	// rows1 (optional) is rows for r = 1, with rows's numbers: GPT-2's
	// decode step (its [in, out] layers) ran 1.06× faster with it, 1.05×
	// on the AVX2 kernels (60 pairs each, toggled in one process).
	rows1 func(r, n int, a, b *float32, ldb int, c *float32, ldc int)
	// bf16 is set when kern computes on operands packed in bfloat16 pairs
	// (packABF16, packBBF16; k counts pairs): op(A) is then always packed,
	// and B never read in place.
	bf16 bool
}

// gemmBuf holds the packing buffers of one running GEMM.
type gemmBuf struct {
	a, b []float32
	tmp  [6 * 64]float32 // an edge tile of C (12·32 on arch512N)
	out  [32]float32     // results of a dots kernel
	blk  block           // the block being computed, without a Band
}

// bufs holds the packing buffers not in use. A sync.Pool would drop them at
// every garbage collection, and 3 MB buffers reallocated that often trigger
// collections themselves; this list only grows, to the largest number of
// GEMMs that ever ran at once.
var bufs struct {
	sync.Mutex
	free []*gemmBuf
}

// bufSlots hold a few free buffers, taken and given back without the
// lock. Every band of a product, and every head's product of attention,
// takes one: decoding several sequences, whose steps run a few thousand
// small products, spent 3% of its CPU time in the lock, and ran 1.03×
// faster (8 sequences, 128 cached) and 1.05× (4 sequences) with the
// slots (60 pairs toggled in one process, a SmolLM2-135M-shaped Llama).
var bufSlots [8]atomic.Pointer[gemmBuf]

func getBuf() *gemmBuf {
	for i := range bufSlots {
		if bufSlots[i].Load() != nil {
			if b := bufSlots[i].Swap(nil); b != nil {
				return b
			}
		}
	}
	bufs.Lock()
	if n := len(bufs.free); n > 0 {
		b := bufs.free[n-1]
		bufs.free = bufs.free[:n-1]
		bufs.Unlock()
		return b
	}
	bufs.Unlock()
	return &gemmBuf{a: make([]float32, blockM*blockK+blockM/pwAVX2*panelPad), b: make([]float32, blockB)}
}

func putBuf(b *gemmBuf) {
	for i := range bufSlots {
		if bufSlots[i].Load() == nil && bufSlots[i].CompareAndSwap(nil, b) {
			return
		}
	}
	bufs.Lock()
	bufs.free = append(bufs.free, b)
	bufs.Unlock()
}

// scaleC sets C = beta·C over m×n (clearing it when beta is 0).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

func (g *gemmArch) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.gemmWith(nil, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmWith is gemm computing the blocks of its packed path as band's (see
// Band); band may be nil.
func (g *gemmArch) gemmWith(band *Band, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	if k <= 0 || alpha == 0 {
		band.Finish() // nothing to share
		scaleC(m, n, beta, c, ldc)
		return
	}
	if g.bf16 && skinnyBF16(m) {
		arch512.gemmWith(band, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	checkCorners(transA, transB, m, n, k, a, lda, b, ldb)
	buf := getBuf()
	switch { // the skinny kernels have no blocks to share: they finish band at once
	case m <= 8 && transB && g.dots[1] != nil && (!transA || m*k <= len(buf.a)):
		band.Finish()
		g.gemmDots(transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, buf)
	case m <= dotsRows && transB && !transA && g.dots[1] != nil:
		band.Finish()
		g.gemmDotsBlocked(bOperand{f: b}, m, n, k, alpha, a, lda, ldb, beta, c, ldc, buf)
	case m <= 8 && !transB && g.rows != nil && n >= 32 && 8*k <= len(buf.a):
		band.Finish()
		n32 := n &^ 31
		if n32 < n {
			g.gemmPacked(transA, false, m, n-n32, k, alpha, a, lda, b[n32:], ldb, beta, nil, c[n32:], ldc, buf)
		}
		g.gemmRows(transA, m, n32, k, alpha, a, lda, b, ldb, beta, c, ldc, buf)
	default:
		g.gemmPackedOf(band, transA, transB, m, n, k, alpha, a, lda, bOperand{f: b}, ldb, beta, nil, c, ldc, buf)
	}
	putBuf(buf)
}

// gemmSmall computes C = alpha·A·B + beta·C for row-major A and B read
// where they lie: no blocks, no packing, no buffers. It is for products
// small enough that their operands stay in L1 (attention's tiles of a short
// sequence), where packing and the pool of buffers cost as much as the
// arithmetic. Columns past the last whole panel (a multiple of 32 columns
// on AVX-512, 16 on AVX2) go through gemm, since the kernels read B a
// whole panel wide.
func (g *gemmArch) gemmSmall(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	if k <= 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	checkCorners(false, false, m, n, k, a, lda, b, ldb)
	if n <= g.nr/2 && g.narrow != nil {
		g = g.narrow
	}
	unit := g.nr
	if g.narrow != nil {
		unit = g.narrow.nr
	}
	whole := n / unit * unit
	if whole < n {
		g.gemm(false, false, m, n-whole, k, alpha, a, lda, b[whole:], ldb, beta, c[whole:], ldc)
	}
	if whole == 0 {
		return
	}
	bet, accum := blockBeta(beta, 0)
	pb := bPanels{p: b, ld: ldb, step: 1}
	for i := 0; i < m; i += g.mr {
		// Every panel is whole (kw wide), so directStrip never needs an
		// edge tile.
		g.directStrip(min(g.mr, m-i), k, a[i*lda:], lda, &pb, whole, alpha, bet, accum, nil, c[i*ldc:], ldc, nil)
	}
}

// checkCorners panics (index out of range) unless op(A) and op(B), m×k and
// k×n, lie within a and b: the assembly does no bounds checks. m, n, k > 0.
func checkCorners(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int) {
	if transA {
		_ = a[(k-1)*lda+m-1]
	} else {
		_ = a[(m-1)*lda+k-1]
	}
	if transB {
		_ = b[(n-1)*ldb+k-1]
	} else {
		_ = b[(k-1)*ldb+n-1]
	}
}

// gemmBias computes C = op(A)·op(B) + bias (n values, added to every row).
// The direct kernels add the bias as they store the first block of k. The
// bfloat16 kernels' strips set their rows of C to the bias just before
// the first block of k adds to them (block.strip), in cache: set for the
// whole of C first, C went out to memory and came back (base training
// step in bfloat16 1.033× as fast, 40 pairs toggled in one process, small
// 1.034 over 200). Elsewhere C's rows are set to the bias and the product
// added.
func (g *gemmArch) gemmBias(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	g.gemmBiasWith(nil, transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
}

// gemmBiasWith is gemmBias computing as band's (see Band); band may be nil.
func (g *gemmArch) gemmBiasWith(band *Band, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	_ = bias[n-1]
	if g.bf16 && skinnyBF16(m) {
		arch512.gemmBiasWith(band, transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	if transA || g.direct[1] == nil && !g.bf16 || m <= 8 || k <= 0 || transB && m <= dotsRows && g.dots[1] != nil {
		gemm := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			g.gemmWith(band, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
		gemmBiasByRows(gemm, transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	checkCorners(false, transB, m, n, k, a, lda, b, ldb)
	buf := getBuf()
	g.gemmPackedOf(band, false, transB, m, n, k, 1, a, lda, bOperand{f: b}, ldb, 0, bias, c, ldc, buf)
	putBuf(buf)
}

// gemmPacked is the blocked, packed GEMM. Arguments are checked by gemm.
func (g *gemmArch) gemmPacked(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int, buf *gemmBuf) {
	g.gemmPackedOf(nil, transA, transB, m, n, k, alpha, a, lda, bOperand{f: b}, ldb, beta, bias, c, ldc, buf)
}

// gemmPackedOf is gemmPacked with B of any kind, computing each block as
// band's when band is not nil.
func (g *gemmArch) gemmPackedOf(band *Band, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b bOperand, ldb int, beta float32, bias, c []float32, ldc int, buf *gemmBuf) {
	if n <= g.nr/2 && g.narrow != nil { // a product narrower than half a panel
		g = g.narrow
	}
	mr, nr := g.mr, g.nr
	pa, pb := buf.a, buf.b
	// A row-major op(A) is read where it lies when the arch has kernels for
	// it: its rows are already k-major, and packing them would be a
	// transpose per block.
	direct := !transA && g.direct[1] != nil
	// A small row-major op(B), whole panels wide, is read in place: its
	// few strips of C would not repay the packing. The kernels read its
	// rows ldb apart.
	inPlace := !transB && b.f != nil && n%nr == 0 && m <= inPlaceRows && k <= inPlaceK && n <= blockN && !g.bf16
	kb, bn := kStep(k, blockK), blockN // a packed A's 12-row panels fit L1 at blockK
	switch {
	case direct:
		kb, bn = blockShape(k, ldc)
	case g.bf16: // pairs of steps in the same bytes
		kb = kStep(k, 2*blockK)
	}
	if band != nil {
		band.start((m + blockM - 1) / blockM * ((k + kb - 1) / kb) * ((n + bn - 1) / bn))
	}
	for ic := 0; ic < m; ic += blockM {
		mcb := min(blockM, m-ic)
		for pc := 0; pc < k; pc += kb {
			kcb := min(kb, k-pc)
			steps := kcb // as the kernels count them: pairs of k in bfloat16
			switch {
			case g.bf16:
				packABF16(pa, transA, a, lda, ic, mcb, pc, kcb, g.pw)
				steps = (kcb + 1) / 2
			case !direct:
				packA(pa, transA, a, lda, ic, mcb, pc, kcb, g.pw)
			}
			aStride := g.pw * steps // floats from one packed panel of A to the next
			if !g.bf16 && !direct {
				aStride = aPanelStride(g.pw, kcb)
			}
			bet, accum := blockBeta(beta, pc)
			for jc := 0; jc < n; jc += bn {
				ncb := min(bn, n-jc)
				panels := bPanels{p: pb, ld: nr, step: steps}
				switch {
				case g.bf16:
					packBBF16(pb, transB, b.f, ldb, pc, kcb, jc, ncb, nr)
				case inPlace:
					panels = bPanels{p: b.f[pc*ldb+jc:], ld: ldb, step: 1}
				case b.q != nil:
					packQ8(pb, b.q, b.s, ldb, pc, kcb, jc, ncb, nr)
				case b.h != nil:
					packHalf(pb, b.kind, b.h, ldb, pc, kcb, jc, ncb, nr)
				default:
					packB(pb, transB, b.f, ldb, pc, kcb, jc, ncb, nr)
				}
				blk := &buf.blk
				if band != nil {
					blk = band.next()
				}
				*blk = block{g: g, direct: direct, ic: ic, pc: pc, jc: jc, mcb: mcb, kcb: steps, ncb: ncb,
					a: a, lda: lda, pa: pa, aStride: aStride, pb: panels, alpha: alpha, beta: bet, accum: accum, c: c, ldc: ldc}
				if bias != nil && pc == 0 { // the block's bias, on the first block of k
					blk.bias = bias[jc:]
				}
				strips := (mcb + mr - 1) / mr
				if band == nil {
					for s := range strips {
						blk.strip(s, buf)
					}
					continue
				}
				band.share(blk, strips, buf)
			}
		}
	}
	buf.blk = block{} // drop the matrices: buf goes back to the pool
}

// block is one block of a packed product: rows [ic, ic+mcb) of C against
// steps [pc, pc+kcb) of k and columns [jc, jc+ncb), with op(B)'s block
// packed in pb and op(A)'s in pa (or read in place from a when direct).
type block struct {
	g             *gemmArch
	direct        bool
	ic, pc, jc    int
	mcb, kcb, ncb int
	a             []float32
	lda           int
	pa            []float32
	aStride       int // floats from one panel of pa to the next
	pb            bPanels
	alpha, beta   float32
	accum         int
	bias          []float32 // the block's, or nil
	c             []float32
	ldc           int
}

// bPanels locates the nr-wide panels of a block of op(B): panel jr/nr
// starts at p[jr·step], its rows ld apart. Packed panels lie one after
// another (ld nr, step kcb); a row-major B read in place has ld its row
// stride and step 1.
type bPanels struct {
	p        []float32
	ld, step int
}

func (b *bPanels) at(jr int) *float32 { return &b.p[jr*b.step] }

// inPlaceRows and inPlaceK bound the products whose B is read in place: a
// product of at most that many rows and steps of k (attention's tiles)
// reads each panel of B from L1 a few times. Not packing V, K, Q and dO
// made the small training step's attention (32 keys, heads of 64) 2.5%
// faster (30 pairs toggled in one process).
const (
	inPlaceRows = 64
	inPlaceK    = 64
)

// strip computes strip s (rows ic+s·mr ...) of the block, with buf's edge
// tile.
func (b *block) strip(s int, buf *gemmBuf) {
	g := b.g
	mr, nr := g.mr, g.nr
	ir := s * mr
	r := min(mr, b.mcb-ir)
	cRow := (b.ic+ir)*b.ldc + b.jc
	if b.direct {
		g.directStrip(r, b.kcb, b.a[(b.ic+ir)*b.lda+b.pc:], b.lda, &b.pb, b.ncb, b.alpha, b.beta, b.accum, b.bias, b.c[cRow:], b.ldc, &buf.tmp)
		return
	}
	kern := g.kern[r]
	ap := &b.pa[ir/g.pw*b.aStride+ir%g.pw] // strip s is rows ir%pw... of its panel
	beta, accum := b.beta, b.accum
	if b.bias != nil { // the packed kernels add no bias: C starts as the bias (gemmBias)
		for i := range r {
			copy(b.c[cRow+i*b.ldc:cRow+i*b.ldc+b.ncb], b.bias[:b.ncb])
		}
		beta, accum = 1, 1
	}
	for jr := 0; jr < b.ncb; jr += nr {
		bp := b.pb.at(jr)
		k, kw := kern, nr // the kernel for the panel, and its width
		if w := b.ncb - jr; w < nr {
			if w <= nr/2 && g.narrow != nil {
				k, kw = g.narrow.kern[r], nr/2
			}
			if w < kw {
				k(b.kcb, ap, bp, b.pb.ld, &buf.tmp[0], nr, 1, 0, 0)
				mergeTile(r, w, b.alpha, buf.tmp[:], nr, beta, accum, nil, b.c[cRow+jr:], b.ldc)
				continue
			}
		}
		k(b.kcb, ap, bp, b.pb.ld, &b.c[cRow+jr], b.ldc, b.alpha, beta, accum)
	}
}

// blockBeta returns the beta and accum arguments of the micro-kernels for
// the block of k starting at pc: the first block applies the caller's beta
// (reading C only when it is not 0), later blocks add to what is there.
func blockBeta(beta float32, pc int) (float32, int) {
	switch {
	case pc > 0:
		return 1, 1
	case beta != 0:
		return beta, 1
	}
	return 0, 0
}

// directStrip computes one strip of r rows of C (r <= mr) across a packed
// block of B (kcb steps, ncb columns in panels of nr), reading A's rows in
// place: C = alpha·A·B + beta·C, or alpha·A·B + bias when accum is 0 and
// bias (the block's values) is not nil. tmp holds an edge tile.
//
// Rows a multiple of 4 KB apart fall in one set of the 12-way L1 cache.
// Twelve of them evicted each other, and strips of 12 such rows were
// copied off that stride first; the six of a 6×64 strip fit, and the copy
// made 1,024³, 2,048³ and the base step's 2,048-wide products 3–5% slower.
//
// pb comes by pointer. Copied as an argument, the 40-byte struct was moved
// with overlapping 16-byte loads and stores, and a load spanning two
// stores waits for the store buffer to drain, the last kernel's stores of
// C included: attention's small products then ran 21% slower.
func (g *gemmArch) directStrip(r, kcb int, a []float32, lda int, pb *bPanels, ncb int, alpha, beta float32, accum int, bias, c []float32, ldc int, tmp *[6 * 64]float32) {
	nr := g.nr
	kern := g.direct[r]
	ap := &a[0]
	for jr := 0; jr < ncb; jr += nr {
		bp := pb.at(jr)
		var tb []float32
		if bias != nil {
			tb = bias[jr:]
		}
		k, kw := kern, nr // the kernel for the panel, and its width
		if w := ncb - jr; w < nr {
			if w <= nr/2 && g.narrow != nil {
				k, kw = g.narrow.direct[r], nr/2
			}
			if w < kw {
				k(kcb, ap, lda, bp, pb.ld, &tmp[0], nr, 1, 0, 0, nil)
				mergeTile(r, w, alpha, tmp[:], nr, beta, accum, tb, c[jr:], ldc)
				continue
			}
		}
		k(kcb, ap, lda, bp, pb.ld, &c[jr], ldc, alpha, beta, accum, firstOrNil(tb))
	}
}

// firstOrNil returns &x[0], or nil for an empty x (a kernel's optional
// pointer argument).
func firstOrNil(x []float32) *float32 {
	if len(x) == 0 {
		return nil
	}
	return &x[0]
}

// mergeTile sets C = alpha·T + beta·C (or alpha·T + bias when accum is 0)
// over r×w; bias may be nil.
func mergeTile(r, w int, alpha float32, t []float32, ldt int, beta float32, accum int, bias, c []float32, ldc int) {
	for i := 0; i < r; i++ {
		crow := c[i*ldc : i*ldc+w]
		trow := t[i*ldt : i*ldt+w]
		if accum == 0 {
			for j := range crow {
				crow[j] = alpha * trow[j]
			}
			if bias != nil {
				for j := range crow {
					crow[j] += bias[j]
				}
			}
			continue
		}
		for j := range crow {
			crow[j] = alpha*trow[j] + beta*crow[j]
		}
	}
}

// packA packs rows [i0, i0+mcb) and steps [p0, p0+kcb) of op(A) into
// panels of pw rows: panel q (rows i0+q·pw ...) starts at
// q·aPanelStride(pw, kcb) and holds, for each step p, its r <= pw values at
// p·pw (the last panel's other values are not written).
func packA(dst []float32, transA bool, a []float32, lda, i0, mcb, p0, kcb, pw int) {
	ps := aPanelStride(pw, kcb)
	ii := 0
	if copyPanels := copyPanelsOf(pw); transA && copyPanels != nil { // A(i, p) = a[p·lda + i]: rows of a are k-major
		// packAGroup panels at a time: each row of a gives them a run of
		// cache lines, read in order, and the writes stay in that many
		// streams.
		if np := mcb / pw; np > 0 {
			_ = a[(p0+kcb-1)*lda+i0+np*pw-1]
			_ = dst[(np-1)*ps+pw*kcb-1]
			for q := 0; q < np; q += packAGroup {
				copyPanels(&dst[q*ps], ps, &a[p0*lda+i0+q*pw], lda, kcb, min(packAGroup, np-q))
			}
			ii = np * pw
		}
	}
	for ; ii < mcb; ii += pw {
		r := min(pw, mcb-ii)
		d := dst[ii/pw*ps : ii/pw*ps+pw*kcb]
		if transA {
			src := a[p0*lda+i0+ii:]
			for p := 0; p < kcb; p++ {
				copy(d[p*pw:p*pw+r], src[p*lda:p*lda+r])
			}
			continue
		}
		packTransposed(d, pw, a[(i0+ii)*lda+p0:], lda, r, kcb)
	}
}

// aPanelStride returns the floats from one packed panel of A to the next:
// a panel's pw·kcb values and panelPad more. Panels pw·kcb apart start a
// multiple of 4 KB apart whenever pw·kcb is a multiple of 1,024 (12-row
// panels 256 or 512 steps deep: the base training step's weight
// gradients), and then fall in one set of the L1 cache, so the 16 panels a
// transposed A is packed into at once (packAGroup) evicted each other's
// lines as they were written. Packing 512×512 from cache ran at 10 GB/s,
// and at 31 GB/s with the panels a cache line further apart; the base step
// 1.028× and 1.032× faster (20 and 10 pairs toggled in one process). The
// small step's blocks of 352 steps did not alias (0.993, 30 pairs).
func aPanelStride(pw, kcb int) int {
	return pw*kcb + panelPad
}

// panelPad is aPanelStride's padding: one cache line of floats.
const panelPad = 16

// packAGroup is how many panels of a transposed A packA cuts from
// each row of a at once. A weight gradient's dyᵀ comes from memory at a
// few GB/s on this machine's cores; from a 1,024×8,000 dy, 16 panels (768
// bytes of each row) packed at 5.0 GB/s against 3.6 with 4, and made the
// small training step 1.2% faster (1.012 and 1.013 over 30 and 40 pairs
// toggled in one process; base 1.011). 32 gained no more, all of the
// block's panels at once less.
const packAGroup = 16

// copyPanelsOf returns the copyPanels kernel for micro-panels w wide (nil
// where there is none). AVX2's 6-wide panels used to be copied with copy,
// one call to memmove per 24 bytes: copyPanels6 made the small training
// step on those kernels 1.06× faster (30 pairs toggled in one process).
func copyPanelsOf(w int) func(dst *float32, ps int, src *float32, ld, k, np int) {
	switch w {
	case 6:
		return copyPanels6
	case 12:
		return copyPanels12
	}
	return nil
}

// packB packs steps [p0, p0+kcb) and columns [j0, j0+ncb) of op(B) into
// micro-panels of nr columns: panel q starts at q·nr·kcb and holds, for each
// step p, nr values (zero beyond the last column).
func packB(dst []float32, transB bool, b []float32, ldb, p0, kcb, j0, ncb, nr int) {
	jj := 0
	if !transB && (nr == 64 || nr == 16) { // B(p, j) = b[p·ldb + j]
		if np := ncb / nr; np > 0 {
			_ = b[(p0+kcb-1)*ldb+j0+np*nr-1]
			_ = dst[np*nr*kcb-1]
			if nr == 64 {
				copyPanels64(&dst[0], nr*kcb, &b[p0*ldb+j0], ldb, kcb, np)
			} else {
				copyPanels16(&dst[0], nr*kcb, &b[p0*ldb+j0], ldb, kcb, np)
			}
			jj = np * nr
		}
	}
	for ; jj < ncb; jj += nr {
		w := min(nr, ncb-jj)
		d := dst[jj*kcb : jj*kcb+nr*kcb]
		if transB { // B(p, j) = b[j·ldb + p]
			packTransposed(d, nr, b[(j0+jj)*ldb+p0:], ldb, w, kcb)
		} else {
			src := b[p0*ldb+j0+jj:]
			for p := 0; p < kcb; p++ {
				copy(d[p*nr:p*nr+w], src[p*ldb:p*ldb+w])
			}
		}
		if w < nr {
			for p := 0; p < kcb; p++ {
				clear(d[p*nr+w : p*nr+nr])
			}
		}
	}
}

// packHalf is packB for a transposed B in the 16-bit format h:
// B(p, j) = b[j·ldb + p], widened.
func packHalf(dst []float32, h Half, b []uint16, ldb, p0, kcb, j0, ncb, nr int) {
	for jj := 0; jj < ncb; jj += nr {
		w := min(nr, ncb-jj)
		d := dst[jj*kcb : jj*kcb+nr*kcb]
		packTransposedHalf(d, nr, h, b[(j0+jj)*ldb+p0:], ldb, w, kcb)
		if w < nr {
			for p := 0; p < kcb; p++ {
				clear(d[p*nr+w : p*nr+nr])
			}
		}
	}
}

// packQ8 is packB for a transposed B in 8 bits with block scales:
// B(p, j) = s[(j·ldb + p)/32]·b[j·ldb + p]. p0 and kcb are multiples of 32.
func packQ8(dst []float32, b []int8, s []float32, ldb, p0, kcb, j0, ncb, nr int) {
	for jj := 0; jj < ncb; jj += nr {
		w := min(nr, ncb-jj)
		d := dst[jj*kcb : jj*kcb+nr*kcb]
		at := (j0+jj)*ldb + p0
		packTransposedQ8(d, nr, b[at:], s[at/q8Block:], ldb, w, kcb)
		if w < nr {
			for p := 0; p < kcb; p++ {
				clear(d[p*nr+w : p*nr+nr])
			}
		}
	}
}

// packTransposedQ8 is packTransposed from 8-bit values with block scales
// (row i's at s[i·ld/32:], cols a multiple of 32), dequantized.
func packTransposedQ8(d []float32, ds int, src []int8, s []float32, ld, rows, cols int) {
	rows8 := rows &^ 7
	if rows8 > 0 && cols > 0 {
		_ = src[(rows8-1)*ld+cols-1]
		_ = s[((rows8-1)*ld+cols)/q8Block-1]
		_ = d[(cols-1)*ds+rows8-1]
		transposeChunks(rows8, cols, func(i, c0, n8 int) {
			transpose8q8(&src[i*ld+c0], ld, &s[(i*ld+c0)/q8Block], &d[c0*ds+i], ds, n8)
		})
	}
	for i := rows8; i < rows; i++ {
		for p, v := range src[i*ld : i*ld+cols] {
			d[p*ds+i] = s[(i*ld+p)/q8Block] * float32(v)
		}
	}
}

// packTransposedHalf is packTransposed from values in the 16-bit format h,
// widened.
func packTransposedHalf(d []float32, ds int, h Half, src []uint16, ld, rows, cols int) {
	t8 := transpose8bf16
	if h == F16 {
		t8 = transpose8f16
	}
	rows8, cols8 := rows&^7, cols&^7
	if rows8 > 0 && cols8 > 0 {
		_ = src[(rows8-1)*ld+cols8-1]
		_ = d[(cols8-1)*ds+rows8-1]
		transposeChunks(rows8, cols8, func(i, c0, n8 int) {
			t8(&src[i*ld+c0], ld, &d[c0*ds+i], ds, n8)
		})
	}
	for i := 0; i < rows; i++ { // the last cols%8 columns of the groups of 8 rows, and the last rows%8 rows whole
		p0 := cols8
		if i >= rows8 {
			p0 = 0
		}
		for p := p0; p < cols; p++ {
			d[p*ds+i] = h.value(src[i*ld+p])
		}
	}
}

// packTransposed sets d[p·ds + i] = src[i·ld + p] for i < rows, p < cols.
func packTransposed(d []float32, ds int, src []float32, ld, rows, cols int) {
	cols8 := cols &^ 7
	i := 0
	if cols8 > 0 {
		for ; i+8 <= rows; i += 8 {
			_ = src[(i+7)*ld+cols8-1]
			_ = d[(cols8-1)*ds+i+7]
			transpose8(&src[i*ld], ld, &d[i], ds, cols8/8)
			for p := cols8; p < cols; p++ {
				for q := 0; q < 8; q++ {
					d[p*ds+i+q] = src[(i+q)*ld+p]
				}
			}
		}
	}
	for ; i < rows; i++ {
		s := src[i*ld : i*ld+cols]
		for p, v := range s {
			d[p*ds+i] = v
		}
	}
}

// transposeChunks calls t8(i, c0, n8) to transpose the rows i..i+7 of a
// rows8×cols8 block (multiples of 8) over the columns c0..c0+8·n8−1:
// transposeChunk columns at a time, every group of 8 rows in turn, where
// each group used to go through all the columns before the next. A panel
// of 64 rows 384 deep (96 KB) does not stay in L1 from one group to the
// next, which fills half a cache line of each of its rows; a chunk of it
// (8 KB) does, and the 64 source rows are read one cache line each at a
// time, which keeps more misses in flight. One core packing a panel from a
// bfloat16 weight out of cache: 1.6× faster (0.37 against 0.60 ns a
// value); a 128-token prompt of a SmolLM2-135M-shaped Llama in bfloat16
// 1.014 and 1.015× (30 and 40 pairs toggled in one process, quartiles
// 1.003–1.025), in 8 bits 1.028 (1.011–1.039). From float32 it gained
// nothing (the same prompt 0.987 and 0.991, the base training step
// 0.999), and packTransposed keeps the old order.
func transposeChunks(rows8, cols8 int, t8 func(i, c0, n8 int)) {
	for c0 := 0; c0 < cols8; c0 += transposeChunk {
		n8 := (min(c0+transposeChunk, cols8) - c0) / 8
		for i := 0; i < rows8; i += 8 {
			t8(i, c0, n8)
		}
	}
}

// transposeChunk is transposeChunks's chunk of columns: a multiple of 8,
// and of the 32 values that share a scale in 8 bits.
const transposeChunk = 32

// gemmDots computes C = alpha·op(A)·Bᵀ + beta·C for m <= 8 as dot products
// of the rows of A with rows of B, reading B once.
func (g *gemmArch) gemmDots(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, buf *gemmBuf) {
	if transA { // gather the m rows of op(A) contiguously
		t := buf.a[:m*k]
		for p := 0; p < k; p++ {
			for i := 0; i < m; i++ {
				t[i*k+p] = a[p*lda+i]
			}
		}
		a, lda = t, k
	}
	g.gemmDotsOf(bOperand{f: b}, m, n, k, alpha, a, lda, ldb, beta, c, ldc, buf)
}

// gemmDotsOf is gemmDots (transA false) for B of any kind: the dots kernel
// of B's kind on each tile of columns; the last n%4 columns go to the
// arch's dot on B's row in float32 whatever m is, so that a row's result
// does not depend on how many rows came with it (a server decoding
// several sequences together gives each the numbers it would get alone).
func (g *gemmArch) gemmDotsOf(b bOperand, m, n, k int, alpha float32, a []float32, lda, ldb int, beta float32, c []float32, ldc int, buf *gemmBuf) {
	out := &buf.out
	cb := g.dotsCB[m]
	if b.q != nil {
		cb = g.dotsQ8CB[m]
	}
	nb := n - n%4
	// One row of A takes eight columns at a time, written straight into C
	// when they go there unchanged (alpha 1, beta 0): sparing the copy
	// through out made SmolLM2-135M's decode step 1.025× faster (60 pairs).
	var eight func(j int, o *float32) // columns j..j+7 into o
	switch {
	case m == 1 && b.f != nil && g.dots8 != nil:
		eight = func(j int, o *float32) { g.dots8(k, &a[0], lda, &b.f[j*ldb], ldb, o) }
	case m == 1 && b.h != nil && g.dotsHalf8[b.kind] != nil:
		kern := g.dotsHalf8[b.kind]
		eight = func(j int, o *float32) { kern(k, &a[0], lda, &b.h[j*ldb], ldb, o) }
	}
	j0 := 0
	for ; eight != nil && j0+8 <= nb; j0 += 8 {
		if cj := c[j0 : j0+8]; alpha == 1 && beta == 0 {
			eight(j0, &cj[0])
		} else {
			eight(j0, &out[0])
			setC(cj, alpha, out[:8], beta)
		}
	}
	if m > 1 && 0 < nb && nb < cb { // too few columns for the m-row kernel: each row alone
		for i := 0; i < m; i++ {
			g.gemmDotsOf(b, 1, nb, k, alpha, a[i*lda:], lda, ldb, beta, c[i*ldc:], ldc, buf)
		}
		j0 = nb
	}
	for j := j0; j < nb; j += cb {
		// Where cb does not divide nb (a multiple of 4), the last tile
		// ends at nb, over columns the one before computed, and only
		// its new columns are written.
		jt := min(j, nb-cb)
		switch {
		case b.q != nil:
			g.dotsQ8[m](k, &a[0], lda, &b.q[jt*ldb], ldb, &b.s[jt*ldb/q8Block], &out[0])
		case b.h != nil:
			g.dotsHalf[b.kind][m](k, &a[0], lda, &b.h[jt*ldb], ldb, &out[0])
		default:
			g.dots[m](k, &a[0], lda, &b.f[jt*ldb], ldb, &out[0])
		}
		for i := 0; i < m; i++ {
			setC(c[i*ldc+j:i*ldc+jt+cb], alpha, out[i*cb+j-jt:i*cb+cb], beta)
		}
	}
	if nb == n {
		return
	}
	// A 16- or 8-bit row is widened into buf.b, or for a k beyond it into
	// a pooled buffer.
	var dst []float32
	var pooled *[]float32
	if b.f == nil {
		if dst = buf.b; k > len(dst) {
			pooled = widenBufs.Get().(*[]float32)
			if cap(*pooled) < k {
				*pooled = make([]float32, k)
			}
			dst = *pooled
		}
	}
	for j := nb; j < n; j++ {
		row := b.row(j, k, ldb, dst)
		for i := 0; i < m; i++ {
			v := alpha * g.dot(a[i*lda:i*lda+k], row)
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
	if pooled != nil {
		widenBufs.Put(pooled)
	}
}

// setC sets c = alpha·o + beta·c (c not read when beta is 0).
func setC(c []float32, alpha float32, o []float32, beta float32) {
	o = o[:len(c)]
	if beta == 0 {
		for q := range c {
			c[q] = alpha * o[q]
		}
		return
	}
	for q := range c {
		c[q] = alpha*o[q] + beta*c[q]
	}
}

// dotsRows is the most rows of A a product with Bᵀ runs as dot products
// (gemmDotsBlocked) rather than packed: packing Bᵀ transposes every
// weight for a few rows' use (a beam search's hypotheses, a batch of
// decoded sequences). Measured on one core against the packed kernel:
// 1.4–1.9× at 12 and 16 rows, even at 32, behind at 48 and 64; a Llama
// decoding 16 sequences a step 1.19× faster.
const dotsRows = 16

// gemmDotsBlocked computes C = alpha·A·Bᵀ + beta·C for 8 < m <= dotsRows as
// gemmDotsOf does for up to 8 rows, eight rows of A at a time over blocks of
// B's rows small enough to stay in L2 between them: B is read from memory
// once, and each row of C gets the numbers it gets alone.
func (g *gemmArch) gemmDotsBlocked(b bOperand, m, n, k int, alpha float32, a []float32, lda, ldb int, beta float32, c []float32, ldc int, buf *gemmBuf) {
	nb := max(4, (1<<16)/max(k, 1)&^3) // 256 KB of float32 B a block
	for j0 := 0; j0 < n; j0 += nb {
		w := min(nb, n-j0)
		for i0 := 0; i0 < m; i0 += 8 {
			g.gemmDotsOf(b.from(j0, ldb), min(8, m-i0), w, k, alpha, a[i0*lda:], lda, ldb, beta, c[i0*ldc+j0:], ldc, buf)
		}
	}
}

// gemmRows computes C = alpha·op(A)·B + beta·C for m <= 8 and n a multiple
// of 32 by sweeping down the rows of B, eight at a time, over column blocks
// whose rows of C stay in L1.
func (g *gemmArch) gemmRows(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, buf *gemmBuf) {
	scaleC(m, n, beta, c, ldc)
	k8 := k &^ 7
	coef := buf.a[:k8*8]
	for p := 0; p < k8; p++ {
		cp := coef[p*8 : p*8+8]
		for i := 0; i < m; i++ {
			if transA {
				cp[i] = alpha * a[p*lda+i]
			} else {
				cp[i] = alpha * a[i*lda+p]
			}
		}
	}
	// Column blocks whose m rows of C stay in L1 (32 KB); B is read in
	// runs of colBlock values per row.
	colBlock := max(32, (8192/m)&^31)
	rows := g.rows
	if m == 1 && g.rows1 != nil {
		rows = g.rows1
	}
	for jb := 0; jb < n; jb += colBlock {
		w := min(colBlock, n-jb)
		for p := 0; p < k8; p += 8 {
			rows(m, w, &coef[p*8], &b[p*ldb+jb], ldb, &c[jb], ldc)
		}
		for p := k8; p < k; p++ {
			for i := 0; i < m; i++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				g.axpy(alpha*av, b[p*ldb+jb:p*ldb+jb+w], c[i*ldc+jb:i*ldc+jb+w])
			}
		}
	}
}

// gemmHalf is GemmHalf and gemmQ8 is GemmQ8: gemmLow on their B.
func (g *gemmArch) gemmHalf(h Half, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	g.gemmLow(bOperand{h: b, kind: h}, g.dotsHalf[h][1] != nil, m, n, k, alpha, a, lda, ldb, beta, c, ldc)
}

func (g *gemmArch) gemmQ8(m, n, k int, alpha float32, a []float32, lda int, b []int8, s []float32, ldb int, beta float32, c []float32, ldc int) {
	if m > 0 && n > 0 && k > 0 {
		_ = s[((n-1)*ldb+k)/q8Block-1]
	}
	g.gemmLow(bOperand{q: b, s: s}, g.dotsQ8[1] != nil, m, n, k, alpha, a, lda, ldb, beta, c, ldc)
}

// gemmLow computes C = alpha·A·Bᵀ + beta·C for a 16- or 8-bit B (the arch
// having dots kernels for it when dots is set): up to dotsRows rows of A
// as dot products with B's rows, widened (and scaled) in the kernel, eight
// rows at a time over blocks of B as gemmDotsBlocked does, and so with the
// numbers gemm gives on B in float32; more rows as gemm runs A·Bᵀ, B
// widened as it is packed.
func (g *gemmArch) gemmLow(b bOperand, dots bool, m, n, k int, alpha float32, a []float32, lda, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	if k <= 0 || alpha == 0 || !dots || g.direct[1] == nil {
		gemmWidened(g.gemm, b, m, n, k, alpha, a, lda, ldb, beta, c, ldc)
		return
	}
	_ = a[(m-1)*lda+k-1]
	if b.q != nil {
		_ = b.q[(n-1)*ldb+k-1]
	} else {
		_ = b.h[(n-1)*ldb+k-1]
	}
	buf := getBuf()
	switch {
	case m > dotsRows:
		g.gemmPackedOf(nil, false, true, m, n, k, alpha, a, lda, b, ldb, beta, nil, c, ldc, buf)
	case m > 8:
		g.gemmDotsBlocked(b, m, n, k, alpha, a, lda, ldb, beta, c, ldc, buf)
	default:
		g.gemmDotsOf(b, m, n, k, alpha, a, lda, ldb, beta, c, ldc, buf)
	}
	putBuf(buf)
}
