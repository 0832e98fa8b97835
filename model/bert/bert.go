// Package bert is BERT (Devlin et al. 2019), a post-LN Transformer encoder:
// word, position and token-type embeddings, N layers of self-attention and a
// GELU feed-forward net, each followed by LayerNorm(x + sublayer(x)), a
// tanh pooler over the first token and the masked-LM head. Parameter names
// and semantics are HuggingFace's BertModel and BertForPreTraining's (see
// modeling_bert.py), so their checkpoints load.
package bert

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Embeddings sums the word, position and token-type embeddings and
// normalises them (BertEmbeddings).
type Embeddings struct {
	Word      *nn.Embedding `attn:"word_embeddings"`       // [V, C]
	Position  *nn.Embedding `attn:"position_embeddings"`   // [max_position_embeddings, C]
	TokenType *nn.Embedding `attn:"token_type_embeddings"` // [type_vocab_size, C]
	LayerNorm *nn.LayerNorm `attn:"LayerNorm"`
}

// SelfAttention holds the query, key and value projections.
type SelfAttention struct {
	Query *nn.Linear `attn:"query"`
	Key   *nn.Linear `attn:"key"`
	Value *nn.Linear `attn:"value"`
}

// AddNorm is a sublayer's output: LayerNorm(x + dropout(dense(h))), HF's
// BertSelfOutput and BertOutput.
type AddNorm struct {
	Dense     *nn.Linear    `attn:"dense"`
	LayerNorm *nn.LayerNorm `attn:"LayerNorm"`
}

// Forward returns LayerNorm(x + dropout(dense(h))).
func (a *AddNorm) Forward(tp *autograd.Tape, h, x *autograd.Var, dropout float32) *autograd.Var {
	return a.LayerNorm.Forward(tp, tp.Add(tp.Dropout(a.Dense.Forward(tp, h), dropout), x))
}

// Attention is self-attention and its AddNorm (BertAttention).
type Attention struct {
	Self   *SelfAttention `attn:"self"`
	Output *AddNorm       `attn:"output"`
}

// Dense is one linear layer under the name "dense" (BertIntermediate,
// BertPooler).
type Dense struct {
	Dense *nn.Linear `attn:"dense"`
}

// Layer is one encoder layer (BertLayer).
type Layer struct {
	Attention    *Attention `attn:"attention"`
	Intermediate *Dense     `attn:"intermediate"` // C → intermediate_size
	Output       *AddNorm   `attn:"output"`       // intermediate_size → C
}

// Encoder is the stack of layers.
type Encoder struct {
	Layer []*Layer `attn:"layer"`
}

// Transform is the MLM head's dense, activation and LayerNorm.
type Transform struct {
	Dense     *nn.Linear    `attn:"dense"`
	LayerNorm *nn.LayerNorm `attn:"LayerNorm"`
}

// MLMHead predicts masked tokens (BertLMPredictionHead, cls.predictions):
// logits = transform(h)·Eᵀ + bias, E the word embeddings when tied.
type MLMHead struct {
	Transform *Transform    `attn:"transform"`
	Decoder   *autograd.Var `attn:"decoder.weight"` // [V, C]; nil when tied to the word embeddings
	Bias      *autograd.Var `attn:"bias"`           // [V]
}

// Model is BERT with its optional pooler, masked-LM head and sequence
// classifier. Its parameter names are HF's without the "bert." prefix of
// the task classes.
type Model struct {
	Cfg        Config
	Embeddings *Embeddings `attn:"embeddings"`
	Encoder    *Encoder    `attn:"encoder"`
	Pooler     *Dense      `attn:"pooler"`          // nil when the checkpoint has none
	Head       *MLMHead    `attn:"cls.predictions"` // nil when the checkpoint has none
	// Classifier maps the pooled output to label logits
	// (BertForSequenceClassification); nil when the checkpoint has none.
	Classifier *nn.Linear `attn:"classifier"`
}

// Parts says which optional parts a model has.
type Parts struct {
	Pooler bool // BertModel and BertForPreTraining have one, BertForMaskedLM not
	Head   bool // the masked-LM head (cls.predictions)
	Labels int  // outputs of a sequence classifier (which needs the pooler); 0 for none
}

// New returns a model with HF's initialisation: weights and embeddings
// from N(0, initializer_range²), biases 0, LayerNorm 1 and 0.
func New(c Config, parts Parts, seed uint64) (*Model, error) {
	return newModel(c, parts, tensor.NewRNG(seed))
}

func newModel(c Config, parts Parts, rng *tensor.RNG) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if parts.Labels < 0 || parts.Labels > 0 && !parts.Pooler {
		return nil, fmt.Errorf("bert: a classifier of %d labels needs the pooler (pooler %v)", parts.Labels, parts.Pooler)
	}
	if err := c.Labels.Check(parts.Labels); parts.Labels > 0 && err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	d, std, w := c.Hidden, float64(c.InitRange), hf.Init{RNG: rng}
	linear := func(in, out int) *nn.Linear {
		return &nn.Linear{Weight: w.Normal(std, out, in), Bias: w.Fill(0, out)}
	}
	embedding := func(n int) *nn.Embedding { return &nn.Embedding{Weight: w.Normal(std, n, d), Scale: 1} }
	norm := func() *nn.LayerNorm { return &nn.LayerNorm{Weight: w.Fill(1, d), Bias: w.Fill(0, d), Eps: c.Eps} }
	m := &Model{
		Cfg: c,
		Embeddings: &Embeddings{
			Word: embedding(c.VocabSize), Position: embedding(c.MaxPositions), TokenType: embedding(c.TypeVocab),
			LayerNorm: norm(),
		},
		Encoder: &Encoder{},
	}
	for range c.Layers {
		m.Encoder.Layer = append(m.Encoder.Layer, &Layer{
			Attention: &Attention{
				Self:   &SelfAttention{Query: linear(d, d), Key: linear(d, d), Value: linear(d, d)},
				Output: &AddNorm{Dense: linear(d, d), LayerNorm: norm()},
			},
			Intermediate: &Dense{Dense: linear(d, c.Intermediate)},
			Output:       &AddNorm{Dense: linear(c.Intermediate, d), LayerNorm: norm()},
		})
	}
	if parts.Pooler {
		m.Pooler = &Dense{Dense: linear(d, d)}
	}
	if parts.Labels > 0 {
		m.Classifier = linear(d, parts.Labels)
	}
	if parts.Head {
		m.Head = &MLMHead{
			Transform: &Transform{Dense: linear(d, d), LayerNorm: norm()},
			Bias:      w.Fill(0, c.VocabSize),
		}
		if !c.Tied {
			m.Head.Decoder = w.Normal(std, c.VocabSize, d)
		}
	}
	return m, nil
}

// Params lists the parameters under HF's names without "bert.".
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// checkInputs validates a batch of B sequences of T tokens.
func (m *Model) checkInputs(ids, typeIDs []int, pad []bool, b, t int) error {
	c := m.Cfg
	switch {
	case b <= 0 || t <= 0 || len(ids) != b*t:
		return fmt.Errorf("bert: %d token ids are not B=%d × T=%d", len(ids), b, t)
	case t > c.MaxPositions:
		return fmt.Errorf("bert: sequence length %d exceeds max_position_embeddings %d", t, c.MaxPositions)
	case typeIDs != nil && len(typeIDs) != b*t:
		return fmt.Errorf("bert: %d token type ids for %d tokens", len(typeIDs), b*t)
	case pad != nil && len(pad) != b*t:
		return fmt.Errorf("bert: padding mask of %d entries for %d tokens", len(pad), b*t)
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("bert: token id %d at index %d is outside the vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	for i, id := range typeIDs {
		if id < 0 || id >= c.TypeVocab {
			return fmt.Errorf("bert: token type %d at index %d is outside [0, %d)", id, i, c.TypeVocab)
		}
	}
	return nil
}

// Forward runs B sequences of T tokens (row-major ids; typeIDs the segment
// of each token, nil for all 0; pad true at padding tokens, nil for none)
// and returns the last hidden state [B, T, C]. Padding keys get no
// attention weight; padding positions are computed like the others, as in
// HF. A sequence that is all padding gets zero attention output (HF spreads
// its weight evenly instead).
func (m *Model) Forward(tp *autograd.Tape, ids, typeIDs []int, pad []bool, b, t int) (*autograd.Var, error) {
	if err := m.checkInputs(ids, typeIDs, pad, b, t); err != nil {
		return nil, err
	}
	if typeIDs == nil {
		typeIDs = make([]int, b*t)
	}
	pos := make([]int, t)
	for i := range pos {
		pos[i] = i
	}
	c, e := m.Cfg, m.Embeddings
	act, err := c.activation()
	if err != nil {
		return nil, err
	}
	x := e.Word.Forward(tp, ids, b, t)                                                // (B, T, C)
	x = tp.Add(x, tp.Embedding(e.Position.Weight, pos, 1))                            // + (T, C)
	x = tp.Add(x, tp.Reshape(tp.Embedding(e.TokenType.Weight, typeIDs, 1), b, t, -1)) // + (B, T, C)
	x = tp.Dropout(e.LayerNorm.Forward(tp, x), c.Dropout)
	opts := autograd.AttentionOpts{KeyPad: pad, Dropout: c.AttnDropout}
	for _, l := range m.Encoder.Layer {
		s := l.Attention.Self
		y := tp.Attention(s.Query.Forward(tp, x), s.Key.Forward(tp, x), s.Value.Forward(tp, x), c.Heads, opts) // (B, T, C)
		x = l.Attention.Output.Forward(tp, y, x, c.Dropout)
		h := act.Apply(tp, l.Intermediate.Dense.Forward(tp, x)) // (B, T, intermediate)
		x = l.Output.Forward(tp, h, x, c.Dropout)
	}
	return x, nil
}

// Logits returns the masked-LM head's logits [B, T, V] for hidden states
// [B, T, C]; it is an error if the checkpoint had no head.
func (m *Model) Logits(tp *autograd.Tape, hidden *autograd.Var) (*autograd.Var, error) {
	if m.Head == nil {
		return nil, fmt.Errorf("bert: the model has no masked-LM head (cls.predictions)")
	}
	act, err := m.Cfg.activation()
	if err != nil {
		return nil, err
	}
	tr := m.Head.Transform
	h := tr.LayerNorm.Forward(tp, act.Apply(tp, tr.Dense.Forward(tp, hidden)))
	w := m.Head.Decoder
	if w == nil {
		w = m.Embeddings.Word.Weight
	}
	return tp.Linear(h, w, m.Head.Bias), nil
}

// Encode runs the encoder without recording a tape and returns the last
// hidden state [B, T, C] and the pooled output tanh(pooler(hidden[:, 0]))
// [B, C], which is nil when the checkpoint had no pooler. Arguments are
// Forward's.
func (m *Model) Encode(ids, typeIDs []int, pad []bool, b, t int) (hidden, pooled *tensor.Tensor, err error) {
	// Each call's activations reuse an earlier call's memory: embedding a
	// file batch after batch would otherwise allocate, zero and page-fault
	// some 700 MB per batch of 8×128 tokens for BERT-base.
	tp := autograd.BorrowInferenceTape()
	defer autograd.ReturnInferenceTape(tp)
	h, err := m.Forward(tp, ids, typeIDs, pad, b, t)
	if err != nil {
		return nil, nil, err
	}
	hidden = h.Value.Clone() // the arena's buffer goes back to the pool
	if m.Pooler == nil {
		return hidden, nil, nil
	}
	c := m.Cfg.Hidden
	first := tensor.New(b, c)
	for i := range b {
		copy(first.Data[i*c:(i+1)*c], h.Value.Data[i*t*c:])
	}
	// Pooling is inference-only, so tanh needs no autograd op.
	p := (*autograd.Tape)(nil).Linear(autograd.Const(first), m.Pooler.Dense.Weight, m.Pooler.Dense.Bias).Value
	for i, v := range p.Data {
		p.Data[i] = float32(math.Tanh(float64(v)))
	}
	return hidden, p, nil
}

// Labels returns the number of classifier outputs, 0 without a classifier.
func (m *Model) Labels() int {
	if m.Classifier == nil {
		return 0
	}
	return m.Classifier.Weight.Value.Shape[0]
}

// ReplaceClassifier gives the model a new single-label classifier for
// labels (and a pooler, if it has none), drawn as HF initialises them:
// weights from N(0, initializer_range²), biases 0. This is how a pretrained
// BERT becomes a BertForSequenceClassification to fine-tune, which has no
// masked-LM head: the head goes.
func (m *Model) ReplaceClassifier(labels []string, seed uint64) {
	m.Head, m.Cfg.ProblemType = nil, ""
	w, d, std := hf.Init{RNG: tensor.NewRNG(seed)}, m.Cfg.Hidden, float64(m.Cfg.InitRange)
	if m.Pooler == nil {
		m.Pooler = &Dense{Dense: &nn.Linear{Weight: w.Normal(std, d, d), Bias: w.Fill(0, d)}}
	}
	m.Classifier = &nn.Linear{Weight: w.Normal(std, len(labels), d), Bias: w.Fill(0, len(labels))}
	m.Cfg.Labels = hf.LabelsOf(labels)
}

// ClassLogits returns the sequence classifier's logits [B, labels]:
// classifier(dropout(tanh(pooler(hidden[:, 0])))), hidden the last hidden
// state [B, T, C], as BertForSequenceClassification computes them.
func (m *Model) ClassLogits(tp *autograd.Tape, hidden *autograd.Var) (*autograd.Var, error) {
	if m.Classifier == nil || m.Pooler == nil {
		return nil, fmt.Errorf("bert: the model has no sequence classifier (classifier and pooler)")
	}
	b, t := hidden.Value.Shape[0], hidden.Value.Shape[1]
	first := make([]int, b) // row b·T of hidden viewed as [B·T, C]
	for i := range first {
		first[i] = i * t
	}
	h := tp.Embedding(tp.Reshape(hidden, b*t, -1), first, 1) // (B, C)
	pooled := tp.Tanh(tp.Linear(h, m.Pooler.Dense.Weight, m.Pooler.Dense.Bias))
	return tp.Linear(tp.Dropout(pooled, m.Cfg.classifierDropout()), m.Classifier.Weight, m.Classifier.Bias), nil
}

// Classify runs the encoder and the classifier without recording a tape
// and returns the logits [B, labels]. Arguments are Forward's.
func (m *Model) Classify(ids, typeIDs []int, pad []bool, b, t int) (*tensor.Tensor, error) {
	if m.Classifier == nil || m.Pooler == nil {
		return nil, fmt.Errorf("bert: the model has no sequence classifier (classifier and pooler)")
	}
	tp := autograd.BorrowInferenceTape() // as in Encode
	defer autograd.ReturnInferenceTape(tp)
	h, err := m.Forward(tp, ids, typeIDs, pad, b, t)
	if err != nil {
		return nil, err
	}
	logits, err := m.ClassLogits(tp, h)
	if err != nil {
		return nil, err
	}
	return logits.Value.Clone(), nil
}

// MLMLogits runs the encoder and the masked-LM head without recording a
// tape and returns logits [B, T, V]. Arguments are Forward's.
func (m *Model) MLMLogits(ids, typeIDs []int, pad []bool, b, t int) (*tensor.Tensor, error) {
	if m.Head == nil {
		return nil, fmt.Errorf("bert: the model has no masked-LM head (cls.predictions)")
	}
	tp := autograd.BorrowInferenceTape() // as in Encode
	defer autograd.ReturnInferenceTape(tp)
	h, err := m.Forward(tp, ids, typeIDs, pad, b, t)
	if err != nil {
		return nil, err
	}
	logits, err := m.Logits(nil, h) // a new buffer: returned
	if err != nil {
		return nil, err
	}
	return logits.Value, nil
}
