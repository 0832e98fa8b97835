package transformer

import (
	"testing"

	"github.com/attn-go/attn/tensor"
)

// translationBatch returns a model of the base shape (random weights, a
// vocabulary of 8,000) and 32 random sources of 20 tokens.
func translationBatch(b *testing.B) (*Model, Batch) {
	cfg := DefaultConfig()
	cfg.SrcVocab, cfg.TgtVocab = 8000, 8000
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := tensor.NewRNG(2)
	src := Batch{IDs: make([]int, 32*20), B: 32, T: 20}
	for i := range src.IDs {
		src.IDs[i] = 1 + r.Intn(cfg.SrcVocab-1)
	}
	return m, src
}

// BenchmarkNewDecoder times what translating a batch starts with: encoding
// 32 sources of 20 tokens with the base model's shape and projecting the
// encoder output for every decoder layer's cross-attention.
func BenchmarkNewDecoder(b *testing.B) {
	m, src := translationBatch(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.NewDecoder(src, 4); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecoderStep times one step of beam search's decoder: 32 sources
// of 20 tokens, 4 hypotheses each, 10 positions decoded, the base shape.
func BenchmarkDecoderStep(b *testing.B) {
	m, src := translationBatch(b)
	d, err := m.NewDecoder(src, 4)
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]int, 128)
	for i := range tokens {
		tokens[i] = 1 + i%100
	}
	for range 10 {
		if _, err := d.Step(tokens); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Step(tokens); err != nil {
			b.Fatal(err)
		}
		for _, l := range d.layers {
			l.Self.Len--
		}
	}
}
