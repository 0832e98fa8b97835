package generate

import (
	"math"
	"slices"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
)

// TestBeamMatchesPyTorchReference decodes 20 sentences with beam 4 and
// length penalty 0.6, batched with a KV cache, and requires the tokens that
// tools/golden/torch_beam.py's plain PyTorch beam search chose from the same
// weights.
func TestBeamMatchesPyTorchReference(t *testing.T) {
	w := golden.Open(t, "torch/seq2seq_postln_relu.safetensors")
	m, err := transformer.New(transformer.Config{SrcVocab: 23, TgtVocab: 19, DModel: 48, Heads: 3, EncoderLayers: 2, DecoderLayers: 2,
		DFF: 80, Activation: nn.ReLU, FinalNorm: true, Positions: transformer.Sinusoidal, MaxLen: 64, Eps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Load(m.Params(), w.Get("param.")); err != nil {
		t.Fatal(err)
	}
	f := golden.Open(t, "torch/beam_search.safetensors")
	src, lens := f.Ints("input.src"), f.Ints("input.src_len")
	want, wantScore := f.Ints("output.tokens"), f.Tensor("output.score").Data
	s := len(src) / len(lens)
	var srcs [][]int
	for i, n := range lens {
		srcs = append(srcs, src[i*s:i*s+n])
	}
	got, err := Translate(m, srcs, 0, 8, BeamOpts{Beam: 4, Alpha: 0.6, MaxLen: 10, BOS: 1, EOS: 2})
	if err != nil {
		t.Fatal(err)
	}
	greedy, err := Translate(m, srcs, 0, 8, BeamOpts{Beam: 1, MaxLen: 10, BOS: 1, EOS: 2})
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i := range srcs {
		if !slices.Equal(greedy[i].Tokens, got[i].Tokens) {
			differ++
		}
	}
	t.Logf("beam 4 differs from greedy on %d of %d sentences", differ, len(srcs))
	maxLen := len(want) / len(lens)
	for i := range srcs {
		var w []int
		for _, id := range want[i*maxLen : (i+1)*maxLen] {
			if id >= 0 {
				w = append(w, id)
			}
		}
		if !slices.Equal(got[i].Tokens, w) {
			t.Errorf("sentence %d %v: beam = %v; PyTorch reference = %v", i, srcs[i], got[i].Tokens, w)
		}
		if d := math.Abs(got[i].Score - float64(wantScore[i])); d > 1e-4 {
			t.Errorf("sentence %d: score %v; reference %v", i, got[i].Score, wantScore[i])
		}
	}
}
