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
	e := m.InProjWeight.Value.Shape[1]
	proj := func(x *autograd.Var, i int) *autograd.Var {
		w := tp.SliceRows(m.InProjWeight, i*e, (i+1)*e)
		b := tp.SliceRows(m.InProjBias, i*e, (i+1)*e)
		return tp.Linear(x, w, b)
	}
	q, k, v := proj(query, 0), proj(key, 1), proj(value, 2)
	o := tp.Attention(q, k, v, m.Heads, autograd.AttentionOpts{Causal: causal, KeyPad: keyPad, Dropout: m.Dropout})
	return m.OutProj.Forward(tp, o)
}
