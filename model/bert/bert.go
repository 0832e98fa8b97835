// Package bert is BERT (Devlin et al. 2019), a post-LN Transformer encoder:
// word, position and token-type embeddings, N layers of self-attention and a
// GELU feed-forward net, each followed by LayerNorm(x + sublayer(x)), a
// tanh pooler over the first token and the masked-LM head. Parameter names
// and semantics are HuggingFace's BertModel and BertForPreTraining's (see
// modeling_bert.py), so their checkpoints load. RoBERTa (Liu et al. 2019)
// and XLM-RoBERTa are the same encoder with positions counted from
// pad_token_id+1 and heads of their own (modeling_roberta.py), and
// DistilBERT a smaller one without token types under names of its own
// (modeling_distilbert.py); their checkpoints load into the same Model.
// So do ModernBERT's (modeling_modernbert.py), whose layers are of the
// Llama era: pre-LN, rotary positions, a GeGLU and local attention in most
// layers (modernbert.go).
package bert

import (
	"cmp"
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
	return a.LayerNorm.Forward(tp, tp.DropoutAdd(x, a.Dense.Forward(tp, h), dropout))
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

// RobertaHead is RoBERTa's masked-LM head (RobertaLMHead, lm_head):
// logits = layer_norm(gelu(dense(h)))·Eᵀ + bias, with the exact GELU
// whatever hidden_act says, E the word embeddings when tied.
type RobertaHead struct {
	Dense     *nn.Linear    `attn:"dense"`
	LayerNorm *nn.LayerNorm `attn:"layer_norm"`
	Decoder   *autograd.Var `attn:"decoder.weight"` // [V, C]; nil when tied to the word embeddings
	Bias      *autograd.Var `attn:"bias"`           // [V]
}

// ClassHead is the two-layer sequence classifier of RoBERTa and DistilBERT,
// on the first token's hidden state h: RoBERTa's RobertaClassificationHead
// is out_proj(tanh(dense(h))), with dropout before each dense in training;
// DistilBertForSequenceClassification's is out_proj(relu(dense(h))) (its
// pre_classifier and classifier), with dropout before out_proj. Neither
// model's classifier has a pooler.
type ClassHead struct {
	Dense   *nn.Linear `attn:"dense"`
	OutProj *nn.Linear `attn:"out_proj"`
}

// Model is BERT with its optional pooler, masked-LM head and sequence
// classifier, or a RoBERTa (Cfg.Type "roberta" or "xlm-roberta") with
// RoBERTa's heads in place of BERT's, or a DistilBERT (Cfg.Type
// "distilbert"), which has no token types and BERT's head under names of
// its own (see distil.go), or a ModernBERT (Cfg.Type "modernbert"), whose
// layers and heads are fields of their own (see modernbert.go). Its
// parameter names are HF's without the "bert.", "roberta." or "model."
// prefix of the task classes.
type Model struct {
	Cfg        Config
	Embeddings *Embeddings `attn:"embeddings"`
	Encoder    *Encoder    `attn:"encoder"`
	Pooler     *Dense      `attn:"pooler"`          // nil when the checkpoint has none
	Head       *MLMHead    `attn:"cls.predictions"` // BERT's; nil when the checkpoint has none
	// Classifier maps the pooled output to label logits
	// (BertForSequenceClassification); nil when the checkpoint has none.
	Classifier *nn.Linear `attn:"classifier"`

	RobertaHead *RobertaHead `attn:"lm_head"`    // RoBERTa's masked-LM head, or nil
	ClassHead   *ClassHead   `attn:"classifier"` // RoBERTa's or DistilBERT's classifier, or nil

	// A ModernBERT's parts (Cfg.Type "modernbert", modernbert.go), in place
	// of Embeddings and Encoder; nil otherwise. Its sequence classifier is
	// Classifier, after ModernHead.
	Modern     *ModernEmbeddings `attn:"embeddings"`
	Layers     []*ModernLayer    `attn:"layers"`
	FinalNorm  *nn.LayerNorm     `attn:"final_norm"`
	ModernHead *ModernHead       `attn:"head"` // the masked-LM head's and the classifier's
	// Decoder is the masked-LM decoder: its weight nil when tied to the
	// token embeddings, its bias nil without decoder_bias; nil without
	// the masked-LM head.
	Decoder *nn.Linear `attn:"decoder"`
}

// Parts says which optional parts a model has.
type Parts struct {
	Pooler bool // BertModel and BertForPreTraining have one, BertForMaskedLM not
	Head   bool // the masked-LM head (BERT's cls.predictions, RoBERTa's lm_head)
	Labels int  // outputs of a sequence classifier (BERT's needs the pooler); 0 for none
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
	if parts.Labels < 0 || parts.Labels > 0 && !parts.Pooler && !c.twoLayerClassifier() && !c.modern() {
		return nil, fmt.Errorf("bert: a classifier of %d labels needs the pooler (pooler %v)", parts.Labels, parts.Pooler)
	}
	if err := c.Labels.Check(parts.Labels); parts.Labels > 0 && err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	d, std, w := c.Hidden, float64(c.InitRange), hf.Init{RNG: rng}
	if c.modern() {
		m := &Model{Cfg: c}
		newModern(m, parts, w)
		return m, nil
	}
	linear := func(in, out int) *nn.Linear {
		return &nn.Linear{Weight: w.Normal(std, out, in), Bias: w.Fill(0, out)}
	}
	embedding := func(n int) *nn.Embedding {
		if n == 0 { // DistilBERT's token types
			return nil
		}
		return &nn.Embedding{Weight: w.Normal(std, n, d), Scale: 1}
	}
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
	switch {
	case parts.Labels > 0 && c.twoLayerClassifier():
		m.ClassHead = &ClassHead{Dense: linear(d, d), OutProj: linear(d, parts.Labels)}
	case parts.Labels > 0:
		m.Classifier = linear(d, parts.Labels)
	}
	var decoder *autograd.Var
	if parts.Head && !c.Tied {
		decoder = w.Normal(std, c.VocabSize, d)
	}
	switch {
	case parts.Head && c.roberta():
		m.RobertaHead = &RobertaHead{Dense: linear(d, d), LayerNorm: norm(), Decoder: decoder, Bias: w.Fill(0, c.VocabSize)}
	case parts.Head:
		m.Head = &MLMHead{Transform: &Transform{Dense: linear(d, d), LayerNorm: norm()}, Decoder: decoder, Bias: w.Fill(0, c.VocabSize)}
	}
	return m, nil
}

// hasHead reports whether the model has a masked-LM head.
func (m *Model) hasHead() bool { return m.Head != nil || m.RobertaHead != nil || m.Decoder != nil }

// hasClassifier reports whether the model has a sequence classifier.
func (m *Model) hasClassifier() bool {
	return m.ClassHead != nil || m.Classifier != nil && (m.Pooler != nil || m.ModernHead != nil)
}

// Params lists the parameters under HF's names without "bert.".
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// checkInputs validates a batch of B sequences of T tokens.
func (m *Model) checkInputs(ids, typeIDs []int, pad []bool, b, t int) error {
	c := m.Cfg
	switch {
	case b <= 0 || t <= 0 || len(ids) != b*t:
		return fmt.Errorf("bert: %d token ids are not B=%d × T=%d", len(ids), b, t)
	case t > c.MaxLen() && c.roberta():
		return fmt.Errorf("bert: sequence length %d exceeds the %d positions of max_position_embeddings %d after RoBERTa's offset of pad_token_id+1", t, c.MaxLen(), c.MaxPositions)
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
	if m.Embeddings == nil || m.Embeddings.TokenType == nil {
		return nil // DistilBERT and ModernBERT take no token types: HF's tokenizer does not pass them
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
	if m.Cfg.modern() {
		return m.forwardModern(tp, ids, pad, b, t)
	}
	if typeIDs == nil {
		typeIDs = make([]int, b*t)
	}
	c, e := m.Cfg, m.Embeddings
	act, err := c.activation()
	if err != nil {
		return nil, err
	}
	x := e.Word.Forward(tp, ids, b, t) // (B, T, C)
	if c.roberta() {
		x = tp.Add(x, tp.Reshape(tp.Embedding(e.Position.Weight, robertaPositions(ids, b, t, c.PadID), 1), b, t, -1)) // + (B, T, C)
	} else {
		pos := make([]int, t)
		for i := range pos {
			pos[i] = i
		}
		x = tp.Add(x, tp.Embedding(e.Position.Weight, pos, 1)) // + (T, C)
	}
	if e.TokenType != nil {
		x = tp.Add(x, tp.Reshape(tp.Embedding(e.TokenType.Weight, typeIDs, 1), b, t, -1)) // + (B, T, C)
	}
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

// robertaPositions returns RoBERTa's position ids for B sequences of T
// tokens (HF's create_position_ids_from_input_ids): a token that is not
// padding gets pad + its 1-based rank among those, padding gets pad. They
// come from the ids, not from a padding mask, as in HF.
func robertaPositions(ids []int, b, t, pad int) []int {
	pos := make([]int, b*t)
	for i := range b {
		n := 0
		for j := range t {
			pos[i*t+j] = pad
			if ids[i*t+j] != pad {
				n++
				pos[i*t+j] = pad + n
			}
		}
	}
	return pos
}

// Logits returns the masked-LM head's logits [B, T, V] for hidden states
// [B, T, C]; it is an error if the checkpoint had no head.
func (m *Model) Logits(tp *autograd.Tape, hidden *autograd.Var) (*autograd.Var, error) {
	if !m.hasHead() {
		return nil, m.noHead()
	}
	var h, w, bias *autograd.Var
	if m.Cfg.modern() {
		var err error
		if h, err = m.modernHead(tp, hidden); err != nil {
			return nil, err
		}
		w, bias = cmp.Or(m.Decoder.Weight, m.Modern.Tok.Weight), m.Decoder.Bias
		return tp.Linear(h, w, bias), nil
	}
	if r := m.RobertaHead; r != nil {
		h = r.LayerNorm.Forward(tp, nn.GELU.Apply(tp, r.Dense.Forward(tp, hidden)))
		w, bias = r.Decoder, r.Bias
	} else {
		act, err := m.Cfg.activation()
		if err != nil {
			return nil, err
		}
		tr := m.Head.Transform
		h = tr.LayerNorm.Forward(tp, act.Apply(tp, tr.Dense.Forward(tp, hidden)))
		w, bias = m.Head.Decoder, m.Head.Bias
	}
	if w == nil {
		w = m.Embeddings.Word.Weight
	}
	return tp.Linear(h, w, bias), nil
}

// noHead is the error of asking for masked-LM logits without a head.
func (m *Model) noHead() error {
	switch {
	case m.Cfg.roberta():
		return fmt.Errorf("bert: the model has no masked-LM head (lm_head)")
	case m.Cfg.distil():
		return fmt.Errorf("bert: the model has no masked-LM head (vocab_transform, vocab_projector)")
	case m.Cfg.modern():
		return fmt.Errorf("bert: the model has no masked-LM head (head and decoder)")
	}
	return fmt.Errorf("bert: the model has no masked-LM head (cls.predictions)")
}

// noClassifier is the error of asking for class logits without a classifier.
func (m *Model) noClassifier() error {
	switch {
	case m.Cfg.roberta():
		return fmt.Errorf("bert: the model has no sequence classifier (classifier.dense and classifier.out_proj)")
	case m.Cfg.distil():
		return fmt.Errorf("bert: the model has no sequence classifier (pre_classifier and classifier)")
	case m.Cfg.modern():
		return fmt.Errorf("bert: the model has no sequence classifier (head and classifier)")
	}
	return fmt.Errorf("bert: the model has no sequence classifier (classifier and pooler)")
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
	switch {
	case m.ClassHead != nil:
		return m.ClassHead.OutProj.Weight.Value.Shape[0]
	case m.Classifier != nil:
		return m.Classifier.Weight.Value.Shape[0]
	}
	return 0
}

// ReplaceClassifier gives the model a new single-label classifier for
// labels (and a pooler, if it has none), drawn as HF initialises them:
// weights from N(0, initializer_range²), biases 0. This is how a pretrained
// BERT becomes a BertForSequenceClassification to fine-tune, which has no
// masked-LM head: the head goes.
// A RoBERTa or a DistilBERT gets its ClassHead and drops its pooler, which
// neither's sequence classifier has; a ModernBERT keeps its prediction head
// (the classifier reads it) and gets no pooler.
func (m *Model) ReplaceClassifier(labels []string, seed uint64) {
	m.Head, m.RobertaHead, m.Decoder, m.Cfg.ProblemType = nil, nil, nil, ""
	w, d, std := hf.Init{RNG: tensor.NewRNG(seed)}, m.Cfg.Hidden, float64(m.Cfg.InitRange)
	m.Cfg.Labels = hf.LabelsOf(labels)
	if m.Cfg.modern() { // the masked-LM model's head stays, as HF loads it into the classifier
		head := m.ModernHead
		newModernHeads(m, Parts{Labels: len(labels)}, w)
		m.ModernHead = cmp.Or(head, m.ModernHead)
		return
	}
	if m.Cfg.twoLayerClassifier() {
		m.Pooler = nil
		m.ClassHead = &ClassHead{
			Dense:   &nn.Linear{Weight: w.Normal(std, d, d), Bias: w.Fill(0, d)},
			OutProj: &nn.Linear{Weight: w.Normal(std, len(labels), d), Bias: w.Fill(0, len(labels))},
		}
		return
	}
	if m.Pooler == nil {
		m.Pooler = &Dense{Dense: &nn.Linear{Weight: w.Normal(std, d, d), Bias: w.Fill(0, d)}}
	}
	m.Classifier = &nn.Linear{Weight: w.Normal(std, len(labels), d), Bias: w.Fill(0, len(labels))}
}

// ClassLogits returns the sequence classifier's logits [B, labels]:
// classifier(dropout(tanh(pooler(hidden[:, 0])))), hidden the last hidden
// state [B, T, C], as BertForSequenceClassification computes them;
// RoBERTa's out_proj(dropout(tanh(dense(dropout(hidden[:, 0])))), as
// RobertaClassificationHead does; DistilBERT's
// out_proj(dropout(relu(dense(hidden[:, 0])))); ModernBERT's
// classifier(dropout(head(pooled))), pooled the first token's state or, by
// its classifier_pooling, the mean of the states of the tokens pad does not
// mark. pad is Forward's (nil for none).
func (m *Model) ClassLogits(tp *autograd.Tape, hidden *autograd.Var, pad []bool) (*autograd.Var, error) {
	if !m.hasClassifier() {
		return nil, m.noClassifier()
	}
	if m.Cfg.modern() {
		pooled, err := m.modernPooled(tp, hidden, pad)
		if err != nil {
			return nil, err
		}
		h, err := m.modernHead(tp, pooled)
		if err != nil {
			return nil, err
		}
		return m.Classifier.Forward(tp, tp.Dropout(h, m.Cfg.classifierDropout())), nil
	}
	h := tp.Token(hidden, 0) // (B, C)
	p := m.Cfg.classifierDropout()
	if r := m.ClassHead; r != nil && m.Cfg.distil() {
		return r.OutProj.Forward(tp, tp.Dropout(tp.ReLU(r.Dense.Forward(tp, h)), p)), nil
	} else if r != nil {
		h = tp.Tanh(r.Dense.Forward(tp, tp.Dropout(h, p)))
		return r.OutProj.Forward(tp, tp.Dropout(h, p)), nil
	}
	pooled := tp.Tanh(tp.Linear(h, m.Pooler.Dense.Weight, m.Pooler.Dense.Bias))
	return tp.Linear(tp.Dropout(pooled, p), m.Classifier.Weight, m.Classifier.Bias), nil
}

// Classify runs the encoder and the classifier without recording a tape
// and returns the logits [B, labels]. Arguments are Forward's.
func (m *Model) Classify(ids, typeIDs []int, pad []bool, b, t int) (*tensor.Tensor, error) {
	if !m.hasClassifier() {
		return nil, m.noClassifier()
	}
	tp := autograd.BorrowInferenceTape() // as in Encode
	defer autograd.ReturnInferenceTape(tp)
	h, err := m.Forward(tp, ids, typeIDs, pad, b, t)
	if err != nil {
		return nil, err
	}
	logits, err := m.ClassLogits(tp, h, pad)
	if err != nil {
		return nil, err
	}
	return logits.Value.Clone(), nil
}

// MLMLogits runs the encoder and the masked-LM head without recording a
// tape and returns logits [B, T, V]. Arguments are Forward's.
func (m *Model) MLMLogits(ids, typeIDs []int, pad []bool, b, t int) (*tensor.Tensor, error) {
	if !m.hasHead() {
		return nil, m.noHead()
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
