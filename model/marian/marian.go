// Package marian is the Marian translation model (Junczys-Dowmunt et al.
// 2018) as HuggingFace's MarianMTModel computes it, the architecture of the
// Helsinki-NLP opus-mt translators: the paper's Transformer nearly
// unchanged (Vaswani et al. 2017) with post-LN layers, biases, sinusoidal
// positions and one embedding shared by encoder, decoder and output layer.
// It also runs M2M100ForConditionalGeneration (Fan et al. 2020), the
// architecture of M2M-100 and of NLLB-200's dense models: the same layers
// normalising their inputs (pre-LN), each stack ending in a LayerNorm,
// fairseq's sinusoids, ReLU. Parameter names are HF's state-dict names,
// so their checkpoints load.
//
// Marian's departures from the paper, all as in HF: the sinusoidal table
// is not interleaved (the first half of the features are the sines, the
// second half the cosines of the same angles); the feed-forward activation
// is configurable (opus-mt uses swish, x·σ(x)); the logits get a
// final_logits_bias; there is no final LayerNorm after either stack.
// M2M100's: fairseq's table (its frequencies from ln 10000/(d/2 − 1)),
// positions counted from the padding id, pre-LN layers and a LayerNorm
// after each stack, no final_logits_bias.
package marian

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Attention is MarianAttention (BART's): q_proj, k_proj, v_proj and out_proj
// with biases, scores scaled by 1/√D.
type Attention struct {
	QProj   *nn.Linear `attn:"q_proj"`
	KProj   *nn.Linear `attn:"k_proj"`
	VProj   *nn.Linear `attn:"v_proj"`
	OutProj *nn.Linear `attn:"out_proj"`
	Heads   int
}

// Forward attends from x [B, Tq, C] to kv [B, Tk, C] and returns [B, Tq, C].
func (a *Attention) Forward(tp *autograd.Tape, x, kv *autograd.Var, keyPad []bool, causal bool) *autograd.Var {
	q, k, v := a.QProj.Forward(tp, x), a.KProj.Forward(tp, kv), a.VProj.Forward(tp, kv)
	return a.OutProj.Forward(tp, tp.Attention(q, k, v, a.Heads, autograd.AttentionOpts{KeyPad: keyPad, Causal: causal}))
}

// EncoderLayer is MarianEncoderLayer (post-LN):
// x = LN(x + SelfAttn(x)); x = LN(x + fc2(act(fc1(x)))).
type EncoderLayer struct {
	SelfAttn          *Attention    `attn:"self_attn"`
	SelfAttnLayerNorm *nn.LayerNorm `attn:"self_attn_layer_norm"`
	FC1               *nn.Linear    `attn:"fc1"`
	FC2               *nn.Linear    `attn:"fc2"`
	FinalLayerNorm    *nn.LayerNorm `attn:"final_layer_norm"`
}

// DecoderLayer is MarianDecoderLayer (post-LN): causal self-attention,
// encoder attention, feed-forward net, each followed by its LayerNorm.
type DecoderLayer struct {
	SelfAttn             *Attention    `attn:"self_attn"`
	SelfAttnLayerNorm    *nn.LayerNorm `attn:"self_attn_layer_norm"`
	EncoderAttn          *Attention    `attn:"encoder_attn"`
	EncoderAttnLayerNorm *nn.LayerNorm `attn:"encoder_attn_layer_norm"`
	FC1                  *nn.Linear    `attn:"fc1"`
	FC2                  *nn.Linear    `attn:"fc2"`
	FinalLayerNorm       *nn.LayerNorm `attn:"final_layer_norm"`
}

// EncoderStack is MarianEncoder (its embed_tokens is Seq2Seq.Shared);
// M2M100Encoder's ends in LayerNorm.
type EncoderStack struct {
	Layers    []*EncoderLayer `attn:"layers"`
	LayerNorm *nn.LayerNorm   `attn:"layer_norm"` // nil but in M2M100
}

// DecoderStack is MarianDecoder; M2M100Decoder's ends in LayerNorm.
type DecoderStack struct {
	Layers    []*DecoderLayer `attn:"layers"`
	LayerNorm *nn.LayerNorm   `attn:"layer_norm"` // nil but in M2M100
}

// Seq2Seq is MarianModel: the shared embedding and the two stacks.
type Seq2Seq struct {
	Shared  *nn.Embedding `attn:"shared"` // [V, C], scaled by √C when scale_embedding
	Encoder *EncoderStack `attn:"encoder"`
	Decoder *DecoderStack `attn:"decoder"`
}

// Model is MarianMTModel.
type Model struct {
	Cfg   Config
	Model *Seq2Seq `attn:"model"`
	// FinalLogitsBias [1, V] is added to the logits (nil in M2M100).
	FinalLogitsBias *autograd.Var `attn:"final_logits_bias"`
	// LMHead is the untied output layer; nil when tied to Model.Shared.
	LMHead *nn.Linear `attn:"lm_head"`
	// positions is the sinusoidal table, a row per position: Marian's
	// [max_position_embeddings, C]; M2M100's fairseq rows, padding's zero
	// and the positions from pad_token_id + 1 on (fairseqSinusoidal).
	positions *tensor.Tensor
}

// New returns a model with HF's initialisation (N(0, 0.02²) weights, zero
// biases, final_logits_bias 0) drawn from seed, ready to train.
func New(cfg Config, seed uint64) (*Model, error) {
	return newModel(cfg, tensor.NewRNG(seed))
}

func newModel(cfg Config, rng *tensor.RNG) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := hf.Init{RNG: rng}
	c := cfg.DModel
	linear := func(out, in int) *nn.Linear {
		return &nn.Linear{Weight: w.Normal(0.02, out, in), Bias: w.Fill(0, out)}
	}
	attn := func(heads int) *Attention {
		return &Attention{QProj: linear(c, c), KProj: linear(c, c), VProj: linear(c, c), OutProj: linear(c, c), Heads: heads}
	}
	norm := func() *nn.LayerNorm { return &nn.LayerNorm{Weight: w.Fill(1, c), Bias: w.Fill(0, c), Eps: 1e-5} }
	scale := float32(1)
	if cfg.ScaleEmbedding {
		scale = float32(math.Sqrt(float64(c)))
	}
	m := &Model{
		Cfg: cfg,
		Model: &Seq2Seq{
			Shared:  &nn.Embedding{Weight: w.Normal(0.02, cfg.VocabSize, c), Scale: scale},
			Encoder: &EncoderStack{},
			Decoder: &DecoderStack{},
		},
		FinalLogitsBias: w.Fill(0, 1, cfg.VocabSize),
		positions:       Sinusoidal(cfg.MaxPositions, c),
	}
	if cfg.m2m100() {
		m.FinalLogitsBias = nil
		m.positions = fairseqSinusoidal(cfg.PadTokenID+1+cfg.MaxPositions, c, cfg.PadTokenID)
		m.Model.Encoder.LayerNorm, m.Model.Decoder.LayerNorm = norm(), norm()
	}
	for range cfg.EncoderLayers {
		m.Model.Encoder.Layers = append(m.Model.Encoder.Layers, &EncoderLayer{
			SelfAttn: attn(cfg.EncoderHeads), SelfAttnLayerNorm: norm(),
			FC1: linear(cfg.EncoderFFN, c), FC2: linear(c, cfg.EncoderFFN), FinalLayerNorm: norm(),
		})
	}
	for range cfg.DecoderLayers {
		m.Model.Decoder.Layers = append(m.Model.Decoder.Layers, &DecoderLayer{
			SelfAttn: attn(cfg.DecoderHeads), SelfAttnLayerNorm: norm(),
			EncoderAttn: attn(cfg.DecoderHeads), EncoderAttnLayerNorm: norm(),
			FC1: linear(cfg.DecoderFFN, c), FC2: linear(c, cfg.DecoderFFN), FinalLayerNorm: norm(),
		})
	}
	if !cfg.TieWordEmbeddings {
		m.LMHead = &nn.Linear{Weight: w.Normal(0.02, cfg.VocabSize, c)}
	}
	return m, nil
}

// Params lists the parameters under HF's MarianMTModel state-dict names.
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// Sinusoidal returns MarianSinusoidalPositionalEmbedding's table [n, dim]:
// with angle(p, k) = p/10000^(2k/dim), column k < ⌈dim/2⌉ holds
// sin(angle(p, k)) and column ⌈dim/2⌉ + k holds cos(angle(p, k)) — the
// paper's encoding (§3.5) with the sines and cosines not interleaved.
// Angles are computed in float64 and the table rounded to float32.
func Sinusoidal(n, dim int) *tensor.Tensor {
	pe := tensor.New(n, dim)
	half := (dim + 1) / 2
	for p := range n {
		for k := range half {
			angle := float64(p) / math.Pow(10000, float64(2*k)/float64(dim))
			pe.Data[p*dim+k] = float32(math.Sin(angle))
			if half+k < dim {
				pe.Data[p*dim+half+k] = float32(math.Cos(angle))
			}
		}
	}
	return pe
}

// fairseqSinusoidal returns M2M100SinusoidalPositionalEmbedding's table
// [n, dim]: row r holds sin(r·f_k) in column k < dim/2 and cos(r·f_k) in
// column dim/2 + k, f_k = exp(−k·ln 10000/(dim/2 − 1)), computed in
// float32 steps as HF's get_embedding does; row pad is zeros (a padding
// token's), an odd dim's last column too.
func fairseqSinusoidal(n, dim, pad int) *tensor.Tensor {
	pe := tensor.New(n, dim)
	half := dim / 2
	step := float32(-math.Log(10000) / float64(half-1))
	for r := range n {
		if r == pad {
			continue
		}
		for k := range half {
			f := float32(math.Exp(float64(float32(k) * step)))
			a := float64(float32(r) * f)
			pe.Data[r*dim+k] = float32(math.Sin(a))
			pe.Data[r*dim+half+k] = float32(math.Cos(a))
		}
	}
	return pe
}

// positionsOf returns the position embeddings of t tokens of each of b
// sequences from position offset on: Marian's rows offset..offset+T−1,
// [T, C], for every sequence; M2M100's as HF numbers them
// (create_position_ids_from_input_ids), each token row pad_token_id +
// offset + its count among its sequence's non-padding tokens, a padding
// token (pad, B·T entries, may be nil) the zero row, [B, T, C].
func (m *Model) positionsOf(pad []bool, b, t, offset int) *tensor.Tensor {
	c := m.Cfg.DModel
	if !m.Cfg.m2m100() {
		return tensor.FromSlice(m.positions.Data[offset*c:(offset+t)*c], t, c)
	}
	first := m.Cfg.PadTokenID + 1 + offset
	if pad == nil {
		return tensor.FromSlice(m.positions.Data[first*c:(first+t)*c], t, c)
	}
	pe := tensor.New(b, t, c)
	for i := range b {
		n := 0
		for j := range t {
			if pad[i*t+j] {
				continue // the zero row
			}
			r := first + n
			n++
			copy(pe.Data[(i*t+j)*c:(i*t+j+1)*c], m.positions.Data[r*c:(r+1)*c])
		}
	}
	return pe
}

// checkIDs reports a batch that is not b×t ids in the vocabulary, or longer
// than max_position_embeddings from position offset on.
func (m *Model) checkIDs(what string, ids []int, b, t, offset int) error {
	if b <= 0 || t <= 0 || len(ids) != b*t {
		return fmt.Errorf("marian: %d %s ids are not B=%d × T=%d", len(ids), what, b, t)
	}
	if offset+t > m.Cfg.MaxPositions {
		return fmt.Errorf("marian: %s of %d positions exceeds max_position_embeddings %d", what, offset+t, m.Cfg.MaxPositions)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Cfg.VocabSize {
			return fmt.Errorf("marian: %s id %d at index %d is outside the vocabulary [0, %d)", what, id, i, m.Cfg.VocabSize)
		}
	}
	return nil
}

// embed returns the scaled token embeddings of ids [B·T] plus their
// positions from offset on (positionsOf; pad may be nil), [B, T, C].
func (m *Model) embed(tp *autograd.Tape, ids []int, pad []bool, b, t, offset int) *autograd.Var {
	pe := autograd.Const(m.positionsOf(pad, b, t, offset))
	return tp.Dropout(tp.Add(m.Model.Shared.Forward(tp, ids, b, t), pe), m.Cfg.Dropout)
}

// activate applies the configured activation (Validate has checked it).
func (m *Model) activate(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	a, _ := nn.HFActivation(m.Cfg.Activation)
	return a.Apply(tp, x)
}

// supported reports whether act is an activation HF names that nn has.
func supported(act string) bool {
	_, err := nn.HFActivation(act)
	return err == nil
}

// sublayer returns Marian's norm(x + dropout(f(x))), or M2M100's
// x + dropout(f(norm(x))).
func (m *Model) sublayer(tp *autograd.Tape, norm *nn.LayerNorm, x *autograd.Var, f func(h *autograd.Var) *autograd.Var) *autograd.Var {
	if m.Cfg.m2m100() {
		return tp.DropoutAdd(x, f(norm.Forward(tp, x)), m.Cfg.Dropout)
	}
	return norm.Forward(tp, tp.DropoutAdd(x, f(x), m.Cfg.Dropout))
}

// endStack applies a stack's final LayerNorm (M2M100's), if it has one.
func endStack(tp *autograd.Tape, norm *nn.LayerNorm, x *autograd.Var) *autograd.Var {
	if norm == nil {
		return x
	}
	return norm.Forward(tp, x)
}

// ffn is fc2(act(fc1(x))).
func (m *Model) ffn(tp *autograd.Tape, fc1, fc2 *nn.Linear, x *autograd.Var) *autograd.Var {
	return fc2.Forward(tp, m.activate(tp, fc1.Forward(tp, x)))
}

// Encode runs the encoder on srcIDs [B·S] (row-major) with srcPad (B·S
// entries, true = padding, may be nil) and returns its output [B, S, C].
func (m *Model) Encode(tp *autograd.Tape, srcIDs []int, srcPad []bool, b, s int) (*autograd.Var, error) {
	if err := m.checkIDs("source", srcIDs, b, s, 0); err != nil {
		return nil, err
	}
	if srcPad != nil && len(srcPad) != b*s {
		return nil, fmt.Errorf("marian: source padding mask has %d entries, want B·S = %d", len(srcPad), b*s)
	}
	x := m.embed(tp, srcIDs, srcPad, b, s, 0)
	for _, l := range m.Model.Encoder.Layers {
		x = m.sublayer(tp, l.SelfAttnLayerNorm, x, func(h *autograd.Var) *autograd.Var { return l.SelfAttn.Forward(tp, h, h, srcPad, false) })
		x = m.sublayer(tp, l.FinalLayerNorm, x, func(h *autograd.Var) *autograd.Var { return m.ffn(tp, l.FC1, l.FC2, h) })
	}
	return endStack(tp, m.Model.Encoder.LayerNorm, x), nil
}

// Decode runs the decoder on tgtIDs [B·T] (each starting with
// decoder_start_token_id) against the encoder output memory [B, S, C] and
// returns the logits [B, T, V].
func (m *Model) Decode(tp *autograd.Tape, tgtIDs []int, b, t int, memory *autograd.Var, srcPad []bool) (*autograd.Var, error) {
	if err := m.checkIDs("target", tgtIDs, b, t, 0); err != nil {
		return nil, err
	}
	if memory.Value.Shape[0] != b || memory.Value.Shape[2] != m.Cfg.DModel {
		return nil, fmt.Errorf("marian: memory %v does not fit B=%d, d_model %d", memory.Value.Shape, b, m.Cfg.DModel)
	}
	if srcPad != nil && len(srcPad) != memory.Value.Shape[0]*memory.Value.Shape[1] {
		return nil, fmt.Errorf("marian: source padding mask has %d entries for memory %v", len(srcPad), memory.Value.Shape)
	}
	x := m.embed(tp, tgtIDs, nil, b, t, 0)
	for _, l := range m.Model.Decoder.Layers {
		x = m.sublayer(tp, l.SelfAttnLayerNorm, x, func(h *autograd.Var) *autograd.Var { return l.SelfAttn.Forward(tp, h, h, nil, true) })
		x = m.sublayer(tp, l.EncoderAttnLayerNorm, x, func(h *autograd.Var) *autograd.Var { return l.EncoderAttn.Forward(tp, h, memory, srcPad, false) })
		x = m.sublayer(tp, l.FinalLayerNorm, x, func(h *autograd.Var) *autograd.Var { return m.ffn(tp, l.FC1, l.FC2, h) })
	}
	return m.head(tp, endStack(tp, m.Model.Decoder.LayerNorm, x)), nil
}

// head maps decoder states [..., C] to logits [..., V]: the shared
// embedding (or lm_head) without scaling, plus final_logits_bias.
func (m *Model) head(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	var y *autograd.Var
	switch q, s, ok := m.Model.Shared.Q8(); {
	case m.LMHead != nil:
		y = m.LMHead.Forward(tp, x)
	case ok: // quantized (QuantizeQ8)
		y = tp.LinearQ8(x, q, s, m.Cfg.VocabSize, nil)
	default:
		y = tp.Linear(x, m.Model.Shared.Weight, nil)
	}
	if m.FinalLogitsBias == nil { // M2M100's
		return y
	}
	return tp.Add(y, tp.Reshape(m.FinalLogitsBias, m.Cfg.VocabSize))
}

// QuantizeQ8 quantizes the model's matrices (the shared embeddings, which
// are the output layer too, and every projection) to 8 bits for
// translating (nn.QuantizeQ8): a decoding step reads each once per
// token, in about a quarter of float32's bytes, and the model then
// computes exactly as the float32 model of the dequantized weights would.
// Dequantize it (nn.Dequantize) to train or save it; Save does.
func (m *Model) QuantizeQ8() int { return nn.QuantizeQ8(m) }

// Forward runs encoder and decoder: srcIDs [B·S] with srcPad (may be nil),
// decoder input tgtIDs [B·T] (the targets shifted right behind
// decoder_start_token_id); it returns the logits [B, T, V].
func (m *Model) Forward(tp *autograd.Tape, srcIDs []int, srcPad []bool, tgtIDs []int, b, s, t int) (*autograd.Var, error) {
	mem, err := m.Encode(tp, srcIDs, srcPad, b, s)
	if err != nil {
		return nil, err
	}
	return m.Decode(tp, tgtIDs, b, t, mem, srcPad)
}
