package marian

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// TestQuantizeQ8: the tiny Marian quantized to 8 bits computes exactly as
// its float32 twin with the dequantized weights: the cached decoder's
// logits at every step and the beam search's hypotheses; every matrix is
// quantized (its float32 values dropped); Save writes the dequantized
// weights.
func TestQuantizeQ8(t *testing.T) {
	dir := filepath.Join(golden.Root(t), "testdata", "hf", "marian-tiny")
	q, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := q.QuantizeQ8()
	// 2 layers × (4 + 2) projections in the encoder, 2 × (8 + 2) in the decoder, the shared embeddings
	if want := 2*6 + 2*10 + 1; n != want {
		t.Errorf("%d matrices quantized; want %d", n, want)
	}
	if q.Model.Shared.Weight.Value.Data != nil || q.Model.Decoder.Layers[0].FC1.Weight.Value.Data != nil {
		t.Error("float32 values kept beside the 8-bit ones")
	}
	for _, p := range ref.Params() {
		if cols := p.Value.Shape[len(p.Value.Shape)-1]; len(p.Value.Shape) == 2 && cols%tensor.Q8Block == 0 && p.Name != "final_logits_bias" {
			qs, s := tensor.QuantizeQ8(p.Value.Data, cols)
			tensor.DequantizeQ8(p.Value.Data, qs, s)
		}
	}
	f := golden.Open(t, filepath.Join("hf", "marian-tiny", "golden.safetensors"))
	src, pad := f.Ints("input.src"), f.Bools("input.src_pad")
	b, s := 2, len(src)/2
	dq, err := q.NewDecoder(src, pad, b, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := ref.NewDecoder(src, pad, b, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{q.Cfg.DecoderStartTokenID, q.Cfg.DecoderStartTokenID}
	for step := range 5 {
		lq, err := dq.Step(ids)
		if err != nil {
			t.Fatal(err)
		}
		lr, _ := dr.Step(ids)
		if !slices.Equal(lq.Data, lr.Data) {
			t.Fatalf("step %d: the 8-bit model's logits differ from the dequantized float32 model's", step)
		}
		ids = []int{tensor.Argmax(lq.Data[:q.Cfg.VocabSize]), tensor.Argmax(lq.Data[q.Cfg.VocabSize:])}
	}
	o := generate.BeamOpts{Beam: 4, Alpha: 0.6, MaxLen: 7, BOS: q.Cfg.DecoderStartTokenID, EOS: q.Cfg.EOSTokenID}
	beams := func(m *Model) []generate.Hypothesis {
		d, err := m.NewDecoder(src, pad, b, s, o.Beam)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := generate.Beam(d, b, o)
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	if got, want := beams(q), beams(ref); !slices.EqualFunc(got, want, func(x, y generate.Hypothesis) bool { return slices.Equal(x.Tokens, y.Tokens) && x.Score == y.Score }) {
		t.Errorf("beam search: %v; want the dequantized model's %v", got, want)
	}
	nn.Dequantize(q)
	for i, p := range q.Params() {
		if !slices.Equal(p.Value.Data, ref.Params()[i].Value.Data) {
			t.Errorf("dequantized, %s differs", p.Name)
		}
	}
}

// TestQuantizedTrainRefused: training the quantized model is refused with
// a panic that says how to train it (nn.Dequantize; "widen" is a Llama's
// word), not a nil-pointer one.
func TestQuantizedTrainRefused(t *testing.T) {
	cfg := tinyConfig
	cfg.DModel, cfg.EncoderFFN, cfg.DecoderFFN = 32, 64, 64
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.QuantizeQ8()
	defer func() {
		if r := fmt.Sprint(recover()); !strings.Contains(r, "nn.Dequantize") {
			t.Errorf("training the quantized model: panic %q; want one naming nn.Dequantize", r)
		}
	}()
	m.Forward(autograd.NewTape(nil), []int{1, 2, 3, 0}, nil, []int{10, 4, 5, 6}, 1, 4, 4)
}
