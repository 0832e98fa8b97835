package marian

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Decoder decodes N hypotheses over B encoded sources one token at a time,
// with each decoder layer's keys and values cached and the encoder output
// projected once; hypothesis i belongs to source i / (N/B). It implements
// generate.StepDecoder, so beam search runs on it with BOS =
// decoder_start_token_id (the pad id) and EOS = eos_token_id.
//
// As HF's generate does with the config's bad_words_ids, Step sets the
// logits of the tokens in Banned to −Inf; NewDecoder fills it with the
// single-token entries of Config.BadWordsIDs (opus-mt: the pad token).
type Decoder struct {
	Banned []int
	// Forced, when not negative, is the only token the first Step allows
	// (HF's forced_bos_token_id: the target language an NLLB model is to
	// write, which its first token names); NewDecoder sets it to −1.
	Forced int

	m              *Model
	n, per, s      int
	srcPad         []bool
	crossK, crossV []*tensor.Tensor // per layer: [B, S, C]
	k, v           [][][]float32    // per layer, per hypothesis: [len, C]
	spare          [][]float32      // Reorder's buffers, one per hypothesis
	len            int
	arena          *autograd.Tape // a step's activations, reused by the next
}

// NewDecoder encodes srcIDs [B·S] (srcPad may be nil) and prepares to decode
// perSource hypotheses for each source.
func (m *Model) NewDecoder(srcIDs []int, srcPad []bool, b, s, perSource int) (*Decoder, error) {
	if perSource <= 0 {
		return nil, fmt.Errorf("marian: %d hypotheses per source; want at least 1", perSource)
	}
	// The encoder's activations are done with once the cross-attention
	// keys and values are projected (into memory of their own).
	enc := autograd.BorrowInferenceTape()
	defer autograd.ReturnInferenceTape(enc)
	mem, err := m.Encode(enc, srcIDs, srcPad, b, s)
	if err != nil {
		return nil, err
	}
	var tp *autograd.Tape
	d := &Decoder{Forced: -1, m: m, n: b * perSource, per: perSource, s: s, srcPad: srcPad, arena: autograd.NewInferenceTape()}
	for _, w := range m.Cfg.BadWordsIDs {
		if len(w) == 1 && w[0] >= 0 && w[0] < m.Cfg.VocabSize {
			d.Banned = append(d.Banned, w[0])
		}
	}
	for _, l := range m.Model.Decoder.Layers {
		a := l.EncoderAttn
		d.crossK = append(d.crossK, a.KProj.Forward(tp, mem).Value)
		d.crossV = append(d.crossV, a.VProj.Forward(tp, mem).Value)
		d.k = append(d.k, make([][]float32, d.n))
		d.v = append(d.v, make([][]float32, d.n))
	}
	return d, nil
}

// Len returns the number of positions decoded so far.
func (d *Decoder) Len() int { return d.len }

// Vocab returns the vocabulary size.
func (d *Decoder) Vocab() int { return d.m.Cfg.VocabSize }

// Step feeds the next token of each of the N hypotheses and returns the
// logits for the token after it, [N, V].
func (d *Decoder) Step(tokens []int) (*tensor.Tensor, error) {
	m := d.m
	if len(tokens) != d.n {
		return nil, fmt.Errorf("marian: %d tokens for %d hypotheses", len(tokens), d.n)
	}
	if err := m.checkIDs("target", tokens, d.n, 1, d.len); err != nil {
		return nil, err
	}
	// The activations of the last step are done with: reuse their memory.
	// The logits are returned, so they are computed off the arena.
	tp := d.arena
	tp.Reset()
	pos, e := d.len, m.Cfg.DModel
	x := m.embed(tp, tokens, nil, d.n, 1, pos) // [N, 1, C]
	for l, layer := range m.Model.Decoder.Layers {
		a := layer.SelfAttn
		x = m.sublayer(tp, layer.SelfAttnLayerNorm, x, func(h *autograd.Var) *autograd.Var {
			q, k, v := a.QProj.Forward(tp, h), a.KProj.Forward(tp, h), a.VProj.Forward(tp, h)
			y := tensor.New(d.n, 1, e)
			for i := range d.n {
				d.k[l][i] = append(d.k[l][i], k.Value.Data[i*e:(i+1)*e]...)
				d.v[l][i] = append(d.v[l][i], v.Value.Data[i*e:(i+1)*e]...)
				qi := autograd.Const(tensor.FromSlice(q.Value.Data[i*e:(i+1)*e], 1, 1, e))
				ki := autograd.Const(tensor.FromSlice(d.k[l][i], 1, pos+1, e))
				vi := autograd.Const(tensor.FromSlice(d.v[l][i], 1, pos+1, e))
				copy(y.Data[i*e:], tp.Attention(qi, ki, vi, a.Heads, autograd.AttentionOpts{}).Value.Data)
			}
			return a.OutProj.Forward(tp, autograd.Const(y))
		})
		c := layer.EncoderAttn
		x = m.sublayer(tp, layer.EncoderAttnLayerNorm, x, func(h *autograd.Var) *autograd.Var {
			q := c.QProj.Forward(tp, h)
			kc, vc := d.crossK[l], d.crossV[l]
			y := tensor.New(d.n, 1, e)
			for i := range d.n {
				src := i / d.per
				qi := autograd.Const(tensor.FromSlice(q.Value.Data[i*e:(i+1)*e], 1, 1, e))
				ki := autograd.Const(tensor.FromSlice(kc.Data[src*d.s*e:(src+1)*d.s*e], 1, d.s, e))
				vi := autograd.Const(tensor.FromSlice(vc.Data[src*d.s*e:(src+1)*d.s*e], 1, d.s, e))
				var pad []bool
				if d.srcPad != nil {
					pad = d.srcPad[src*d.s : (src+1)*d.s]
				}
				copy(y.Data[i*e:], tp.Attention(qi, ki, vi, c.Heads, autograd.AttentionOpts{KeyPad: pad}).Value.Data)
			}
			return c.OutProj.Forward(tp, autograd.Const(y))
		})
		x = m.sublayer(tp, layer.FinalLayerNorm, x, func(h *autograd.Var) *autograd.Var { return m.ffn(tp, layer.FC1, layer.FC2, h) })
	}
	x = endStack(tp, m.Model.Decoder.LayerNorm, x)
	d.len++
	logits := m.head(nil, x).Value.Reshape(d.n, -1)
	v := m.Cfg.VocabSize
	for i := range d.n {
		row := logits.Data[i*v : (i+1)*v]
		for _, t := range d.Banned {
			row[t] = float32(math.Inf(-1))
		}
		if d.len == 1 && d.Forced >= 0 && d.Forced < v {
			f := row[d.Forced]
			for j := range row {
				row[j] = float32(math.Inf(-1))
			}
			row[d.Forced] = f
		}
	}
	return logits, nil
}

// Reorder makes hypothesis i continue hypothesis from[i].
func (d *Decoder) Reorder(from []int) {
	if d.spare == nil {
		d.spare = make([][]float32, d.n)
	}
	for l := range d.k {
		nn.ReorderRows(d.k[l], d.spare, from)
		nn.ReorderRows(d.v[l], d.spare, from)
	}
}

// Greedy translates B sources (srcIDs [B·S], srcPad may be nil) by taking
// the most likely token at each step, starting from decoder_start_token_id,
// until eos_token_id or maxLen tokens (at most max_position_embeddings).
// The results exclude the start and end tokens; banned tokens (see
// Decoder) are never chosen.
func (m *Model) Greedy(srcIDs []int, srcPad []bool, b, s, maxLen int) ([][]int, error) {
	d, err := m.NewDecoder(srcIDs, srcPad, b, s, 1)
	if err != nil {
		return nil, err
	}
	maxLen = min(maxLen, m.Cfg.MaxPositions)
	out := make([][]int, b)
	done := make([]bool, b)
	tokens := make([]int, b)
	for i := range tokens {
		tokens[i] = m.Cfg.DecoderStartTokenID
	}
	v := m.Cfg.VocabSize
	for range maxLen {
		logits, err := d.Step(tokens)
		if err != nil {
			return nil, err
		}
		open := false
		for i := range b {
			tokens[i] = tensor.Argmax(logits.Data[i*v : (i+1)*v])
			if done[i] || tokens[i] == m.Cfg.EOSTokenID {
				done[i] = true
				continue
			}
			out[i] = append(out[i], tokens[i])
			open = true
		}
		if !open {
			break
		}
	}
	return out, nil
}
