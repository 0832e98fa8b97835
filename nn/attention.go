package nn

import (
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// MultiHeadAttention is the paper's multi-head attention (§3.2.2):
// Concat(head_1..head_h)·W_O with head_i = Attention(Q·W_Qi, K·W_Ki, V·W_Vi).
// Like PyTorch's nn.MultiheadAttention it packs W_Q, W_K, W_V into one
// in_proj_weight [3E, E] (and in_proj_bias [3E]), so PyTorch state dicts load
// unchanged.
type MultiHeadAttention struct {
	InProjWeight *autograd.Var `attn:"in_proj_weight"`
	InProjBias   *autograd.Var `attn:"in_proj_bias"`
	OutProj      *Linear       `attn:"out_proj"`
	Heads        int
	// Dropout is applied to the attention weights in training.
	Dropout float32
}

// NewMultiHeadAttention returns attention over dim features in heads heads,
// initialised as PyTorch does (Xavier-uniform in_proj, zero biases).
func NewMultiHeadAttention(dim, heads int, dropout float32, rng *tensor.RNG) *MultiHeadAttention {
	bound := math.Sqrt(6 / float64(4*dim))
	out := NewLinear(dim, dim, true, rng)
	out.Bias.Value.Zero()
	return &MultiHeadAttention{
		InProjWeight: newParam(func(t *tensor.Tensor) { rng.FillUniform(t, -bound, bound) }, 3*dim, dim),
		InProjBias:   newParam(nil, 3*dim),
		OutProj:      out,
		Heads:        heads,
		Dropout:      dropout,
	}
}

// Forward attends from query [B, Tq, E] to key and value [B, Tk, E] and
// returns [B, Tq, E]. keyPad (B·Tk entries, true = padding, may be nil) hides
// padding keys; causal hides keys after each query's position.
// Self-attention passes the same x as query, key and value.
func (m *MultiHeadAttention) Forward(tp *autograd.Tape, query, key, value *autograd.Var, keyPad []bool, causal bool) *autograd.Var {
	q, k, v := m.projectCols(tp, query, key, value)
	o := tp.AttentionCols(q, k, v, m.Heads, autograd.AttentionOpts{Causal: causal, KeyPad: keyPad, Dropout: m.Dropout})
	return m.OutProj.Forward(tp, o)
}

// projectCols is project for Forward: attention reads the queries, keys
// and values where the fused products leave them, as column blocks, and
// writes their gradients there, instead of splitting them into copies (in
// the base nn.Transformer's training step the copies and their gradients'
// way back cost about 1.5%).
func (m *MultiHeadAttention) projectCols(tp *autograd.Tape, query, key, value *autograd.Var) (q, k, v autograd.Cols) {
	e := m.InProjWeight.Value.Shape[1]
	cols := func(x *autograd.Var, i int) autograd.Cols { return autograd.Cols{V: x, Lo: i * e, Width: e} }
	switch {
	case query == key && key == value:
		qkv := m.inProj(tp, query, 0, 3)
		return cols(qkv, 0), cols(qkv, 1), cols(qkv, 2)
	case key == value:
		kv := m.inProj(tp, key, 1, 3)
		return cols(m.inProj(tp, query, 0, 1), 0), cols(kv, 0), cols(kv, 1)
	}
	return cols(m.inProj(tp, query, 0, 1), 0), cols(m.inProj(tp, key, 1, 2), 0), cols(m.inProj(tp, value, 2, 3), 0)
}

// project returns the queries, keys and values as values of their own (a
// decoding step appends them to its cache). As in PyTorch, inputs that
// are the same Var share one product with the rows of in_proj_weight they
// need: self-attention runs one [E → 3E] Linear, cross-attention one for
// the queries and one [E → 2E] for the memory's keys and values. One wide
// product runs faster than three narrow ones, and self-attention's weight
// gradient is written straight into in_proj_weight's.
func (m *MultiHeadAttention) project(tp *autograd.Tape, query, key, value *autograd.Var) (q, k, v *autograd.Var) {
	switch {
	case query == key && key == value:
		qkv := tp.Split(m.inProj(tp, query, 0, 3), 3)
		return qkv[0], qkv[1], qkv[2]
	case key == value:
		kv := tp.Split(m.inProj(tp, key, 1, 3), 2)
		return m.inProj(tp, query, 0, 1), kv[0], kv[1]
	}
	return m.inProj(tp, query, 0, 1), m.inProj(tp, key, 1, 2), m.inProj(tp, value, 2, 3)
}

// inProj returns x·W + b with the blocks lo..hi−1 (0 = q, 1 = k, 2 = v) of
// the packed in-projection.
func (m *MultiHeadAttention) inProj(tp *autograd.Tape, x *autograd.Var, lo, hi int) *autograd.Var {
	if lo == 0 && hi == 3 {
		return tp.Linear(x, m.InProjWeight, m.InProjBias)
	}
	e := m.InProjWeight.Value.Shape[1]
	return tp.Linear(x, tp.SliceRows(m.InProjWeight, lo*e, hi*e), tp.SliceRows(m.InProjBias, lo*e, hi*e))
}
