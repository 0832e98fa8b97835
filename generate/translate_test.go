package generate

import (
	"slices"
	"testing"

	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/tensor"
)

// TestBeamOneIsGreedy: beam search with one beam, batched and cached,
// returns exactly the model's plain greedy decoding.
func TestBeamOneIsGreedy(t *testing.T) {
	c := transformer.DefaultConfig()
	c.SrcVocab, c.TgtVocab, c.DModel, c.Heads, c.DFF, c.EncoderLayers, c.DecoderLayers, c.MaxLen = 12, 12, 16, 2, 32, 2, 2, 24
	m, err := transformer.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(8)
	var srcs [][]int
	for i := 0; i < 12; i++ {
		s := make([]int, 1+rng.Intn(7))
		for j := range s {
			s[j] = 3 + rng.Intn(9)
		}
		srcs = append(srcs, s)
	}
	want, err := m.Greedy(srcs, 1, 2, 0, 9)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Translate(m, srcs, 0, 5, BeamOpts{Beam: 1, Alpha: 0.6, MaxLen: 9, BOS: 1, EOS: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range srcs {
		if !slices.Equal(got[i].Tokens, want[i]) {
			t.Errorf("source %d: beam 1 = %v; greedy = %v", i, got[i].Tokens, want[i])
		}
	}
}
