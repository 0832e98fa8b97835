package t5

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// TestGradientsMatchFiniteDifferences trains through the whole model: the
// tape's gradients of a cross-entropy loss with respect to sampled entries
// of every parameter (the relative position biases included) must match
// central differences of the loss.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	for _, gated := range []bool{false, true} {
		cfg := tinyConfig
		cfg.Dropout = 0
		if gated {
			cfg.IsGatedAct, cfg.DenseActFn, cfg.TieWordEmbeddings = true, "gelu_new", false
		}
		m, err := New(cfg, 5)
		if err != nil {
			t.Fatal(err)
		}
		r := tensor.NewRNG(6)
		for _, p := range m.Params() {
			if p.Name == "shared.weight" || len(p.Value.Shape) == 1 {
				continue
			}
			r.FillNormal(p.Value, 0, 0.5) // larger than HF's init, so that every path matters
		}
		src, pad := []int{3, 4, 5, 1, 7, 8, 1, 0}, []bool{false, false, false, false, false, false, false, true}
		tgtIn, tgtOut := []int{0, 5, 6, 0, 9, 2}, []int{5, 6, 1, 9, 2, 1}
		loss := func(tp *autograd.Tape) *autograd.Var {
			logits, err := m.Forward(tp, src, pad, tgtIn, 2, 4, 3)
			if err != nil {
				t.Fatal(err)
			}
			return tp.CrossEntropy(logits, tgtOut, -100, 0)
		}
		tp := autograd.NewTape(nil)
		tp.Backward(loss(tp))
		const h = 1e-2
		var errNorm, refNorm float64
		for _, p := range m.Params() {
			step := max(1, len(p.Value.Data)/5)
			for j := 0; j < len(p.Value.Data); j += step {
				orig := p.Value.Data[j]
				p.Value.Data[j] = orig + h
				lp := float64(loss(nil).Item())
				p.Value.Data[j] = orig - h
				lm := float64(loss(nil).Item())
				p.Value.Data[j] = orig
				num := (lp - lm) / (2 * h)
				got := float64(p.Grad.Data[j])
				if math.Abs(got-num) > 2e-3+0.05*math.Abs(num) {
					t.Errorf("gated %v: d loss / d %s[%d] = %.5f; finite difference %.5f", gated, p.Name, j, got, num)
				}
				errNorm += (got - num) * (got - num)
				refNorm += num * num
			}
		}
		t.Logf("gated %v: gradient relative error %.2e", gated, math.Sqrt(errNorm/refNorm))
	}
}

// TestTrainableAfterLoad trains a loaded model: Load gives weights without
// gradient buffers, and every parameter receives one with its first gradient.
func TestTrainableAfterLoad(t *testing.T) {
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", "flan-t5-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	tp := autograd.NewTape(nil)
	logits, err := m.Forward(tp, []int{5, 6, 7, 1}, nil, []int{0, 9, 10}, 1, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	tp.Backward(tp.CrossEntropy(logits, []int{9, 10, 1}, -100, 0))
	for _, p := range m.Params() {
		nonzero := false
		for _, g := range p.Grad.Data {
			nonzero = nonzero || g != 0
		}
		if !nonzero {
			t.Errorf("parameter %s got no gradient", p.Name)
		}
	}
}
