//go:build !purego

package kernels

import (
	"runtime"
	"sync/atomic"
)

// Band is one band of a parallel product (a share of C's rows or columns)
// that goroutines done with their own bands may help to finish. Its owner
// computes it with GemmBand block by block, as Gemm would; while it works
// on a block, a helper calling Help takes strips of that block from the
// bottom as the owner takes them from the top, computing them against the
// owner's packed panels. Each strip is computed exactly as the owner would,
// so the product's numbers do not depend on who computed what. The owner
// waits for the helpers' strips before it packs its next block.
//
// Bands of equal work run 5–10% apart in time on this kind of shared
// machine (a core slows for milliseconds at a time), and the core that
// finishes first would otherwise idle until the other is done.
type Band struct {
	blocks []bandBlock
	used   int
	cur    atomic.Pointer[bandBlock]
	over   atomic.Bool
}

// bandBlock is a block of the band open to helpers: the owner takes its
// strips from the front, helpers from the back.
type bandBlock struct {
	block
	strips Ends
	done   atomic.Int32 // strips computed
}

// Reset readies b for a new product; no goroutine may be using it.
func (b *Band) Reset() {
	b.cur.Store(nil)
	b.over.Store(false)
	for i := range b.blocks[:b.used] {
		b.blocks[i].block = block{} // drop the last product's matrices
	}
	b.used = 0
}

// Finish marks the band's work done, or the rest of it not shared: Help
// returns. b may be nil.
func (b *Band) Finish() {
	if b != nil {
		b.over.Store(true)
	}
}

// start sizes the band for a product of nb blocks.
func (b *Band) start(nb int) {
	if cap(b.blocks) < b.used+nb {
		// A new array: a helper may still hold a block of the old one (and
		// finds nothing left in it).
		b.blocks = make([]bandBlock, b.used+nb)
	}
	b.blocks = b.blocks[:cap(b.blocks)]
}

// next returns the band's next block, not yet shared.
func (b *Band) next() *block {
	blk := &b.blocks[b.used]
	b.used++
	return &blk.block
}

// share computes the strips of the band's newest block, which next
// returned, with whoever helps.
func (b *Band) share(blk *block, strips int, buf *gemmBuf) {
	bb := &b.blocks[b.used-1]
	bb.done.Store(0)
	bb.strips.Reset(strips)
	b.cur.Store(bb)
	for {
		s, ok := bb.strips.Take(true)
		if !ok {
			break
		}
		blk.strip(s, buf)
		bb.done.Add(1)
	}
	waitFor(&bb.done, strips) // before the packed panels change
}

// Help computes strips of b's blocks as the owner shares them, until the
// owner finishes the band.
func (b *Band) Help() {
	var buf *gemmBuf
	for !b.over.Load() {
		if bb := b.cur.Load(); bb != nil {
			if s, ok := bb.strips.Take(false); ok {
				if buf == nil {
					buf = getBuf()
				}
				bb.strip(s, buf)
				bb.done.Add(1)
				continue
			}
		}
		runtime.Gosched()
	}
	if buf != nil {
		putBuf(buf)
	}
}

// gemmBand is GemmBand on this arch.
func (g *gemmArch) gemmBand(band *Band, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	if bias != nil {
		g.gemmBiasWith(band, transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	g.gemmWith(band, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
