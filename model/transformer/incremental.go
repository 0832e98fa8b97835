package transformer

import (
	"fmt"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// Decoder decodes target sequences one token at a time for N hypotheses over
// B encoded sources, with a KV cache in each decoder layer and the encoder
// output projected once. Hypothesis i belongs to source i / (N/B), so beam
// search over B sentences with k beams runs N = B·k hypotheses together.
type Decoder struct {
	m      *Model
	layers []*nn.DecoderState
	srcPad []bool
	n, per int
	arena  *autograd.Tape // a step's activations, reused by the next
}

// NewDecoder encodes src and prepares to decode perSource hypotheses for
// each of its sentences.
func (m *Model) NewDecoder(src Batch, perSource int) (*Decoder, error) {
	if perSource <= 0 {
		return nil, fmt.Errorf("transformer: %d hypotheses per source; want at least 1", perSource)
	}
	// The encoder's activations are done with once the cross-attention
	// keys and values are projected (into memory of their own).
	tp := autograd.BorrowInferenceTape()
	defer autograd.ReturnInferenceTape(tp)
	mem, err := m.Encode(tp, src)
	if err != nil {
		return nil, err
	}
	d := &Decoder{m: m, srcPad: src.Pad, n: src.B * perSource, per: perSource, arena: autograd.NewInferenceTape()}
	for _, l := range m.Decoder.Layers {
		k, v := l.CrossAttn.CrossKV(mem)
		d.layers = append(d.layers, &nn.DecoderState{Self: nn.NewKVCache(d.n, m.Cfg.MaxLen, m.Cfg.DModel), CrossK: k, CrossV: v})
	}
	return d, nil
}

// Len returns the number of positions decoded so far.
func (d *Decoder) Len() int { return d.layers[0].Self.Len }

// Vocab returns the target vocabulary size.
func (d *Decoder) Vocab() int { return d.m.Cfg.TgtVocab }

// Step feeds the next token of each of the N hypotheses and returns the
// logits for the token after it, [N, V].
func (d *Decoder) Step(tokens []int) (*tensor.Tensor, error) {
	if len(tokens) != d.n {
		return nil, fmt.Errorf("transformer: %d tokens for %d hypotheses", len(tokens), d.n)
	}
	pos := d.Len()
	if pos >= d.m.Cfg.MaxLen {
		return nil, fmt.Errorf("transformer: decoding past max_len %d", d.m.Cfg.MaxLen)
	}
	// The activations of the last step are done with: reuse their memory.
	// The logits are returned, so they are computed off the arena.
	tp := d.arena
	tp.Reset()
	b := Batch{IDs: tokens, B: d.n, T: 1}
	if err := b.Validate(d.m.Cfg.TgtVocab, d.m.Cfg.MaxLen); err != nil {
		return nil, err
	}
	x := d.m.embed(tp, d.m.TgtEmbed, b, pos)
	src := func(i int) int { return i / d.per }
	for i, l := range d.m.Decoder.Layers {
		x = l.Step(tp, x, d.layers[i], d.srcPad, src)
	}
	if d.m.Decoder.Norm != nil {
		x = d.m.Decoder.Norm.Forward(tp, x)
	}
	return d.m.Generator.Forward(nil, x).Value.Reshape(d.n, -1), nil
}

// Reorder makes hypothesis i continue hypothesis from[i] (both within the
// same source's group).
func (d *Decoder) Reorder(from []int) {
	for _, l := range d.layers {
		l.Self.Reorder(from)
	}
}
