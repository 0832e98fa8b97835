package transformer

import (
	"fmt"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
)

// TestDecoderStepMatchesFullDecode: decoding token by token with the KV
// cache gives the same logits as running the whole decoder on each prefix,
// for two hypotheses per padded source.
func TestDecoderStepMatchesFullDecode(t *testing.T) {
	for _, file := range []string{"seq2seq_postln_relu", "seq2seq_preln_gelu"} {
		f := golden.Open(t, "torch/"+file+".safetensors")
		var tc torchConfig
		f.Config(&tc)
		m, err := New(Config{SrcVocab: tc.SrcVocab, TgtVocab: tc.TgtVocab, DModel: tc.DModel, Heads: tc.Heads,
			EncoderLayers: tc.EncLayers, DecoderLayers: tc.DecLayers, DFF: tc.DFF, Activation: tc.Activation,
			NormFirst: tc.NormFirst, FinalNorm: true, Positions: Sinusoidal, MaxLen: 16, Eps: tc.Eps}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := nn.Load(m.Params(), f.Get("param.")); err != nil {
			t.Fatal(err)
		}
		src := MakeBatch([][]int{{5, 9, 3, 14, 2}, {7, 8}}, 0)
		dec, err := m.NewDecoder(src, 2)
		if err != nil {
			t.Fatal(err)
		}
		// Hypotheses 0,1 follow source 0; 2,3 source 1.
		prefixes := [][]int{{1}, {1}, {1}, {1}}
		next := [][]int{{4, 6, 2, 11}, {5, 5, 5, 5}, {17, 3, 9, 1}, {2, 13, 8, 6}}
		srcOf := MakeBatch([][]int{src.IDs[:5], src.IDs[:5], {7, 8}, {7, 8}}, 0)
		mem, err := m.Encode(nil, srcOf)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for step := 0; step < 4; step++ {
			last := make([]int, 4)
			for i := range last {
				last[i] = prefixes[i][len(prefixes[i])-1]
			}
			got, err := dec.Step(last)
			if err != nil {
				t.Fatal(err)
			}
			full, err := m.Decode(nil, MakeBatch(prefixes, 0), mem, srcOf.Pad)
			if err != nil {
				t.Fatal(err)
			}
			v, tl := tc.TgtVocab, len(prefixes[0])
			for i := range prefixes {
				want := full.Value.Data[(i*tl+tl-1)*v : (i*tl+tl)*v]
				worst = max(worst, golden.CheckAbs(t, "step logits", got.Data[i*v:(i+1)*v], want, 1e-5))
			}
			for i := range prefixes {
				prefixes[i] = append(prefixes[i], next[i][step])
			}
		}
		t.Logf("%s: cached vs full decoding, max abs logit difference %.2e", file, worst)
	}
}

// TestDecoderStepGrowsCache decodes past the KV cache's first capacity (32
// positions) and its doublings, with a beam-style Reorder on the way, and
// checks the cached logits against decoding each whole prefix.
func TestDecoderStepGrowsCache(t *testing.T) {
	m, err := New(Config{SrcVocab: 23, TgtVocab: 19, DModel: 16, Heads: 2, EncoderLayers: 1, DecoderLayers: 2,
		DFF: 32, Activation: "relu", FinalNorm: true, Positions: Sinusoidal, MaxLen: 80, Eps: 1e-5}, 3)
	if err != nil {
		t.Fatal(err)
	}
	src := MakeBatch([][]int{{5, 9, 3, 14, 2}, {7, 8}}, 0)
	dec, err := m.NewDecoder(src, 2)
	if err != nil {
		t.Fatal(err)
	}
	srcOf := MakeBatch([][]int{src.IDs[:5], src.IDs[:5], {7, 8}, {7, 8}}, 0)
	mem, err := m.Encode(nil, srcOf)
	if err != nil {
		t.Fatal(err)
	}
	prefixes := [][]int{{1}, {1}, {1}, {1}}
	worst := 0.0
	for step := 0; step < 75; step++ {
		if step == 40 { // hypotheses 0 and 1 swap, 3 continues 2
			from := []int{1, 0, 2, 2}
			dec.Reorder(from)
			old := prefixes
			prefixes = [][]int{}
			for _, f := range from {
				prefixes = append(prefixes, append([]int(nil), old[f]...))
			}
		}
		last := make([]int, 4)
		for i := range last {
			last[i] = prefixes[i][len(prefixes[i])-1]
		}
		got, err := dec.Step(last)
		if err != nil {
			t.Fatal(err)
		}
		if step%10 == 9 || step == 40 || step == 74 {
			full, err := m.Decode(nil, MakeBatch(prefixes, 0), mem, srcOf.Pad)
			if err != nil {
				t.Fatal(err)
			}
			v, tl := 19, len(prefixes[0])
			for i := range prefixes {
				want := full.Value.Data[(i*tl+tl-1)*v : (i*tl+tl)*v]
				worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("step %d, hypothesis %d", step, i), got.Data[i*v:(i+1)*v], want, 1e-4))
			}
		}
		for i := range prefixes {
			prefixes[i] = append(prefixes[i], 2+(7*step+3*i)%17)
		}
	}
	t.Logf("cached vs full decoding over 75 positions: max abs logit difference %.2e", worst)
}
