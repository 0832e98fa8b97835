// Package t5 is T5 (Raffel et al. 2020, "Exploring the Limits of Transfer
// Learning with a Unified Text-to-Text Transformer") as HuggingFace's
// T5ForConditionalGeneration computes it, including the T5 v1.1 / mT5 /
// flan-t5 variant with a gated-GELU feed-forward net and an untied output
// layer. Parameter names are HF's state-dict names, so its checkpoints load.
//
// Departures from the paper's Transformer, all as in T5: one embedding
// shared by encoder and decoder (and, when tied, the output layer); no
// absolute positions, but a learned bias per head and relative-position
// bucket added to the attention logits, computed by block 0 of each stack
// and reused by every block; no 1/√d scaling of the logits; pre-norm
// residual sublayers with RMSNorm (no mean, no bias); no biases anywhere;
// a final RMSNorm after each stack.
package t5

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// RMSNorm is T5LayerNorm: y = w·x/√(mean(x²) + ε).
type RMSNorm struct {
	Weight *autograd.Var `attn:"weight"`
	Eps    float32
}

// Forward normalises x [..., C].
func (n *RMSNorm) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.RMSNorm(x, n.Weight, n.Eps)
}

// Attention is T5Attention: q, k, v [H·D, C] and o [C, H·D] without biases;
// block 0's self-attention also holds the relative position bias table
// [buckets, H].
type Attention struct {
	Q            *nn.Linear    `attn:"q"`
	K            *nn.Linear    `attn:"k"`
	V            *nn.Linear    `attn:"v"`
	O            *nn.Linear    `attn:"o"`
	RelativeBias *nn.Embedding `attn:"relative_attention_bias"` // block 0's self-attention only
	Heads        int
}

// Forward attends from x [B, Tq, C] to kv [B, Tk, C] with the logits
// q·kᵀ + bias (bias [H, Tq, Tk], nil for cross-attention) and returns
// [B, Tq, C].
func (a *Attention) Forward(tp *autograd.Tape, x, kv, bias *autograd.Var, keyPad []bool, causal bool, dropout float32) *autograd.Var {
	q, k, v := a.Q.Forward(tp, x), a.K.Forward(tp, kv), a.V.Forward(tp, kv)
	return a.O.Forward(tp, attend(tp, q, k, v, bias, a.Heads, keyPad, causal, dropout))
}

// attend is the attention of projected q [B, Tq, H·D], k, v [B, Tk, H·D]
// with T5's unscaled logits; in training, the weights are dropped with
// probability dropout, as T5Attention drops them.
func attend(tp *autograd.Tape, q, k, v, bias *autograd.Var, heads int, keyPad []bool, causal bool, dropout float32) *autograd.Var {
	opt := autograd.AttentionOpts{KeyPad: keyPad, Causal: causal, Scale: 1, Dropout: dropout}
	if bias == nil {
		return tp.Attention(q, k, v, heads, opt)
	}
	return tp.BiasAttention(q, k, v, bias, heads, opt)
}

// SelfAttentionLayer is T5LayerSelfAttention: x + SelfAttention(norm(x)).
type SelfAttentionLayer struct {
	SelfAttention *Attention `attn:"SelfAttention"`
	LayerNorm     *RMSNorm   `attn:"layer_norm"`
}

// CrossAttentionLayer is T5LayerCrossAttention: x + EncDecAttention(norm(x), memory).
type CrossAttentionLayer struct {
	EncDecAttention *Attention `attn:"EncDecAttention"`
	LayerNorm       *RMSNorm   `attn:"layer_norm"`
}

// DenseReluDense is T5's feed-forward net: wo(act(wi·x)), or, gated,
// wo(act(wi_0·x) ⊙ wi_1·x) (Shazeer 2020).
type DenseReluDense struct {
	Wi  *nn.Linear `attn:"wi"`
	Wi0 *nn.Linear `attn:"wi_0"`
	Wi1 *nn.Linear `attn:"wi_1"`
	Wo  *nn.Linear `attn:"wo"`
	Act string     // HF's ACT2FN name
}

// Forward applies the net to x [..., C].
func (f *DenseReluDense) Forward(tp *autograd.Tape, x *autograd.Var, dropout float32) *autograd.Var {
	var h *autograd.Var
	if f.Wi0 != nil {
		h = tp.Mul(activate(tp, f.Act, f.Wi0.Forward(tp, x)), f.Wi1.Forward(tp, x))
	} else {
		h = activate(tp, f.Act, f.Wi.Forward(tp, x))
	}
	return f.Wo.Forward(tp, tp.Dropout(h, dropout))
}

// activate applies HF's activation act (Validate has checked it).
func activate(tp *autograd.Tape, act string, x *autograd.Var) *autograd.Var {
	a, _ := nn.HFActivation(act)
	return a.Apply(tp, x)
}

// supported reports whether act is an activation HF names that nn has.
func supported(act string) bool {
	_, err := nn.HFActivation(act)
	return err == nil
}

// FFLayer is T5LayerFF: x + DenseReluDense(norm(x)).
type FFLayer struct {
	DenseReluDense *DenseReluDense `attn:"DenseReluDense"`
	LayerNorm      *RMSNorm        `attn:"layer_norm"`
}

// EncoderBlock is an encoder T5Block: layer.0 self-attention, layer.1 FF.
type EncoderBlock struct {
	Self *SelfAttentionLayer `attn:"layer.0"`
	FF   *FFLayer            `attn:"layer.1"`
}

// DecoderBlock is a decoder T5Block: layer.0 causal self-attention,
// layer.1 cross-attention, layer.2 FF.
type DecoderBlock struct {
	Self  *SelfAttentionLayer  `attn:"layer.0"`
	Cross *CrossAttentionLayer `attn:"layer.1"`
	FF    *FFLayer             `attn:"layer.2"`
}

// EncoderStack is the encoder T5Stack (its embed_tokens is Model.Shared).
type EncoderStack struct {
	Block          []*EncoderBlock `attn:"block"`
	FinalLayerNorm *RMSNorm        `attn:"final_layer_norm"`
}

// DecoderStack is the decoder T5Stack.
type DecoderStack struct {
	Block          []*DecoderBlock `attn:"block"`
	FinalLayerNorm *RMSNorm        `attn:"final_layer_norm"`
}

// Model is T5ForConditionalGeneration.
type Model struct {
	Cfg     Config
	Shared  *nn.Embedding `attn:"shared"`
	Encoder *EncoderStack `attn:"encoder"`
	Decoder *DecoderStack `attn:"decoder"`
	// LMHead is the untied output layer [V, C]; nil when the output layer is
	// Shared (tie_word_embeddings).
	LMHead *nn.Linear `attn:"lm_head"`
}

// New returns a model with HF's initialisation (T5PreTrainedModel, factor
// 1) drawn from seed, ready to train.
func New(cfg Config, seed uint64) (*Model, error) {
	return newModel(cfg, tensor.NewRNG(seed))
}

func newModel(cfg Config, rng *tensor.RNG) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := hf.Init{RNG: rng}
	c, inner, f := cfg.DModel, cfg.NumHeads*cfg.DKV, cfg.DFF
	std := func(n int) float64 { return math.Pow(float64(n), -0.5) }
	linear := func(out, in int, sd float64) *nn.Linear { return &nn.Linear{Weight: w.Normal(sd, out, in)} }
	norm := func() *RMSNorm { return &RMSNorm{Weight: w.Fill(1, c), Eps: cfg.Eps} }
	attn := func(rel bool) *Attention {
		a := &Attention{
			Q: linear(inner, c, std(c*cfg.DKV)), K: linear(inner, c, std(c)),
			V: linear(inner, c, std(c)), O: linear(c, inner, std(inner)),
			Heads: cfg.NumHeads,
		}
		if rel {
			a.RelativeBias = &nn.Embedding{Weight: w.Normal(std(c), cfg.NumBuckets, cfg.NumHeads), Scale: 1}
		}
		return a
	}
	ff := func() *FFLayer {
		d := &DenseReluDense{Act: cfg.DenseActFn, Wo: linear(c, f, std(f))}
		if cfg.IsGatedAct {
			d.Wi0, d.Wi1 = linear(f, c, std(c)), linear(f, c, std(c))
		} else {
			d.Wi = linear(f, c, std(c))
		}
		return &FFLayer{DenseReluDense: d, LayerNorm: norm()}
	}
	m := &Model{
		Cfg:     cfg,
		Shared:  &nn.Embedding{Weight: w.Normal(1, cfg.VocabSize, c), Scale: 1},
		Encoder: &EncoderStack{FinalLayerNorm: norm()},
		Decoder: &DecoderStack{FinalLayerNorm: norm()},
	}
	for i := range cfg.NumLayers {
		m.Encoder.Block = append(m.Encoder.Block, &EncoderBlock{
			Self: &SelfAttentionLayer{SelfAttention: attn(i == 0), LayerNorm: norm()},
			FF:   ff(),
		})
	}
	for i := range cfg.NumDecoderLayers {
		m.Decoder.Block = append(m.Decoder.Block, &DecoderBlock{
			Self:  &SelfAttentionLayer{SelfAttention: attn(i == 0), LayerNorm: norm()},
			Cross: &CrossAttentionLayer{EncDecAttention: attn(false), LayerNorm: norm()},
			FF:    ff(),
		})
	}
	if !cfg.TieWordEmbeddings {
		m.LMHead = linear(cfg.VocabSize, c, std(c))
	}
	return m, nil
}

// Params lists the parameters under HF's state-dict names.
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// RelativePositionBucket is T5's bucket of a relative position (key minus
// query position): half the buckets (per direction, when bidirectional) hold
// the distances 0..n/2−1 exactly, the rest are logarithmically wider up to
// maxDistance, beyond which all distances share the last bucket. In the
// decoder (not bidirectional) future positions map to bucket 0. The
// logarithm is taken in float32, as HF and Mesh TensorFlow do, which decides
// the bucket of distances on a bucket boundary.
func RelativePositionBucket(rel int, bidirectional bool, numBuckets, maxDistance int) int {
	bucket := 0
	if bidirectional {
		numBuckets /= 2
		if rel > 0 {
			bucket = numBuckets
		}
		rel = max(rel, -rel)
	} else {
		rel = max(-rel, 0)
	}
	maxExact := numBuckets / 2
	if rel < maxExact {
		return bucket + rel
	}
	l := float32(math.Log(float64(float32(rel) / float32(maxExact))))
	l = l / float32(math.Log(float64(maxDistance)/float64(maxExact))) * float32(numBuckets-maxExact)
	return bucket + min(maxExact+int(l), numBuckets-1)
}

// positionBias returns the bias [H, Tq, Tk] of queries at positions
// offset..offset+Tq−1 over keys 0..Tk−1, from table [buckets, H].
func (m *Model) positionBias(tp *autograd.Tape, table *nn.Embedding, tq, tk, offset int, bidirectional bool) *autograd.Var {
	buckets := make([]int, tq*tk)
	for i := range tq {
		for j := range tk {
			buckets[i*tk+j] = RelativePositionBucket(j-(i+offset), bidirectional, m.Cfg.NumBuckets, m.Cfg.MaxDistance)
		}
	}
	return tp.RelativeBias(table.Weight, buckets, tq, tk)
}

// checkIDs reports a batch that is not b×t ids in the vocabulary.
func (m *Model) checkIDs(what string, ids []int, b, t int) error {
	if b <= 0 || t <= 0 || len(ids) != b*t {
		return fmt.Errorf("t5: %d %s ids are not B=%d × T=%d", len(ids), what, b, t)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Cfg.VocabSize {
			return fmt.Errorf("t5: %s id %d at index %d is outside the vocabulary [0, %d)", what, id, i, m.Cfg.VocabSize)
		}
	}
	return nil
}

// Encode runs the encoder on srcIDs [B·S] (row-major) with srcPad (B·S
// entries, true = padding, may be nil) and returns its output [B, S, C].
func (m *Model) Encode(tp *autograd.Tape, srcIDs []int, srcPad []bool, b, s int) (*autograd.Var, error) {
	if err := m.checkIDs("source", srcIDs, b, s); err != nil {
		return nil, err
	}
	if srcPad != nil && len(srcPad) != b*s {
		return nil, fmt.Errorf("t5: source padding mask has %d entries, want B·S = %d", len(srcPad), b*s)
	}
	p := m.Cfg.Dropout
	x := tp.Dropout(m.Shared.Forward(tp, srcIDs, b, s), p)
	bias := m.positionBias(tp, m.Encoder.Block[0].Self.SelfAttention.RelativeBias, s, s, 0, true)
	for _, blk := range m.Encoder.Block {
		h := blk.Self.LayerNorm.Forward(tp, x)
		x = tp.DropoutAdd(x, blk.Self.SelfAttention.Forward(tp, h, h, bias, srcPad, false, p), p)
		x = m.ff(tp, blk.FF, x)
	}
	return tp.Dropout(m.Encoder.FinalLayerNorm.Forward(tp, x), p), nil
}

// ff is the residual feed-forward sublayer.
func (m *Model) ff(tp *autograd.Tape, l *FFLayer, x *autograd.Var) *autograd.Var {
	p := m.Cfg.Dropout
	return tp.DropoutAdd(x, l.DenseReluDense.Forward(tp, l.LayerNorm.Forward(tp, x), p), p)
}

// Decode runs the decoder on tgtIDs [B·T] (teacher forcing: each sequence
// starts with decoder_start_token_id) against the encoder output memory
// [B, S, C] and returns the logits [B, T, V].
func (m *Model) Decode(tp *autograd.Tape, tgtIDs []int, b, t int, memory *autograd.Var, srcPad []bool) (*autograd.Var, error) {
	if err := m.checkIDs("target", tgtIDs, b, t); err != nil {
		return nil, err
	}
	if memory.Value.Shape[0] != b || memory.Value.Shape[2] != m.Cfg.DModel {
		return nil, fmt.Errorf("t5: memory %v does not fit B=%d, d_model %d", memory.Value.Shape, b, m.Cfg.DModel)
	}
	if srcPad != nil && len(srcPad) != memory.Value.Shape[0]*memory.Value.Shape[1] {
		return nil, fmt.Errorf("t5: source padding mask has %d entries for memory %v", len(srcPad), memory.Value.Shape)
	}
	p := m.Cfg.Dropout
	x := tp.Dropout(m.Shared.Forward(tp, tgtIDs, b, t), p)
	bias := m.positionBias(tp, m.Decoder.Block[0].Self.SelfAttention.RelativeBias, t, t, 0, false)
	for _, blk := range m.Decoder.Block {
		h := blk.Self.LayerNorm.Forward(tp, x)
		x = tp.DropoutAdd(x, blk.Self.SelfAttention.Forward(tp, h, h, bias, nil, true, p), p)
		h = blk.Cross.LayerNorm.Forward(tp, x)
		x = tp.DropoutAdd(x, blk.Cross.EncDecAttention.Forward(tp, h, memory, nil, srcPad, false, p), p)
		x = m.ff(tp, blk.FF, x)
	}
	return m.head(tp, tp.Dropout(m.Decoder.FinalLayerNorm.Forward(tp, x), p)), nil
}

// head maps final decoder states [..., C] to logits [..., V]: lm_head, or
// the shared embedding after scaling by d_model^-0.5 when tied.
func (m *Model) head(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if m.LMHead != nil {
		return m.LMHead.Forward(tp, x)
	}
	x = tp.Scale(x, float32(math.Pow(float64(m.Cfg.DModel), -0.5)))
	if q, s, ok := m.Shared.Q8(); ok { // quantized (QuantizeQ8)
		return tp.LinearQ8(x, q, s, m.Cfg.VocabSize, nil)
	}
	return tp.Linear(x, m.Shared.Weight, nil)
}

// QuantizeQ8 quantizes the model's matrices (the shared embeddings, the
// output layer, every projection) to 8 bits for generating
// (nn.QuantizeQ8): a decoding step reads each once per token, in about a
// quarter of float32's bytes, and the model then computes exactly as the
// float32 model of the dequantized weights would. The relative position
// biases stay float32. Dequantize it (nn.Dequantize) to train or save it;
// Save does.
func (m *Model) QuantizeQ8() int {
	var tables []any
	for _, b := range m.Encoder.Block {
		if rb := b.Self.SelfAttention.RelativeBias; rb != nil {
			tables = append(tables, rb)
		}
	}
	for _, b := range m.Decoder.Block {
		if rb := b.Self.SelfAttention.RelativeBias; rb != nil {
			tables = append(tables, rb)
		}
	}
	return nn.QuantizeQ8(m, tables...)
}

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
