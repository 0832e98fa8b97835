package t5

import (
	"fmt"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Decoder decodes N hypotheses over B encoded sources one token at a time,
// with each decoder block's keys and values cached and the encoder output
// projected once; hypothesis i belongs to source i / (N/B). It implements
// generate.StepDecoder, so beam search runs on it with BOS =
// decoder_start_token_id and EOS = eos_token_id. The position bias of each
// step is the row of the new position over all positions so far.
type Decoder struct {
	m              *Model
	n, per, s      int
	srcPad         []bool
	crossK, crossV []*tensor.Tensor // per block: [B, S, H·D]
	k, v           [][][]float32    // per block, per hypothesis: [len, H·D]
	spare          [][]float32      // Reorder's buffers, one per hypothesis
	len            int
	arena          *autograd.Tape // a step's activations, reused by the next
}

// NewDecoder encodes srcIDs [B·S] (srcPad may be nil) and prepares to decode
// perSource hypotheses for each source.
func (m *Model) NewDecoder(srcIDs []int, srcPad []bool, b, s, perSource int) (*Decoder, error) {
	if perSource <= 0 {
		return nil, fmt.Errorf("t5: %d hypotheses per source; want at least 1", perSource)
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
	d := &Decoder{m: m, n: b * perSource, per: perSource, s: s, srcPad: srcPad, arena: autograd.NewInferenceTape()}
	for _, blk := range m.Decoder.Block {
		a := blk.Cross.EncDecAttention
		d.crossK = append(d.crossK, a.K.Forward(tp, mem).Value)
		d.crossV = append(d.crossV, a.V.Forward(tp, mem).Value)
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
		return nil, fmt.Errorf("t5: %d tokens for %d hypotheses", len(tokens), d.n)
	}
	if err := m.checkIDs("target", tokens, d.n, 1); err != nil {
		return nil, err
	}
	// The activations of the last step are done with: reuse their memory.
	// The logits are returned, so they are computed off the arena.
	tp := d.arena
	tp.Reset()
	pos := d.len
	e := m.Cfg.NumHeads * m.Cfg.DKV
	x := m.Shared.Forward(tp, tokens, d.n, 1) // [N, 1, C]
	bias := m.positionBias(tp, m.Decoder.Block[0].Self.SelfAttention.RelativeBias, 1, pos+1, pos, false)
	for l, blk := range m.Decoder.Block {
		a := blk.Self.SelfAttention
		h := blk.Self.LayerNorm.Forward(tp, x)
		q, k, v := a.Q.Forward(tp, h), a.K.Forward(tp, h), a.V.Forward(tp, h)
		y := tensor.New(d.n, 1, e)
		for i := range d.n {
			d.k[l][i] = append(d.k[l][i], k.Value.Data[i*e:(i+1)*e]...)
			d.v[l][i] = append(d.v[l][i], v.Value.Data[i*e:(i+1)*e]...)
			qi := autograd.Const(tensor.FromSlice(q.Value.Data[i*e:(i+1)*e], 1, 1, e))
			ki := autograd.Const(tensor.FromSlice(d.k[l][i], 1, pos+1, e))
			vi := autograd.Const(tensor.FromSlice(d.v[l][i], 1, pos+1, e))
			copy(y.Data[i*e:], attend(tp, qi, ki, vi, bias, a.Heads, nil, false, 0).Value.Data)
		}
		x = tp.Add(x, a.O.Forward(tp, autograd.Const(y)))

		c := blk.Cross.EncDecAttention
		q = c.Q.Forward(tp, blk.Cross.LayerNorm.Forward(tp, x))
		kc, vc := d.crossK[l], d.crossV[l]
		y = tensor.New(d.n, 1, e)
		for i := range d.n {
			src := i / d.per
			qi := autograd.Const(tensor.FromSlice(q.Value.Data[i*e:(i+1)*e], 1, 1, e))
			ki := autograd.Const(tensor.FromSlice(kc.Data[src*d.s*e:(src+1)*d.s*e], 1, d.s, e))
			vi := autograd.Const(tensor.FromSlice(vc.Data[src*d.s*e:(src+1)*d.s*e], 1, d.s, e))
			var pad []bool
			if d.srcPad != nil {
				pad = d.srcPad[src*d.s : (src+1)*d.s]
			}
			copy(y.Data[i*e:], attend(tp, qi, ki, vi, nil, c.Heads, pad, false, 0).Value.Data)
		}
		x = tp.Add(x, c.O.Forward(tp, autograd.Const(y)))
		x = m.ff(tp, blk.FF, x)
	}
	d.len++
	logits := m.head(nil, m.Decoder.FinalLayerNorm.Forward(tp, x))
	return logits.Value.Reshape(d.n, -1), nil
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
// until eos_token_id or maxLen tokens. The results exclude the start and
// end tokens.
func (m *Model) Greedy(srcIDs []int, srcPad []bool, b, s, maxLen int) ([][]int, error) {
	d, err := m.NewDecoder(srcIDs, srcPad, b, s, 1)
	if err != nil {
		return nil, err
	}
	out := make([][]int, b)
	done := make([]bool, b)
	tokens := make([]int, b)
	for i := range tokens {
		tokens[i] = m.Cfg.DecoderStartTokenID
	}
	for range maxLen {
		logits, err := d.Step(tokens)
		if err != nil {
			return nil, err
		}
		open := false
		for i := range b {
			tokens[i] = tensor.Argmax(logits.Data[i*m.Cfg.VocabSize : (i+1)*m.Cfg.VocabSize])
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
