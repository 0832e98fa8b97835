package marian_test

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/marian"
	"github.com/attn-go/attn/tensor"
)

// naive is a generate.StepDecoder without a cache: each step runs Forward
// on every hypothesis's whole prefix, and Reorder copies prefixes. It bans
// the bad words (single tokens) as Decoder does.
type naive struct {
	m        *marian.Model
	src      []int
	pad      []bool
	s, per   int
	prefixes [][]int
}

func (d *naive) Step(tokens []int) (*tensor.Tensor, error) {
	n := len(tokens)
	if d.prefixes == nil {
		d.prefixes = make([][]int, n)
	}
	for i, tok := range tokens {
		d.prefixes[i] = append(d.prefixes[i], tok)
	}
	t := len(d.prefixes[0])
	var src []int
	var pad []bool
	for i := range n {
		b := i / d.per
		src = append(src, d.src[b*d.s:(b+1)*d.s]...)
		pad = append(pad, d.pad[b*d.s:(b+1)*d.s]...)
	}
	logits, err := d.m.Forward(nil, src, pad, slices.Concat(d.prefixes...), n, d.s, t)
	if err != nil {
		return nil, err
	}
	v := d.m.Cfg.VocabSize
	out := tensor.New(n, v)
	for i := range n {
		copy(out.Data[i*v:], logits.Value.Data[(i*t+t-1)*v:(i*t+t)*v])
		for _, w := range d.m.Cfg.BadWordsIDs {
			out.Data[i*v+w[0]] = float32(math.Inf(-1))
		}
	}
	return out, nil
}

func (d *naive) Reorder(from []int) {
	next := make([][]int, len(from))
	for i, f := range from {
		next[i] = slices.Clone(d.prefixes[f])
	}
	d.prefixes = next
}

// TestBeamSearch runs generate.Beam on the cached Decoder and on a decoder
// that recomputes every prefix: the hypotheses must agree, which checks
// Reorder. Beam 1 must reproduce Greedy.
func TestBeamSearch(t *testing.T) {
	m, err := marian.Load(filepath.Join(golden.Root(t), "testdata", "hf", "marian-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	f := golden.Open(t, filepath.Join("hf", "marian-tiny", "golden.safetensors"))
	src, pad := f.Ints("input.src"), f.Bools("input.src_pad")
	b, s := 2, len(src)/2
	o := generate.BeamOpts{Beam: 4, Alpha: 0.6, MaxLen: 7, BOS: m.Cfg.DecoderStartTokenID, EOS: m.Cfg.EOSTokenID}
	d, err := m.NewDecoder(src, pad, b, s, o.Beam)
	if err != nil {
		t.Fatal(err)
	}
	got, err := generate.Beam(d, b, o)
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate.Beam(&naive{m: m, src: src, pad: pad, s: s, per: o.Beam}, b, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		if !slices.Equal(got[i].Tokens, want[i].Tokens) || math.Abs(got[i].Score-want[i].Score) > 1e-4 {
			t.Errorf("beam search, source %d = %v (score %.5f); without a cache %v (%.5f)", i, got[i].Tokens, got[i].Score, want[i].Tokens, want[i].Score)
		}
	}
	t.Logf("beam 4 → %v, %v", got[0].Tokens, got[1].Tokens)

	o.Beam = 1
	d1, err := m.NewDecoder(src, pad, b, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	g1, err := generate.Beam(d1, b, o)
	if err != nil {
		t.Fatal(err)
	}
	greedy, err := m.Greedy(src, pad, b, s, o.MaxLen)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		if !slices.Equal(g1[i].Tokens, greedy[i]) {
			t.Errorf("beam 1, source %d = %v; Greedy = %v", i, g1[i].Tokens, greedy[i])
		}
	}
}
