package gpt

import (
	"fmt"
	"slices"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/tensor"
)

// Cache holds each layer's keys and values for the positions run so far, so
// that generating a token costs one position's work plus attention over the
// cache instead of a pass over the whole sequence. Its buffers are allocated
// once, for n_positions positions of B sequences. A Cache serves one
// goroutine; Step does not modify the model, so several caches may run at once.
type Cache struct {
	m          *Model
	b, size, c int
	n          int         // positions filled
	k, v       [][]float32 // per layer: [B, size, C]
	// arena holds a step's activations; the next step reuses them.
	arena *autograd.Tape
	q, y  []float32 // attend's queries and output, reused layer after layer
}

// NewCache returns an empty cache for b sequences decoded together.
func (m *Model) NewCache(b int) *Cache {
	c := &Cache{m: m, b: b, size: m.Cfg.NPositions, c: m.Cfg.NEmbd, arena: autograd.NewInferenceTape()}
	for range m.H {
		c.k = append(c.k, make([]float32, b*c.size*c.c))
		c.v = append(c.v, make([]float32, b*c.size*c.c))
	}
	return c
}

// Len returns the number of positions in the cache.
func (c *Cache) Len() int { return c.n }

// Truncate forgets every position from n on (n <= Len), to rewind, and
// returns n (lm.Sequence).
func (c *Cache) Truncate(n int) int {
	c.n = c.Keeps(n)
	return c.n
}

// Keeps returns what Truncate(n) would keep: n (lm.Sequence).
func (c *Cache) Keeps(n int) int {
	if n < 0 || n > c.n {
		panic(fmt.Sprintf("gpt: a rewind to %d positions of a cache holding %d", n, c.n))
	}
	return n
}

// Reset empties the cache.
func (c *Cache) Reset() { c.n = 0 }

// Next is StepLast on the cache's model (lm.Sequence).
func (c *Cache) Next(ids []int) (*tensor.Tensor, error) { return c.m.StepLast(c, ids, c.b) }

// NewSequence returns an empty one-sequence cache (lm.Model).
func (m *Model) NewSequence() lm.Sequence { return m.NewCache(1) }

// NewBatchStep returns StepBatch with BatchBuffers of its own
// (lm.BatchModel); its sequences must be this model's one-sequence caches.
func (m *Model) NewBatchStep() func(seqs []lm.Sequence, ids []int) (*tensor.Tensor, error) {
	bt := NewBatchBuffers()
	var caches []*Cache
	return func(seqs []lm.Sequence, ids []int) (*tensor.Tensor, error) {
		var err error
		if caches, err = lm.Caches(caches[:0], seqs); err != nil {
			return nil, fmt.Errorf("gpt: %w", err)
		}
		return m.StepBatch(bt, caches, ids)
	}
}

// Window returns n_positions (lm.Model).
func (m *Model) Window() int { return m.Cfg.NPositions }

// VocabSize returns vocab_size (lm.Model).
func (m *Model) VocabSize() int { return m.Cfg.VocabSize }

// EndsText reports whether id is the end-of-text token (lm.Model).
func (m *Model) EndsText(id int) bool { return m.Cfg.HasEOS && id == m.Cfg.EOS }

// Step runs the next T = len(ids)/B tokens of each of the B sequences
// (row-major: a prompt chunk, or one token each when generating) through the
// model without a tape, appends their keys and values to the cache, and
// returns the logits of the new positions, [B, T, V]. They equal the
// corresponding rows of Forward on the whole sequence so far. It fails if the
// cache would exceed n_positions (the caller then drops old context and
// starts a new cache).
func (m *Model) Step(c *Cache, ids []int, b int) (*tensor.Tensor, error) {
	var out *tensor.Tensor
	_, err := m.steps(c, ids, b, func(x *autograd.Var, at, n, t int) {
		if n == t { // one piece: the logits are the result
			out = m.head(nil, x).Value
			return
		}
		v := m.Cfg.VocabSize
		if out == nil {
			out = tensor.New(b, t, v)
		}
		l := m.head(c.arena, x).Value.Data
		for i := range b {
			copy(out.Data[(i*t+at)*v:(i*t+at+n)*v], l[i*n*v:(i+1)*n*v])
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StepLast is Step returning only the logits of each sequence's last new
// position, [B, V]: what sampling needs, without the output projection of a
// whole prompt.
func (m *Model) StepLast(c *Cache, ids []int, b int) (*tensor.Tensor, error) {
	x, err := m.steps(c, ids, b, nil)
	if err != nil {
		return nil, err
	}
	t, d := x.Value.Shape[1], m.Cfg.NEmbd
	last := tensor.New(b, d)
	for i := 0; i < b; i++ {
		copy(last.Data[i*d:(i+1)*d], x.Value.Data[((i+1)*t-1)*d:(i+1)*t*d])
	}
	return m.head(nil, autograd.Const(last)).Value, nil
}

// stepChunk is the most positions (of all B sequences together) that Step
// and StepLast run through the blocks at once: a longer prompt runs through
// the cache in pieces (of lengths differing by at most one), so that its
// activations, every layer's held in the cache's arena until the step
// ends, take a piece's memory rather than the whole prompt's. The numbers
// equal the whole prompt's to rounding. A variable for tests.
var stepChunk = 512

// steps checks the new tokens and runs them through the blocks in pieces
// of n positions per sequence, calling each (when not nil) with every
// piece's final hidden states [B, n, C], the position in the new tokens
// where it starts, n, and the new tokens per sequence, t; it returns the
// last piece's, held in c's arena until its next step. Nothing is appended
// to the cache when the tokens are refused.
func (m *Model) steps(c *Cache, ids []int, b int, each func(x *autograd.Var, at, n, t int)) (*autograd.Var, error) {
	if c == nil || c.b != b || len(c.k) != len(m.H) || c.c != m.Cfg.NEmbd || c.size != m.Cfg.NPositions {
		return nil, fmt.Errorf("gpt: the cache does not fit this model with B=%d", b)
	}
	if b <= 0 || len(ids)%b != 0 {
		return nil, fmt.Errorf("gpt: %d token ids do not split into B=%d sequences", len(ids), b)
	}
	t := len(ids) / b
	if err := m.checkIDs(ids, b, t, c.n); err != nil {
		return nil, err
	}
	pieces := (t + max(1, stepChunk/b) - 1) / max(1, stepChunk/b)
	var x *autograd.Var
	var piece []int
	for i, at := 0, 0; i < pieces; i++ {
		n := t / pieces
		if i < t%pieces {
			n++
		}
		p := ids
		if pieces > 1 { // each sequence's positions at..at+n−1
			piece = piece[:0]
			for s := range b {
				piece = append(piece, ids[s*t+at:s*t+at+n]...)
			}
			p = piece
		}
		x = m.step(c, p, b, n)
		if each != nil {
			each(x, at, n, t)
		}
		at += n
	}
	return x, nil
}

// step runs the blocks on t new tokens of each of the b sequences
// (checked by steps) and returns their final hidden states [B, T, C]
// (before ln_f), held in c's arena until its next step.
func (m *Model) step(c *Cache, ids []int, b, t int) *autograd.Var {
	// Inference: nothing is recorded, and the activations of the last step
	// (which the caller has consumed) make room for this one's.
	tp := c.arena
	tp.Reset()
	x := m.embed(tp, ids, b, t, c.n)
	for l, blk := range m.H {
		a := blk.Attn
		y := c.attend(l, a.CAttn.Forward(tp, blk.Ln1.Forward(tp, x)), a.Heads, a.Scale)
		x = tp.Add(x, a.CProj.Forward(tp, y))
		x = tp.Add(x, blk.MLP.Forward(tp, blk.Ln2.Forward(tp, x)))
	}
	c.n += t
	return x
}

// attend appends the keys and values in qkv [B, T, 3C] to layer l's cache at
// positions n..n+T−1 and returns the queries' causal attention over
// positions 0..n+T−1, [B, T, C], in a buffer the next call reuses.
func (c *Cache) attend(l int, qkv *autograd.Var, heads int, scale float32) *autograd.Var {
	b, t, d := qkv.Value.Shape[0], qkv.Value.Shape[1], c.c
	tk := c.n + t
	if len(c.q) < b*t*d {
		c.q, c.y = make([]float32, b*t*d), make([]float32, b*t*d)
	}
	q := tensor.FromSlice(c.q[:b*t*d], b, t, d)
	y := tensor.FromSlice(c.y[:b*t*d], b, t, d)
	for i := 0; i < b; i++ {
		for j := 0; j < t; j++ {
			row := qkv.Value.Data[(i*t+j)*3*d : (i*t+j+1)*3*d]
			copy(q.Data[(i*t+j)*d:], row[:d])
			c.store(l, i, c.n+j, row)
		}
	}
	for i := 0; i < b; i++ { // one sequence at a time: its cache rows are contiguous
		copy(y.Data[i*t*d:], c.attendSeq(c.arena, l, i, q.Data[i*t*d:(i+1)*t*d], t, tk, heads, scale))
	}
	return autograd.Const(y)
}

// store puts the key and value of a q|k|v row [3C] into layer l's cache,
// sequence i, position pos.
func (c *Cache) store(l, i, pos int, row []float32) {
	d := c.c
	at := (i*c.size + pos) * d
	copy(c.k[l][at:at+d], row[d:2*d])
	copy(c.v[l][at:at+d], row[2*d:])
}

// attendSeq returns the causal attention, computed on tp, of sequence i's t
// queries q [T·C] over its cached keys and values at positions 0..tk−1.
func (c *Cache) attendSeq(tp *autograd.Tape, l, i int, q []float32, t, tk, heads int, scale float32) []float32 {
	qi, ki, vi := c.seqVars(tp, l, i, q, t, tk)
	return tp.Attention(qi, ki, vi, heads, autograd.AttentionOpts{Causal: true, Scale: scale}).Value.Data
}

// seqVars returns sequence i's t queries q [T·C] and its cached keys and
// values at positions 0..tk−1 of layer l as Attention's arguments, views
// valid for tp's pass.
func (c *Cache) seqVars(tp *autograd.Tape, l, i int, q []float32, t, tk int) (qi, ki, vi *autograd.Var) {
	d := c.c
	kv := i * c.size * d
	qi = tp.View(q, 1, t, d)
	ki = tp.View(c.k[l][kv:kv+tk*d], 1, tk, d) // (1, Tk, C)
	vi = tp.View(c.v[l][kv:kv+tk*d], 1, tk, d)
	return qi, ki, vi
}

// BatchBuffers holds the activations of StepBatch, which decodes one token for each
// of several sequences at once; the next step reuses them. BatchBuffers serve
// one goroutine.
type BatchBuffers struct {
	arena      *autograd.Tape
	y          []float32 // attention's output, reused layer after layer
	qs, ks, vs []*autograd.Var
}

// NewBatchBuffers returns empty BatchBuffers.
func NewBatchBuffers() *BatchBuffers { return &BatchBuffers{arena: autograd.NewInferenceTape()} }

// StepBatch runs one new token for each of several independent sequences,
// ids[i] after the positions held in caches[i] (caches of one sequence
// each, every one at its own length), appends their keys and values, and
// returns the new positions' logits, [len(caches), V], held in bt until its
// next step. Row i equals StepLast on caches[i] alone, to rounding (the
// products run with one row per sequence). Decoding one token is bound by
// reading the weights, which a batch reads once for all its sequences, so a
// server that steps its clients together serves several for little more
// than the price of one.
func (m *Model) StepBatch(bt *BatchBuffers, caches []*Cache, ids []int) (*tensor.Tensor, error) {
	b, d := len(caches), m.Cfg.NEmbd
	if bt == nil || b == 0 || len(ids) != b {
		return nil, fmt.Errorf("gpt: StepBatch needs BatchBuffers and one token id for each of its %d caches (got %d ids)", b, len(ids))
	}
	pos := make([]int, b)
	for i, c := range caches {
		if c == nil || c.b != 1 || len(c.k) != len(m.H) || c.c != d || c.size != m.Cfg.NPositions {
			return nil, fmt.Errorf("gpt: cache %d is not a one-sequence cache of this model", i)
		}
		if slices.Index(caches, c) != i {
			return nil, fmt.Errorf("gpt: caches %d and %d are the same cache", slices.Index(caches, c), i)
		}
		if err := m.checkIDs(ids[i:i+1], 1, 1, c.n); err != nil {
			return nil, fmt.Errorf("sequence %d: %w", i, err)
		}
		pos[i] = c.n
	}
	tp := bt.arena
	tp.Reset()
	x := tp.Add(m.WTE.Forward(tp, ids, b, 1), tp.Reshape(tp.Embedding(m.WPE.Weight, pos, 1), b, 1, d))
	if len(bt.y) < b*d {
		bt.y = make([]float32, b*d)
	}
	y := tensor.FromSlice(bt.y[:b*d], b, 1, d)
	for l, blk := range m.H {
		a := blk.Attn
		qkv := a.CAttn.Forward(tp, blk.Ln1.Forward(tp, x)).Value // [B, 1, 3C]
		qs, ks, vs := bt.qs[:0], bt.ks[:0], bt.vs[:0]
		for i, c := range caches {
			row := qkv.Data[i*3*d : (i+1)*3*d]
			c.store(l, 0, c.n, row)
			qi, ki, vi := c.seqVars(tp, l, 0, row[:d], 1, c.n+1)
			qs, ks, vs = append(qs, qi), append(ks, ki), append(vs, vi)
		}
		bt.qs, bt.ks, bt.vs = qs, ks, vs
		// Every sequence's heads in one parallel loop, not a loop for each.
		for i, o := range tp.AttentionSteps(qs, ks, vs, a.Heads, autograd.AttentionOpts{Causal: true, Scale: a.Scale}) {
			copy(y.Data[i*d:], o.Value.Data)
		}
		x = tp.Add(x, a.CProj.Forward(tp, autograd.Const(y)))
		x = tp.Add(x, blk.MLP.Forward(tp, blk.Ln2.Forward(tp, x)))
	}
	for _, c := range caches {
		c.n++
	}
	return m.head(tp, tp.Reshape(x, b, d)).Value, nil
}
