package t5

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// TestQuantizeQ8: each tiny T5 (tied, and flan-T5's untied gated-GELU)
// quantized to 8 bits computes exactly as its float32 twin with the
// dequantized weights: the cached decoder's logits at every step and
// greedy decoding; the relative position biases stay float32; Save writes
// the dequantized weights.
func TestQuantizeQ8(t *testing.T) {
	for _, name := range []string{"t5-tiny", "flan-t5-tiny"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(golden.Root(t), "testdata", "hf", name)
			q, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := Load(dir)
			if n := q.QuantizeQ8(); n < 10 {
				t.Fatalf("%d matrices quantized", n)
			}
			if q.Shared.Weight.Value.Data != nil || q.Encoder.Block[0].Self.SelfAttention.RelativeBias.Weight.Value.Data == nil {
				t.Error("the shared embeddings kept in float32, or the relative biases quantized")
			}
			for _, p := range ref.Params() {
				cols := p.Value.Shape[len(p.Value.Shape)-1]
				if len(p.Value.Shape) == 2 && cols%tensor.Q8Block == 0 && !slices.Contains([]int{ref.Cfg.NumBuckets}, p.Value.Shape[0]) {
					qs, s := tensor.QuantizeQ8(p.Value.Data, cols)
					tensor.DequantizeQ8(p.Value.Data, qs, s)
				}
			}
			src := []int{5, 9, 13, 21, 1, 8, 3, 40, 2, 1}
			b, s := 2, 5
			dq, err := q.NewDecoder(src, nil, b, s, 1)
			if err != nil {
				t.Fatal(err)
			}
			dr, _ := ref.NewDecoder(src, nil, b, s, 1)
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
				v := q.Cfg.VocabSize
				ids = []int{tensor.Argmax(lq.Data[:v]), tensor.Argmax(lq.Data[v:])}
			}
			nn.Dequantize(q)
			for i, p := range q.Params() {
				if !slices.Equal(p.Value.Data, ref.Params()[i].Value.Data) {
					t.Errorf("dequantized, %s differs", p.Name)
				}
			}
		})
	}
}
