package nn

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// Linear is y = x·Wᵀ + b (PyTorch's nn.Linear; W is [out, in]).
type Linear struct {
	Weight *autograd.Var `attn:"weight"`
	Bias   *autograd.Var `attn:"bias"` // nil without bias
	q8     q8Matrix      // Weight in 8 bits, for inference (QuantizeQ8)
}

// NewLinear returns a Linear initialised as PyTorch does: W and b drawn from
// U(−1/√in, 1/√in).
func NewLinear(in, out int, bias bool, rng *tensor.RNG) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	uniform := func(t *tensor.Tensor) { rng.FillUniform(t, -bound, bound) }
	l := &Linear{Weight: newParam(uniform, out, in)}
	if bias {
		l.Bias = newParam(uniform, out)
	}
	return l
}

// Forward maps x [..., in] to [..., out].
func (l *Linear) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if l.q8.q != nil {
		return tp.LinearQ8(x, l.q8.q, l.q8.s, l.Weight.Value.Shape[0], l.Bias)
	}
	return tp.Linear(x, l.Weight, l.Bias)
}

// Embedding maps token ids to rows of Weight [V, C], multiplied by Scale.
// The paper multiplies by √d_model (§3.4), which Transformer models set.
type Embedding struct {
	Weight *autograd.Var `attn:"weight"`
	Scale  float32
	q8     q8Matrix // Weight in 8 bits, for inference (QuantizeQ8)
}

// NewEmbedding returns a [vocab, dim] table drawn from N(0, std²) with the
// given output scale.
func NewEmbedding(vocab, dim int, std float64, scale float32, rng *tensor.RNG) *Embedding {
	return &Embedding{Weight: newParam(func(t *tensor.Tensor) { rng.FillNormal(t, 0, std) }, vocab, dim), Scale: scale}
}

// Forward returns the embeddings of ids (B·T of them) as [B, T, C].
func (e *Embedding) Forward(tp *autograd.Tape, ids []int, b, t int) *autograd.Var {
	scale := e.Scale
	if scale == 0 {
		scale = 1
	}
	if e.q8.q != nil {
		return tp.Reshape(tp.EmbeddingQ8(e.q8.q, e.q8.s, e.Weight.Value.Shape[1], ids, scale), b, t, -1)
	}
	return tp.Reshape(tp.Embedding(e.Weight, ids, scale), b, t, -1)
}

// LayerNorm normalises over the last dimension, then applies an elementwise
// affine map (Ba et al. 2016).
type LayerNorm struct {
	Weight *autograd.Var `attn:"weight"`
	Bias   *autograd.Var `attn:"bias"`
	Eps    float32
}

// NewLayerNorm returns a LayerNorm over dim features with weight 1, bias 0.
func NewLayerNorm(dim int, eps float32) *LayerNorm {
	ones := func(t *tensor.Tensor) {
		for i := range t.Data {
			t.Data[i] = 1
		}
	}
	return &LayerNorm{Weight: newParam(ones, dim), Bias: newParam(nil, dim), Eps: eps}
}

// Forward normalises x [..., dim].
func (n *LayerNorm) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.LayerNorm(x, n.Weight, n.Bias, n.Eps)
}

// Sinusoidal returns the paper's positional encodings (§3.5) for positions
// 0..n-1 as [n, dim]: PE(pos, 2i) = sin(pos/10000^(2i/dim)) and
// PE(pos, 2i+1) = cos(pos/10000^(2i/dim)).
func Sinusoidal(n, dim int) *tensor.Tensor {
	pe := tensor.New(n, dim)
	for pos := 0; pos < n; pos++ {
		for i := 0; i < dim; i += 2 {
			angle := float64(pos) / math.Pow(10000, float64(i)/float64(dim))
			pe.Data[pos*dim+i] = float32(math.Sin(angle))
			if i+1 < dim {
				pe.Data[pos*dim+i+1] = float32(math.Cos(angle))
			}
		}
	}
	return pe
}

// Activation is the nonlinearity of a feed-forward net.
type Activation string

// The supported activations. The paper uses ReLU (§3.3); BERT and GPT use GELU.
const (
	ReLU     Activation = "relu"
	GELU     Activation = "gelu"      // exact, with erf
	GELUTanh Activation = "gelu_tanh" // GPT-2's tanh approximation
	SiLU     Activation = "silu"      // x·σ(x), "swish"
)

// HFActivation maps a HuggingFace hidden_act name onto an Activation.
func HFActivation(name string) (Activation, error) {
	switch name {
	case "gelu":
		return GELU, nil
	case "gelu_new", "gelu_pytorch_tanh":
		return GELUTanh, nil
	case "relu":
		return ReLU, nil
	case "silu", "swish":
		return SiLU, nil
	}
	return "", fmt.Errorf("activation %q is not supported (want gelu, gelu_new, gelu_pytorch_tanh, relu, silu or swish)", name)
}

// Validate reports an unknown activation.
func (a Activation) Validate() error {
	switch a {
	case ReLU, GELU, GELUTanh, SiLU:
		return nil
	}
	return fmt.Errorf("nn: unknown activation %q (want relu, gelu, gelu_tanh or silu)", string(a))
}

// Apply runs the activation on x.
func (a Activation) Apply(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	switch a {
	case GELU:
		return tp.GELU(x)
	case GELUTanh:
		return tp.GELUTanh(x)
	case SiLU:
		return tp.SiLU(x)
	}
	return tp.ReLU(x)
}

// FeedForward is the position-wise feed-forward net (§3.3):
// FFN(x) = act(x·W1ᵀ + b1)·W2ᵀ + b2, with dropout after the activation as in
// PyTorch's Transformer layers. Its fields carry PyTorch's names.
type FeedForward struct {
	Linear1    *Linear `attn:"linear1"`
	Linear2    *Linear `attn:"linear2"`
	Activation Activation
	Dropout    float32
}

// NewFeedForward returns a dim → hidden → dim feed-forward net.
func NewFeedForward(dim, hidden int, act Activation, dropout float32, rng *tensor.RNG) *FeedForward {
	return &FeedForward{
		Linear1:    NewLinear(dim, hidden, true, rng),
		Linear2:    NewLinear(hidden, dim, true, rng),
		Activation: act,
		Dropout:    dropout,
	}
}

// Forward applies the net to every position of x [B, T, dim].
func (f *FeedForward) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	h := f.Linear1.Forward(tp, x)
	if f.Activation == ReLU || f.Activation == "" {
		return f.Linear2.Forward(tp, tp.ReLUDropout(h, f.Dropout))
	}
	return f.Linear2.Forward(tp, tp.Dropout(f.Activation.Apply(tp, h), f.Dropout))
}
