//go:build !purego

package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Team is one GEMM computed by several goroutines together, the way
// OpenBLAS's threads share a product: for each block of B they pack its
// panels into one shared buffer, each taking the next panels nobody has
// taken, and then compute strips of mr rows of C against it, each taking
// the next strip. Nothing is packed twice, A's rows are read once per block
// (by whoever takes the strip), and a core that runs slower takes fewer
// strips instead of holding up the other. With one band of columns of C
// per core instead, both cores read all of A, and the caller waited for the
// helper's band, which ran 5–6% longer.
//
// Any number of goroutines may call Work, joining at any time; each returns
// when the whole product is done. Only a row-major A (transA false) read in
// place by the arch's direct kernels is handled.
type Team struct {
	g             *gemmArch
	transB        bool
	m, n, k       int
	alpha, beta   float32
	a, b, bias, c []float32
	lda, ldb, ldc int
	kb, bn        int         // steps of k and columns of B per block (blockShape)
	pb            []float32   // the packed block of B, shared
	blocks        []teamBlock // per block of B, in the order they are computed
	refs          atomic.Int32
}

// teamBlock counts the work on one block of B.
type teamBlock struct {
	claimed, packed atomic.Int32 // claims of panels to pack
	// The goroutine that called Gemm takes strips from the front, helpers
	// from the back, so each mostly computes the same rows of C block after
	// block (and keeps them in its cache) and they meet wherever the faster
	// one gets to.
	strips Ends
	done   atomic.Int32 // strips computed
}

// teams holds the Teams not in use, kept across garbage collections as
// bufs are (a Team's packing buffer is 768 KB).
var teams struct {
	sync.Mutex
	free []*Team
}

// NewTeam returns a Team for C = alpha·A·op(B) + beta·C (bias, if not nil,
// added to every row, with alpha 1 and beta 0), or nil when the active
// implementation cannot share products this way. Arguments are as for
// Gemm, with m, n, k > 0.
func NewTeam(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) *Team {
	if !active.team { // a Team runs the avx512 kernels
		return nil
	}
	_ = c[(m-1)*ldc+n-1]
	checkCorners(false, transB, m, n, k, a, lda, b, ldb)
	teams.Lock()
	var t *Team
	if n := len(teams.free); n > 0 {
		t, teams.free = teams.free[n-1], teams.free[:n-1]
	} else {
		t = &Team{pb: make([]float32, blockB)}
	}
	teams.Unlock()
	t.g, t.transB, t.m, t.n, t.k, t.alpha, t.beta = arch512, transB, m, n, k, alpha, beta
	t.a, t.b, t.bias, t.c, t.lda, t.ldb, t.ldc = a, b, bias, c, lda, ldb, ldc
	t.kb, t.bn = blockShape(k, ldc) // as the serial product cuts it, for the same numbers
	nb := (k + t.kb - 1) / t.kb * ((n + t.bn - 1) / t.bn)
	if cap(t.blocks) < nb {
		t.blocks = make([]teamBlock, nb)
	}
	t.blocks = t.blocks[:nb]
	strips := (m + arch512.mr - 1) / arch512.mr
	for i := range t.blocks {
		b := &t.blocks[i]
		b.claimed.Store(0)
		b.packed.Store(0)
		b.strips.Reset(strips)
		b.done.Store(0)
	}
	return t
}

// Hold sets how many goroutines hold t: each calls Release when done with it.
func (t *Team) Hold(n int32) { t.refs.Store(n) }

// Release drops one holder's reference; the last recycles the Team.
func (t *Team) Release() {
	if t.refs.Add(-1) == 0 {
		t.a, t.b, t.bias, t.c = nil, nil, nil, nil
		teams.Lock()
		teams.free = append(teams.free, t)
		teams.Unlock()
	}
}

// panelsPerClaim is how many panels of B a goroutine packs per claim:
// copyPanels64 streams each row of B across several panels at once.
const panelsPerClaim = 2

// Work computes the product with whoever else is working on it and
// returns when all of it is done. The goroutine that called Gemm passes
// front; the helpers do not.
func (t *Team) Work(front bool) {
	g := t.g
	mr, nr := g.mr, g.nr
	strips := (t.m + mr - 1) / mr
	buf := getBuf() // for its edge tile and copied rows
	defer putBuf(buf)
	q := 0
	kb, bn := t.kb, t.bn
	for pc := 0; pc < t.k; pc += kb {
		kcb := min(kb, t.k-pc)
		beta, accum := blockBeta(t.beta, pc)
		for jc := 0; jc < t.n; jc += bn {
			ncb := min(bn, t.n-jc)
			panels := (ncb + nr - 1) / nr
			claims := (panels + panelsPerClaim - 1) / panelsPerClaim
			blk := &t.blocks[q]
			for {
				i := int(blk.claimed.Add(1) - 1)
				if i >= claims {
					break
				}
				p0 := i * panelsPerClaim * nr
				packB(t.pb[p0*kcb:], t.transB, t.b, t.ldb, pc, kcb, jc+p0, min(panelsPerClaim*nr, ncb-p0), nr)
				blk.packed.Add(1)
			}
			waitFor(&blk.packed, claims)
			pb := bPanels{p: t.pb, ld: nr, step: kcb}
			var bias []float32
			if t.bias != nil && pc == 0 {
				bias = t.bias[jc:]
			}
			for {
				s, ok := blk.strips.Take(front)
				if !ok {
					break
				}
				ir := s * mr
				g.directStrip(min(mr, t.m-ir), kcb, t.a[ir*t.lda+pc:], t.lda, &pb, ncb, t.alpha, beta, accum, bias, t.c[ir*t.ldc+jc:], t.ldc, &buf.tmp)
				blk.done.Add(1)
			}
			waitFor(&blk.done, strips) // before the buffer is packed again
			q++
		}
	}
}

// waitFor polls until *v reaches n: the items it counts were claimed by
// goroutines that are working on them, so the wait is short.
func waitFor(v *atomic.Int32, n int) {
	for int(v.Load()) < n {
		runtime.Gosched()
	}
}
