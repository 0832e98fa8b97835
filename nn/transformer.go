package nn

import (
	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// LayerConfig sizes one encoder or decoder layer.
type LayerConfig struct {
	DModel, Heads, DFF int
	Dropout            float32
	Activation         Activation
	// NormFirst puts LayerNorm before each sub-layer (pre-LN, x + f(LN(x)))
	// instead of after the residual sum as in the paper (post-LN,
	// LN(x + f(x)), §3.1). Pre-LN trains deep stacks without warm-up tricks.
	NormFirst bool
	Eps       float32
}

// EncoderLayer is self-attention then a feed-forward net, each wrapped in a
// residual connection and LayerNorm (§3.1). Field names follow PyTorch's
// nn.TransformerEncoderLayer.
type EncoderLayer struct {
	SelfAttn *MultiHeadAttention `attn:"self_attn"`
	FF       *FeedForward        `attn:",inline"`
	Norm1    *LayerNorm          `attn:"norm1"`
	Norm2    *LayerNorm          `attn:"norm2"`
	Cfg      LayerConfig
}

// NewEncoderLayer returns a freshly initialised encoder layer.
func NewEncoderLayer(c LayerConfig, rng *tensor.RNG) *EncoderLayer {
	return &EncoderLayer{
		SelfAttn: NewMultiHeadAttention(c.DModel, c.Heads, c.Dropout, rng),
		FF:       NewFeedForward(c.DModel, c.DFF, c.Activation, c.Dropout, rng),
		Norm1:    NewLayerNorm(c.DModel, c.Eps),
		Norm2:    NewLayerNorm(c.DModel, c.Eps),
		Cfg:      c,
	}
}

// Forward runs the layer on x [B, T, E]; pad (B·T, true = padding) hides
// padding positions from attention.
func (l *EncoderLayer) Forward(tp *autograd.Tape, x *autograd.Var, pad []bool) *autograd.Var {
	selfAttn := func(h *autograd.Var) *autograd.Var { return l.SelfAttn.Forward(tp, h, h, h, pad, false) }
	x = sublayer(tp, x, l.Norm1, l.Cfg, selfAttn)
	return sublayer(tp, x, l.Norm2, l.Cfg, func(h *autograd.Var) *autograd.Var { return l.FF.Forward(tp, h) })
}

// sublayer wraps f in the residual connection and LayerNorm of §3.1, with
// dropout on f's output (§5.4): LN(x + drop(f(x))) post-LN, or
// x + drop(f(LN(x))) pre-LN.
func sublayer(tp *autograd.Tape, x *autograd.Var, norm *LayerNorm, c LayerConfig, f func(*autograd.Var) *autograd.Var) *autograd.Var {
	if c.NormFirst {
		return tp.DropoutAdd(x, f(norm.Forward(tp, x)), c.Dropout)
	}
	return norm.Forward(tp, tp.DropoutAdd(x, f(x), c.Dropout))
}

// DecoderLayer is masked self-attention, attention over the encoder output
// (memory), then a feed-forward net, each with residual and LayerNorm (§3.1).
// Field names follow PyTorch's nn.TransformerDecoderLayer.
type DecoderLayer struct {
	SelfAttn  *MultiHeadAttention `attn:"self_attn"`
	CrossAttn *MultiHeadAttention `attn:"multihead_attn"`
	FF        *FeedForward        `attn:",inline"`
	Norm1     *LayerNorm          `attn:"norm1"`
	Norm2     *LayerNorm          `attn:"norm2"`
	Norm3     *LayerNorm          `attn:"norm3"`
	Cfg       LayerConfig
}

// NewDecoderLayer returns a freshly initialised decoder layer.
func NewDecoderLayer(c LayerConfig, rng *tensor.RNG) *DecoderLayer {
	return &DecoderLayer{
		SelfAttn:  NewMultiHeadAttention(c.DModel, c.Heads, c.Dropout, rng),
		CrossAttn: NewMultiHeadAttention(c.DModel, c.Heads, c.Dropout, rng),
		FF:        NewFeedForward(c.DModel, c.DFF, c.Activation, c.Dropout, rng),
		Norm1:     NewLayerNorm(c.DModel, c.Eps),
		Norm2:     NewLayerNorm(c.DModel, c.Eps),
		Norm3:     NewLayerNorm(c.DModel, c.Eps),
		Cfg:       c,
	}
}

// Forward runs the layer on x [B, T, E] with the encoder output memory
// [B, S, E]. Self-attention is causal; pad and memPad mark padding in x and
// memory.
func (l *DecoderLayer) Forward(tp *autograd.Tape, x, memory *autograd.Var, pad, memPad []bool) *autograd.Var {
	x = sublayer(tp, x, l.Norm1, l.Cfg, func(h *autograd.Var) *autograd.Var {
		return l.SelfAttn.Forward(tp, h, h, h, pad, true)
	})
	x = sublayer(tp, x, l.Norm2, l.Cfg, func(h *autograd.Var) *autograd.Var {
		return l.CrossAttn.Forward(tp, h, memory, memory, memPad, false)
	})
	return sublayer(tp, x, l.Norm3, l.Cfg, func(h *autograd.Var) *autograd.Var { return l.FF.Forward(tp, h) })
}

// Encoder is a stack of N encoder layers (§3.1), with an optional final
// LayerNorm (needed by pre-LN stacks; PyTorch's nn.Transformer always has it).
type Encoder struct {
	Layers []*EncoderLayer `attn:"layers"`
	Norm   *LayerNorm      `attn:"norm"` // nil for none
}

// NewEncoder returns n encoder layers, with a final LayerNorm if finalNorm.
func NewEncoder(c LayerConfig, n int, finalNorm bool, rng *tensor.RNG) *Encoder {
	enc := &Encoder{}
	for range n {
		enc.Layers = append(enc.Layers, NewEncoderLayer(c, rng))
	}
	if finalNorm {
		enc.Norm = NewLayerNorm(c.DModel, c.Eps)
	}
	return enc
}

// Forward runs the stack on x [B, T, E].
func (e *Encoder) Forward(tp *autograd.Tape, x *autograd.Var, pad []bool) *autograd.Var {
	for _, l := range e.Layers {
		x = l.Forward(tp, x, pad)
	}
	if e.Norm != nil {
		x = e.Norm.Forward(tp, x)
	}
	return x
}

// Decoder is a stack of N decoder layers (§3.1) with an optional final
// LayerNorm.
type Decoder struct {
	Layers []*DecoderLayer `attn:"layers"`
	Norm   *LayerNorm      `attn:"norm"` // nil for none
}

// NewDecoder returns n decoder layers, with a final LayerNorm if finalNorm.
func NewDecoder(c LayerConfig, n int, finalNorm bool, rng *tensor.RNG) *Decoder {
	dec := &Decoder{}
	for range n {
		dec.Layers = append(dec.Layers, NewDecoderLayer(c, rng))
	}
	if finalNorm {
		dec.Norm = NewLayerNorm(c.DModel, c.Eps)
	}
	return dec
}

// Forward runs the stack on x [B, T, E] attending to memory [B, S, E].
func (d *Decoder) Forward(tp *autograd.Tape, x, memory *autograd.Var, pad, memPad []bool) *autograd.Var {
	for _, l := range d.Layers {
		x = l.Forward(tp, x, memory, pad, memPad)
	}
	if d.Norm != nil {
		x = d.Norm.Forward(tp, x)
	}
	return x
}
