package autograd

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/attn-go/attn/tensor"
)

// AttentionOpts configures Attention.
type AttentionOpts struct {
	// Causal masks key j for query i when j > i + (Tk − Tq): each position
	// sees only itself and the past (the decoder's masked self-attention,
	// §3.2.3), also when the queries are the last Tq of Tk positions.
	Causal bool
	// Window, if not 0, also masks the keys more than Window − 1 positions
	// back: with Causal, each query sees the last Window positions, itself
	// included: the sliding-window attention of Mistral's layers and
	// Gemma's and SmolLM3's local ones (HF's sliding_window mask: key j for
	// query i when i − j < Window); without, the keys less than Window
	// positions away on either side (|i − j| < Window, EmbeddingGemma's
	// bidirectional local layers), positions counted as under Causal.
	Window int
	// Softcap, if not 0, squashes each scaled score s into
	// (−Softcap, Softcap) as Softcap·tanh(s/Softcap) before the mask and the
	// softmax (Gemma 2's attn_logit_softcapping).
	Softcap float32
	// KeyPad, if set, has B·Tk entries; true marks a padding key that no
	// query may attend to (PyTorch's key_padding_mask).
	KeyPad []bool
	// Scale multiplies q·kᵀ; 0 means 1/√D, the paper's choice (§3.2.1).
	Scale float32
	// Dropout is the probability of dropping an attention weight in training.
	Dropout float32
	// KVHeads, if not 0, is the number of key and value heads, fewer than
	// the queries' (grouped-query attention, Ainslie et al. 2023): k and v
	// are [B, Tk, KVHeads·D], and query head h reads key and value head
	// h / (heads/KVHeads). It is for inference: a tape that records
	// gradients panics.
	KVHeads int
	// Sinks, if not nil, holds a logit per query head [H] that joins each
	// of that head's rows in the softmax and has no value: the weights of
	// the keys then sum to less than 1, and a query may attend to nothing
	// (GPT-OSS's attention sinks). Its gradient is −Σ p_sink·(dO·O) over
	// the head's rows.
	Sinks *Var
}

// Block sizes of the streaming kernel: query rows and keys per tile. A tile
// of scores (64×128 floats, 32 KiB) and the Q, K and V panels it is made
// from stay in L2. They are variables so tests can cut tiny problems into
// many ragged blocks.
var (
	attnBlockQ = 64
	attnBlockK = 128
	// attnBlockKDecode is the key block for a few queries (decoding), where
	// a wider block means fewer, longer GEMM calls.
	attnBlockKDecode = 512
	// attnTranspose lets the kernel work from transposed copies of Q, K, V
	// and dO when each is used by several tiles.
	attnTranspose = true
	// attnShort lets a head whose queries and keys fit in one tile take
	// forwardShort and backwardShort.
	attnShort = true
)

// attnShortMax is the most queries and keys forwardShort takes. Its tile of
// scores, up to 256×256 floats, is one per worker; the backward pass keeps
// the weights only up to bq×bk, so that training memory stays linear in
// the length, and backwardShort recomputes them beyond. Against the
// streaming kernel, without a mask, the whole tile was 1.30–1.48× faster
// from 64 to 256 keys (and 1.35× at 1,024); under the causal mask, which
// the streaming kernel skips blocks of, 1.33× at 128 keys, 1.16× at 256
// and 0.83× at 1,024 (inference, 8 heads of 64; medians of 20–30 paired
// runs).
const attnShortMax = 256

// Attention is multi-head scaled dot-product attention (§3.2.1–3.2.2):
// for each head h, softmax(q_h·k_hᵀ·scale + mask)·v_h, the scores
// softcapped before the mask when opt.Softcap is set. q is [B, Tq, H·D],
// k and v are [B, Tk, H·D]; heads are the H consecutive D-wide column blocks,
// so no transposes are needed. The result is [B, Tq, H·D]. A query whose keys
// are all masked gets zeros.
//
// It is computed in the streaming-softmax form of FlashAttention-2 (Dao
// 2023): for each block of query rows of one head, the key blocks are
// visited in order, each tile of scores S = scale·Q·Kᵀ is turned into
// weights against a running row maximum, the output accumulated so far is
// rescaled when the maximum grows, and the weights times V are added. Key
// blocks wholly above the causal diagonal, before a sliding window or wholly
// padding are skipped.
// A head of more than 8 and at most attnShortMax (256) queries and keys is
// computed whole instead, its scores one tile (forwardShort): faster at
// those lengths, and its memory is one tile per worker.
// Only the log-sum-exp of each query row is kept for the backward pass,
// which recomputes the weights tile by tile (reading q, k, v and the output,
// which must not change before it runs), so memory grows linearly in the
// sequence length, never as Tq×Tk. Work is spread over (batch, head) pairs,
// and over blocks of one head when there are few pairs; the results do not
// depend on the scheduling or the number of workers.
//
// Dropout keeps exactly the mask of drawing, for each (batch, head) in
// order, one generator split from the tape's RNG and one Float32 per weight
// in row-major order; because that generator (SplitMix64) is a counter-based
// hash, any weight's draw is computed directly from its index, so the mask
// is regenerated in the backward pass instead of being stored, and it does
// not depend on how the work is scheduled.
func (tp *Tape) Attention(q, k, v *Var, heads int, opt AttentionOpts) *Var {
	if len(q.Value.Shape) != 3 || len(k.Value.Shape) != 3 || len(v.Value.Shape) != 3 {
		panic(fmt.Sprintf("autograd.Attention: q %v, k %v, v %v", q.Value.Shape, k.Value.Shape, v.Value.Shape))
	}
	return tp.AttentionCols(Cols{q, 0, q.Value.Shape[2]}, Cols{k, 0, k.Value.Shape[2]}, Cols{v, 0, v.Value.Shape[2]}, heads, opt)
}

// Cols is a block of columns of a value [B, T, C]: columns [Lo, Lo+Width)
// of every row.
type Cols struct {
	V         *Var
	Lo, Width int
}

// AttentionCols is Attention on column blocks of wider values: q is E
// columns of its value, k and v as many as their heads take. A fused
// projection's output ([B, T, 3·E] for self-attention, [B, Tk, 2·E] for a
// memory's keys and values) is read, and its gradient written, in place,
// where splitting it would copy it out and copy the gradients back.
func (tp *Tape) AttentionCols(q, k, v Cols, heads int, opt AttentionOpts) *Var {
	p, out, rec := tp.attention(q, k, v, heads, opt)
	y := out.Value
	var lse []float32
	if rec {
		if p.tq <= p.bq && p.tk <= p.bk && p.softcap == 0 { // a softcap's backward needs the scores
			if p.short {
				p.probs = tp.take(p.bsz*heads*p.tq*p.tk, false) // forwardShort writes them in full
			} else {
				p.probs = tp.floats(p.bsz * heads * p.tq * p.tk)
			}
		}
		// Short heads whose weights are kept go back from them alone (and
		// have no sinks): no log-sum-exp to compute, a log per row. At the
		// base training step's shape that made attention 1.04× faster
		// (1,000 pairs alternated in one process).
		if !p.short || p.probs == nil {
			lse = tp.floats(p.bsz * heads * p.tq)
		}
		// The backward pass reads the mask again: keep it from changes
		// the caller makes to its slice meanwhile.
		p.pad = slices.Clone(p.pad)
	}
	p.forward(y.Data, lse)
	if rec {
		tp.record(out, func(dy []float32) {
			p.backward(tp, q.V, k.V, v.V, y.Data, lse, dy)
			if needs(opt.Sinks) {
				p.sinkGrads(opt.Sinks.grad(), y.Data, lse, dy)
			}
		})
	}
	return out
}

// AttentionSteps is Attention, on a tape that records no gradients, for
// several sequences of one query each (a step of decoding several
// sequences at once): sequence i's q[i], [1, 1, H·D], against its own k[i]
// and v[i], [1, Tk_i, …]. Each result is what Attention gives the sequence
// alone, but all their heads (or groups of heads that share keys) are one
// parallel loop: a loop for each sequence has too little work to keep the
// cores busy, and a model decoding eight sequences starts eight times as
// many.
func (tp *Tape) AttentionSteps(q, k, v []*Var, heads int, opt AttentionOpts) []*Var {
	if len(k) != len(q) || len(v) != len(q) {
		panic(fmt.Sprintf("autograd.AttentionSteps: %d queries, %d keys and %d values", len(q), len(k), len(v)))
	}
	ps := make([]*attnProblem, len(q))
	outs := make([]*Var, len(q))
	rows := make([]int, len(q)) // heads a task of sequence i computes
	ends := make([]int, len(q)) // sequence i's tasks end at ends[i]
	tasks := 0
	for i := range q {
		if len(q[i].Value.Shape) != 3 || q[i].Value.Shape[0] != 1 || q[i].Value.Shape[1] != 1 || len(k[i].Value.Shape) != 3 || len(v[i].Value.Shape) != 3 {
			panic(fmt.Sprintf("autograd.AttentionSteps: sequence %d: q %v, k %v, v %v; want one query of one sequence", i, q[i].Value.Shape, k[i].Value.Shape, v[i].Value.Shape))
		}
		p, out, rec := tp.attention(Cols{q[i], 0, q[i].Value.Shape[2]}, Cols{k[i], 0, k[i].Value.Shape[2]}, Cols{v[i], 0, v[i].Value.Shape[2]}, heads, opt)
		if rec {
			panic("autograd.AttentionSteps: a tape that records gradients (it has no backward pass)")
		}
		ps[i], outs[i], rows[i] = p, out, p.decodeRows()
		tasks += p.heads / rows[i]
		ends[i] = tasks
	}
	runTasks(tasks, func(sc *attnScratch, t int) {
		i := 0
		for ends[i] <= t {
			i++
		}
		j := t - (ends[i] - ps[i].heads/rows[i]) // the task within sequence i
		ps[i].forwardBlock(sc, j*rows[i], 0, 1, rows[i], nil, outs[i].Value.Data, nil)
	})
	return outs
}

// attention checks Attention's arguments and returns its problem, its
// result (its value allocated, not computed) and whether the tape records
// its gradients.
func (tp *Tape) attention(q, k, v Cols, heads int, opt AttentionOpts) (p *attnProblem, out *Var, rec bool) {
	qs, ks, vs := q.V.Value.Shape, k.V.Value.Shape, v.V.Value.Shape
	kvHeads := cmp.Or(opt.KVHeads, heads)
	ok := len(qs) == 3 && len(ks) == 3 && len(vs) == 3 && heads > 0 && kvHeads > 0 && heads%kvHeads == 0 &&
		q.Width > 0 && q.Width%heads == 0 && k.Width == q.Width/heads*kvHeads && v.Width == k.Width &&
		ks[0] == qs[0] && vs[0] == qs[0] && vs[1] == ks[1] && vs[2] == ks[2]
	cs := [3]Cols{q, k, v}
	for i, c := range cs {
		ok = ok && c.Lo >= 0 && c.Lo+c.Width <= c.V.Value.Shape[len(c.V.Value.Shape)-1]
		for _, o := range cs[:i] {
			// Blocks of one value are the same columns or apart: the
			// backward pass writes each head's gradients from one task, and
			// partly overlapping blocks would have two tasks on one column.
			if o.V == c.V && o.Lo != c.Lo && o.Lo < c.Lo+c.Width && c.Lo < o.Lo+o.Width {
				panic(fmt.Sprintf("autograd.Attention: column blocks [%d, %d) and [%d, %d) of one value overlap", o.Lo, o.Lo+o.Width, c.Lo, c.Lo+c.Width))
			}
		}
	}
	if !ok {
		panic(fmt.Sprintf("autograd.Attention: q %v columns [%d, %d), k %v columns [%d, %d), v %v columns [%d, %d), %d heads, %d key/value heads",
			qs, q.Lo, q.Lo+q.Width, ks, k.Lo, k.Lo+k.Width, vs, v.Lo, v.Lo+v.Width, heads, kvHeads))
	}
	bsz, tq, e, tk := qs[0], qs[1], q.Width, ks[1]
	if opt.Softcap < 0 {
		panic(fmt.Sprintf("autograd.Attention: a softcap of %v", opt.Softcap))
	}
	if opt.Window < 0 {
		panic(fmt.Sprintf("autograd.Attention: a window of %d", opt.Window))
	}
	var sinks []float32
	if opt.Sinks != nil {
		if sinks = opt.Sinks.Value.Data; len(sinks) != heads {
			panic(fmt.Sprintf("autograd.Attention: %d sinks for %d heads", len(sinks), heads))
		}
	}
	if opt.KeyPad != nil && len(opt.KeyPad) != bsz*tk {
		panic(fmt.Sprintf("autograd.Attention: key padding mask has %d entries, want %d", len(opt.KeyPad), bsz*tk))
	}
	d := e / heads
	scale := opt.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	dropout := opt.Dropout
	if tp == nil || tp.RNG == nil {
		dropout = 0
	}
	p = &attnProblem{
		bsz: bsz, tq: tq, tk: tk, e: e, heads: heads, d: d, off: tk - tq, group: heads / kvHeads,
		causal: opt.Causal, window: opt.Window, softcap: opt.Softcap, pad: opt.KeyPad, sinks: sinks, scale: scale, dropout: dropout,
		q: q.V.Value.Data[q.Lo:], k: k.V.Value.Data[k.Lo:], v: v.V.Value.Data[v.Lo:], lq: qs[2], lk: ks[2],
		offQ: q.Lo, offK: k.Lo, offV: v.Lo,
		bq: attnBlockQ, bk: attnBlockK,
	}
	if tq <= 8 {
		p.bk = attnBlockKDecode
	}
	if dropout > 0 {
		// The mask of weight (i, j) of head bh is the (i·Tk + j + 1)-th draw
		// of seeds[bh]: keep it when the draw's top 24 bits, read as a
		// fraction, are >= dropout (RNG.Float32() >= dropout).
		p.seeds, p.thr, p.keep = dropSeeds(tp.RNG, bsz*heads, dropout)
	}
	out, rec = tp.result(nil, q.V, k.V, v.V, opt.Sinks)
	// A head whose scores make one tile of at most attnShortMax², with
	// enough queries that transposing K pays (not decoding). Not decided
	// by rec: a training tape's forward pass gives the bits of inference's.
	p.short = attnShort && tq > 8 && tq <= attnShortMax && tk > 0 && tk <= attnShortMax && p.softcap == 0 && sinks == nil
	var y *tensor.Tensor
	if p.short { // written in full
		y = tp.output(bsz, tq, e)
	} else {
		y = tp.alloc(bsz, tq, e)
	}
	out.Value = y
	if rec && kvHeads != heads {
		panic("autograd.Attention: grouped-query attention (KVHeads) has no backward pass; run it on an inference tape")
	}
	return p, out, rec
}

// attnProblem is one Attention call: shapes, options and inputs.
type attnProblem struct {
	bsz, tq, tk, e, heads, d int
	group                    int // query heads per key/value head (grouped-query attention)
	off                      int // tk − tq: query i sees keys j <= i + off under the causal mask
	causal                   bool
	window                   int // query i sees keys j > i + off − window (and, not causal, j < i + off + window), when not 0
	softcap                  float32
	pad                      []bool
	sinks                    []float32 // per head, when not nil
	scale, dropout           float32
	seeds                    []uint64 // per (batch, head), when dropout > 0
	thr                      uint64   // keep a weight when its draw's top 24 bits are >= thr
	keep                     float32  // 1/(1 − dropout)
	q, k, v                  []float32
	lq, lk                   int // row strides of q and of k and v (and of their gradients)
	offQ, offK, offV         int // where q, k and v start in their Vars
	bq, bk                   int // block sizes
	// short is set when each head is one tile, computed whole by
	// forwardShort (and differentiated by backwardShort; see backward).
	short bool
	// probs, when the sequences fit in one tile (Tq <= bq, Tk <= bk), keeps
	// the softmax weights (before dropout) of every head for the backward
	// pass, which then need not recompute them. It is at most bq·bk floats
	// per head, like the scratch tiles.
	probs []float32
}

// attnScratch is one worker's reusable buffers.
type attnScratch struct {
	s, dp []float32 // tiles of scores/weights and of their gradients
	th    []float32 // tanh of the scores over a softcap
	m, l  []float32 // running row maximum and sum of the forward pass
	dvec  []float32 // rowsum(dO⊙O) of one head's queries
	// Transposed (D-major) copies of one head's operands, so that the
	// GEMMs pack them by plain copies, once, rather than transposing them
	// again for every tile.
	qt, kt, vt, dot []float32
	mask            []float32 // a tile's dropout mask (keep or 0)
	w               []float32 // a short head's weights, recomputed
}

// attnScratches holds the scratch not in use. Unlike a sync.Pool it keeps
// it across garbage collections, so that a training step does not allocate
// it again and again; it grows to the most workers ever busy at once, and
// lets go of scratch beyond attnScratchKeep bytes (a one-off long sequence).
var attnScratches struct {
	sync.Mutex
	free []*attnScratch
}

const attnScratchKeep = 16 << 20

func getScratch() *attnScratch {
	attnScratches.Lock()
	defer attnScratches.Unlock()
	if n := len(attnScratches.free); n > 0 {
		sc := attnScratches.free[n-1]
		attnScratches.free = attnScratches.free[:n-1]
		return sc
	}
	return new(attnScratch)
}

func putScratch(sc *attnScratch) {
	size := 4 * (cap(sc.s) + cap(sc.dp) + cap(sc.th) + cap(sc.m) + cap(sc.l) + cap(sc.dvec) + cap(sc.qt) + cap(sc.kt) + cap(sc.vt) + cap(sc.dot) + cap(sc.mask) + cap(sc.w))
	if size > attnScratchKeep {
		return
	}
	attnScratches.Lock()
	attnScratches.free = append(attnScratches.free, sc)
	attnScratches.Unlock()
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// splits returns into how many interleaved chunks the blocks of one head
// are shared out so that there are at least tasks tasks: a few heads still
// keep every worker busy.
func (p *attnProblem) splits(blocks, tasks int) int {
	bh := p.bsz * p.heads
	if bh >= tasks {
		return 1
	}
	return max(1, min(blocks, (tasks+bh-1)/bh))
}

// attnMinTasks is how many tasks the backward pass splits into at least.
// It is a constant, not the number of workers, because how the work is cut
// decides the order in which dQ is summed, and the gradients should not
// depend on the number of workers.
const attnMinTasks = 8

// runTasks calls fn for tasks 0..n−1 on up to Workers() goroutines, which
// take the next task as they finish one; each task borrows a scratch.
// fn must only write memory owned by its task.
func runTasks(n int, fn func(sc *attnScratch, task int)) {
	tensor.ParallelFor(n, func(t int) {
		sc := getScratch()
		fn(sc, t)
		putScratch(sc)
	})
}

// visible returns the index, within a key block starting at j0 of width bc,
// of the last key query row i may see under the causal mask (bc − 1 without
// it); a negative result means none.
func (p *attnProblem) visible(i, j0, bc int) int {
	switch {
	case p.causal:
		return min(bc-1, i+p.off-j0)
	case p.window > 0:
		return min(bc-1, i+p.off+p.window-1-j0)
	}
	return bc - 1
}

// first returns the index, within a key block starting at j0, of the first
// key query row i may see under the sliding window (0 without one).
func (p *attnProblem) first(i, j0 int) int {
	if p.window == 0 {
		return 0
	}
	return max(0, i+p.off-p.window+1-j0)
}

// capScores sets each score x of row[first:last+1] to cap·tanh(x/cap)
// (Gemma 2's attn_logit_softcapping) and, when t is not nil, keeps
// tanh(x/cap) in t for the backward pass.
func capScores(row, t []float32, first, last int, cap float32) {
	for j := first; j <= last; j++ {
		th := float32(math.Tanh(float64(row[j] / cap)))
		row[j] = cap * th
		if t != nil {
			t[j] = th
		}
	}
}

// allPad reports whether keys [j0, j1) of sequence b are all padding.
func (p *attnProblem) allPad(b, j0, j1 int) bool {
	if p.pad == nil {
		return false
	}
	for _, x := range p.pad[b*p.tk+j0 : b*p.tk+j1] {
		if !x {
			return false
		}
	}
	return true
}

// tileMask returns the dropout mask of query rows [i0, i0+br) against all
// the keys, drawn at once into sc.mask (a row's draws follow the last
// row's when the tile holds every key), or nil when the tile does not hold
// every key or there is no dropout.
func (p *attnProblem) tileMask(sc *attnScratch, seed uint64, i0, br, j0, bc int) []float32 {
	if p.dropout == 0 || j0 != 0 || bc != p.tk {
		return nil
	}
	sc.mask = grow(sc.mask, br*bc)
	dropMask(sc.mask, seed+uint64(i0*p.tk+1)*tensor.Golden64, p.thr, p.keep)
	return sc.mask
}

// dropRow applies the dropout mask to the weights w (keys j0...) of query
// row i, row r of a tile whose mask, if not nil, tileMask drew (the
// weights after last are 0 there); else it draws the row's mask.
func (p *attnProblem) dropRow(w, mask []float32, r int, seed uint64, i, j0, last int) {
	switch {
	case mask != nil:
		mulInto(w, w, mask[r*len(w):(r+1)*len(w)], false)
	case p.dropout > 0:
		dropWeights(w[:last+1], seed, i*p.tk+j0, p.thr, p.keep)
	}
}

// dropWeights applies the dropout mask to weights w, the first of which is
// weight number at of its head (row-major): weight n is kept, and scaled
// by keep, when the top 24 bits of draw n+1 of seed are >= thr.
func dropWeights(w []float32, seed uint64, at int, thr uint64, keep float32) {
	var m [dropChunk]float32
	ctr := seed + uint64(at+1)*tensor.Golden64
	for len(w) > 0 {
		n := min(len(w), dropChunk)
		dropMask(m[:n], ctr, thr, keep)
		mulInto(w[:n], w[:n], m[:n], false)
		w, ctr = w[n:], ctr+uint64(n)*tensor.Golden64
	}
}

// dropChunk is how many weights of a row dropWeights and the backward pass
// draw at a time, into a mask on the stack.
const dropChunk = 128

// dropMaskGo sets m[j] = keep when the top 24 bits of Mix64(ctr +
// j·Golden64) (draw j of the SplitMix64 generator whose state is ctr −
// Golden64) are >= thr, else 0.
func dropMaskGo(m []float32, ctr, thr uint64, keep float32) {
	for j := range m {
		m[j] = 0
		if tensor.Mix64(ctr)>>40 >= thr {
			m[j] = keep
		}
		ctr += tensor.Golden64
	}
}

// dropSeeds draws the dropout generators of Attention and BiasAttention:
// one per (batch, head), split in order from rng, with the threshold and
// scale of dropWeights.
func dropSeeds(rng *tensor.RNG, n int, dropout float32) (seeds []uint64, thr uint64, keep float32) {
	seeds = make([]uint64, n)
	for i := range seeds {
		seeds[i] = rng.Split().State
	}
	return seeds, uint64(math.Ceil(float64(dropout) * (1 << 24))), 1 / (1 - dropout)
}

// forward computes the output y and, if lse is not nil, the log-sum-exp of
// every query row's scores (−Inf for a row with no visible key).
func (p *attnProblem) forward(y, lse []float32) {
	if p.short {
		p.shortHeads(func(sc *attnScratch, bh int) { p.forwardShort(sc, bh, y, lse) })
		return
	}
	if p.tq == 1 {
		rows := p.decodeRows()
		runTasks(p.bsz*p.heads/rows, func(sc *attnScratch, task int) {
			p.forwardBlock(sc, task*rows, 0, 1, rows, nil, y, lse)
		})
		return
	}
	nq := (p.tq + p.bq - 1) / p.bq
	sp := p.splits(nq, 2*tensor.Workers()) // the cut does not change the results
	nk := (p.tk + p.bk - 1) / p.bk
	runTasks(p.bsz*p.heads*sp, func(sc *attnScratch, task int) {
		bh, c := task/sp, task%sp
		var kt []float32
		// With several tiles per column of blocks, work from transposed
		// copies (not decided per task, so that results do not depend on
		// the scheduling).
		if attnTranspose && nq >= 2 && nk >= 2 {
			b, h := bh/p.heads, bh%p.heads
			kt = grow(sc.kt, p.d*padLD(p.tk))
			sc.kt = kt
			transpose(kt, padLD(p.tk), p.k[b*p.tk*p.lk+h/p.group*p.d:], p.lk, p.tk, p.d)
		}
		for qb := c; qb < nq; qb += sp {
			p.forwardBlock(sc, bh, qb*p.bq, min(p.tq, (qb+1)*p.bq), 1, kt, y, lse)
		}
	})
}

// decodeRows returns how many heads a block of one query computes
// together: with grouped-query attention, the query heads that share a
// key/value head are the rows of one block, so their keys and values are
// read once, in products of several rows that give each row the numbers
// it gets alone: up to eight rows, four with products in bfloat16 (more
// are computed in bfloat16), and heads a multiple of 32 wide (a narrower
// last panel is packed, in blocks of k that depend on the output's row
// stride). A SmolLM2-135M-shaped Llama (9 heads, 3 key/value heads)
// decoded 1.03× faster with 1,000 tokens cached, 4 sequences with 1,000
// 1.18×, 8 with 128 1.06× (30–60 pairs toggled in one process).
func (p *attnProblem) decodeRows() int {
	if p.tq == 1 && 1 < p.group && p.group <= 8 && p.dropout == 0 && p.probs == nil &&
		p.d%32 == 0 && (p.group <= 4 || !tensor.MatmulBF16()) {
		return p.group
	}
	return 1
}

// transposeGo sets dst[c·ldd + i] = src[i·lds + c] for i < rows, c < cols:
// eight rows of src at a time, each column of them stored as eight
// consecutive floats.
func transposeGo(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	_ = dst[(cols-1)*ldd+rows-1]
	i := 0
	for ; i+8 <= rows; i += 8 {
		s0 := src[i*lds : i*lds+cols]
		s1 := src[(i+1)*lds : (i+1)*lds+cols]
		s2 := src[(i+2)*lds : (i+2)*lds+cols]
		s3 := src[(i+3)*lds : (i+3)*lds+cols]
		s4 := src[(i+4)*lds : (i+4)*lds+cols]
		s5 := src[(i+5)*lds : (i+5)*lds+cols]
		s6 := src[(i+6)*lds : (i+6)*lds+cols]
		s7 := src[(i+7)*lds : (i+7)*lds+cols]
		for c := range s0 {
			d := dst[c*ldd+i : c*ldd+i+8 : c*ldd+i+8]
			d[0], d[1], d[2], d[3] = s0[c], s1[c], s2[c], s3[c]
			d[4], d[5], d[6], d[7] = s4[c], s5[c], s6[c], s7[c]
		}
	}
	for ; i < rows; i++ {
		for c, x := range src[i*lds : i*lds+cols] {
			dst[c*ldd+i] = x
		}
	}
}

// padLD returns a row stride for n floats that is a multiple of 16 but not
// of 256, so that the rows of a transposed copy do not all fall into the
// same cache sets.
func padLD(n int) int { return (n+15)&^15 + 16 }

// forwardBlock computes query rows [i0, i1) of head bh, or with heads > 1
// query i0 (i1 = i0+1) of heads bh … bh+heads−1, which share their keys
// and values. kt, if not nil, is the head's K transposed (D×Tk).
func (p *attnProblem) forwardBlock(sc *attnScratch, bh, i0, i1, heads int, kt, y, lse []float32) {
	b, h := bh/p.heads, bh%p.heads
	e, lq, lk, d, tk := p.e, p.lq, p.lk, p.d, p.tk
	qo, qi, ko := b*p.tq*e+h*d, b*p.tq*lq+h*d, b*tk*lk+h/p.group*d // y's, q's, k's and v's
	br := i1 - i0
	// From row r to the next: the query (qs), the head (hs), the rows of
	// Q and Y (lda, ly) and the log-sum-exp (ls).
	qs, hs, lda, ly, ls := 1, 0, lq, e, 1
	if heads > 1 {
		br, qs, hs, lda, ly, ls = heads, 0, 1, d, d, p.tq
	}
	sc.s = grow(sc.s, br*p.bk)
	m, l := grow(sc.m, br), grow(sc.l, br)
	sc.m, sc.l = m, l
	negInf := float32(math.Inf(-1))
	for r := range m {
		m[r], l[r] = negInf, 0
		if p.sinks != nil && !math.IsInf(float64(p.sinks[h+r*hs]), -1) { // the sink's weight e^(sink − m), counted in l from the start
			m[r], l[r] = p.sinks[h+r*hs], 1
		}
	}
	kEnd := tk
	switch {
	case p.causal:
		kEnd = min(tk, i1+p.off) // keys the last row of the block sees
	case p.window > 0:
		kEnd = min(tk, i1+p.off+p.window-1)
	}
	var seed uint64
	if p.dropout > 0 {
		seed = p.seeds[bh]
	}
	var qt []float32
	if kt != nil {
		qt = grow(sc.qt, d*padLD(br))
		sc.qt = qt
		transpose(qt, padLD(br), p.q[qi+i0*lq:], lq, br, d)
	}
	kStart := 0 // the key block of the first key the block's first row sees
	if p.window > 0 {
		kStart = p.first(i0, 0) / p.bk * p.bk
	}
	for j0 := kStart; j0 < kEnd; j0 += p.bk {
		j1 := min(j0+p.bk, tk)
		if p.allPad(b, j0, j1) {
			continue
		}
		bc := j1 - j0
		s := sc.s[:br*bc]
		if kt != nil {
			tensor.GemmSerial(true, false, br, bc, d, p.scale, qt, padLD(br), kt[j0:], padLD(tk), 0, s, bc)
		} else {
			tensor.GemmSerial(false, true, br, bc, d, p.scale, p.q[qi+i0*lq:], lda, p.k[ko+j0*lk:], lk, 0, s, bc)
		}
		var pad []bool
		if p.pad != nil {
			pad = p.pad[b*tk+j0 : b*tk+j1]
		}
		mask := p.tileMask(sc, seed, i0, br, j0, bc)
		for r := 0; r < br; r++ {
			row := s[r*bc : (r+1)*bc]
			last := p.visible(i0+r*qs, j0, bc)
			first := p.first(i0+r*qs, j0)
			if last < first {
				clear(row)
				continue
			}
			for j := range row[:first] {
				row[j] = negInf
			}
			if p.softcap > 0 {
				capScores(row, nil, first, last, p.softcap)
			}
			mx := negInf
			if pad != nil {
				for j, x := range row[:last+1] {
					if pad[j] {
						row[j] = negInf
					} else if x > mx {
						mx = x
					}
				}
			} else {
				mx = rowMax(row[:last+1])
			}
			if mx == negInf {
				clear(row)
				continue
			}
			mOld := m[r]
			mNew := max(mOld, mx)
			sum := expRow(row, last, mNew)
			if mOld != mNew && mOld != negInf {
				alpha := expf(mOld - mNew)
				l[r] *= alpha
				yr := y[qo+i0*e+r*ly : qo+i0*e+r*ly+d]
				for c := range yr {
					yr[c] *= alpha
				}
			}
			l[r] += sum
			m[r] = mNew
			if p.probs != nil { // the only key block: l is complete
				pr := p.probs[(bh*p.tq+i0+r)*tk : (bh*p.tq+i0+r+1)*tk]
				inv := 1 / l[r]
				for j, w := range row[:last+1] {
					pr[j] = w * inv
				}
			}
			p.dropRow(row, mask, r, seed, i0+r*qs, j0, last)
		}
		tensor.GemmSerial(false, false, br, d, bc, 1, s, bc, p.v[ko+j0*lk:], lk, 1, y[qo+i0*e:], ly)
	}
	for r := 0; r < br; r++ {
		if l[r] == 0 { // no visible key: the row was never touched and stays 0
			if lse != nil {
				lse[bh*p.tq+i0+r*ls] = negInf
			}
			continue
		}
		inv := 1 / l[r]
		yr := y[qo+i0*e+r*ly : qo+i0*e+r*ly+d]
		for c := range yr {
			yr[c] *= inv
		}
		if lse != nil {
			lse[bh*p.tq+i0+r*ls] = m[r] + float32(math.Log(float64(l[r])))
		}
	}
}

// shortHeads calls fn for every head (batch, head pair), a run of
// consecutive heads per task: attnRunsPerWorker runs per worker made the
// small training step's attention 1.25× faster than a task per head (60
// pairs toggled in one process), and did not change the results.
func (p *attnProblem) shortHeads(fn func(sc *attnScratch, bh int)) {
	n := p.bsz * p.heads
	per := max(1, n/(attnRunsPerWorker*tensor.Workers()))
	runTasks((n+per-1)/per, func(sc *attnScratch, t int) {
		for bh := t * per; bh < min(n, (t+1)*per); bh++ {
			fn(sc, bh)
		}
	})
}

const attnRunsPerWorker = 8

// shortLD is the row stride of a short head's tiles of scores and of its
// transposed keys and values: whole panels of the GEMM kernels (see
// tensor.GemmSmall), which read B that wide.
func shortLD(tk int) int { return (tk + 31) &^ 31 }

// forwardShort computes head bh whole, its Tq×Tk scores one tile: S =
// scale·Q·Kᵀ against a transposed copy of K, each row's softmax (kept in
// probs when it is set; the log-sum-exp in lse), then the dropout mask and
// Y = P·V. Its products read Q, K, V and the weights where they lie: on
// short sequences (32 keys, heads of 64) packing them and the streaming
// kernel's running maximum cost as much as the arithmetic.
func (p *attnProblem) forwardShort(sc *attnScratch, bh int, y, lse []float32) {
	b, h := bh/p.heads, bh%p.heads
	e, lk, d, tq, tk := p.e, p.lk, p.d, p.tq, p.tk
	qo, vo := b*tq*e+h*d, b*tk*lk+h/p.group*d // y's and v's
	ld := shortLD(tk)
	sc.s = grow(sc.s, tq*ld)
	s := sc.s
	pad := p.shortScores(sc, bh, s)
	var seed uint64
	if p.dropout > 0 {
		seed = p.seeds[bh]
	}
	mask := p.tileMask(sc, seed, 0, tq, 0, tk)
	negInf := float32(math.Inf(-1))
	for i := range tq {
		row := s[i*ld : i*ld+tk]
		var pr []float32
		if p.probs != nil {
			pr = p.probs[(bh*tq+i)*tk : (bh*tq+i+1)*tk]
		}
		last, first := p.visible(i, 0, tk), p.first(i, 0)
		mx := negInf
		if last >= first {
			maskRow(row, pad, first, last)
			mx = rowMax(row[first : last+1])
		}
		if mx == negInf { // no visible key: the row's weights and output are 0
			clear(row)
			clear(pr)
			if lse != nil {
				lse[bh*tq+i] = negInf
			}
			continue
		}
		sum := expRow(row, last, mx)
		axpb(row, row, 1/sum, 0, false)
		copy(pr, row)
		if lse != nil {
			lse[bh*tq+i] = mx + float32(math.Log(float64(sum)))
		}
		p.dropRow(row, mask, i, seed, i, 0, last)
	}
	tensor.GemmSmall(tq, d, tk, 1, s, ld, p.v[vo:], lk, 0, y[qo:], e)
}

// backwardShort adds head bh's gradients, forwardShort's backward pass,
// from the weights P it kept, or else recomputed whole as e^(S − lse):
// dV = P'ᵀ·dO with P' = P⊙M (M the dropout mask), dP = (dO·Vᵀ)⊙M,
// dS = P⊙(dP − rowsum(P⊙dP)), dQ = scale·dS·K and dK = scale·dSᵀ·Q.
// (rowsum(P⊙dP) is rowsum(dO⊙O), which the streaming backward pass
// computes: the softmax backward as PyTorch writes it.) Masked weights are
// 0 in P, so their dS is 0 without a test.
func (p *attnProblem) backwardShort(sc *attnScratch, bh int, lse, dy, dq, dk, dv []float32) {
	b, h := bh/p.heads, bh%p.heads
	e, lq, lk, d, tq, tk := p.e, p.lq, p.lk, p.d, p.tq, p.tk
	qo, qi, ko := b*tq*e+h*d, b*tq*lq+h*d, b*tk*lk+h*d // dy's, q's (and dq's), k's and v's
	ld := shortLD(tk)
	var probs []float32 // P, rows lp apart
	lp := tk
	if p.probs != nil {
		probs = p.probs[bh*tq*tk : (bh+1)*tq*tk]
	} else {
		probs, lp = p.recompute(sc, bh, lse), ld
	}
	var seed uint64
	if p.dropout > 0 {
		seed = p.seeds[bh]
	}
	mask := p.tileMask(sc, seed, 0, tq, 0, tk)
	if dv != nil {
		// P' transposed, Tk×Tq.
		pt := grow(sc.qt, tk*tq)
		sc.qt = pt
		w, lw := probs, lp
		if mask != nil {
			w, lw = grow(sc.s, tq*tk), tk
			sc.s = w
			for i := range tq {
				mulInto(w[i*tk:(i+1)*tk], probs[i*lp:i*lp+tk], mask[i*tk:(i+1)*tk], false)
			}
		}
		transpose(pt, tq, w, lw, tq, tk)
		tensor.GemmSmall(tk, d, tq, 1, pt, tq, dy[qo:], e, 1, dv[ko:], lk)
	}
	if dq == nil && dk == nil {
		return
	}
	vt := grow(sc.vt, d*ld)
	sc.vt = vt
	transpose(vt, ld, p.v[ko:], lk, tk, d)
	ds := grow(sc.dp, tq*ld)
	sc.dp = ds
	tensor.GemmSmall(tq, ld, d, 1, dy[qo:], e, vt, ld, 0, ds, ld)
	for i := range tq {
		pr, drow := probs[i*lp:i*lp+tk], ds[i*ld:i*ld+tk]
		if mask != nil {
			mulInto(drow, drow, mask[i*tk:(i+1)*tk], false)
		}
		dsRow(pr, drow, tensor.Dot(pr, drow))
	}
	if dq != nil {
		tensor.GemmSmall(tq, d, tk, p.scale, ds, ld, p.k[ko:], lk, 1, dq[qi:], lq)
	}
	if dk != nil {
		dst := grow(sc.dot, tk*tq)
		sc.dot = dst
		transpose(dst, tq, ds, ld, tq, tk)
		tensor.GemmSmall(tk, d, tq, p.scale, dst, tq, p.q[qi:], lq, 1, dk[ko:], lk)
	}
}

// recompute returns head bh's weights P = e^(S − lse), rows shortLD(tk)
// apart in sc.w, for backwardShort when probs did not keep them: S as
// forwardShort computed it, masked keys and rows with no visible key 0.
func (p *attnProblem) recompute(sc *attnScratch, bh int, lse []float32) []float32 {
	tq, tk := p.tq, p.tk
	ld := shortLD(tk)
	sc.w = grow(sc.w, tq*ld)
	s := sc.w
	pad := p.shortScores(sc, bh, s)
	negInf := float32(math.Inf(-1))
	for i := range tq {
		row := s[i*ld : i*ld+tk]
		last, first := p.visible(i, 0, tk), p.first(i, 0)
		m := lse[bh*tq+i]
		if last < first || m == negInf {
			clear(row)
			continue
		}
		maskRow(row, pad, first, last)
		expRow(row, last, m)
	}
	return s
}

// shortScores sets s (Tq rows shortLD(Tk) apart) to head bh's scores
// scale·Q·Kᵀ, against a transposed copy of K, and returns its sequence's
// key padding mask (nil without one).
func (p *attnProblem) shortScores(sc *attnScratch, bh int, s []float32) (pad []bool) {
	b, h := bh/p.heads, bh%p.heads
	ld := shortLD(p.tk)
	sc.kt = grow(sc.kt, p.d*ld)
	transpose(sc.kt, ld, p.k[b*p.tk*p.lk+h/p.group*p.d:], p.lk, p.tk, p.d)
	tensor.GemmSmall(p.tq, ld, p.d, p.scale, p.q[b*p.tq*p.lq+h*p.d:], p.lq, sc.kt, ld, 0, s, ld)
	if p.pad != nil {
		pad = p.pad[b*p.tk : (b+1)*p.tk]
	}
	return pad
}

// maskRow sets to −Inf the scores in row, up to key last, that its query
// may not see: those before first (a sliding window's) and padding.
func maskRow(row []float32, pad []bool, first, last int) {
	for j := range row[:first] {
		row[j] = float32(math.Inf(-1))
	}
	for j := range pad[:min(len(pad), last+1)] {
		if pad[j] {
			row[j] = float32(math.Inf(-1))
		}
	}
}

// expRow sets row[j] = e^(row[j] − m) for j <= last and 0 after, and
// returns the sum. The masked keys up to the next multiple of 8 are set to
// −Inf and go through the exponential with the others (giving 0), so that
// the vector loop covers the whole row.
func expRow(row []float32, last int, m float32) float32 {
	n := min(len(row), (last+8)&^7)
	tail := row[last+1 : n]
	for j := range tail {
		tail[j] = float32(math.Inf(-1))
	}
	clear(row[n:])
	return expShift(row[:n], m)
}

// expShiftGo sets x[j] = e^(x[j] − m) (x[j] = −Inf gives 0) and returns the
// sum. It is expf specialised for arguments in [−87, 1], the case of softmax
// against a row maximum (others go to expf; below −87 the weight, under
// 2e-38 of the row's largest, is 0): four elements at a time, with e^r of
// the reduced argument by Estrin's scheme, which shortens the chain of
// dependent operations so that the four overlap.
func expShiftGo(x []float32, m float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
		magic = 12582912 // adding and subtracting 1.5·2^23 rounds to an integer
		c2    = 1.0 / 2
		c3    = 1.0 / 6
		c4    = 1.0 / 24
		c5    = 1.0 / 120
		c6    = 1.0 / 720
		c7    = 1.0 / 5040
	)
	var s0, s1, s2, s3 float32
	j := 0
	for ; j+4 <= len(x); j += 4 {
		v := x[j : j+4 : j+4]
		a0, a1, a2, a3 := v[0]-m, v[1]-m, v[2]-m, v[3]-m
		if !(a0 >= -87 && a1 >= -87 && a2 >= -87 && a3 >= -87 && a0 <= 1 && a1 <= 1 && a2 <= 1 && a3 <= 1) {
			s0 += expShiftSlow(v, m)
			continue
		}
		n0 := a0*log2e + magic - magic
		n1 := a1*log2e + magic - magic
		n2 := a2*log2e + magic - magic
		n3 := a3*log2e + magic - magic
		r0 := a0 - n0*ln2hi - n0*ln2lo
		r1 := a1 - n1*ln2hi - n1*ln2lo
		r2 := a2 - n2*ln2hi - n2*ln2lo
		r3 := a3 - n3*ln2hi - n3*ln2lo
		q0, q1, q2, q3 := r0*r0, r1*r1, r2*r2, r3*r3
		p0 := (1 + r0) + q0*(c2+r0*c3) + q0*q0*((c4+r0*c5)+q0*(c6+r0*c7))
		p1 := (1 + r1) + q1*(c2+r1*c3) + q1*q1*((c4+r1*c5)+q1*(c6+r1*c7))
		p2 := (1 + r2) + q2*(c2+r2*c3) + q2*q2*((c4+r2*c5)+q2*(c6+r2*c7))
		p3 := (1 + r3) + q3*(c2+r3*c3) + q3*q3*((c4+r3*c5)+q3*(c6+r3*c7))
		e0 := p0 * math.Float32frombits(uint32(int32(n0)+127)<<23)
		e1 := p1 * math.Float32frombits(uint32(int32(n1)+127)<<23)
		e2 := p2 * math.Float32frombits(uint32(int32(n2)+127)<<23)
		e3 := p3 * math.Float32frombits(uint32(int32(n3)+127)<<23)
		v[0], v[1], v[2], v[3] = e0, e1, e2, e3
		s0 += e0
		s1 += e1
		s2 += e2
		s3 += e3
	}
	return (s0 + s1) + (s2 + s3) + expShiftSlow(x[j:], m)
}

// dsDropped is dsRow through a dropout mask m (keep or 0): dp =
// p⊙(dp⊙m − di), then p = p⊙m, the weights as the forward pass used them.
func dsDropped(p, dp, m []float32, di float32) {
	mulInto(dp, dp, m, false)
	dsRow(p, dp, di)
	mulInto(p, p, m, false)
}

// dsRowGo sets dp[j] = p[j]·(dp[j] − di).
func dsRowGo(p, dp []float32, di float32) {
	p = p[:len(dp)]
	for j, pw := range p {
		dp[j] = pw * (dp[j] - di)
	}
}

// expShiftSlow is expShiftGo one element at a time, through expf.
func expShiftSlow(x []float32, m float32) float32 {
	var s float32
	for j, v := range x {
		ev := float32(0)
		if a := v - m; a >= -87 {
			ev = expf(a)
		} else if a != a {
			ev = a
		}
		x[j] = ev
		s += ev
	}
	return s
}

// rowMaxGo returns the largest of x (−Inf if x is empty).
func rowMaxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// backward adds Attention's gradients into q, k and v. With P the weights
// (recomputed tile by tile as e^(S − lse)), M the dropout mask (times
// 1/(1 − dropout)), P' = P⊙M the weights applied to V, dO the output
// gradient and O the output, per head:
// dV = P'ᵀ·dO; dP = (dO·Vᵀ)⊙M; dS = P⊙(dP − D) with D = rowsum(dO⊙O)
// (= rowsum(dP⊙P)); dQ = scale·dS·K; dK = scale·dSᵀ·Q.
//
// The work is split by key blocks, each owned by one task, which walks the
// query blocks that see it and adds into its own rows of dK and dV. When
// there are fewer than attnMinTasks heads, a head's key blocks are shared
// out among several tasks, each summing its part of dQ in a buffer of its
// own; the parts are added up, in a fixed order, at the end.
func (p *attnProblem) backward(tp *Tape, q, k, v *Var, y, lse, dy []float32) {
	var dq, dk, dv []float32
	if needs(q) {
		dq = q.grad()[p.offQ:]
	}
	if needs(k) {
		dk = k.grad()[p.offK:]
	}
	if needs(v) {
		dv = v.grad()[p.offV:]
	}
	// Whole heads: from the kept weights, or recomputing them up to one
	// key block, or without a mask whose blocks the streaming backward
	// skips (recomputed whole, a causal head of 256 keys took 1.09× the
	// streaming time; 128 keys 0.94×, and 256 without a mask 0.92×).
	if p.short && (p.probs != nil || p.tk <= attnBlockK || !p.causal && p.window == 0) {
		p.shortHeads(func(sc *attnScratch, bh int) { p.backwardShort(sc, bh, lse, dy, dq, dk, dv) })
		return
	}
	nk := (p.tk + p.bk - 1) / p.bk
	sp := p.splits(nk, attnMinTasks)
	var parts []float32
	if sp > 1 && dq != nil {
		parts = tp.floats(p.bsz * p.heads * sp * p.tq * p.d)
	}
	runTasks(p.bsz*p.heads*sp, func(sc *attnScratch, task int) {
		bh, c := task/sp, task%sp
		dqt, ldq := dq, p.lq
		qOff := (bh/p.heads)*p.tq*p.lq + (bh%p.heads)*p.d
		if parts != nil {
			dqt, ldq, qOff = parts[task*p.tq*p.d:(task+1)*p.tq*p.d], p.d, 0
		}
		p.backwardHead(sc, bh, c, sp, y, lse, dy, dqt, ldq, qOff, dk, dv)
	})
	if parts != nil {
		tensor.Parallel(p.bsz*p.heads, 1, func(lo, hi int) {
			for bh := lo; bh < hi; bh++ {
				b, h := bh/p.heads, bh%p.heads
				for c := 0; c < sp; c++ {
					part := parts[(bh*sp+c)*p.tq*p.d:]
					for i := 0; i < p.tq; i++ {
						at := b*p.tq*p.lq + i*p.lq + h*p.d
						dst := dq[at : at+p.d]
						for j, x := range part[i*p.d : i*p.d+p.d] {
							dst[j] += x
						}
					}
				}
			}
		})
	}
}

// sinkGrads adds to ds each head's sink gradient: −Σ p_sink·D over its
// rows, p_sink = e^(sink − lse) and D = dO·O, the sink's share of the
// weights times what moving weight from the keys to it (whose value is 0)
// takes from the loss.
func (p *attnProblem) sinkGrads(ds, y, lse, dy []float32) {
	for bh := range p.bsz * p.heads {
		b, h := bh/p.heads, bh%p.heads
		var sum float64
		for i := range p.tq {
			at := b*p.tq*p.e + i*p.e + h*p.d
			var dot float64
			for c := range p.d {
				dot += float64(dy[at+c]) * float64(y[at+c])
			}
			sum += math.Exp(float64(p.sinks[h]-lse[bh*p.tq+i])) * dot
		}
		ds[h] -= float32(sum)
	}
}

// backwardHead handles key blocks c, c+sp, c+2·sp, ... of head bh. dq (row
// stride ldq, head offset qOff) receives this task's part of dQ; dq, dk or
// dv is nil when that input takes no gradient.
func (p *attnProblem) backwardHead(sc *attnScratch, bh, c, sp int, y, lse, dy, dq []float32, ldq, qOff int, dk, dv []float32) {
	b, h := bh/p.heads, bh%p.heads
	e, lq, lk, d, tq, tk := p.e, p.lq, p.lk, p.d, p.tq, p.tk
	qo, qi, ko := b*tq*e+h*d, b*tq*lq+h*d, b*tk*lk+h*d // y's and dy's, q's, k's and v's
	needS := dq != nil || dk != nil
	// D_i = rowsum(dO_i ⊙ O_i) for every query row.
	dvec := grow(sc.dvec, tq)
	sc.dvec = dvec
	if needS {
		for i := range dvec {
			dvec[i] = tensor.Dot(dy[qo+i*e:qo+i*e+d], y[qo+i*e:qo+i*e+d])
		}
	}
	sc.s = grow(sc.s, p.bq*p.bk)
	sc.dp = grow(sc.dp, p.bq*p.bk)
	var th []float32 // tanh of each score over the softcap
	if p.softcap > 0 {
		sc.th = grow(sc.th, p.bq*p.bk)
		th = sc.th
	}
	nk, nq := (tk+p.bk-1)/p.bk, (tq+p.bq-1)/p.bq
	var qt, dot, kt, vt []float32
	if attnTranspose && nk >= 2 && nq >= 2 { // Q and dO are used by several tiles
		qt = grow(sc.qt, d*padLD(tq))
		transpose(qt, padLD(tq), p.q[qi:], lq, tq, d)
		kt = grow(sc.kt, d*padLD(p.bk))
		sc.qt, sc.kt = qt, kt
		if needS {
			dot = grow(sc.dot, d*padLD(tq))
			transpose(dot, padLD(tq), dy[qo:], e, tq, d)
			vt = grow(sc.vt, d*padLD(p.bk))
			sc.dot, sc.vt = dot, vt
		}
	}
	var seed uint64
	if p.dropout > 0 {
		seed = p.seeds[bh]
	}
	lrow := lse[bh*tq : (bh+1)*tq]
	for kb := c; kb < nk; kb += sp {
		j0 := kb * p.bk
		j1 := min(j0+p.bk, tk)
		bc := j1 - j0
		if p.allPad(b, j0, j1) {
			continue
		}
		var pad []bool
		if p.pad != nil {
			pad = p.pad[b*tk+j0 : b*tk+j1]
		}
		iStart := 0
		switch {
		case p.causal:
			iStart = max(0, j0-p.off) // the first query that sees key j0
		case p.window > 0:
			iStart = max(0, j0-p.off-p.window+1)
		}
		if qt != nil {
			transpose(kt, padLD(bc), p.k[ko+j0*lk:], lk, bc, d)
			if needS {
				transpose(vt, padLD(bc), p.v[ko+j0*lk:], lk, bc, d)
			}
		}
		iEnd := tq
		if p.window > 0 {
			iEnd = min(tq, j1-p.off+p.window-1) // after the last query that sees key j1 − 1
		}
		for i0 := iStart / p.bq * p.bq; i0 < iEnd; i0 += p.bq {
			i1 := min(i0+p.bq, tq)
			br := i1 - i0
			s, dp := sc.s[:br*bc], sc.dp[:br*bc]
			cached := p.probs != nil // one tile per head: its weights were kept
			if cached {
				s = p.probs[bh*tq*tk : (bh+1)*tq*tk]
				if needS {
					tensor.GemmSerial(false, true, br, bc, d, 1, dy[qo+i0*e:], e, p.v[ko+j0*lk:], lk, 0, dp, bc)
				}
			} else if qt != nil {
				tensor.GemmSerial(true, false, br, bc, d, p.scale, qt[i0:], padLD(tq), kt, padLD(bc), 0, s, bc)
				if needS {
					tensor.GemmSerial(true, false, br, bc, d, 1, dot[i0:], padLD(tq), vt, padLD(bc), 0, dp, bc)
				}
			} else {
				tensor.GemmSerial(false, true, br, bc, d, p.scale, p.q[qi+i0*lq:], lq, p.k[ko+j0*lk:], lk, 0, s, bc)
				if needS {
					tensor.GemmSerial(false, true, br, bc, d, 1, dy[qo+i0*e:], e, p.v[ko+j0*lk:], lk, 0, dp, bc)
				}
			}
			mask := p.tileMask(sc, seed, i0, br, j0, bc)
			for r := 0; r < br; r++ {
				i := i0 + r
				row, drow := s[r*bc:(r+1)*bc], dp[r*bc:(r+1)*bc]
				last, first := p.visible(i, j0, bc), p.first(i, j0)
				if last < first || lrow[i] == float32(math.Inf(-1)) {
					clear(row)
					clear(drow)
					continue
				}
				var trow []float32
				if th != nil {
					trow = th[r*bc : (r+1)*bc]
				}
				if !cached {
					for j := range row[:first] {
						row[j] = float32(math.Inf(-1))
					}
					if trow != nil {
						capScores(row, trow, first, last, p.softcap)
					}
					if pad != nil {
						for j := range row[:last+1] {
							if pad[j] {
								row[j] = float32(math.Inf(-1))
							}
						}
					}
					expRow(row, last, lrow[i])
				}
				if !needS {
					p.dropRow(row, mask, r, seed, i, j0, last)
					continue
				}
				clear(drow[last+1:])
				di := dvec[i]
				if mask != nil { // after last, row and drow are 0 and stay so
					dsDropped(row[:last+1], drow[:last+1], mask[r*bc:r*bc+last+1], di)
				} else if p.dropout > 0 {
					// The same, the mask drawn a chunk of the row at a time.
					var chunk [dropChunk]float32
					ctr := seed + uint64(i*tk+j0+1)*tensor.Golden64
					for c := 0; c <= last; c += dropChunk {
						n := min(dropChunk, last+1-c)
						dropMask(chunk[:n], ctr, p.thr, p.keep)
						dsDropped(row[c:c+n], drow[c:c+n], chunk[:n], di)
						ctr += uint64(n) * tensor.Golden64
					}
				} else {
					dsRow(row[:last+1], drow[:last+1], di)
				}
				for j := first; trow != nil && j <= last; j++ { // through the softcap
					drow[j] *= 1 - trow[j]*trow[j]
				}
			}
			if dv != nil {
				tensor.GemmSerial(true, false, bc, d, br, 1, s, bc, dy[qo+i0*e:], e, 1, dv[ko+j0*lk:], lk)
			}
			if dq != nil {
				tensor.GemmSerial(false, false, br, d, bc, p.scale, dp, bc, p.k[ko+j0*lk:], lk, 1, dq[qOff+i0*ldq:], ldq)
			}
			if dk != nil {
				tensor.GemmSerial(true, false, bc, d, br, p.scale, dp, bc, p.q[qi+i0*lq:], lq, 1, dk[ko+j0*lk:], lk)
			}
		}
	}
}

// maskedSoftmax turns row (scores) into softmax weights over keys 0..last
// that are not padding; masked keys get weight 0, and a row with no visible
// key becomes all zeros.
func maskedSoftmax(row []float32, last int, pad []bool) {
	m := float32(math.Inf(-1))
	for j := 0; j <= last; j++ {
		if pad == nil || !pad[j] {
			m = max(m, row[j])
		}
	}
	if math.IsInf(float64(m), -1) {
		clear(row)
		return
	}
	var s float32
	for j := range row {
		if j > last || (pad != nil && pad[j]) {
			row[j] = 0
			continue
		}
		ev := expf(row[j] - m)
		row[j] = ev
		s += ev
	}
	inv := 1 / s
	for j := 0; j <= last; j++ {
		row[j] *= inv
	}
}
