// Package transformer is the encoder-decoder Transformer of "Attention Is All
// You Need" (Vaswani et al. 2017): token embeddings scaled by √d_model plus
// positional encodings, N encoder and N decoder layers, and a linear map to
// target-vocabulary logits.
package transformer

import (
	"errors"
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Positions selects how positions are encoded.
type Positions string

const (
	// Sinusoidal is the paper's fixed encoding (§3.5).
	Sinusoidal Positions = "sinusoidal"
	// Learned is a trained table of MaxLen positions (the paper's Table 3,
	// row E, found it nearly identical).
	Learned Positions = "learned"
)

// Config holds the model's hyperparameters. DefaultConfig gives the paper's
// base model (Table 3).
type Config struct {
	SrcVocab      int           `json:"src_vocab"`
	TgtVocab      int           `json:"tgt_vocab"`
	DModel        int           `json:"d_model"`
	Heads         int           `json:"heads"`
	EncoderLayers int           `json:"encoder_layers"`
	DecoderLayers int           `json:"decoder_layers"`
	DFF           int           `json:"d_ff"`
	Dropout       float32       `json:"dropout"`
	Activation    nn.Activation `json:"activation"`
	NormFirst     bool          `json:"norm_first"`
	// FinalNorm adds a LayerNorm after each stack. Pre-LN needs it; PyTorch's
	// nn.Transformer always has it, so set it to load its weights.
	FinalNorm bool      `json:"final_norm"`
	Positions Positions `json:"positions"`
	// MaxLen bounds sequence lengths (the learned table's size).
	MaxLen int     `json:"max_len"`
	Eps    float32 `json:"layer_norm_eps"`
	// ShareEmbeddings uses one table for source and target (one shared
	// vocabulary, §3.4); SrcVocab must equal TgtVocab.
	ShareEmbeddings bool `json:"share_embeddings"`
	// TieOutput makes the output projection's weight the target embedding
	// table (§3.4); the projection keeps its own bias.
	TieOutput bool `json:"tie_output"`
}

// DefaultConfig returns the paper's base model: d_model 512, 8 heads, 6+6
// layers, d_ff 2048, dropout 0.1, ReLU, post-LN, sinusoidal positions, with
// shared and tied embeddings. Vocabulary sizes are left for the caller.
func DefaultConfig() Config {
	return Config{
		DModel: 512, Heads: 8, EncoderLayers: 6, DecoderLayers: 6, DFF: 2048,
		Dropout: 0.1, Activation: nn.ReLU, Positions: Sinusoidal, MaxLen: 512,
		Eps: 1e-5, ShareEmbeddings: true, TieOutput: true,
	}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.SrcVocab <= 0 || c.TgtVocab <= 0:
		return fmt.Errorf("transformer: vocabulary sizes must be positive (src %d, tgt %d)", c.SrcVocab, c.TgtVocab)
	case c.DModel <= 0 || c.Heads <= 0 || c.DModel%c.Heads != 0:
		return fmt.Errorf("transformer: d_model %d must be a positive multiple of heads %d", c.DModel, c.Heads)
	case c.EncoderLayers < 0 || c.DecoderLayers < 1 || c.DFF <= 0:
		return fmt.Errorf("transformer: need encoder_layers >= 0, decoder_layers >= 1, d_ff > 0 (got %d, %d, %d)", c.EncoderLayers, c.DecoderLayers, c.DFF)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("transformer: dropout %v outside [0, 1)", c.Dropout)
	case c.MaxLen <= 0:
		return fmt.Errorf("transformer: max_len %d must be positive", c.MaxLen)
	case c.Positions != Sinusoidal && c.Positions != Learned:
		return fmt.Errorf("transformer: unknown positions %q (want sinusoidal or learned)", c.Positions)
	case c.ShareEmbeddings && c.SrcVocab != c.TgtVocab:
		return fmt.Errorf("transformer: shared embeddings need one vocabulary (src %d, tgt %d)", c.SrcVocab, c.TgtVocab)
	case c.Eps <= 0:
		return errors.New("transformer: layer_norm_eps must be positive")
	}
	return c.Activation.Validate()
}

// Model is the encoder-decoder Transformer. Its parameter names are those of
// PyTorch: encoder.* and decoder.* exactly as in nn.Transformer's state dict,
// plus src_embed, tgt_embed, pos_embed (learned positions) and generator (the
// output projection).
type Model struct {
	Cfg       Config
	SrcEmbed  *nn.Embedding `attn:"src_embed"`
	TgtEmbed  *nn.Embedding `attn:"tgt_embed"`
	PosEmbed  *nn.Embedding `attn:"pos_embed"` // nil for sinusoidal positions
	Encoder   *nn.Encoder   `attn:"encoder"`
	Decoder   *nn.Decoder   `attn:"decoder"`
	Generator *nn.Linear    `attn:"generator"`

	pe *tensor.Tensor // sinusoidal table [MaxLen, DModel]
}

// New returns a model with freshly initialised weights drawn from seed.
// Embeddings are drawn from N(0, 1/d_model), so after the √d_model scale
// they have unit variance.
func New(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	d := c.DModel
	std, scale := 1/math.Sqrt(float64(d)), float32(math.Sqrt(float64(d)))
	m := &Model{Cfg: c}
	m.SrcEmbed = nn.NewEmbedding(c.SrcVocab, d, std, scale, rng)
	if c.ShareEmbeddings {
		m.TgtEmbed = &nn.Embedding{Weight: m.SrcEmbed.Weight, Scale: scale}
	} else {
		m.TgtEmbed = nn.NewEmbedding(c.TgtVocab, d, std, scale, rng)
	}
	if c.Positions == Learned {
		m.PosEmbed = nn.NewEmbedding(c.MaxLen, d, 0.02, 1, rng)
	} else {
		m.pe = nn.Sinusoidal(c.MaxLen, d)
	}
	lc := nn.LayerConfig{DModel: d, Heads: c.Heads, DFF: c.DFF, Dropout: c.Dropout, Activation: c.Activation, NormFirst: c.NormFirst, Eps: c.Eps}
	m.Encoder = nn.NewEncoder(lc, c.EncoderLayers, c.FinalNorm, rng)
	m.Decoder = nn.NewDecoder(lc, c.DecoderLayers, c.FinalNorm, rng)
	m.Generator = nn.NewLinear(d, c.TgtVocab, true, rng)
	if c.TieOutput {
		m.Generator.Weight = m.TgtEmbed.Weight
	}
	return m, nil
}

// Params lists the parameters under their PyTorch names.
func (m *Model) Params() []nn.Param { return nn.Params(m) }

// Batch is a batch of B token sequences of equal (padded) length T, stored
// row-major, with Pad marking padding positions (nil when there is none).
type Batch struct {
	IDs  []int
	Pad  []bool
	B, T int
}

// Validate checks the batch's sizes and ids against vocab and maxLen.
func (b Batch) Validate(vocab, maxLen int) error {
	if b.B <= 0 || b.T <= 0 || len(b.IDs) != b.B*b.T || (b.Pad != nil && len(b.Pad) != b.B*b.T) {
		return fmt.Errorf("transformer: batch of %d ids (%d pad flags) is not B=%d × T=%d", len(b.IDs), len(b.Pad), b.B, b.T)
	}
	if b.T > maxLen {
		return fmt.Errorf("transformer: sequence length %d exceeds max_len %d", b.T, maxLen)
	}
	for i, id := range b.IDs {
		if id < 0 || id >= vocab {
			return fmt.Errorf("transformer: token id %d at position %d is outside the vocabulary [0, %d)", id, i, vocab)
		}
	}
	return nil
}

// embed returns emb(ids)·√d + positions, with dropout (§3.4, §5.4).
func (m *Model) embed(tp *autograd.Tape, e *nn.Embedding, b Batch, offset int) *autograd.Var {
	x := e.Forward(tp, b.IDs, b.B, b.T)
	if m.PosEmbed != nil {
		pos := make([]int, b.T)
		for i := range pos {
			pos[i] = offset + i
		}
		x = tp.Add(x, tp.Embedding(m.PosEmbed.Weight, pos, 1)) // [T, d] broadcast over the batch
	} else {
		d := m.Cfg.DModel
		x = tp.Add(x, autograd.Const(tensor.FromSlice(m.pe.Data[offset*d:(offset+b.T)*d], b.T, d)))
	}
	return tp.Dropout(x, m.Cfg.Dropout)
}

// Encode runs the encoder on src and returns the memory [B, S, d_model].
func (m *Model) Encode(tp *autograd.Tape, src Batch) (*autograd.Var, error) {
	if err := src.Validate(m.Cfg.SrcVocab, m.Cfg.MaxLen); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return m.Encoder.Forward(tp, m.embed(tp, m.SrcEmbed, src, 0), src.Pad), nil
}

// Decode runs the decoder on tgt (the shifted-right target) attending to
// memory, and returns logits [B, T, TgtVocab].
func (m *Model) Decode(tp *autograd.Tape, tgt Batch, memory *autograd.Var, srcPad []bool) (*autograd.Var, error) {
	if err := tgt.Validate(m.Cfg.TgtVocab, m.Cfg.MaxLen); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if memory.Value.Shape[0] != tgt.B {
		return nil, fmt.Errorf("transformer: memory holds %d sequences, target %d", memory.Value.Shape[0], tgt.B)
	}
	h := m.Decoder.Forward(tp, m.embed(tp, m.TgtEmbed, tgt, 0), memory, tgt.Pad, srcPad)
	return m.Generator.Forward(tp, h), nil
}

// Forward encodes src and decodes tgt, returning logits [B, T, TgtVocab].
func (m *Model) Forward(tp *autograd.Tape, src, tgt Batch) (*autograd.Var, error) {
	mem, err := m.Encode(tp, src)
	if err != nil {
		return nil, err
	}
	return m.Decode(tp, tgt, mem, src.Pad)
}
