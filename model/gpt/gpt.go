// Package gpt is GPT-2 (Radford et al. 2019), a decoder-only Transformer:
// token and learned position embeddings, N pre-LN blocks of causal
// self-attention and a GELU MLP, a final LayerNorm, and logits from the token
// embedding (tied weights). It follows nanoGPT's model.py; parameter names
// and layouts are HuggingFace's GPT2LMHeadModel's, so its checkpoints load.
package gpt

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Conv1D is GPT-2's linear layer, y = x·W + b, with W stored [in, out]
// (HuggingFace's Conv1D; nn.Linear's weight transposed).
type Conv1D struct {
	Weight *autograd.Var `attn:"weight"` // [in, out]
	Bias   *autograd.Var `attn:"bias"`   // [out]
	// rows holds W transposed, [out, in], while the model is in its batch
	// layout (Model.BatchLayout); Weight's values are then nil.
	rows *autograd.Var
}

// normal returns a parameter of the given shape drawn from N(0, std²), or
// zeros when rng is nil (weights about to be loaded).
func normal(rng *tensor.RNG, std float64, shape ...int) *autograd.Var {
	t := tensor.New(shape...)
	if rng != nil {
		rng.FillNormal(t, 0, std)
	}
	return autograd.NewParam(t)
}

// newConv1D returns an in → out layer with W drawn from N(0, std²), b = 0.
func newConv1D(in, out int, std float64, rng *tensor.RNG) *Conv1D {
	return &Conv1D{Weight: normal(rng, std, in, out), Bias: autograd.NewParam(tensor.New(out))}
}

// Forward maps x [..., in] to [..., out]. A tape that records (training)
// puts a weight in the batch layout back to [in, out] first.
func (l *Conv1D) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if l.rows != nil {
		if !tp.Records() {
			return tp.Linear(x, l.rows, l.Bias)
		}
		l.columns()
	}
	return tp.Conv1D(x, l.Weight, l.Bias)
}

// toRows moves W into rows, [out, in].
func (l *Conv1D) toRows() {
	if l.rows != nil {
		return
	}
	in, out := l.Weight.Value.Shape[0], l.Weight.Value.Shape[1]
	t := tensor.New(out, in)
	transpose(t.Data, l.Weight.Value.Data, in, out)
	l.rows, l.Weight.Value.Data = autograd.Const(t), nil
}

// columns moves W back from rows to Weight, [in, out].
func (l *Conv1D) columns() {
	if l.rows == nil {
		return
	}
	in, out := l.Weight.Value.Shape[0], l.Weight.Value.Shape[1]
	w := make([]float32, in*out)
	transpose(w, l.rows.Value.Data, out, in)
	l.Weight.Value.Data, l.rows = w, nil
}

// transpose sets dst (c×r) to src (r×c) transposed, in 64×64 tiles over
// the workers.
func transpose(dst, src []float32, r, c int) {
	const tile = 64
	tensor.Parallel((r+tile-1)/tile, 1, func(lo, hi int) {
		for i0 := lo * tile; i0 < min(r, hi*tile); i0 += tile {
			for j0 := 0; j0 < c; j0 += tile {
				for i := i0; i < min(r, i0+tile); i++ {
					row := src[i*c : (i+1)*c]
					for j := j0; j < min(c, j0+tile); j++ {
						dst[j*r+i] = row[j]
					}
				}
			}
		}
	})
}

// CausalSelfAttention is masked multi-head self-attention with the query,
// key and value projections fused in one layer (c_attn) and the output
// projection c_proj.
type CausalSelfAttention struct {
	CAttn   *Conv1D `attn:"c_attn"` // C → 3C: q, k, v
	CProj   *Conv1D `attn:"c_proj"` // C → C
	Heads   int
	Dropout float32
	// Scale multiplies the attention logits; 0 means 1/√D.
	Scale float32
}

// Forward maps x [B, T, C] to [B, T, C]; position t attends to 0..t.
func (a *CausalSelfAttention) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Dropout(a.beforeDropout(tp, x), a.Dropout) // (B, T, C)
}

// beforeDropout is Forward without the residual dropout at its end.
func (a *CausalSelfAttention) beforeDropout(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	qkv := a.CAttn.Forward(tp, x) // (B, T, 3C): q, k, v, read in place
	c := qkv.Value.Shape[2] / 3
	y := tp.AttentionCols(autograd.Cols{V: qkv, Lo: 0, Width: c}, autograd.Cols{V: qkv, Lo: c, Width: c}, autograd.Cols{V: qkv, Lo: 2 * c, Width: c},
		a.Heads, autograd.AttentionOpts{Causal: true, Dropout: a.Dropout, Scale: a.Scale})
	return a.CProj.Forward(tp, y)
}

// MLP is the feed-forward net: c_proj(GELU(c_fc(x))), GELU in its tanh
// approximation as GPT-2 uses it.
type MLP struct {
	CFc     *Conv1D `attn:"c_fc"`   // C → 4C
	CProj   *Conv1D `attn:"c_proj"` // 4C → C
	Dropout float32
}

// Forward maps x [B, T, C] to [B, T, C].
func (m *MLP) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Dropout(m.beforeDropout(tp, x), m.Dropout)
}

// beforeDropout is Forward without the residual dropout at its end.
func (m *MLP) beforeDropout(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return m.CProj.Forward(tp, tp.GELUTanh(m.CFc.Forward(tp, x))) // (B, T, 4C) inside
}

// Block is one pre-LN Transformer block.
type Block struct {
	Ln1  *nn.LayerNorm        `attn:"ln_1"`
	Attn *CausalSelfAttention `attn:"attn"`
	Ln2  *nn.LayerNorm        `attn:"ln_2"`
	MLP  *MLP                 `attn:"mlp"`
}

// Forward computes x + attn(ln_1(x)), then that + mlp(ln_2(that)).
func (b *Block) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	x = tp.DropoutAdd(x, b.Attn.beforeDropout(tp, b.Ln1.Forward(tp, x)), b.Attn.Dropout)
	return tp.DropoutAdd(x, b.MLP.beforeDropout(tp, b.Ln2.Forward(tp, x)), b.MLP.Dropout)
}

// Model is GPT-2 with its language-model head. The head's weight is WTE's
// (HF's lm_head.weight, tied), so it is no parameter of its own.
type Model struct {
	Cfg Config
	WTE *nn.Embedding `attn:"wte"` // [V, C]
	WPE *nn.Embedding `attn:"wpe"` // [n_positions, C]
	H   []*Block      `attn:"h"`
	LnF *nn.LayerNorm `attn:"ln_f"`
}

// New returns a model initialised as nanoGPT does: every weight matrix and
// embedding from N(0, 0.02²), except the residual projections (c_proj) from
// N(0, 0.02²/(2·n_layer)) (GPT-2 paper, §2.3); biases 0; LayerNorm 1 and 0.
func New(c Config, seed uint64) (*Model, error) {
	return newModel(c, tensor.NewRNG(seed))
}

// newModel builds the model, drawing its weights from rng, or leaving them 0
// when rng is nil (to load a checkpoint without paying for the draws).
func newModel(c Config, rng *tensor.RNG) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := c.NEmbd
	const std = 0.02
	projStd := std / math.Sqrt(float64(2*c.NLayer))
	m := &Model{
		Cfg: c,
		WTE: &nn.Embedding{Weight: normal(rng, std, c.VocabSize, d), Scale: 1},
		WPE: &nn.Embedding{Weight: normal(rng, std, c.NPositions, d), Scale: 1},
	}
	for i := range c.NLayer {
		var scale float32 // 1/√D
		if c.ScaleByLayer {
			scale = float32(1 / (math.Sqrt(float64(d/c.NHead)) * float64(i+1)))
		}
		m.H = append(m.H, &Block{
			Ln1: nn.NewLayerNorm(d, c.Eps),
			Attn: &CausalSelfAttention{
				CAttn: newConv1D(d, 3*d, std, rng), CProj: newConv1D(d, d, projStd, rng),
				Heads: c.NHead, Dropout: c.Dropout, Scale: scale,
			},
			Ln2: nn.NewLayerNorm(d, c.Eps),
			MLP: &MLP{CFc: newConv1D(d, 4*d, std, rng), CProj: newConv1D(4*d, d, projStd, rng), Dropout: c.Dropout},
		})
	}
	m.LnF = nn.NewLayerNorm(d, c.Eps)
	return m, nil
}

// SetDropout sets the dropout probability of every layer (embeddings,
// attention and residual branches), in Cfg as well, so a saved config says
// what was trained: fine-tuning often runs a loaded model without dropout.
func (m *Model) SetDropout(p float32) error {
	if p < 0 || p >= 1 {
		return fmt.Errorf("gpt: dropout %v outside [0, 1)", p)
	}
	m.Cfg.Dropout = p
	for _, b := range m.H {
		b.Attn.Dropout, b.MLP.Dropout = p, p
	}
	return nil
}

// Params lists the parameters under HF's names (without "transformer."),
// WTE once.
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// BatchLayout stores the blocks' weights transposed, [out, in] as
// nn.Linear's are, for decoding several sequences at once: the products of
// a few rows of A against rows of B read them about as fast with one row
// and up to twice as fast with eight as x·W reads [in, out] (GPT-2's
// decode step with eight sequences 1.38× faster, with one 0.98×, a
// 128-token prompt 0.97×; pairs toggled in one process). The numbers
// change only by the order of the sums. Their [in, out] values are
// dropped meanwhile (Params lists the weights without values): training
// through a layer (a tape that records) and LoadWeights put them back, as
// does Columns, and Tensors and Save read them in HF's layout. Call it
// (and those) while no other goroutine runs the model.
func (m *Model) BatchLayout() { m.eachConv((*Conv1D).toRows) }

// batchLayout reports whether BatchLayout moved the weights.
func (m *Model) batchLayout() bool { return len(m.H) > 0 && m.H[0].Attn.CAttn.rows != nil }

// Columns undoes BatchLayout: every weight back in HF's [in, out].
func (m *Model) Columns() { m.eachConv((*Conv1D).columns) }

func (m *Model) eachConv(f func(*Conv1D)) {
	for _, b := range m.H {
		f(b.Attn.CAttn)
		f(b.Attn.CProj)
		f(b.MLP.CFc)
		f(b.MLP.CProj)
	}
}

// NoDecay returns the parameters exempt from weight decay, as nanoGPT's
// configure_optimizers chooses: every parameter of fewer than 2 dimensions
// (biases, LayerNorm gains and shifts). Matrices and embeddings decay.
func (m *Model) NoDecay() map[*autograd.Var]bool {
	nd := map[*autograd.Var]bool{}
	for _, p := range m.Params() {
		if len(p.Value.Shape) < 2 {
			nd[p.Var] = true
		}
	}
	return nd
}

// HiddenMatrices returns the blocks' weight matrices (c_attn, c_proj, c_fc,
// mlp.c_proj), each stored [in, out]: what the Muon optimizer trains. The
// embeddings (and the tied output head) are not among them.
func (m *Model) HiddenMatrices() []*autograd.Var {
	var ws []*autograd.Var
	for _, b := range m.H {
		ws = append(ws, b.Attn.CAttn.Weight, b.Attn.CProj.Weight, b.MLP.CFc.Weight, b.MLP.CProj.Weight)
	}
	return ws
}

// checkIDs validates B·T token ids placed after offset cached positions.
func (m *Model) checkIDs(ids []int, b, t, offset int) error {
	if b <= 0 || t <= 0 || len(ids) != b*t {
		return fmt.Errorf("gpt: %d token ids are not B=%d × T=%d", len(ids), b, t)
	}
	if offset+t > m.Cfg.NPositions {
		return fmt.Errorf("gpt: %d positions exceed n_positions %d", offset+t, m.Cfg.NPositions)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Cfg.VocabSize {
			return fmt.Errorf("gpt: token id %d at index %d is outside the vocabulary [0, %d)", id, i, m.Cfg.VocabSize)
		}
	}
	return nil
}

// embed returns drop(wte(ids) + wpe(offset..offset+T−1)) as [B, T, C].
func (m *Model) embed(tp *autograd.Tape, ids []int, b, t, offset int) *autograd.Var {
	pos := make([]int, t)
	for i := range pos {
		pos[i] = offset + i
	}
	tok := m.WTE.Forward(tp, ids, b, t)                  // (B, T, C)
	x := tp.Add(tok, tp.Embedding(m.WPE.Weight, pos, 1)) // + (T, C)
	return tp.Dropout(x, m.Cfg.Dropout)
}

// head returns ln_f(x)·WTEᵀ: logits [..., V].
func (m *Model) head(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Linear(m.LnF.Forward(tp, x), m.WTE.Weight, nil)
}

// Forward runs B sequences of T token ids (row-major) and returns logits
// [B, T, V]; position t sees tokens 0..t.
func (m *Model) Forward(tp *autograd.Tape, ids []int, b, t int) (*autograd.Var, error) {
	if err := m.checkIDs(ids, b, t, 0); err != nil {
		return nil, err
	}
	x := m.embed(tp, ids, b, t, 0)
	for _, blk := range m.H {
		x = blk.Forward(tp, x)
	}
	return m.head(tp, x), nil
}

// IgnoreIndex marks a target position that Loss leaves out.
const IgnoreIndex = -1

// Loss returns the mean cross-entropy of the next-token predictions for ids
// against targets (both B·T, row-major), leaving out targets equal to
// IgnoreIndex.
func (m *Model) Loss(tp *autograd.Tape, ids, targets []int, b, t int) (*autograd.Var, error) {
	if len(targets) != len(ids) {
		return nil, fmt.Errorf("gpt: %d targets for %d token ids", len(targets), len(ids))
	}
	for i, id := range targets {
		if id != IgnoreIndex && (id < 0 || id >= m.Cfg.VocabSize) {
			return nil, fmt.Errorf("gpt: target %d at index %d is outside the vocabulary [0, %d)", id, i, m.Cfg.VocabSize)
		}
	}
	logits, err := m.Forward(tp, ids, b, t)
	if err != nil {
		return nil, err
	}
	return tp.CrossEntropy(logits, targets, IgnoreIndex, 0), nil
}
