package transformer

import (
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

func smallConfig() Config {
	c := DefaultConfig()
	c.SrcVocab, c.TgtVocab, c.DModel, c.Heads, c.DFF, c.EncoderLayers, c.DecoderLayers, c.MaxLen = 13, 13, 16, 2, 32, 1, 1, 20
	return c
}

// TestLearnedPositions: a learned table gets gradients exactly in the rows
// of the positions used.
func TestLearnedPositions(t *testing.T) {
	c := smallConfig()
	c.Positions = Learned
	m, err := New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	if m.PosEmbed == nil || m.pe != nil {
		t.Fatal("learned positions: no pos_embed table")
	}
	found := false
	for _, p := range m.Params() {
		found = found || p.Name == "pos_embed.weight"
	}
	if !found {
		t.Error(`Params lacks "pos_embed.weight"`)
	}
	tp := autograd.NewTape(nil)
	src := MakeBatch([][]int{{3, 4, 5, 6}, {7, 8}}, 0)
	tgt := MakeBatch([][]int{{1, 9, 10}}, 0)
	tgt.IDs, tgt.Pad, tgt.B = append(tgt.IDs, 1, 11, 12), append(tgt.Pad, false, false, false), 2
	logits, err := m.Forward(tp, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	tp.Backward(tp.CrossEntropy(logits, []int{9, 10, 2, 11, 12, 2}, 0, 0.1))
	g, d := m.PosEmbed.Weight.Grad.Data, c.DModel
	for pos := 0; pos < c.MaxLen; pos++ {
		var norm float32
		for _, v := range g[pos*d : (pos+1)*d] {
			norm += v * v
		}
		if used := pos < 4; used != (norm > 0) {
			t.Errorf("position %d: gradient norm² %v; used by the batch: %v", pos, norm, used)
		}
	}
}

// TestDropoutIsSeeded: the same tape seed gives the same training forward
// pass; another seed a different one; no RNG means no dropout.
func TestDropoutIsSeeded(t *testing.T) {
	c := smallConfig()
	c.Dropout = 0.3
	m, err := New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	src := MakeBatch([][]int{{3, 4, 5, 6}}, 0)
	tgt := MakeBatch([][]int{{1, 9, 10}}, 0)
	run := func(rng *tensor.RNG) []float32 {
		y, err := m.Forward(autograd.NewTape(rng), src, tgt)
		if err != nil {
			t.Fatal(err)
		}
		return y.Value.Data
	}
	a, b, other := run(tensor.NewRNG(1)), run(tensor.NewRNG(1)), run(tensor.NewRNG(2))
	evalA, evalB := run(nil), run(nil)
	same := func(x, y []float32) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) || same(a, other) || !same(evalA, evalB) || same(a, evalA) {
		t.Error("dropout: want equal outputs for equal seeds and without an RNG, different ones otherwise")
	}
}

func TestBadInputsAreErrors(t *testing.T) {
	m, err := New(smallConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src, tgt Batch
		want     string
	}{
		{MakeBatch([][]int{{3, 99}}, 0), MakeBatch([][]int{{1}}, 0), "token id 99 at position 1 is outside the vocabulary"},
		{Batch{IDs: []int{1, 2, 3}, B: 2, T: 2}, MakeBatch([][]int{{1}}, 0), "is not B=2 × T=2"},
		{MakeBatch([][]int{make([]int, 25)}, 0), MakeBatch([][]int{{1}}, 0), "exceeds max_len 20"},
		{MakeBatch([][]int{{3}}, 0), MakeBatch([][]int{{1}, {2}}, 0), "memory holds 1 sequences, target 2"},
	} {
		_, err := m.Forward(nil, c.src, c.tgt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward: err = %v; want one containing %q", err, c.want)
		}
	}
	bad := smallConfig()
	bad.Heads = 3
	if _, err := New(bad, 1); err == nil || !strings.Contains(err.Error(), "multiple of heads") {
		t.Errorf("New with d_model 16, 3 heads: err = %v", err)
	}
}
