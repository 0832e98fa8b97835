// Package llama runs the Llama family of decoder-only Transformers (Touvron
// et al. 2023; Llama 2 and 3, TinyLlama, SmolLM; Qwen2, which adds biases
// to its query, key and value projections, Qwen3, which normalises each
// query and key head, Mistral, Gemma 2, Gemma 3's text models, SmolLM3,
// some of whose layers have no rotary positions, Phi-3, Phi-3.5 and
// Phi-4-mini, with LongRoPE and a partial rotation, IBM's Granite 3, with
// its multipliers, and AI2's OLMo 2, which normalises its sub-layers'
// outputs rather than their inputs; and the sparse mixtures of experts
// Mixtral, Qwen3-MoE, Qwen2-MoE, OLMoE and Granite's MoE, whose MLPs are
// experts a router picks among for each token, Shazeer et al. 2017): token
// embeddings, N blocks of causal self-attention with rotary position
// embeddings (Su et al. 2021) and grouped-query attention, and a gated MLP
// (SwiGLU, Shazeer 2020; Gemma's GeGLU), RMSNorm throughout, and an output
// layer that may be tied to the embeddings. Parameter names and semantics
// are HuggingFace's LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
// MistralForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM,
// SmolLM3ForCausalLM, Phi3ForCausalLM, GraniteForCausalLM,
// Olmo2ForCausalLM, MixtralForCausalLM, Qwen3MoeForCausalLM,
// OlmoeForCausalLM, GraniteMoeForCausalLM, GraniteMoeSharedForCausalLM and
// Qwen2MoeForCausalLM (modeling_llama.py, modeling_qwen2.py, …), so their
// checkpoints load. It generates with a KV cache (see Cache), trains
// (Forward, Loss) and gives the last hidden states an embedding model pools
// (Hidden, LoadEncoder; EmbeddingGemma's encoder of Gemma 3's layers
// attends both ways).
// Contexts are at most max_position_embeddings; a Mistral's and a Phi-3's
// layers, Gemma's local layers and SmolLM3's sliding ones attend within
// their sliding window at any length.
package llama

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Norm is an RMSNorm's weight (LlamaRMSNorm); Gemma's is kept as an offset
// from 1, as HF's Gemma3RMSNorm keeps it (the norm multiplies by 1 + weight).
type Norm struct {
	Weight *autograd.Var `attn:"weight"` // [C]
}

// Attention holds the projections of self-attention (LlamaAttention): q to
// H heads of D, k and v to KVHeads heads of D, o back to C; Qwen3's and
// Gemma 3's per-head norms of q and k; GPT-OSS's sinks.
type Attention struct {
	Q     *nn.Linear `attn:"q_proj"`
	K     *nn.Linear `attn:"k_proj"`
	V     *nn.Linear `attn:"v_proj"`
	O     *nn.Linear `attn:"o_proj"`
	QNorm *Norm      `attn:"q_norm"` // [D]; OLMo 2's [H·D]; nil but in Qwen3, Gemma 3 and OLMo 2
	KNorm *Norm      `attn:"k_norm"`
	// Sinks [H] (GPT-OSS's; nil elsewhere) are logits that join each
	// head's softmax with no value (see autograd.AttentionOpts.Sinks).
	Sinks *autograd.Var `attn:"sinks"`
}

// MLP is the gated feed-forward net: down(silu(gate(x)) ⊙ up(x)), Gemma's
// with GELU's tanh approximation in place of silu. A mixture of experts'
// sparse layer has Router and Experts instead (Qwen3MoeSparseMoeBlock,
// OlmoeSparseMoeBlock, Mixtral's block_sparse_moe, whose names Load and
// Save translate): the router [E, C] scores the experts, gated MLPs each,
// for each token (see Config.Experts); GraniteMoeShared's and Qwen2-MoE's
// also have a shared MLP every token runs, Qwen2-MoE's gated by
// σ(SharedGate·x) [1, C].
type MLP struct {
	Gate       *nn.Linear `attn:"gate_proj"`
	Up         *nn.Linear `attn:"up_proj"`
	Down       *nn.Linear `attn:"down_proj"`
	Router     *nn.Linear `attn:"gate"`
	Experts    []*MLP     `attn:"experts"`
	Shared     *MLP       `attn:"shared_expert"`
	SharedGate *nn.Linear `attn:"shared_expert_gate"`

	// The gate and up projections as one [2·I, C] weight (and bias), of
	// which Gate's and Up's are views (see fuseWeights).
	gateUp, gateUpBias *autograd.Var
}

// ffns returns the gated MLPs of layer l: its MLP, or a sparse layer's
// experts and then its shared MLP, if it has one.
func (l *Layer) ffns() []*MLP {
	switch f := l.MLP; {
	case f.Shared != nil:
		return append(slices.Clip(f.Experts), f.Shared)
	case f.Router != nil:
		return f.Experts
	}
	return []*MLP{l.MLP}
}

// Layer is one decoder block (LlamaDecoderLayer; Gemma2DecoderLayer and
// Gemma3DecoderLayer, with four norms; Olmo2DecoderLayer, with two after
// its sub-layers).
type Layer struct {
	InputNorm *Norm      `attn:"input_layernorm"` // nil in OLMo 2
	Attn      *Attention `attn:"self_attn"`
	// PostNorm is Llama's norm of the MLP's input; in Gemma and OLMo 2 it
	// normalises the attention's output, and PreFFNorm (nil but in Gemma)
	// the MLP's input, PostFFNorm (Gemma's, OLMo 2's) its output.
	PostNorm   *Norm `attn:"post_attention_layernorm"`
	PreFFNorm  *Norm `attn:"pre_feedforward_layernorm"`
	PostFFNorm *Norm `attn:"post_feedforward_layernorm"`
	MLP        *MLP  `attn:"mlp"`

	// The query, key and value projections as one [(H+2·KV)·D, C] weight
	// (and bias), as the MLPs' gate and up projections are: a step then
	// runs two products where it would run five. The separate weights
	// above are views of these buffers (see fuseWeights).
	qkv, qkvBias *autograd.Var
}

// Model is a Llama-family causal language model. Its parameter names are
// HF's without the "model." prefix of LlamaForCausalLM's base model.
type Model struct {
	Cfg    Config
	Embed  *nn.Embedding `attn:"embed_tokens"`
	Layers []*Layer      `attn:"layers"`
	Norm   *Norm         `attn:"norm"`
	// LMHead is the output layer [V, C]; nil when tied to the embeddings,
	// or left out (LoadEncoder).
	LMHead *autograd.Var `attn:"lm_head.weight"`

	invFreq []float32 // the rotary frequencies
	// LongRoPE's (Phi-3): the frequencies past the original context, and
	// what cos and sin are multiplied by (1 elsewhere).
	invFreqLong []float32
	ropeScale   float32
	headless    bool // loaded without its output layer (LoadEncoder)
	// Gemma's: the local layers' rotary frequencies, and ones of the
	// widths of its norms, which are kept as offsets from 1.
	invFreqLocal []float32
	onesC, onesD *autograd.Var
	half         *halfWeights // the matrices in 16 bits (KeepBF16, LoadHalf) or 8 (QuantizeQ8), or nil
}

// New returns a model of config c with random weights (N(0, 0.02²), norms
// 1 (Gemma's offsets 0), biases 0), for tests and benchmarks.
func New(c Config, seed uint64) (*Model, error) {
	return newModel(c, tensor.NewRNG(seed))
}

// newModel builds the model of c, its weights random (rng) or zero, to be
// loaded (rng nil): either way in the fused buffers (see fuseWeights).
func newModel(c Config, rng *tensor.RNG) (*Model, error) {
	m, err := newUnfused(c, rng)
	if err != nil {
		return nil, err
	}
	m.fuseBiases()
	m.fuseWeights()
	return m, nil
}

// newUnfused is newModel before the projections are fused.
func newUnfused(c Config, rng *tensor.RNG) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	param := func(std float64, shape ...int) *autograd.Var {
		if rng == nil {
			return autograd.NewParam(&tensor.Tensor{Shape: shape})
		}
		t := tensor.New(shape...)
		if std > 0 {
			rng.FillNormal(t, 0, std)
		} else if std < 0 { // a norm's weight
			for i := range t.Data {
				t.Data[i] = 1
			}
		}
		return autograd.NewParam(t)
	}
	linear := func(in, out int, bias bool) *nn.Linear {
		l := &nn.Linear{Weight: param(0.02, out, in)}
		if bias {
			l.Bias = param(0, out)
		}
		return l
	}
	d, kv, cw := c.headDim(), c.kvHeads(), c.Hidden
	mlp := func(inter int) *MLP {
		return &MLP{Gate: linear(cw, inter, c.MLPBias), Up: linear(cw, inter, c.MLPBias), Down: linear(inter, cw, c.MLPBias)}
	}
	norm := func(n int) *Norm {
		if c.Gemma() { // weights are offsets from 1
			return &Norm{param(0, n)}
		}
		return &Norm{param(-1, n)}
	}
	m := &Model{Cfg: c, Embed: &nn.Embedding{Weight: param(0.02, c.VocabSize, cw), Scale: 1}, Norm: norm(cw), invFreq: c.invFreq(), invFreqLong: c.invFreqLong(), ropeScale: c.ropeScale()}
	if c.granite() { // GraniteModel: inputs_embeds * embedding_multiplier
		m.Embed.Scale = float32(c.EmbeddingMultiplier)
	}
	if c.Gemma() {
		// HF's Gemma3TextScaledWordEmbedding: √hidden_size, rounded to float32.
		m.Embed.Scale = float32(math.Sqrt(float64(cw)))
		m.onesC, m.onesD = ones(cw), ones(d)
	}
	if c.Type == "gemma3_text" {
		m.invFreqLocal = c.invFreqLocal()
	}
	ffn := func(l int) *MLP { // layer l's MLP
		if !c.sparse(l) {
			return mlp(c.Intermediate)
		}
		f := &MLP{Router: linear(cw, c.Experts, c.gptOSS())} // GPT-OSS's router has a bias
		for range c.Experts {
			f.Experts = append(f.Experts, mlp(c.ExpertIntermediate))
		}
		if c.SharedIntermediate > 0 {
			f.Shared = mlp(c.SharedIntermediate)
		}
		if c.Type == "qwen2_moe" {
			f.SharedGate = linear(cw, 1, false)
		}
		return f
	}
	for l := range c.Layers {
		var qn, kn, pre, post *Norm
		var sinks *autograd.Var
		if c.gptOSS() {
			sinks = param(0.02, c.Heads)
		}
		in := norm(cw)
		switch {
		case c.qkNorm():
			qn, kn = norm(d), norm(d)
		case c.wholeQKNorm(): // over the whole projections
			qn, kn = norm(c.Heads*d), norm(kv*d)
		}
		if c.olmo2() { // no norm of a sub-layer's input
			in = nil
		}
		if c.Gemma() {
			pre, post = norm(cw), norm(cw)
		}
		if c.olmo2() {
			post = norm(cw)
		}
		m.Layers = append(m.Layers, &Layer{
			InputNorm: in,
			Attn: &Attention{
				Q: linear(cw, c.Heads*d, c.qkvBias()), K: linear(cw, kv*d, c.qkvBias()), V: linear(cw, kv*d, c.qkvBias()),
				O: linear(c.Heads*d, cw, c.oBias()), QNorm: qn, KNorm: kn, Sinks: sinks,
			},
			PostNorm: norm(cw), PreFFNorm: pre, PostFFNorm: post,
			MLP: ffn(l),
		})
	}
	if !c.Tied {
		m.LMHead = param(0.02, c.VocabSize, cw)
	}
	return m, nil
}

// ones returns a constant of n ones.
func ones(n int) *autograd.Var {
	t := tensor.New(n)
	for i := range t.Data {
		t.Data[i] = 1
	}
	return autograd.Const(t)
}

// normWeight returns the weight an RMSNorm multiplies by: n's, or 1 plus
// n's for Gemma's offsets (Gemma3RMSNorm's 1 + weight, in float32).
func (m *Model) normWeight(tp *autograd.Tape, n *Norm) *autograd.Var {
	if !m.Cfg.Gemma() {
		return n.Weight
	}
	one := m.onesC
	if len(n.Weight.Value.Data) != len(one.Value.Data) {
		one = m.onesD
	}
	return tp.Add(n.Weight, one)
}

// norm applies the RMSNorm n to x (none when n is nil: OLMo 2's inputs).
func (m *Model) norm(tp *autograd.Tape, x *autograd.Var, n *Norm) *autograd.Var {
	if n == nil {
		return x
	}
	return tp.RMSNorm(x, m.normWeight(tp, n), m.Cfg.Eps)
}

// addSublayer adds a sub-layer's output y to the residual x, normalising it
// first with post when there is one (Gemma's and OLMo 2's
// post_attention_layernorm and post_feedforward_layernorm) and scaling it
// by Granite's residual_multiplier.
func (m *Model) addSublayer(tp *autograd.Tape, x, y *autograd.Var, post *Norm) *autograd.Var {
	if post != nil {
		y = m.norm(tp, y, post)
	}
	if r := m.Cfg.ResidualMultiplier; r != 0 && r != 1 { // Granite's
		y = tp.Scale(y, float32(r))
	}
	return tp.Add(x, y)
}

// attnPost returns the norm of the attention's output (Gemma's and OLMo
// 2's post_attention_layernorm), or nil.
func (m *Model) attnPost(l *Layer) *Norm {
	if l.PreFFNorm != nil || m.Cfg.olmo2() {
		return l.PostNorm
	}
	return nil
}

// mlpNorm returns the norm of the MLP's input: Llama's
// post_attention_layernorm, Gemma's pre_feedforward_layernorm, none in
// OLMo 2.
func (m *Model) mlpNorm(l *Layer) *Norm {
	switch {
	case l.PreFFNorm != nil:
		return l.PreFFNorm
	case m.Cfg.olmo2():
		return nil
	}
	return l.PostNorm
}

// feedForward adds layer's MLP sub-layer to x as inference runs it, with
// the layer's norms: the MLP, or a sparse layer's experts (see mixture).
func (m *Model) feedForward(tp *autograd.Tape, x *autograd.Var, layer *Layer, hw halfLayer) *autograd.Var {
	h := m.norm(tp, x, m.mlpNorm(layer))
	var y *autograd.Var
	if f := layer.MLP; f.Router != nil {
		y, _ = m.mixture(tp, h, f, func(x *autograd.Var, e int) *autograd.Var { return m.mlp(tp, x, f.Experts[e], hw.mlp(e)) })
		if f.Shared != nil { // after the experts in ffns
			y = tp.Add(y, m.shared(tp, h, f, m.mlp(tp, h, f.Shared, hw.mlp(len(f.Experts)))))
		}
	} else {
		y = m.mlp(tp, h, layer.MLP, hw.mlp(0))
	}
	return m.addSublayer(tp, x, y, layer.PostFFNorm)
}

// mlp runs the gated MLP f on x as inference runs it: the fused
// gate-and-up product (hw's 16- or 8-bit matrices when kept so), the
// gate, the down projection.
func (m *Model) mlp(tp *autograd.Tape, x *autograd.Var, f *MLP, hw halfMLP) *autograd.Var {
	gu := m.linear(tp, x, f.gateUp, hw.gateUp, f.gateUpBias)
	return m.linear(tp, m.gated(tp, gu), f.Down.Weight, hw.down, f.Down.Bias)
}

// shared returns the output y of sparse layer f's shared MLP on x as it
// joins the experts': scaled by the sigmoid of its gate (Qwen2-MoE's), or
// as it is (GraniteMoeShared's).
func (m *Model) shared(tp *autograd.Tape, x *autograd.Var, f *MLP, y *autograd.Var) *autograd.Var {
	if f.SharedGate == nil {
		return y
	}
	gate := tp.Sigmoid(tp.Linear(x, f.SharedGate.Weight, nil)) // [..., 1]
	rows, _ := x.Value.Rows()
	all := make([]int, rows)
	for i := range all {
		all[i] = i
	}
	return tp.Reshape(tp.CombineRows(gate, []*autograd.Var{y}, [][]int{all}), x.Value.Shape...)
}

// mixture runs a sparse layer f on x [..., C]: the router picks each
// token's experts (tp.Route), each expert runs (expert(rows, e)) on the
// rows of the tokens that chose it, and their outputs return to their
// tokens weighted by the router (tp.CombineRows). It also returns the
// router's logits (for the load-balancing loss). An expert no token
// chose does not run, so a token reads the weights of its experts only.
func (m *Model) mixture(tp *autograd.Tape, x *autograd.Var, f *MLP, expert func(rows *autograd.Var, e int) *autograd.Var) (y, router *autograd.Var) {
	k := m.Cfg.ExpertsPerToken
	router = tp.Linear(x, f.Router.Weight, f.Router.Bias)
	w, chosen := tp.Route(router, k, m.Cfg.NormTopK)
	at := make([][]int, len(f.Experts)) // the (token, choice) pairs of each expert, token·k + choice
	for a, e := range chosen {
		at[e] = append(at[e], a)
	}
	ys := make([]*autograd.Var, len(f.Experts))
	for e, pairs := range at {
		if len(pairs) == 0 {
			continue
		}
		rows := make([]int, len(pairs))
		for i, a := range pairs {
			rows[i] = a / k
		}
		ys[e] = expert(tp.GatherRows(x, rows), e)
	}
	return tp.Reshape(tp.CombineRows(w, ys, at), x.Value.Shape...), router
}

// gated applies the MLP's gate to the fused gate-and-up product gu.
func (m *Model) gated(tp *autograd.Tape, gu *autograd.Var) *autograd.Var {
	if m.Cfg.Gemma() {
		return tp.GeGLUConcat(gu)
	}
	if c := m.Cfg; c.gptOSS() {
		return tp.ClampedSwiGLUConcat(gu, float32(c.SwigluAlpha), float32(c.SwigluLimit))
	}
	return tp.SwiGLUConcat(gu)
}

// fuseWeights gives each layer its fused projections: the q, k and v
// weights in one buffer, gate and up in another, the separate parameters
// views of them, so that the weights are held once, a checkpoint loads
// straight into them and saves from the same numbers. fuseBiases does the
// same for their biases.
func (m *Model) fuseWeights() {
	for _, l := range m.Layers {
		a := l.Attn
		l.qkv = concatRows(a.Q.Weight, a.K.Weight, a.V.Weight)
		for _, f := range l.ffns() {
			f.gateUp = concatRows(f.Gate.Weight, f.Up.Weight)
		}
	}
}

func (m *Model) fuseBiases() {
	for _, l := range m.Layers {
		if a := l.Attn; a.Q.Bias != nil {
			l.qkvBias = concatRows(a.Q.Bias, a.K.Bias, a.V.Bias)
		}
		for _, f := range l.ffns() {
			if f.Gate.Bias != nil {
				f.gateUpBias = concatRows(f.Gate.Bias, f.Up.Bias)
			}
		}
	}
}

// concatRows returns the parameters stacked along their first dimension
// (their values copied, when they have any) and makes each a view of its
// rows of the result.
func concatRows(ps ...*autograd.Var) *autograd.Var {
	shape := slices.Clone(ps[0].Value.Shape)
	shape[0] = 0
	for _, p := range ps {
		shape[0] += p.Value.Shape[0]
	}
	all := tensor.New(shape...)
	at := 0
	for _, p := range ps {
		n := tensor.Size(p.Value.Shape)
		copy(all.Data[at:at+n], p.Value.Data)
		p.Value.Data = all.Data[at : at+n : at+n]
		at += n
	}
	return autograd.NewParam(all)
}

// Params lists the parameters under HF's names without "model.".
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// Cache holds each layer's keys (rotated) and values for the positions run
// so far, at KVHeads heads each; it grows as it fills, up to the model's
// max_position_embeddings. A layer with a sliding window (a Mistral's,
// Gemma's local layers) keeps only the positions its window still reaches,
// and windowSlack more, as HF's sliding-window cache does: a long context's
// cache is then mostly its global layers'. A Cache serves one sequence and
// one goroutine.
type Cache struct {
	m     *Model
	n     int         // positions filled
	start []int       // per layer: the first position held (0 but for a sliding window)
	size  []int       // per layer: positions allocated
	k, v  [][]float32 // per layer: [size, KVHeads·D], positions start..n−1
	q     []float32   // the step's queries, rotated, layer after layer
	arena *autograd.Tape
	// ids holds the tokens of the positions filled, for LongRoPE models
	// only (see crossesOriginal); nil otherwise.
	ids []int
}

// windowSlack is how many positions beyond its window a sliding-window
// layer keeps when it drops the older ones, so that a rewind by up to that
// many (a chat's next turn, whose template writes the end of the last
// reply anew) still goes on from the cache.
const windowSlack = 256

// NewCache returns an empty cache.
func (m *Model) NewCache() *Cache {
	nl := len(m.Layers)
	c := &Cache{m: m, start: make([]int, nl), size: make([]int, nl), k: make([][]float32, nl), v: make([][]float32, nl), arena: autograd.NewInferenceTape()}
	if m.invFreqLong != nil {
		c.ids = []int{}
	}
	return c
}

// Next is StepLast on the cache's model (lm.Sequence).
func (c *Cache) Next(ids []int) (*tensor.Tensor, error) { return c.m.StepLast(c, ids) }

// NewSequence returns an empty cache (lm.Model).
func (m *Model) NewSequence() lm.Sequence { return m.NewCache() }

// Window returns max_position_embeddings, the longest context (lm.Model).
// It is not a sliding window: the layers that have one (Config.Local)
// attend to their last sliding_window positions at any length up to it.
func (m *Model) Window() int { return m.Cfg.MaxPositions }

// VocabSize returns vocab_size (lm.Model).
func (m *Model) VocabSize() int { return m.Cfg.VocabSize }

// StartToken returns the token a text starts with (bos_token_id), which
// generation keeps when it slides a full context (see generate.Text).
func (m *Model) StartToken() (int, bool) { return m.Cfg.BOS, m.Cfg.HasBOS }

// EndsText reports whether id is one of the end-of-text tokens (lm.Model).
func (m *Model) EndsText(id int) bool { return slices.Contains(m.Cfg.EOS, id) }

// Len returns the number of positions in the cache.
func (c *Cache) Len() int { return c.n }

// Reset empties the cache.
func (c *Cache) Reset() {
	c.n = 0
	clear(c.start)
	c.ids = c.ids[:0]
}

// Truncate forgets every position from n on (n <= Len), to rewind, and
// returns n; or, when a sliding-window layer no longer holds the positions
// position n's window reaches (a rewind by more than windowSlack past a
// trim), it empties the cache and returns 0 (lm.Sequence).
func (c *Cache) Truncate(n int) int {
	if c.Keeps(n) == 0 {
		c.Reset()
		return 0
	}
	c.n = n
	if c.ids != nil {
		c.ids = c.ids[:n]
	}
	return n
}

// Keeps returns what Truncate(n) would keep: n, or 0 (lm.Sequence): also
// when a LongRoPE model's cache, past its original context (every key
// turned by the long factors), would be cut back within it, where the
// keys are turned by the short ones.
func (c *Cache) Keeps(n int) int {
	if n < 0 || n > c.n {
		panic(fmt.Sprintf("llama: a rewind to %d positions of a cache holding %d", n, c.n))
	}
	if orig := c.m.Cfg.ropeOriginal(); c.m.invFreqLong != nil && c.n > orig && n <= orig {
		return 0
	}
	for l, s := range c.start {
		if s > 0 && n-(c.m.Cfg.window(l)-1) < s {
			return 0
		}
	}
	return n
}

// reserve makes room in every layer for t more positions of width w: a
// sliding-window layer first drops the positions no later query's window
// reaches (keeping windowSlack more); a layer grows by doubling, up to the
// model's window, so that a long generation copies its cache a few times
// only. A trim copies what the layer keeps, so it leaves room for a
// quarter as many new positions at least, growing the layer if need be:
// a buffer just larger than what a trim keeps would otherwise copy it at
// every token.
func (c *Cache) reserve(t, w int) {
	for l := range c.k {
		held, size := c.n-c.start[l], 0
		if win := c.m.Cfg.window(l); win > 0 && held+t > c.size[l] {
			if s := c.n - (win - 1) - windowSlack; s > c.start[l] {
				copy(c.k[l], c.k[l][(s-c.start[l])*w:held*w])
				copy(c.v[l], c.v[l][(s-c.start[l])*w:held*w])
				c.start[l], held = s, c.n-s
				if room := held + max(t, held/4); room > c.size[l] {
					size = min(c.m.Window(), room)
				}
			}
		}
		if size == 0 {
			if held+t <= c.size[l] {
				continue
			}
			size = min(c.m.Window(), max(held+t, 2*c.size[l], 256))
		}
		k, v := make([]float32, size*w), make([]float32, size*w)
		copy(k, c.k[l][:held*w])
		copy(v, c.v[l][:held*w])
		c.k[l], c.v[l], c.size[l] = k, v, size
	}
}

// StepLast runs the next tokens of the sequence (a prompt, or one token
// when generating) through the model, appends their keys and values to the
// cache, and returns the logits of the last one, [1, V]. It fails if the
// cache would exceed max_position_embeddings.
func (m *Model) StepLast(c *Cache, ids []int) (*tensor.Tensor, error) {
	if err := m.generates(); err != nil {
		return nil, err
	}
	x, err := m.steps(c, ids, nil)
	if err != nil {
		return nil, err
	}
	cw := m.Cfg.Hidden
	last := autograd.Const(tensor.FromSlice(x.Value.Data[len(x.Value.Data)-cw:], 1, cw))
	return m.logits(nil, last).Value, nil
}

// Step is StepLast returning the logits of every new position, [T, V]
// (what scoring a text needs).
func (m *Model) Step(c *Cache, ids []int) (*tensor.Tensor, error) {
	if err := m.generates(); err != nil {
		return nil, err
	}
	if len(ids) <= stepChunk && (c == nil || !m.crossesOriginal(c.n, len(ids))) {
		x, err := m.steps(c, ids, nil)
		if err != nil {
			return nil, err
		}
		return m.logits(nil, x).Value, nil
	}
	out := tensor.New(len(ids), m.Cfg.VocabSize)
	_, err := m.steps(c, ids, func(x *autograd.Var, at int) {
		copyRows(out.Data, m.logits(c.arena, x).Value.Data, at, m.Cfg.VocabSize)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Hidden runs a text (ids, with whatever special tokens the tokenizer
// adds) through the model on its own and returns its last hidden states,
// [T, C], after the final norm: the base model's output, which an
// embedding model pools (Qwen3-Embedding from its last token,
// EmbeddingGemma, whose layers attend both ways, over all of them).
func (m *Model) Hidden(ids []int) (*tensor.Tensor, error) {
	c := m.NewCache()
	out := tensor.New(len(ids), m.Cfg.Hidden)
	_, err := m.steps(c, ids, func(x *autograd.Var, at int) {
		copyRows(out.Data, m.norm(c.arena, x, m.Norm).Value.Data, at, m.Cfg.Hidden)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// generates returns why the model computes no logits (loaded without its
// output layer, or an encoder), or nil.
func (m *Model) generates() error {
	switch {
	case m.headless:
		return errHeadless
	case m.Cfg.Bidirectional:
		return errBidirectional
	}
	return nil
}

// errBidirectional is what an encoder (Config.Bidirectional) answers a
// request for logits.
var errBidirectional = errors.New("llama: the model attends both ways (use_bidirectional_attention: an encoder, EmbeddingGemma): it computes hidden states (Hidden), not a next token")

// copyRows copies the rows of src (w values each) into dst from row at on,
// leaving out those before row 0 (positions of the cache run again).
func copyRows(dst, src []float32, at, w int) {
	if at < 0 {
		src = src[min(len(src), -at*w):]
		at = 0
	}
	copy(dst[at*w:], src)
}

// stepChunk is the most positions that StepLast, Step and Hidden run
// through the blocks at once: a longer text runs through the cache in
// pieces (of lengths differing by at most one), so that its activations,
// every layer's held in the cache's arena until the step ends, take a
// piece's memory rather than the whole text's (a Gemma 3 270M's 4,000-token
// prompt peaked at 6 GB in one piece). The numbers equal the whole text's
// to rounding, as generation's chunked prompts do. A variable for tests.
var stepChunk = 512

// logits applies the final norm and the output layer.
func (m *Model) logits(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	w := m.LMHead
	if w == nil {
		w = m.Embed.Weight
	}
	var h low
	switch {
	case m.half == nil:
	case m.LMHead == nil: // tied to the embeddings
		h = m.half.embed
	default:
		h = m.half.head
	}
	logits := m.linear(tp, m.norm(tp, x, m.Norm), w, h, nil)
	if c := m.Cfg.FinalSoftcap; c > 0 { // Gemma 2
		logits = tp.Softcap(logits, float32(c))
	}
	if s := m.Cfg.LogitsScaling; s != 0 && s != 1 { // Granite's: logits / logits_scaling (HF divides; the same for its powers of two)
		logits = tp.Scale(logits, float32(1/s))
	}
	return logits
}

// crossesOriginal reports whether running t positions after the n a cache
// holds takes a LongRoPE model past its original context: HF's Phi-3 then
// drops the cache and runs the whole text again, every position turned by
// the long factors (Phi3ForCausalLM.prepare_inputs_for_generation), and
// so does steps.
func (m *Model) crossesOriginal(n, t int) bool {
	return m.invFreqLong != nil && n > 0 && n <= m.Cfg.ropeOriginal() && n+t > m.Cfg.ropeOriginal()
}

// steps checks the new tokens and runs them through the blocks in pieces
// of at most stepChunk positions, calling each (when not nil) with every
// piece's last hidden states and the index in ids where the piece starts
// (negative for positions of the cache run again: see crossesOriginal);
// it returns the last piece's, held in c's arena until its next step.
// Nothing is appended to the cache when the tokens are refused.
func (m *Model) steps(c *Cache, ids []int, each func(x *autograd.Var, at int)) (*autograd.Var, error) {
	if c == nil || c.m != m {
		return nil, fmt.Errorf("llama: the cache is not a cache of this model")
	}
	t := len(ids)
	switch {
	case t == 0:
		return nil, fmt.Errorf("llama: no token ids")
	case c.n+t > m.Window():
		return nil, fmt.Errorf("llama: %d positions exceed the model's window of %d", c.n+t, m.Window())
	}
	for i, id := range ids {
		if id < 0 || id >= m.Cfg.VocabSize {
			return nil, fmt.Errorf("llama: token id %d at index %d is outside the vocabulary [0, %d)", id, i, m.Cfg.VocabSize)
		}
	}
	skip := 0 // positions run again before ids
	if m.crossesOriginal(c.n, t) {
		skip = c.n
		ids = append(slices.Clone(c.ids), ids...)
		c.Reset()
		t = len(ids)
	}
	pieces := (t + stepChunk - 1) / stepChunk
	if m.Cfg.Bidirectional { // every position sees the later ones: one piece
		pieces = 1
	}
	var x *autograd.Var
	for i, at := 0, 0; i < pieces; i++ {
		n := t / pieces
		if i < t%pieces {
			n++
		}
		x = m.step(c, ids[at:at+n], c.n+t-at)
		if each != nil {
			each(x, at-skip)
		}
		at += n
	}
	return x, nil
}

// step runs the blocks on the new tokens (checked by steps) and returns
// their last hidden states [T, C] (before the final norm), held in c's
// arena until its next step. end is where the steps call that runs them
// ends (LongRoPE's choice of factors: see rotations).
func (m *Model) step(c *Cache, ids []int, end int) *autograd.Var {
	t := len(ids)
	cfg := m.Cfg
	d, kv := cfg.headDim(), cfg.kvHeads()
	w := kv * d
	c.reserve(t, w)
	global, local := m.rotations(c.n, t, end)
	tp := c.arena
	tp.Reset()
	qw := cfg.Heads * d
	if len(c.q) < t*qw {
		c.q = make([]float32, t*qw)
	}
	q := c.q[:t*qw]
	x := m.embed(tp, ids) // (T, C)
	for l, layer := range m.Layers {
		hw := m.halfLayer(l)
		h := m.norm(tp, x, layer.InputNorm)
		qkv := m.linear(tp, h, layer.qkv, hw.qkv, layer.qkvBias).Value.Data // (T, (H+2·KV)·D)
		stride := qw + 2*w
		m.prepareQK(tp, l, qkv, t, stride, global, local)
		at := c.n - c.start[l] // where the new positions go
		for p := range t {
			row := qkv[p*stride : (p+1)*stride]
			copy(q[p*qw:], row[:qw])
			copy(c.k[l][(at+p)*w:], row[qw:qw+w])
			copy(c.v[l][(at+p)*w:], row[qw+w:])
		}
		tk := at + t // the keys held: the window's relative positions are what attention needs
		keys, vals := tp.View(c.k[l][:tk*w], 1, tk, w), tp.View(c.v[l][:tk*w], 1, tk, w)
		y := tp.Attention(tp.View(q, 1, t, qw), keys, vals, cfg.Heads, autograd.AttentionOpts{Causal: !cfg.Bidirectional, KVHeads: kv, Scale: cfg.attnScale(), Window: cfg.window(l), Softcap: float32(cfg.AttnSoftcap), Sinks: layer.Attn.Sinks})
		x = m.addSublayer(tp, x, m.linear(tp, tp.Reshape(y, t, -1), layer.Attn.O.Weight, hw.o, layer.Attn.O.Bias), m.attnPost(layer))
		x = m.feedForward(tp, x, layer, hw)
	}
	c.n += t
	if c.ids != nil {
		c.ids = append(c.ids, ids...)
	}
	return x
}

// rope holds cos and sin of the rotary angles of some positions, [T, D/2]
// each.
type rope struct{ cos, sin []float32 }

// layerRope returns layer l's rotation: the local layers' or the global
// ones' (Gemma 3's differ), or false for a NoPE layer (SmolLM3's).
func (c Config) layerRope(l int, global, local rope) (rope, bool) {
	if c.noRope(l) {
		return rope{}, false
	}
	if c.window(l) > 0 {
		return local, true
	}
	return global, true
}

// prepareQK normalises (Qwen3 and Gemma 3 each head, OLMo 2 the whole
// projections) and rotates the queries and keys of
// layer l in place: the first (H+KV)·D values of each of the rows of the
// fused projection qkv, stride apart.
func (m *Model) prepareQK(tp *autograd.Tape, l int, qkv []float32, rows, stride int, global, local rope) {
	cfg := m.Cfg
	d, kv, qw := cfg.headDim(), cfg.kvHeads(), cfg.Heads*cfg.headDim()
	switch a := m.Layers[l].Attn; {
	case cfg.qkNorm():
		headNorm(qkv, rows, stride, 0, cfg.Heads, d, m.normWeight(tp, a.QNorm).Value.Data, cfg.Eps)
		headNorm(qkv, rows, stride, qw, kv, d, m.normWeight(tp, a.KNorm).Value.Data, cfg.Eps)
	case cfg.wholeQKNorm(): // the projections whole: one "head" each
		headNorm(qkv, rows, stride, 0, 1, qw, a.QNorm.Weight.Value.Data, cfg.Eps)
		headNorm(qkv, rows, stride, qw, 1, kv*d, a.KNorm.Weight.Value.Data, cfg.Eps)
	}
	if r, ok := cfg.layerRope(l, global, local); ok {
		rotate(qkv, rows, stride, cfg.Heads+kv, d, r.cos, r.sin) // q's heads and k's, which follow them
	}
}

// rotations returns the rotary angles of positions n..n+T−1 for the global
// layers and the local ones (Gemma 3's have a base of their own), in a pass
// over the model that ends at position end (n+T but for a long prompt run
// in pieces). LongRoPE turns by its long factors when end passes the
// original context, as HF's Phi-3 does (the rotary frequencies follow the
// longest position of each forward call; a cache that passes the
// original context runs its whole text again: see crossesOriginal).
func (m *Model) rotations(n, t, end int) (global, local rope) {
	freq := m.invFreq
	if m.invFreqLong != nil && end > m.Cfg.ropeOriginal() {
		freq = m.invFreqLong
	}
	global = rotation(freq, n, t, m.ropeScale)
	if m.invFreqLocal == nil {
		return global, global
	}
	return global, rotation(m.invFreqLocal, n, t, 1)
}

// rotation returns the angles of positions n..n+T−1 at frequencies freq,
// cos and sin times scale (autograd.RotaryAngles).
func rotation(freq []float32, n, t int, scale float32) rope {
	var r rope
	r.cos, r.sin = autograd.RotaryAngles(freq, n, t, scale)
	return r
}

// headNorm RMS-normalises in place, times w [d], each of the heads d-value
// pieces that start at offset at of each of the t rows of x (stride apart):
// Qwen3's q_norm and k_norm. The mean of squares is accumulated in float64,
// as autograd.RMSNorm does.
func headNorm(x []float32, t, stride, at, heads, d int, w []float32, eps float32) {
	for p := range t {
		for h := range heads {
			v := x[p*stride+at+h*d : p*stride+at+(h+1)*d]
			var ss float64
			for _, e := range v {
				ss += float64(e) * float64(e)
			}
			r := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
			for i, e := range v {
				v[i] = w[i] * (e * r)
			}
		}
	}
}

// rotate applies the rotary embedding in place to the first heads·D values
// of each of the t rows of x (stride apart) in HF's "rotate half" layout:
// of the first 2·half values of a head (cos and sin hold half a row; all D
// but for a partial rotation), element i pairs with element i + half; the
// rest are left as they are.
func rotate(x []float32, t, stride, heads, d int, cos, sin []float32) {
	if t == 0 {
		return
	}
	half := len(cos) / t
	for p := range t {
		cs, sn := cos[p*half:(p+1)*half], sin[p*half:(p+1)*half]
		for h := range heads {
			row := x[p*stride+h*d : p*stride+(h+1)*d]
			a, b := row[:half], row[half:2*half]
			for i := range half {
				x1, x2 := a[i], b[i]
				a[i] = x1*cs[i] - x2*sn[i]
				b[i] = x2*cs[i] + x1*sn[i]
			}
		}
	}
}

// BatchBuffers holds the activations of StepBatch; the next step reuses
// them. BatchBuffers serve one goroutine.
type BatchBuffers struct {
	arena      *autograd.Tape
	y          []float32 // the attention outputs
	qs, ks, vs []*autograd.Var
	out        []float32 // the logits, when some sequences run alone (stepCrossing)
}

// NewBatchBuffers returns empty BatchBuffers.
func NewBatchBuffers() *BatchBuffers { return &BatchBuffers{arena: autograd.NewInferenceTape()} }

// StepBatch runs one new token for each of several sequences, ids[i] after
// the positions held in caches[i] (every one at its own length), appends
// their keys and values, and returns the new positions' logits,
// [len(caches), V], held in bt until its next step. Row i equals StepLast
// on caches[i] alone, to rounding. Decoding one token is bound by reading
// the weights, which a batch reads once for all its sequences. A LongRoPE
// model chooses its factors for each sequence by that sequence's length,
// as it would alone (HF's batch by its longest).
func (m *Model) StepBatch(bt *BatchBuffers, caches []*Cache, ids []int) (*tensor.Tensor, error) {
	if err := m.generates(); err != nil {
		return nil, err
	}
	b := len(caches)
	if bt == nil || b == 0 || len(ids) != b {
		return nil, fmt.Errorf("llama: StepBatch needs BatchBuffers and one token id for each of its %d caches (got %d ids)", b, len(ids))
	}
	cfg := m.Cfg
	d, kv := cfg.headDim(), cfg.kvHeads()
	w, qw, half := kv*d, cfg.Heads*d, len(m.invFreq)
	global := rope{make([]float32, b*half), make([]float32, b*half)}
	local := global
	if m.invFreqLocal != nil { // else the same angles
		local = rope{make([]float32, b*half), make([]float32, b*half)}
	}
	for i, c := range caches {
		switch {
		case c == nil || c.m != m:
			return nil, fmt.Errorf("llama: cache %d is not a cache of this model", i)
		case slices.Index(caches, c) != i:
			return nil, fmt.Errorf("llama: caches %d and %d are the same cache", slices.Index(caches, c), i)
		case c.n+1 > m.Window():
			return nil, fmt.Errorf("llama: sequence %d: %d positions exceed the model's window of %d", i, c.n+1, m.Window())
		case ids[i] < 0 || ids[i] >= cfg.VocabSize:
			return nil, fmt.Errorf("llama: sequence %d: token id %d is outside the vocabulary [0, %d)", i, ids[i], cfg.VocabSize)
		}
		g, l := m.rotations(c.n, 1, c.n+1)
		copy(global.cos[i*half:], g.cos)
		copy(global.sin[i*half:], g.sin)
		if m.invFreqLocal != nil {
			copy(local.cos[i*half:], l.cos)
			copy(local.sin[i*half:], l.sin)
		}
	}
	if slices.ContainsFunc(caches, func(c *Cache) bool { return m.crossesOriginal(c.n, 1) }) {
		return m.stepCrossing(bt, caches, ids)
	}
	for _, c := range caches {
		c.reserve(1, w)
	}
	if len(bt.y) < b*qw {
		bt.y = make([]float32, b*qw)
	}
	y := tensor.FromSlice(bt.y[:b*qw], b, qw)
	tp := bt.arena
	tp.Reset()
	x := m.embed(tp, ids) // (B, C)
	stride := qw + 2*w
	for l, layer := range m.Layers {
		hw := m.halfLayer(l)
		h := m.norm(tp, x, layer.InputNorm)
		qkv := m.linear(tp, h, layer.qkv, hw.qkv, layer.qkvBias).Value.Data // (B, (H+2·KV)·D)
		m.prepareQK(tp, l, qkv, b, stride, global, local)
		qs, ks, vs := bt.qs[:0], bt.ks[:0], bt.vs[:0]
		for i, c := range caches {
			row := qkv[i*stride : (i+1)*stride]
			at := c.n - c.start[l]
			copy(c.k[l][at*w:], row[qw:qw+w])
			copy(c.v[l][at*w:], row[qw+w:])
			tk := at + 1
			qs = append(qs, tp.View(row[:qw], 1, 1, qw))
			ks = append(ks, tp.View(c.k[l][:tk*w], 1, tk, w))
			vs = append(vs, tp.View(c.v[l][:tk*w], 1, tk, w))
		}
		bt.qs, bt.ks, bt.vs = qs, ks, vs
		// Every sequence's heads in one parallel loop, not a loop for each
		// sequence: 8 sequences with 128 cached 1.084× faster, 4 1.032×, 8
		// with 16 cached 1.045× (a SmolLM2-135M-shaped model, 40 pairs
		// toggled in one process).
		opts := autograd.AttentionOpts{Causal: true, KVHeads: kv, Scale: cfg.attnScale(), Window: cfg.window(l), Softcap: float32(cfg.AttnSoftcap), Sinks: layer.Attn.Sinks}
		for i, o := range tp.AttentionSteps(qs, ks, vs, cfg.Heads, opts) {
			copy(y.Data[i*qw:], o.Value.Data)
		}
		x = m.addSublayer(tp, x, m.linear(tp, autograd.Const(y), layer.Attn.O.Weight, hw.o, layer.Attn.O.Bias), m.attnPost(layer))
		x = m.feedForward(tp, x, layer, hw)
	}
	for i, c := range caches {
		c.n++
		if c.ids != nil {
			c.ids = append(c.ids, ids[i])
		}
	}
	return m.logits(tp, x).Value, nil
}

// stepCrossing is StepBatch when some of the caches cross a LongRoPE
// model's original context: those run alone, their whole text again (see
// crossesOriginal), the others together.
func (m *Model) stepCrossing(bt *BatchBuffers, caches []*Cache, ids []int) (*tensor.Tensor, error) {
	v := m.Cfg.VocabSize
	if len(bt.out) < len(caches)*v {
		bt.out = make([]float32, len(caches)*v)
	}
	out := bt.out[:len(caches)*v]
	var rest []*Cache
	var restIDs, restAt []int
	for i, c := range caches {
		if !m.crossesOriginal(c.n, 1) {
			rest, restIDs, restAt = append(rest, c), append(restIDs, ids[i]), append(restAt, i)
			continue
		}
		logits, err := m.StepLast(c, ids[i:i+1])
		if err != nil {
			return nil, err
		}
		copy(out[i*v:], logits.Data)
	}
	if len(rest) > 0 {
		logits, err := m.StepBatch(bt, rest, restIDs)
		if err != nil {
			return nil, err
		}
		for r, i := range restAt {
			copy(out[i*v:(i+1)*v], logits.Data[r*v:])
		}
	}
	return tensor.FromSlice(out, len(caches), v), nil
}

// NewBatchStep returns StepBatch with BatchBuffers of its own
// (lm.BatchModel); its sequences must be this model's caches.
func (m *Model) NewBatchStep() func(seqs []lm.Sequence, ids []int) (*tensor.Tensor, error) {
	bt := NewBatchBuffers()
	var caches []*Cache
	return func(seqs []lm.Sequence, ids []int) (*tensor.Tensor, error) {
		var err error
		if caches, err = lm.Caches(caches[:0], seqs); err != nil {
			return nil, fmt.Errorf("llama: %w", err)
		}
		return m.StepBatch(bt, caches, ids)
	}
}
