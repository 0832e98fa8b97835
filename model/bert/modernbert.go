package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// ModernBERT (Warner et al. 2024; HF's modeling_modernbert.py, model_type
// "modernbert") is an encoder of the Llama era: pre-LN layers with
// LayerNorms and linear layers without biases, rotary positions instead of
// a position table, a GeGLU feed-forward net, and layers that alternate
// global attention with local attention over a window of neighbours, each
// kind with a rotary base of its own. Its checkpoints load into Model
// (Cfg.Type "modernbert", the ModernBERT-only settings in Cfg.Modern) under
// HF's names, and the commands that run a BERT (embed, fill-mask,
// classify-text, serve) run it.

// ModernConfig holds a ModernBERT's settings beyond Config's.
type ModernConfig struct {
	// Local says, per layer, whether it attends locally (layer_types'
	// "sliding_attention"; by default every layer but each
	// global_attn_every_n_layers-th): a query sees the keys at most
	// LocalAttention/2 positions away on either side.
	Local          []bool
	LocalAttention int     // local_attention: the local window's whole width
	GlobalTheta    float64 // rotary base of the global layers (global_rope_theta)
	LocalTheta     float64 // and of the local ones (local_rope_theta)
	NormBias       bool    // the LayerNorms have biases
	AttentionBias  bool    // Wqkv and the attention's Wo have biases
	MLPBias        bool    // Wi and the MLP's Wo have biases
	DecoderBias    bool    // the masked-LM decoder has a bias
	ClassifierBias bool    // the head's dense layer has a bias
	// ClassifierPooling is what the sequence classifier's head reads:
	// "cls" (the first token) or "mean" (over the tokens that are not
	// padding).
	ClassifierPooling string
	ClassifierAct     string  // the head's activation (classifier_activation)
	EmbeddingDropout  float32 // after the embeddings' norm
	MLPDropout        float32 // after the GeGLU
	CutoffFactor      float32 // initializer_cutoff_factor, kept for Save
	BosID, EosID      int     // special token ids, kept for Save
	ClsID, SepID      int
}

// ModernEmbeddings is ModernBertEmbeddings: the token table and a
// LayerNorm, no positions.
type ModernEmbeddings struct {
	Tok  *nn.Embedding `attn:"tok_embeddings"`
	Norm *nn.LayerNorm `attn:"norm"`
}

// ModernLayer is ModernBertEncoderLayer: x + Wo(attention(attn_norm(x)))
// then x + mlp(mlp_norm(x)). Layer 0 has no attn_norm (the embeddings'
// norm precedes it).
type ModernLayer struct {
	AttnNorm *nn.LayerNorm `attn:"attn_norm"` // nil in layer 0
	Attn     *ModernAttn   `attn:"attn"`
	MLPNorm  *nn.LayerNorm `attn:"mlp_norm"`
	MLP      *ModernMLP    `attn:"mlp"`
}

// ModernAttn holds the fused query, key and value projection and the
// output projection.
type ModernAttn struct {
	Wqkv *nn.Linear `attn:"Wqkv"` // C → 3C: queries, keys, values
	Wo   *nn.Linear `attn:"Wo"`
}

// ModernMLP is the GeGLU: Wo(act(input)·gate), input and gate the two
// halves of Wi(x).
type ModernMLP struct {
	Wi *nn.Linear `attn:"Wi"` // C → 2·intermediate
	Wo *nn.Linear `attn:"Wo"`
}

// ModernHead is ModernBertPredictionHead, norm(act(dense(h))), which both
// the masked-LM decoder and the sequence classifier read.
type ModernHead struct {
	Dense *nn.Linear    `attn:"dense"`
	Norm  *nn.LayerNorm `attn:"norm"`
}

// modern reports whether the config is a ModernBERT's.
func (c Config) modern() bool { return c.Type == "modernbert" }

// modernJSON is HF's ModernBertConfig as config.json holds it: the keys
// transformers 4.48 writes (global_attn_every_n_layers, global_rope_theta,
// local_rope_theta) and those of transformers 5 (layer_types,
// rope_parameters).
type modernJSON struct {
	ModelType         string                `json:"model_type"`
	Architectures     []string              `json:"architectures,omitempty"`
	VocabSize         int                   `json:"vocab_size"`
	Hidden            int                   `json:"hidden_size"`
	Intermediate      int                   `json:"intermediate_size"`
	Layers            int                   `json:"num_hidden_layers"`
	Heads             int                   `json:"num_attention_heads"`
	Act               string                `json:"hidden_activation"`
	MaxPositions      int                   `json:"max_position_embeddings"`
	InitRange         float32               `json:"initializer_range"`
	CutoffFactor      float32               `json:"initializer_cutoff_factor"`
	Eps               float32               `json:"norm_eps"`
	NormBias          bool                  `json:"norm_bias"`
	PadID             int                   `json:"pad_token_id"`
	EosID             int                   `json:"eos_token_id"`
	BosID             int                   `json:"bos_token_id"`
	ClsID             int                   `json:"cls_token_id"`
	SepID             int                   `json:"sep_token_id"`
	AttentionBias     bool                  `json:"attention_bias"`
	AttnDropout       float32               `json:"attention_dropout"`
	Every             *int                  `json:"global_attn_every_n_layers,omitempty"`
	LayerTypes        []string              `json:"layer_types,omitempty"`
	GlobalTheta       *float64              `json:"global_rope_theta,omitempty"`
	LocalTheta        json.RawMessage       `json:"local_rope_theta,omitempty"` // null: the global base
	RopeParameters    map[string]modernRope `json:"rope_parameters,omitempty"`
	RopeScaling       json.RawMessage       `json:"rope_scaling,omitempty"`
	LocalAttention    int                   `json:"local_attention"`
	EmbeddingDropout  float32               `json:"embedding_dropout"`
	MLPBias           bool                  `json:"mlp_bias"`
	MLPDropout        float32               `json:"mlp_dropout"`
	DecoderBias       bool                  `json:"decoder_bias"`
	ClassifierPooling string                `json:"classifier_pooling"`
	ClassifierDropout float32               `json:"classifier_dropout"`
	ClassifierBias    bool                  `json:"classifier_bias"`
	ClassifierAct     string                `json:"classifier_activation"`
	Tied              bool                  `json:"tie_word_embeddings"`
	Labels            hf.Labels             `json:"id2label,omitempty"`
	Label2ID          map[string]int        `json:"label2id,omitempty"`
	ProblemType       string                `json:"problem_type,omitempty"`
}

// modernRope is one entry of rope_parameters.
type modernRope struct {
	Type  string   `json:"rope_type"`
	Theta *float64 `json:"rope_theta,omitempty"`
}

// modernDefaults is ModernBertConfig's defaults (ModernBERT-base).
func modernDefaults() modernJSON {
	return modernJSON{
		VocabSize: 50368, Hidden: 768, Intermediate: 1152, Layers: 22, Heads: 12, Act: "gelu", MaxPositions: 8192,
		InitRange: 0.02, CutoffFactor: 2, Eps: 1e-5, PadID: 50283, EosID: 50282, BosID: 50281, ClsID: 50281, SepID: 50282,
		LocalAttention: 128, DecoderBias: true, ClassifierPooling: "cls", ClassifierAct: "gelu", Tied: true,
	}
}

// unmarshalModern reads a ModernBertConfig into c. Rotary scaling, which
// ModernBERT's released models do not use, is refused.
func (c *Config) unmarshalModern(b []byte) error {
	v := modernDefaults()
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if err := checkArchitectures(v.Architectures); err != nil {
		return err
	}
	if len(v.RopeScaling) > 0 && string(v.RopeScaling) != "null" {
		var r modernRope
		if json.Unmarshal(v.RopeScaling, &r) != nil || r.Type != "default" || r.Theta != nil {
			return fmt.Errorf("bert: a ModernBERT's rope_scaling %s is not supported (only the default rotation)", v.RopeScaling)
		}
	}
	mc := &ModernConfig{
		LocalAttention: v.LocalAttention, GlobalTheta: 160000, LocalTheta: 10000,
		NormBias: v.NormBias, AttentionBias: v.AttentionBias, MLPBias: v.MLPBias, DecoderBias: v.DecoderBias, ClassifierBias: v.ClassifierBias,
		ClassifierPooling: v.ClassifierPooling, ClassifierAct: v.ClassifierAct,
		EmbeddingDropout: v.EmbeddingDropout, MLPDropout: v.MLPDropout, CutoffFactor: v.CutoffFactor,
		BosID: v.BosID, EosID: v.EosID, ClsID: v.ClsID, SepID: v.SepID,
	}
	if v.GlobalTheta != nil {
		mc.GlobalTheta = *v.GlobalTheta
	}
	switch lt := string(v.LocalTheta); lt {
	case "":
	case "null": // transformers 4.48 turns a local layer by the global base then
		mc.LocalTheta = mc.GlobalTheta
	default:
		if err := json.Unmarshal(v.LocalTheta, &mc.LocalTheta); err != nil {
			return fmt.Errorf("bert: local_rope_theta %s: %w", lt, err)
		}
	}
	for kind, r := range v.RopeParameters {
		if r.Type != "" && r.Type != "default" {
			return fmt.Errorf("bert: a ModernBERT's rope_parameters[%q] rope_type %q is not supported (want default)", kind, r.Type)
		}
		if r.Theta == nil {
			continue
		}
		switch kind {
		case "full_attention":
			mc.GlobalTheta = *r.Theta
		case "sliding_attention":
			mc.LocalTheta = *r.Theta
		default:
			return fmt.Errorf("bert: rope_parameters[%q] is not full_attention or sliding_attention", kind)
		}
	}
	var err error
	if mc.Local, err = modernLocal(v); err != nil {
		return err
	}
	*c = Config{
		VocabSize: v.VocabSize, Hidden: v.Hidden, Layers: v.Layers, Heads: v.Heads, Intermediate: v.Intermediate,
		Act: v.Act, MaxPositions: v.MaxPositions, Eps: v.Eps, PadID: v.PadID, AttnDropout: v.AttnDropout,
		InitRange: v.InitRange, Tied: v.Tied, Labels: v.Labels, ClassifierDropout: &v.ClassifierDropout,
		ProblemType: v.ProblemType, Type: "modernbert", Modern: mc,
	}
	return nil
}

// modernLocal reads which layers attend locally: layer_types when given
// (transformers 5 saves the count beside it, 3 unless set, and its sdpa
// and eager attention, the CPU's, follow the list; only its flash
// attention takes the window from the count), else every layer but each
// global_attn_every_n_layers-th (3 by default), as HF's ModernBertConfig
// fills layer_types in.
func modernLocal(v modernJSON) ([]bool, error) {
	every := 3
	if v.Every != nil {
		every = *v.Every
	}
	if every <= 0 {
		return nil, fmt.Errorf("bert: global_attn_every_n_layers %d must be positive", every)
	}
	if v.Layers <= 0 {
		return nil, nil // Validate reports it
	}
	if v.LayerTypes == nil {
		return modernEvery(v.Layers, every), nil
	}
	if len(v.LayerTypes) != v.Layers {
		return nil, fmt.Errorf("bert: %d layer_types for %d layers", len(v.LayerTypes), v.Layers)
	}
	listed := make([]bool, v.Layers)
	for i, t := range v.LayerTypes {
		if t != "sliding_attention" && t != "full_attention" {
			return nil, fmt.Errorf("bert: layer_types[%d] %q is not sliding_attention or full_attention", i, t)
		}
		listed[i] = t == "sliding_attention"
	}
	return listed, nil
}

// marshalModern writes c as a ModernBertConfig: layer_types, and
// global_attn_every_n_layers when the local layers follow one (which
// transformers 4.48 reads).
func (c Config) marshalModern(arch string) ([]byte, error) {
	mc := c.Modern
	v := modernJSON{
		ModelType: "modernbert", Architectures: []string{arch}, VocabSize: c.VocabSize, Hidden: c.Hidden,
		Intermediate: c.Intermediate, Layers: c.Layers, Heads: c.Heads, Act: c.Act, MaxPositions: c.MaxPositions,
		InitRange: c.InitRange, CutoffFactor: mc.CutoffFactor, Eps: c.Eps, NormBias: mc.NormBias, PadID: c.PadID,
		EosID: mc.EosID, BosID: mc.BosID, ClsID: mc.ClsID, SepID: mc.SepID, AttentionBias: mc.AttentionBias,
		AttnDropout: c.AttnDropout, GlobalTheta: &mc.GlobalTheta,
		LocalAttention: mc.LocalAttention, EmbeddingDropout: mc.EmbeddingDropout, MLPBias: mc.MLPBias,
		MLPDropout: mc.MLPDropout, DecoderBias: mc.DecoderBias, ClassifierPooling: mc.ClassifierPooling,
		ClassifierDropout: c.classifierDropout(), ClassifierBias: mc.ClassifierBias, ClassifierAct: mc.ClassifierAct,
		Tied: c.Tied, Labels: c.Labels, Label2ID: c.Labels.Label2ID(), ProblemType: c.ProblemType,
	}
	lt, err := json.Marshal(mc.LocalTheta)
	if err != nil {
		return nil, fmt.Errorf("bert: local_rope_theta %v: %w", mc.LocalTheta, err)
	}
	v.LocalTheta = lt
	for n := 1; n <= c.Layers; n++ {
		if slices.Equal(mc.Local, modernEvery(c.Layers, n)) {
			v.Every = &n
			break
		}
	}
	for _, local := range mc.Local {
		v.LayerTypes = append(v.LayerTypes, map[bool]string{true: "sliding_attention", false: "full_attention"}[local])
	}
	// Local layers that are not every layer but each n-th are written as
	// layer_types alone, which transformers 5 reads (its default attention
	// takes the mask from the list, as here; only its flash attention
	// takes the window from the count) and 4.48 cannot hold.
	return json.Marshal(v)
}

// modernEvery is the local layers of global_attn_every_n_layers n.
func modernEvery(layers, n int) []bool {
	local := make([]bool, layers)
	for i := range local {
		local[i] = i%n != 0
	}
	return local
}

// validateModern reports the first inconsistent ModernBERT setting.
func (c Config) validateModern() error {
	mc := c.Modern
	switch {
	case mc == nil:
		return errors.New("bert: a modernbert Config needs its Modern settings")
	case !(c.Eps > 0):
		return fmt.Errorf("bert: norm_eps %v must be positive", c.Eps)
	case c.Layers > 0 && len(mc.Local) != c.Layers:
		return fmt.Errorf("bert: %d local-layer flags for %d layers", len(mc.Local), c.Layers)
	case slices.Contains(mc.Local, true) && mc.LocalAttention < 2:
		return fmt.Errorf("bert: local_attention %d must be at least 2", mc.LocalAttention)
	case c.Heads > 0 && c.Hidden%c.Heads == 0 && (c.Hidden/c.Heads)%2 != 0:
		return fmt.Errorf("bert: head size %d must be even for the rotary embedding", c.Hidden/max(c.Heads, 1))
	case !(mc.GlobalTheta > 0) || !(mc.LocalTheta > 0):
		return fmt.Errorf("bert: rotary bases %v and %v must be positive", mc.GlobalTheta, mc.LocalTheta)
	case mc.ClassifierPooling != "cls" && mc.ClassifierPooling != "mean":
		return fmt.Errorf("bert: classifier_pooling %q is not cls or mean", mc.ClassifierPooling)
	case mc.EmbeddingDropout < 0 || mc.EmbeddingDropout >= 1 || mc.MLPDropout < 0 || mc.MLPDropout >= 1:
		return fmt.Errorf("bert: embedding_dropout %v and mlp_dropout %v must be in [0, 1)", mc.EmbeddingDropout, mc.MLPDropout)
	}
	if _, err := nn.HFActivation(c.Act); err != nil {
		return fmt.Errorf("bert: hidden_activation: %w", err)
	}
	return nil // classifier_activation is checked by the heads, which alone use it
}

// newModern builds a ModernBERT's layers into m, drawn as HF initialises
// them (without the truncation): N(0, initializer_range²) in, the output
// projections N(0, initializer_range²/(2·layers)), biases 0, norms 1.
func newModern(m *Model, parts Parts, w hf.Init) {
	c, mc := m.Cfg, m.Cfg.Modern
	d, std := c.Hidden, float64(c.InitRange)
	out := std / math.Sqrt(2*float64(c.Layers))
	linear, norm := modernDraws(c, w)
	m.Modern = &ModernEmbeddings{Tok: &nn.Embedding{Weight: w.Normal(std, c.VocabSize, d), Scale: 1}, Norm: norm()}
	for i := range c.Layers {
		l := &ModernLayer{
			Attn:    &ModernAttn{Wqkv: linear(d, 3*d, std, mc.AttentionBias), Wo: linear(d, d, out, mc.AttentionBias)},
			MLPNorm: norm(),
			MLP:     &ModernMLP{Wi: linear(d, 2*c.Intermediate, std, mc.MLPBias), Wo: linear(c.Intermediate, d, out, mc.MLPBias)},
		}
		if i > 0 {
			l.AttnNorm = norm()
		}
		m.Layers = append(m.Layers, l)
	}
	m.FinalNorm = norm()
	newModernHeads(m, parts, w)
}

// modernDraws returns the draws of a ModernBERT's linear layers (weights
// N(0, std²), biases 0) and LayerNorms (1, and 0 with norm_bias).
func modernDraws(c Config, w hf.Init) (func(in, n int, std float64, bias bool) *nn.Linear, func() *nn.LayerNorm) {
	linear := func(in, n int, std float64, bias bool) *nn.Linear {
		l := &nn.Linear{Weight: w.Normal(std, n, in)}
		if bias {
			l.Bias = w.Fill(0, n)
		}
		return l
	}
	norm := func() *nn.LayerNorm {
		n := &nn.LayerNorm{Weight: w.Fill(1, c.Hidden), Eps: c.Eps}
		if c.Modern.NormBias {
			n.Bias = w.Fill(0, c.Hidden)
		}
		return n
	}
	return linear, norm
}

// newModernHeads builds the heads parts asks for into m: the prediction
// head both heads read, the masked-LM decoder, the sequence classifier.
func newModernHeads(m *Model, parts Parts, w hf.Init) {
	c, mc := m.Cfg, m.Cfg.Modern
	d := c.Hidden
	out := float64(c.InitRange) / math.Sqrt(2*float64(c.Layers))
	linear, norm := modernDraws(c, w)
	if parts.Head || parts.Labels > 0 {
		m.ModernHead = &ModernHead{Dense: linear(d, d, out, mc.ClassifierBias), Norm: norm()}
	}
	if parts.Head {
		m.Decoder = &nn.Linear{}
		if !c.Tied {
			m.Decoder.Weight = w.Normal(out, c.VocabSize, d)
		}
		if mc.DecoderBias {
			m.Decoder.Bias = w.Fill(0, c.VocabSize)
		}
	}
	if parts.Labels > 0 {
		m.Classifier = linear(d, parts.Labels, 1/math.Sqrt(float64(d)), true)
	}
}

// forwardModern is Forward for a ModernBERT: the last hidden state, after
// final_norm.
func (m *Model) forwardModern(tp *autograd.Tape, ids []int, pad []bool, b, t int) (*autograd.Var, error) {
	c, mc := m.Cfg, m.Cfg.Modern
	act, err := c.activation()
	if err != nil {
		return nil, err
	}
	heads, d := c.Heads, c.Hidden/c.Heads
	global := modernRotation(mc.GlobalTheta, d, b, t)
	local := global
	if mc.LocalTheta != mc.GlobalTheta {
		local = modernRotation(mc.LocalTheta, d, b, t)
	}
	x := m.Modern.Tok.Forward(tp, ids, b, t) // (B, T, C)
	x = tp.Dropout(m.Modern.Norm.Forward(tp, x), mc.EmbeddingDropout)
	for i, l := range m.Layers {
		h := x
		if l.AttnNorm != nil {
			h = l.AttnNorm.Forward(tp, x)
		}
		qkv := tp.Split(l.Attn.Wqkv.Forward(tp, h), 3) // (B, T, C) each
		opts := autograd.AttentionOpts{KeyPad: pad, Dropout: c.AttnDropout}
		r := global
		if mc.Local[i] {
			r, opts.Window = local, mc.LocalAttention/2+1 // |i − j| ≤ local_attention/2
		}
		q := tp.Rotary(qkv[0], heads, d, r.cos, r.sin)
		k := tp.Rotary(qkv[1], heads, d, r.cos, r.sin)
		y := tp.Attention(q, k, qkv[2], heads, opts)
		x = tp.DropoutAdd(x, l.Attn.Wo.Forward(tp, y), c.AttnDropout)
		g := tp.Split(l.MLP.Wi.Forward(tp, l.MLPNorm.Forward(tp, x)), 2) // input, gate
		x = tp.Add(x, l.MLP.Wo.Forward(tp, tp.Dropout(tp.Mul(act.Apply(tp, g[0]), g[1]), mc.MLPDropout)))
	}
	return m.FinalNorm.Forward(tp, x), nil
}

// modernRotation returns the rotary angles of positions 0..T−1 for each of
// B sequences, [B·T, D/2] each (autograd.RotaryFreqs and RotaryAngles).
func modernRotation(theta float64, d, b, t int) rope {
	cos, sin := autograd.RotaryAngles(autograd.RotaryFreqs(theta, d), 0, t, 1)
	r := rope{make([]float32, 0, b*len(cos)), make([]float32, 0, b*len(sin))}
	for range b {
		r.cos, r.sin = append(r.cos, cos...), append(r.sin, sin...)
	}
	return r
}

// rope holds cos and sin of rotary angles, half a head's values per row.
type rope struct{ cos, sin []float32 }

// modernHead returns ModernBertPredictionHead's norm(act(dense(h))).
func (m *Model) modernHead(tp *autograd.Tape, h *autograd.Var) (*autograd.Var, error) {
	act, err := nn.HFActivation(m.Cfg.Modern.ClassifierAct)
	if err != nil {
		return nil, fmt.Errorf("bert: classifier_activation: %w", err)
	}
	return m.ModernHead.Norm.Forward(tp, act.Apply(tp, m.ModernHead.Dense.Forward(tp, h))), nil
}

// modernPooled returns what ModernBertForSequenceClassification's head
// reads of hidden [B, T, C]: the first token's state, or the mean of the
// states of the tokens that are not padding.
func (m *Model) modernPooled(tp *autograd.Tape, hidden *autograd.Var, pad []bool) (*autograd.Var, error) {
	b, t := hidden.Value.Shape[0], hidden.Value.Shape[1]
	if pad != nil && len(pad) != b*t {
		return nil, fmt.Errorf("bert: padding mask of %d entries for %d tokens", len(pad), b*t)
	}
	if m.Cfg.Modern.ClassifierPooling == "cls" {
		return tp.Token(hidden, 0), nil
	}
	// mean = W·hidden, W [B, B·T] holding 1/n at each sequence's n tokens
	w := make([]float32, b*b*t)
	for i := range b {
		n := 0
		for j := range t {
			if pad == nil || !pad[i*t+j] {
				n++
			}
		}
		for j := range t {
			if pad == nil || !pad[i*t+j] {
				w[i*b*t+i*t+j] = 1 / float32(max(n, 1))
			}
		}
	}
	return tp.MatMul(autograd.Const(tensor.FromSlice(w, b, b*t)), tp.Reshape(hidden, b*t, -1), false, false), nil
}
