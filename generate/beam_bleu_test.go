package generate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/eval"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/train"
)

// TestBeamBLEUAtLeastGreedy trains a tiny encoder-decoder on a few hundred
// synthetic pairs (reverse a sequence of 3 to 9 symbols), stopped early so
// that it still errs, and decodes held-out sources: beam search (4, α 0.6)
// must score at least greedy decoding's BLEU, and beam 1 must equal greedy.
func TestBeamBLEUAtLeastGreedy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	rng := tensor.NewRNG(11)
	sample := func() ([]int, []int) {
		n := 3 + rng.Intn(7)
		src := make([]int, n)
		for i := range src {
			src[i] = data.First + rng.Intn(12)
		}
		tgt := make([]int, n)
		for i := range tgt {
			tgt[i] = src[n-1-i]
		}
		return src, tgt
	}
	var trainSrc, trainTgt, testSrc, testTgt [][]int
	for i := 0; i < 400; i++ {
		s, g := sample()
		if i < 300 {
			trainSrc, trainTgt = append(trainSrc, s), append(trainTgt, g)
		} else {
			testSrc, testTgt = append(testSrc, s), append(testTgt, g)
		}
	}
	c := transformer.DefaultConfig()
	c.SrcVocab, c.TgtVocab, c.DModel, c.Heads, c.DFF, c.EncoderLayers, c.DecoderLayers, c.MaxLen, c.Dropout = data.First+12, data.First+12, 32, 4, 64, 2, 2, 32, 0
	m, err := transformer.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	loop := &train.Loop{Params: nn.Unique(m.Params()), Opt: train.NewAdam(), Schedule: train.WarmupCosine{Peak: 3e-3, Min: 3e-4, Warmup: 30, Total: 250}, Steps: 250, ClipNorm: 1}
	batchRNG := tensor.NewRNG(5)
	err = loop.Run(context.Background(), func(tp *autograd.Tape, _, _ int) (*autograd.Var, int, error) {
		var srcs, tgts [][]int
		for range 32 {
			i := batchRNG.Intn(len(trainSrc))
			srcs, tgts = append(srcs, trainSrc[i]), append(tgts, trainTgt[i])
		}
		in, out := transformer.TeacherForcing(tgts, data.BOS, data.EOS, data.Pad)
		logits, err := m.Forward(tp, transformer.MakeBatch(srcs, data.Pad), in)
		if err != nil {
			return nil, 0, err
		}
		return tp.CrossEntropy(logits, out, data.Pad, 0.1), len(out), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	text := func(seqs [][]int) []string {
		out := make([]string, len(seqs))
		for i, s := range seqs {
			words := make([]string, len(s))
			for j, id := range s {
				words[j] = fmt.Sprint(id)
			}
			out[i] = strings.Join(words, " ")
		}
		return out
	}
	refs := [][]string{text(testTgt)}
	score := func(beam int) (float64, [][]int) {
		hs, err := Translate(m, testSrc, data.Pad, 16, BeamOpts{Beam: beam, Alpha: 0.6, MaxLen: 15, BOS: data.BOS, EOS: data.EOS})
		if err != nil {
			t.Fatal(err)
		}
		toks := make([][]int, len(hs))
		for i, h := range hs {
			toks[i] = h.Tokens
		}
		s, err := eval.BLEU(text(toks), refs)
		if err != nil {
			t.Fatal(err)
		}
		return s.BLEU, toks
	}
	greedy, err := m.Greedy(testSrc, data.BOS, data.EOS, data.Pad, 15)
	if err != nil {
		t.Fatal(err)
	}
	greedyBLEU, err := eval.BLEU(text(greedy), refs)
	if err != nil {
		t.Fatal(err)
	}
	beam1, beam1Toks := score(1)
	beam4, _ := score(4)
	t.Logf("held-out BLEU: greedy %.2f, beam 1 %.2f, beam 4 %.2f", greedyBLEU.BLEU, beam1, beam4)
	for i := range greedy {
		if fmt.Sprint(greedy[i]) != fmt.Sprint(beam1Toks[i]) {
			t.Fatalf("source %d: beam 1 %v; greedy %v", i, beam1Toks[i], greedy[i])
		}
	}
	if greedyBLEU.BLEU >= 99 {
		t.Fatalf("greedy BLEU %.2f: the model is too good for the comparison to mean anything", greedyBLEU.BLEU)
	}
	if beam4 < greedyBLEU.BLEU {
		t.Errorf("beam 4 BLEU %.2f below greedy's %.2f", beam4, greedyBLEU.BLEU)
	}
}
