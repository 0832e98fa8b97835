// Package clip is CLIP (Radford et al. 2021): a text Transformer and a
// Vision Transformer trained to map a caption and its image to nearby
// points, so that texts and images can be searched by one another and an
// image classified by its similarity to captions naming the classes
// ("zero-shot"). Parameter names, configuration and semantics are
// HuggingFace's CLIPModel (modeling_clip.py), so its checkpoints load: the
// openai/clip-vit-* folders and the many trained the same way.
//
// Both towers are stacks of pre-LN layers (LayerNorm, self-attention,
// residual; LayerNorm, MLP, residual). The text tower attends causally and
// reads the state of the end-of-text token; the vision tower cuts the image
// into patches, prepends a class token and reads its state. A linear
// projection without bias maps each into the shared space. SigLIP, trained
// the same way with a sigmoid per pair, loads into the same Model
// (siglip.go).
package clip

import (
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Attention is CLIPAttention's projections.
type Attention struct {
	Q   *nn.Linear `attn:"q_proj"`
	K   *nn.Linear `attn:"k_proj"`
	V   *nn.Linear `attn:"v_proj"`
	Out *nn.Linear `attn:"out_proj"`
}

// MLP is CLIPMLP: fc2(act(fc1(x))).
type MLP struct {
	FC1 *nn.Linear `attn:"fc1"`
	FC2 *nn.Linear `attn:"fc2"`
}

// Layer is CLIPEncoderLayer: x + attn(norm1(x)), then x + mlp(norm2(x)).
type Layer struct {
	Norm1 *nn.LayerNorm `attn:"layer_norm1"`
	Attn  *Attention    `attn:"self_attn"`
	Norm2 *nn.LayerNorm `attn:"layer_norm2"`
	MLP   *MLP          `attn:"mlp"`
}

// Encoder is the stack of layers.
type Encoder struct {
	Layers []*Layer `attn:"layers"`
}

// TextEmbeddings holds the token and position tables.
type TextEmbeddings struct {
	Token    *nn.Embedding `attn:"token_embedding"`    // [V, C]
	Position *nn.Embedding `attn:"position_embedding"` // [max_position_embeddings, C]
}

// TextModel is CLIPTextTransformer (SiglipTextTransformer, with its head).
type TextModel struct {
	Embeddings *TextEmbeddings `attn:"embeddings"`
	Encoder    *Encoder        `attn:"encoder"`
	FinalNorm  *nn.LayerNorm   `attn:"final_layer_norm"`
	Head       *nn.Linear      `attn:"head"` // SigLIP's projection of the pooled state; nil for CLIP
}

// VisionEmbeddings holds the patch projection (a convolution without bias,
// stored [C, channels, P, P]), the class token and the position table.
type VisionEmbeddings struct {
	Patch     *autograd.Var `attn:"patch_embedding.weight"`
	PatchBias *autograd.Var `attn:"patch_embedding.bias"` // SigLIP's; nil for CLIP
	Class     *autograd.Var `attn:"class_embedding"`      // [C]; nil for SigLIP, which has no class token
	Position  *nn.Embedding `attn:"position_embedding"`   // [patches+1, C] (SigLIP: [patches, C])
}

// VisionModel is CLIPVisionTransformer (SiglipVisionTransformer, with its
// pooling head).
type VisionModel struct {
	Embeddings *VisionEmbeddings `attn:"embeddings"`
	PreNorm    *nn.LayerNorm     `attn:"pre_layrnorm"` // sic, HF's name; nil for SigLIP
	Encoder    *Encoder          `attn:"encoder"`
	PostNorm   *nn.LayerNorm     `attn:"post_layernorm"` // CLIP: on the class token's state; SigLIP: on every token's
	Head       *PoolingHead      `attn:"head"`           // SigLIP's; nil for CLIP
}

// PoolingHead is SigLIP's SiglipMultiheadAttentionPoolingHead: a learned
// query (the probe) attends over the image's tokens, then
// h + mlp(layernorm(h)).
type PoolingHead struct {
	Probe     *autograd.Var          `attn:"probe"`     // [1, 1, C]
	Attention *nn.MultiHeadAttention `attn:"attention"` // torch's nn.MultiheadAttention
	Norm      *nn.LayerNorm          `attn:"layernorm"`
	MLP       *MLP                   `attn:"mlp"`
}

// Model is CLIPModel: both towers, their projections into the shared space
// and the learned temperature; or SiglipModel (Cfg.Siglip), whose towers
// end in heads of their own and whose logits have a learned bias.
type Model struct {
	Cfg              Config
	Text             *TextModel    `attn:"text_model"`
	Vision           *VisionModel  `attn:"vision_model"`
	TextProjection   *nn.Linear    `attn:"text_projection"`   // [projection_dim, C_text], no bias; nil for SigLIP
	VisualProjection *nn.Linear    `attn:"visual_projection"` // [projection_dim, C_vision], no bias; nil for SigLIP
	LogitScale       *autograd.Var `attn:"logit_scale"`       // a scalar: similarities are multiplied by its exp
	LogitBias        *autograd.Var `attn:"logit_bias"`        // SigLIP's, added to them; nil for CLIP
}

// New returns a model of c with random weights (N(0, 0.02²) matrices and
// embeddings, LayerNorms 1 and 0, logit_scale logit_scale_init_value, or
// SigLIP's log 10 and its logit_bias −10), for tests and benchmarks.
func New(c Config, seed uint64) (*Model, error) { return newModel(c, tensor.NewRNG(seed)) }

func newModel(c Config, rng *tensor.RNG) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	w := hf.Init{RNG: rng}
	linear := func(in, out int, bias bool) *nn.Linear {
		l := &nn.Linear{Weight: w.Normal(0.02, out, in)}
		if bias {
			l.Bias = w.Fill(0, out)
		}
		return l
	}
	norm := func(d int, eps float32) *nn.LayerNorm {
		return &nn.LayerNorm{Weight: w.Fill(1, d), Bias: w.Fill(0, d), Eps: eps}
	}
	encoder := func(t Tower) *Encoder {
		e := &Encoder{}
		for range t.Layers {
			d := t.Hidden
			e.Layers = append(e.Layers, &Layer{
				Norm1: norm(d, t.Eps),
				Attn:  &Attention{Q: linear(d, d, true), K: linear(d, d, true), V: linear(d, d, true), Out: linear(d, d, true)},
				Norm2: norm(d, t.Eps),
				MLP:   &MLP{FC1: linear(d, t.Intermediate, true), FC2: linear(t.Intermediate, d, true)},
			})
		}
		return e
	}
	tc, vc := c.Text, c.Vision
	text := &TextModel{
		Embeddings: &TextEmbeddings{
			Token:    &nn.Embedding{Weight: w.Normal(0.02, tc.VocabSize, tc.Hidden), Scale: 1},
			Position: &nn.Embedding{Weight: w.Normal(0.02, tc.MaxPositions, tc.Hidden), Scale: 1},
		},
		Encoder:   encoder(tc.Tower),
		FinalNorm: norm(tc.Hidden, tc.Eps),
	}
	if c.Siglip {
		text.Head = linear(tc.Hidden, tc.projection(), true)
		return newSiglip(c, w, text, linear, norm, encoder), nil
	}
	m := &Model{
		Cfg:  c,
		Text: text,
		Vision: &VisionModel{
			Embeddings: &VisionEmbeddings{
				Patch:    w.Normal(0.02, vc.Hidden, vc.Channels, vc.PatchSize, vc.PatchSize),
				Class:    w.Normal(0.02, vc.Hidden),
				Position: &nn.Embedding{Weight: w.Normal(0.02, vc.Patches()+1, vc.Hidden), Scale: 1},
			},
			PreNorm:  norm(vc.Hidden, vc.Eps),
			Encoder:  encoder(vc.Tower),
			PostNorm: norm(vc.Hidden, vc.Eps),
		},
		TextProjection:   linear(tc.Hidden, c.ProjectionDim, false),
		VisualProjection: linear(vc.Hidden, c.ProjectionDim, false),
		LogitScale:       w.Fill(float32(c.LogitScaleInit)),
	}
	return m, nil
}

// Params lists the parameters under HF's CLIPModel names.
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// encode runs the layers of one tower over x [B, T, C].
func encode(tp *autograd.Tape, e *Encoder, t Tower, x *autograd.Var, opts autograd.AttentionOpts) (*autograd.Var, error) {
	act, err := t.activation()
	if err != nil {
		return nil, err
	}
	for _, l := range e.Layers {
		h := l.Norm1.Forward(tp, x)
		a := l.Attn
		y := tp.Attention(a.Q.Forward(tp, h), a.K.Forward(tp, h), a.V.Forward(tp, h), t.Heads, opts)
		x = tp.Add(x, a.Out.Forward(tp, y))
		x = tp.Add(x, l.MLP.FC2.Forward(tp, act(tp, l.MLP.FC1.Forward(tp, l.Norm2.Forward(tp, x)))))
	}
	return x, nil
}

// TextForward runs B texts of T token ids (row-major; pad true at padding,
// nil for none) and returns the last hidden state [B, T, C] (after
// final_layer_norm) and the pooled state [B, C]: each text's state at its
// end-of-text token (see Config.eosPositions).
func (m *Model) TextForward(tp *autograd.Tape, ids []int, pad []bool, b, t int) (hidden, pooled *autograd.Var, err error) {
	c := m.Cfg.Text
	switch {
	case b <= 0 || t <= 0 || len(ids) != b*t:
		return nil, nil, fmt.Errorf("clip: %d token ids are not B=%d × T=%d", len(ids), b, t)
	case t > c.MaxPositions:
		return nil, nil, fmt.Errorf("clip: a text of %d tokens exceeds max_position_embeddings %d", t, c.MaxPositions)
	case pad != nil && len(pad) != b*t:
		return nil, nil, fmt.Errorf("clip: padding mask of %d entries for %d tokens", len(pad), b*t)
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, nil, fmt.Errorf("clip: token id %d at index %d is outside the vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	e := m.Text.Embeddings
	pos := make([]int, t)
	for i := range pos {
		pos[i] = i
	}
	x := tp.Add(e.Token.Forward(tp, ids, b, t), tp.Embedding(e.Position.Weight, pos, 1)) // (B, T, C)
	x, err = encode(tp, m.Text.Encoder, c.Tower, x, autograd.AttentionOpts{Causal: !m.Cfg.Siglip, KeyPad: pad})
	if err != nil {
		return nil, nil, err
	}
	hidden = m.Text.FinalNorm.Forward(tp, x)
	rows := m.Cfg.eosPositions(ids, b, t)
	for i := range rows {
		rows[i] += i * t // row of hidden viewed as [B·T, C]
	}
	return hidden, tp.Embedding(tp.Reshape(hidden, b*t, -1), rows, 1), nil
}

// VisionForward runs b images (pixels [b, channels, S, S], as the folder's
// image processor gives them, one after another) and returns the last
// hidden state and the pooled state [b, C]. CLIP's hidden state is
// [b, 1+patches, C], before post_layernorm (as HF returns it), and its
// pooled state post_layernorm of the class token's; SigLIP's is
// [b, patches, C], after post_layernorm, pooled by its head.
func (m *Model) VisionForward(tp *autograd.Tape, pixels []float32, b int) (hidden, pooled *autograd.Var, err error) {
	c := m.Cfg.Vision
	s, p, ch, d, n := c.ImageSize, c.PatchSize, c.Channels, c.Hidden, c.Patches()
	if want := b * ch * s * s; b <= 0 || len(pixels) != want {
		return nil, nil, fmt.Errorf("clip: %d pixel values are not %d images of %d×%d×%d", len(pixels), b, ch, s, s)
	}
	e := m.Vision.Embeddings
	proj := tp.Reshape(e.Patch, d, -1) // [C, channels·P·P]: the convolution as a Linear
	x := tp.Reshape(tp.Linear(autograd.Const(vit.Patches(pixels, b, ch, s, p)), proj, e.PatchBias), b, n, d)
	if m.Cfg.Siglip {
		return m.siglipVision(tp, x, b)
	}
	x = tp.ConcatSeq(tp.Reshape(e.Class, 1, 1, d), x)    // (B, 1+patches, C)
	x = tp.Add(x, tp.Reshape(e.Position.Weight, n+1, d)) // + (1+patches, C)
	x, err = encode(tp, m.Vision.Encoder, c.Tower, m.Vision.PreNorm.Forward(tp, x), autograd.AttentionOpts{})
	if err != nil {
		return nil, nil, err
	}
	return x, m.Vision.PostNorm.Forward(tp, tp.Token(x, 0)), nil
}

// TextEmbeds returns the texts' embeddings, not normalised (HF's
// get_text_features): text_projection of the pooled states, [B,
// projection_dim] (SigLIP: its text head's output). Arguments are
// TextForward's.
func (m *Model) TextEmbeds(ids []int, pad []bool, b, t int) (*tensor.Tensor, error) {
	tp := autograd.BorrowInferenceTape()
	defer autograd.ReturnInferenceTape(tp)
	_, pooled, err := m.TextForward(tp, ids, pad, b, t)
	if err != nil {
		return nil, err
	}
	if m.Text.Head != nil {
		return m.Text.Head.Forward(nil, pooled).Value, nil
	}
	return (*autograd.Tape)(nil).Linear(pooled, m.TextProjection.Weight, nil).Value, nil
}

// ImageEmbeds returns the images' embeddings, not normalised (HF's
// get_image_features): visual_projection of the pooled states, [b,
// projection_dim] (SigLIP: the pooled states themselves).
func (m *Model) ImageEmbeds(pixels []float32, b int) (*tensor.Tensor, error) {
	tp := autograd.BorrowInferenceTape()
	defer autograd.ReturnInferenceTape(tp)
	_, pooled, err := m.VisionForward(tp, pixels, b)
	if err != nil {
		return nil, err
	}
	if m.VisualProjection == nil { // SigLIP's image embedding is its pooling head's output
		return pooled.Value.Clone(), nil
	}
	return (*autograd.Tape)(nil).Linear(pooled, m.VisualProjection.Weight, nil).Value, nil
}

// Similarities returns CLIP's logits of images [I, D] against texts [T, D]
// ([I, T], HF's logits_per_image): the cosine of each pair times
// exp(logit_scale), plus SigLIP's logit_bias. A softmax over a row gives a
// CLIP image's zero-shot probabilities over the texts; SigLIP scores each
// pair alone, by a sigmoid.
func (m *Model) Similarities(images, texts *tensor.Tensor) (*tensor.Tensor, error) {
	if len(images.Shape) != 2 || len(texts.Shape) != 2 || images.Shape[1] != texts.Shape[1] {
		return nil, fmt.Errorf("clip: image embeddings %v and text embeddings %v are not [I, D] and [T, D]", images.Shape, texts.Shape)
	}
	ni, nt, d := images.Shape[0], texts.Shape[0], images.Shape[1]
	unit := func(x *tensor.Tensor) []float32 {
		out := slices.Clone(x.Data)
		for i := range x.Shape[0] {
			bert.Normalize(out[i*d : (i+1)*d]) // as F.normalize: a zero row stays zero
		}
		return out
	}
	a, bt := unit(images), unit(texts)
	scale := float32(math.Exp(float64(m.LogitScale.Value.Data[0])))
	out := tensor.New(ni, nt)
	tensor.Gemm(false, true, ni, nt, d, scale, a, d, bt, d, 0, out.Data, nt)
	if m.LogitBias != nil {
		for i := range out.Data {
			out.Data[i] += m.LogitBias.Value.Data[0]
		}
	}
	return out, nil
}
