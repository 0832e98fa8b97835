// Package vit is the Vision Transformer (Dosovitskiy et al. 2021, "An
// Image is Worth 16x16 Words"): an image cut into P × P patches, each
// patch projected to a token, a learned class token in front, learned
// positions added, then a pre-LN Transformer encoder; the class token's
// final state is the image's representation, which a linear classifier
// maps to labels. Parameter names and semantics are HuggingFace's ViTModel
// and ViTForImageClassification (modeling_vit.py), so their checkpoints
// load; images are prepared as ViTImageProcessor prepares them (image.go).
package vit

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Embeddings makes the token sequence of an image (ViTEmbeddings,
// DeiTEmbeddings).
type Embeddings struct {
	CLS          *autograd.Var    `attn:"cls_token"`           // [1, 1, C]
	Distillation *autograd.Var    `attn:"distillation_token"`  // [1, 1, C]; DeiT only
	Position     *autograd.Var    `attn:"position_embeddings"` // [1, prefix+patches, C]
	Patch        *PatchEmbeddings `attn:"patch_embeddings"`
}

// PatchEmbeddings projects each patch to a token: HF's Conv2d with kernel
// and stride P, that is one Linear over the flattened patches.
type PatchEmbeddings struct {
	Weight *autograd.Var `attn:"projection.weight"` // [C, channels, P, P]
	Bias   *autograd.Var `attn:"projection.bias"`   // [C]
}

// SelfAttention holds the query, key and value projections.
type SelfAttention struct {
	Query *nn.Linear `attn:"query"`
	Key   *nn.Linear `attn:"key"`
	Value *nn.Linear `attn:"value"`
}

// Dense is one linear layer under the name "dense" (ViTSelfOutput,
// ViTIntermediate, ViTOutput, ViTPooler).
type Dense struct {
	Dense *nn.Linear `attn:"dense"`
}

// Attention is self-attention and its output projection (ViTAttention).
type Attention struct {
	Attention *SelfAttention `attn:"attention"`
	Output    *Dense         `attn:"output"`
}

// Layer is one pre-LN encoder layer (ViTLayer): x + attention(LN(x)), then
// x + output(act(intermediate(LN(x)))).
type Layer struct {
	Attention    *Attention    `attn:"attention"`
	Intermediate *Dense        `attn:"intermediate"` // C → intermediate_size
	Output       *Dense        `attn:"output"`       // intermediate_size → C
	Before       *nn.LayerNorm `attn:"layernorm_before"`
	After        *nn.LayerNorm `attn:"layernorm_after"`
}

// Encoder is the stack of layers.
type Encoder struct {
	Layer []*Layer `attn:"layer"`
}

// Model is ViT (or DeiT) with its optional pooler and classifier. Its
// parameter names are HF's without the "vit." or "deit." prefix of the
// task classes.
type Model struct {
	Cfg        Config
	Embeddings *Embeddings   `attn:"embeddings"`
	Encoder    *Encoder      `attn:"encoder"`
	LayerNorm  *nn.LayerNorm `attn:"layernorm"`
	Pooler     *Dense        `attn:"pooler"`     // nil when the checkpoint has none
	Classifier *nn.Linear    `attn:"classifier"` // [labels, C] on the class token; nil when the checkpoint has none
	// Teacher is DeiTForImageClassificationWithTeacher's pair of heads,
	// used instead of Classifier.
	Teacher *TeacherHeads `attn:",inline"`
}

// TeacherHeads are a distilled DeiT's classifiers: one on the class token,
// one on the distillation token; the logits are their average.
type TeacherHeads struct {
	CLS          *nn.Linear `attn:"cls_classifier"`          // [labels, C]
	Distillation *nn.Linear `attn:"distillation_classifier"` // [labels, C]
}

// Parts says which optional parts a model has.
type Parts struct {
	Pooler  bool // ViTModel has one, ViTForImageClassification not
	Labels  int  // classifier outputs; 0 for none
	Teacher bool // DeiT's two heads instead of one classifier (with Labels)
}

// New returns a model with ViT's initialisation, except that weights are
// drawn from N(0, initializer_range²) (HF truncates the normal at ±2):
// biases 0, LayerNorm 1 and 0.
func New(c Config, parts Parts, seed uint64) (*Model, error) {
	return newModel(c, parts, tensor.NewRNG(seed))
}

func newModel(c Config, parts Parts, rng *tensor.RNG) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if parts.Labels < 0 || parts.Teacher && (parts.Labels == 0 || !c.Distilled) {
		return nil, fmt.Errorf("vit: %d labels, teacher heads %v, distillation token %v", parts.Labels, parts.Teacher, c.Distilled)
	}
	d, std, w := c.Hidden, float64(c.InitRange), hf.Init{RNG: rng}
	linear := func(in, out int, bias bool) *nn.Linear {
		l := &nn.Linear{Weight: w.Normal(std, out, in)}
		if bias {
			l.Bias = w.Fill(0, out)
		}
		return l
	}
	norm := func() *nn.LayerNorm { return &nn.LayerNorm{Weight: w.Fill(1, d), Bias: w.Fill(0, d), Eps: c.Eps} }
	p := c.PatchSize
	m := &Model{
		Cfg: c,
		Embeddings: &Embeddings{
			CLS:      w.Normal(std, 1, 1, d),
			Position: w.Normal(std, 1, c.Prefix()+c.Patches(), d),
			Patch:    &PatchEmbeddings{Weight: w.Normal(std, d, c.Channels, p, p), Bias: w.Fill(0, d)},
		},
		Encoder:   &Encoder{},
		LayerNorm: norm(),
	}
	for range c.Layers {
		m.Encoder.Layer = append(m.Encoder.Layer, &Layer{
			Attention: &Attention{
				Attention: &SelfAttention{Query: linear(d, d, c.QKVBias), Key: linear(d, d, c.QKVBias), Value: linear(d, d, c.QKVBias)},
				Output:    &Dense{Dense: linear(d, d, true)},
			},
			Intermediate: &Dense{Dense: linear(d, c.Intermediate, true)},
			Output:       &Dense{Dense: linear(c.Intermediate, d, true)},
			Before:       norm(),
			After:        norm(),
		})
	}
	if parts.Pooler {
		m.Pooler = &Dense{Dense: linear(d, d, true)}
	}
	if c.Distilled {
		m.Embeddings.Distillation = w.Normal(std, 1, 1, d)
	}
	switch {
	case parts.Teacher:
		m.Teacher = &TeacherHeads{CLS: linear(d, parts.Labels, true), Distillation: linear(d, parts.Labels, true)}
	case parts.Labels > 0:
		m.Classifier = linear(d, parts.Labels, true)
	}
	return m, nil
}

// Params lists the parameters under HF's names without "vit.".
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// Labels returns the number of classifier outputs, 0 without a classifier.
func (m *Model) Labels() int {
	switch {
	case m.Teacher != nil:
		return m.Teacher.CLS.Weight.Value.Shape[0]
	case m.Classifier != nil:
		return m.Classifier.Weight.Value.Shape[0]
	}
	return 0
}

// HasClassifier reports whether the model has a classifier (one head, or
// DeiT's two).
func (m *Model) HasClassifier() bool { return m.Labels() > 0 }

// ReplaceClassifier gives the model a new classifier on the class token
// for labels (DeiT's two heads, if any, go), drawn as HF initialises one:
// weights from N(0, initializer_range²), biases 0.
func (m *Model) ReplaceClassifier(labels []string, seed uint64) {
	w := hf.Init{RNG: tensor.NewRNG(seed)}
	m.Classifier = &nn.Linear{Weight: w.Normal(float64(m.Cfg.InitRange), len(labels), m.Cfg.Hidden), Bias: w.Fill(0, len(labels))}
	m.Teacher = nil
	m.Cfg.Labels, m.Cfg.ProblemType = hf.LabelsOf(labels), ""
}

// IsHead reports whether the parameter name (as Params gives it) belongs to
// a classifier head rather than the backbone.
func IsHead(name string) bool {
	for _, h := range []string{"classifier.", "cls_classifier.", "distillation_classifier."} {
		if strings.HasPrefix(name, h) {
			return true
		}
	}
	return false
}

// patches cuts B images [B, channels, S, S] into the model's patches (see
// Patches).
func (m *Model) patches(pixels []float32, b int) *tensor.Tensor {
	c := m.Cfg
	return Patches(pixels, b, c.Channels, c.ImageSize, c.PatchSize)
}

// Patches cuts b images [b, channels, S, S] (row-major pixels) into their
// P × P patches, one row of channels·P·P values per patch, patches in
// row-major order: the layout in which HF's Conv2d projection, flattened,
// is a Linear.
func Patches(pixels []float32, b, ch, s, p int) *tensor.Tensor {
	g := s / p
	out := tensor.New(b*g*g, ch*p*p)
	tensor.Parallel(b*g, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ { // one row of patches of one image
			img, py := r/g, r%g
			for px := range g {
				row := out.Data[((img*g+py)*g+px)*ch*p*p:][:ch*p*p]
				for k := range ch {
					plane := pixels[(img*ch+k)*s*s:]
					for i := range p {
						copy(row[(k*p+i)*p:(k*p+i+1)*p], plane[(py*p+i)*s+px*p:][:p])
					}
				}
			}
		}
	})
	return out
}

// Forward runs b images (pixels [b, channels, S, S], as Processor.Pixels
// gives them, one after another) and returns the final hidden states
// [b, prefix+patches, C], the class token first (then DeiT's distillation
// token), after the last LayerNorm.
func (m *Model) Forward(tp *autograd.Tape, pixels []float32, b int) (*autograd.Var, error) {
	c := m.Cfg
	if want := b * c.Channels * c.ImageSize * c.ImageSize; b <= 0 || len(pixels) != want {
		return nil, fmt.Errorf("vit: %d pixel values are not %d images of %d×%d×%d", len(pixels), b, c.Channels, c.ImageSize, c.ImageSize)
	}
	act, err := c.activation()
	if err != nil {
		return nil, err
	}
	e, n, d := m.Embeddings, c.Patches(), c.Hidden
	proj := tp.Reshape(e.Patch.Weight, d, -1) // [C, channels·P·P]
	x := tp.Reshape(tp.Linear(autograd.Const(m.patches(pixels, b)), proj, e.Patch.Bias), b, n, d)
	if e.Distillation != nil {
		x = tp.ConcatSeq(e.Distillation, x) // (B, 1+patches, C)
	}
	x = tp.ConcatSeq(e.CLS, x)                             // (B, prefix+patches, C)
	x = tp.Add(x, tp.Reshape(e.Position, c.Prefix()+n, d)) // + (prefix+patches, C)
	x = tp.Dropout(x, c.Dropout)
	opts := autograd.AttentionOpts{Dropout: c.AttnDropout}
	for _, l := range m.Encoder.Layer {
		s, h := l.Attention.Attention, l.Before.Forward(tp, x)
		y := tp.Attention(s.Query.Forward(tp, h), s.Key.Forward(tp, h), s.Value.Forward(tp, h), c.Heads, opts)
		x = tp.DropoutAdd(x, l.Attention.Output.Dense.Forward(tp, y), c.Dropout)
		h = act.Apply(tp, l.Intermediate.Dense.Forward(tp, l.After.Forward(tp, x)))
		x = tp.DropoutAdd(x, l.Output.Dense.Forward(tp, h), c.Dropout)
	}
	return m.LayerNorm.Forward(tp, x), nil
}

// first returns the class token's state [B, C] of hidden [B, T, C].
func first(tp *autograd.Tape, hidden *autograd.Var) *autograd.Var { return tp.Token(hidden, 0) }

// errNoClassifier is the error of classifying with a base model.
var errNoClassifier = errors.New("vit: the model has no classifier (a ViTModel or DeiTModel checkpoint, not one for image classification)")

// Logits returns the classifier's logits [B, labels] for hidden states from
// Forward: the classifier on the class token, or the average of a distilled
// DeiT's two heads; it is an error if the checkpoint had no classifier.
func (m *Model) Logits(tp *autograd.Tape, hidden *autograd.Var) (*autograd.Var, error) {
	switch {
	case m.Teacher != nil:
		cls := m.Teacher.CLS.Forward(tp, first(tp, hidden))
		dist := m.Teacher.Distillation.Forward(tp, tp.Token(hidden, 1))
		return tp.Scale(tp.Add(cls, dist), 0.5), nil
	case m.Classifier != nil:
		return m.Classifier.Forward(tp, first(tp, hidden)), nil
	}
	return nil, errNoClassifier
}

// Encode runs b images without recording a tape and returns the final
// hidden states [b, prefix+patches, C] and the pooled output
// tanh(pooler(hidden[:, 0])) [b, C], which is nil without a pooler.
func (m *Model) Encode(pixels []float32, b int) (hidden, pooled *tensor.Tensor, err error) {
	tp := autograd.BorrowInferenceTape()
	defer autograd.ReturnInferenceTape(tp)
	h, err := m.Forward(tp, pixels, b)
	if err != nil {
		return nil, nil, err
	}
	hidden = h.Value.Clone() // the arena's buffer goes back to the pool
	if m.Pooler == nil {
		return hidden, nil, nil
	}
	p := m.Pooler.Dense.Forward(nil, first(nil, h)).Value
	for i, v := range p.Data {
		p.Data[i] = float32(math.Tanh(float64(v)))
	}
	return hidden, p, nil
}

// Classify runs b images without recording a tape and returns the
// classifier's logits [b, labels].
func (m *Model) Classify(pixels []float32, b int) (*tensor.Tensor, error) {
	if !m.HasClassifier() {
		return nil, errNoClassifier
	}
	tp := autograd.BorrowInferenceTape()
	defer autograd.ReturnInferenceTape(tp)
	h, err := m.Forward(tp, pixels, b)
	if err != nil {
		return nil, err
	}
	logits, err := m.Logits(nil, h) // a new buffer: returned
	if err != nil {
		return nil, err
	}
	return logits.Value, nil
}
