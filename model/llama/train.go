package llama

import (
	"fmt"

	"github.com/attn-go/attn/autograd"
)

// IgnoreIndex marks a target position that Loss leaves out.
const IgnoreIndex = -1

// Forward runs B sequences of T tokens (row-major ids, positions 0..T−1)
// through the model on tp and returns the logits [B, T, V], recording the
// backward pass when tp records: the training pass. Every projection is its
// own product, so that gradients reach each parameter, and grouped-query
// attention runs on keys and values repeated for their query heads
// (autograd.RepeatHeads), as HF's repeat_kv does.
func (m *Model) Forward(tp *autograd.Tape, ids []int, b, t int) (*autograd.Var, error) {
	logits, _, err := m.forward(tp, ids, b, t)
	return logits, err
}

// forward is Forward, also returning each sparse layer's router logits.
func (m *Model) forward(tp *autograd.Tape, ids []int, b, t int) (logits *autograd.Var, routers []*autograd.Var, err error) {
	cfg := m.Cfg
	switch {
	case m.generates() != nil:
		return nil, nil, m.generates()
	case b <= 0 || t <= 0 || len(ids) != b*t:
		return nil, nil, fmt.Errorf("llama: %d token ids are not B=%d × T=%d", len(ids), b, t)
	case t > m.Window():
		return nil, nil, fmt.Errorf("llama: %d positions exceed the model's window of %d", t, m.Window())
	case m.half != nil && m.half.q8:
		return nil, nil, fmt.Errorf("llama: the model's weights are quantized to 8 bits (QuantizeQ8), which do not train: Widen it first (to the dequantized weights)")
	case m.half != nil:
		return nil, nil, fmt.Errorf("llama: the model keeps its weights in 16 bits (KeepBF16, LoadHalf), which do not train: Widen it first")
	}
	for i, id := range ids {
		if id < 0 || id >= cfg.VocabSize {
			return nil, nil, fmt.Errorf("llama: token id %d at index %d is outside the vocabulary [0, %d)", id, i, cfg.VocabSize)
		}
	}
	d, kv := cfg.headDim(), cfg.kvHeads()
	global1, local1 := m.rotations(0, t, t)
	var global, local rope // for each of the B sequences
	for range b {
		global.cos, global.sin = append(global.cos, global1.cos...), append(global.sin, global1.sin...)
		local.cos, local.sin = append(local.cos, local1.cos...), append(local.sin, local1.sin...)
	}
	x := tp.Reshape(tp.Embedding(m.Embed.Weight, ids, m.Embed.Scale), b, t, -1)
	for l, layer := range m.Layers {
		a, f := layer.Attn, layer.MLP
		h := m.norm(tp, x, layer.InputNorm)
		q, k := a.Q.Forward(tp, h), a.K.Forward(tp, h)
		switch {
		case cfg.qkNorm(): // Qwen3, Gemma: an RMSNorm over each head
			q = tp.Reshape(m.norm(tp, tp.Reshape(q, b, t, cfg.Heads, d), a.QNorm), b, t, -1)
			k = tp.Reshape(m.norm(tp, tp.Reshape(k, b, t, kv, d), a.KNorm), b, t, -1)
		case cfg.wholeQKNorm(): // OLMo 2, OLMoE: over the whole projections
			q, k = m.norm(tp, q, a.QNorm), m.norm(tp, k, a.KNorm)
		}
		if r, ok := cfg.layerRope(l, global, local); ok {
			q, k = tp.Rotary(q, cfg.Heads, d, r.cos, r.sin), tp.Rotary(k, kv, d, r.cos, r.sin)
		}
		v := a.V.Forward(tp, h)
		if g := cfg.Heads / kv; g > 1 {
			k, v = tp.RepeatHeads(k, g, d), tp.RepeatHeads(v, g, d)
		}
		y := tp.Attention(q, k, v, cfg.Heads, autograd.AttentionOpts{Causal: true, Scale: cfg.attnScale(), Window: cfg.window(l), Softcap: float32(cfg.AttnSoftcap), Sinks: a.Sinks})
		x = m.addSublayer(tp, x, a.O.Forward(tp, y), m.attnPost(layer))
		h = m.norm(tp, x, m.mlpNorm(layer))
		var ff *autograd.Var
		if f.Router != nil {
			var router *autograd.Var
			ff, router = m.mixture(tp, h, f, func(x *autograd.Var, e int) *autograd.Var { return m.trainMLP(tp, x, f.Experts[e]) })
			routers = append(routers, router)
			if f.Shared != nil {
				ff = tp.Add(ff, m.shared(tp, h, f, m.trainMLP(tp, h, f.Shared)))
			}
		} else {
			ff = m.trainMLP(tp, h, f)
		}
		x = m.addSublayer(tp, x, ff, layer.PostFFNorm)
	}
	return m.logits(tp, x), routers, nil
}

// trainMLP runs the gated MLP f on x for training: the gate and up
// projections are separate products, so that each gets its gradient.
func (m *Model) trainMLP(tp *autograd.Tape, x *autograd.Var, f *MLP) *autograd.Var {
	g, u := f.Gate.Forward(tp, x), f.Up.Forward(tp, x)
	var gated *autograd.Var
	switch c := m.Cfg; {
	case c.Gemma():
		gated = tp.Mul(tp.GELUTanh(g), u)
	case c.gptOSS():
		gated = tp.ClampedSwiGLU(g, u, float32(c.SwigluAlpha), float32(c.SwigluLimit))
	default:
		gated = tp.SwiGLU(g, u)
	}
	return f.Down.Forward(tp, gated)
}

// Loss returns the mean cross-entropy of the next-token predictions for ids
// against targets (both B·T, row-major), leaving out targets equal to
// IgnoreIndex (train.LM). Training a mixture of experts whose config asks
// for it (output_router_logits) adds RouterAux times the routers'
// load-balancing loss, as HF's loss does; evaluation (tp not recording)
// returns the cross-entropy alone, what a perplexity is of.
func (m *Model) Loss(tp *autograd.Tape, ids, targets []int, b, t int) (*autograd.Var, error) {
	if len(targets) != len(ids) {
		return nil, fmt.Errorf("llama: %d targets for %d token ids", len(targets), len(ids))
	}
	if m.Cfg.RouterJitter != 0 && tp.Records() {
		return nil, fmt.Errorf("llama: the model's config.json trains its routers with noise (router_jitter_noise %v), which is not built: set it to 0 to fine-tune without it", m.Cfg.RouterJitter)
	}
	for i, id := range targets {
		if id != IgnoreIndex && (id < 0 || id >= m.Cfg.VocabSize) {
			return nil, fmt.Errorf("llama: target %d at index %d is outside the vocabulary [0, %d)", id, i, m.Cfg.VocabSize)
		}
	}
	logits, routers, err := m.forward(tp, ids, b, t)
	if err != nil {
		return nil, err
	}
	loss := tp.CrossEntropy(logits, targets, IgnoreIndex, 0)
	if m.Cfg.RouterAux != 0 && len(routers) > 0 && tp.Records() {
		loss = tp.Add(loss, tp.Scale(m.balance(tp, routers), float32(m.Cfg.RouterAux)))
	}
	return loss, nil
}

// balance returns the routers' load-balancing loss as HF's model computes
// it: over the sparse layers' router logits, or for GPT-OSS over what its
// router records instead, the scores it routes with (the softmax of each
// token's k largest logits, 0 for the other experts), which the loss then
// softmaxes again.
func (m *Model) balance(tp *autograd.Tape, routers []*autograd.Var) *autograd.Var {
	k := m.Cfg.ExpertsPerToken
	if m.Cfg.gptOSS() {
		scores := make([]*autograd.Var, len(routers))
		for i, r := range routers {
			scores[i] = tp.TopKScores(r, k)
		}
		routers = scores
	}
	return tp.LoadBalance(routers, k)
}

// NoDecay returns the parameters exempt from weight decay (train.LM): the
// norms' weights and the biases, every parameter of fewer than 2
// dimensions, as HF's Trainer and nanoGPT choose.
func (m *Model) NoDecay() map[*autograd.Var]bool {
	nd := map[*autograd.Var]bool{}
	for _, p := range m.Params() {
		if len(p.Value.Shape) < 2 {
			nd[p.Var] = true
		}
	}
	return nd
}
