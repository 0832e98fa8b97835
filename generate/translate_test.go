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

// TestTranslateBatchAsAlone: without a MaxLen each source is bounded by its
// own length + 50, so a source translated in a batch of longer ones gets
// the translation it gets alone, even where a random model runs to the
// bound; a wrong number of MaxLens is refused.
func TestTranslateBatchAsAlone(t *testing.T) {
	c := transformer.DefaultConfig()
	c.SrcVocab, c.TgtVocab, c.DModel, c.Heads, c.DFF, c.EncoderLayers, c.DecoderLayers, c.MaxLen = 12, 12, 16, 2, 32, 2, 2, 128
	m, err := transformer.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	srcs := [][]int{{3, 4}, {5, 6, 7, 8, 9, 10, 11, 3, 4, 5, 6, 7, 8, 9, 10, 11, 3, 4, 5, 6}, {7}}
	together, err := Translate(m, srcs, 0, 3, BeamOpts{Beam: 2, Alpha: 0.6, BOS: 1, EOS: 2})
	if err != nil {
		t.Fatal(err)
	}
	long := 0
	for i, s := range srcs {
		alone, err := Translate(m, [][]int{s}, 0, 1, BeamOpts{Beam: 2, Alpha: 0.6, BOS: 1, EOS: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(together[i].Tokens, alone[0].Tokens) {
			t.Errorf("source %d: %v in the batch; %v alone", i, together[i].Tokens, alone[0].Tokens)
		}
		if len(alone[0].Tokens) >= len(s)+49 {
			long++
		}
	}
	if long == 0 {
		t.Errorf("no translation ran to its bound: the test checks nothing the bound decides")
	}
	if _, err := Beam(nil, 2, BeamOpts{Beam: 1, MaxLens: []int{5}}); err == nil {
		t.Error("one max length for two sources: no error")
	}
}

// TestTranslateMaxLens: a caller's MaxLens bound each source, whatever
// batch it falls in (the sources cut into batches of 2), within the
// model's max_len − 1; a wrong number of them is refused.
func TestTranslateMaxLens(t *testing.T) {
	c := transformer.DefaultConfig()
	c.SrcVocab, c.TgtVocab, c.DModel, c.Heads, c.DFF, c.EncoderLayers, c.DecoderLayers, c.MaxLen = 12, 12, 16, 2, 32, 2, 2, 20
	m, err := transformer.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	srcs := [][]int{{3, 4}, {5, 6, 7}, {7}}
	lens := []int{3, 40, 6}
	hs, err := Translate(m, srcs, 0, 2, BeamOpts{Beam: 2, Alpha: 0.6, BOS: 1, EOS: 2, MaxLens: lens})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		if bound := min(lens[i], c.MaxLen-1); len(h.Tokens) > bound {
			t.Errorf("source %d: %d tokens; its bound is %d", i, len(h.Tokens), bound)
		}
	}
	if _, err := Translate(m, srcs, 0, 2, BeamOpts{Beam: 2, BOS: 1, EOS: 2, MaxLens: lens[:2]}); err == nil {
		t.Error("two max lengths for three sources: no error")
	}
}
