package marian

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// TestGradientsMatchFiniteDifferences trains through the whole model: the
// tape's gradients of a cross-entropy loss with respect to sampled entries
// of every parameter must match central differences of the loss.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	m, err := New(tinyConfig, 5)
	if err != nil {
		t.Fatal(err)
	}
	r := tensor.NewRNG(6)
	for _, p := range m.Params() {
		if len(p.Value.Shape) == 1 {
			r.FillNormal(p.Value, 0, 0.1)
			if strings.HasSuffix(p.Name, "layer_norm.weight") {
				for i := range p.Value.Data {
					p.Value.Data[i]++
				}
			}
		} else {
			r.FillNormal(p.Value, 0, 0.4)
		}
	}
	src, pad := []int{3, 4, 5, 0, 7, 8, 0, 10}, []bool{false, false, false, false, false, false, false, true}
	tgtIn, tgtOut := []int{10, 5, 6, 10, 9, 2}, []int{5, 6, 0, 9, 2, 0}
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
				t.Errorf("d loss / d %s[%d] = %.5f; finite difference %.5f", p.Name, j, got, num)
			}
			errNorm += (got - num) * (got - num)
			refNorm += num * num
		}
	}
	t.Logf("gradient relative error %.2e", math.Sqrt(errNorm/refNorm))
}

func TestInputErrors(t *testing.T) {
	m, err := New(tinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		src, tgt []int
		s        int
		want     string
	}{
		{"shape", []int{1, 2, 3}, []int{10, 10}, 2, "3 source ids are not B=2 × T=2"},
		{"range", []int{1, 2, 11, 4}, []int{10, 10}, 2, "source id 11 at index 2 is outside the vocabulary [0, 11)"},
		{"length", make([]int, 34), []int{10, 10}, 17, "source of 17 positions exceeds max_position_embeddings 16"},
	} {
		if _, err := m.Forward(nil, c.src, nil, c.tgt, 2, c.s, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward(%s) = %v; want an error containing %q", c.name, err, c.want)
		}
	}
	d, err := m.NewDecoder([]int{1, 2}, nil, 1, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 16 {
		if _, err := d.Step([]int{10}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Step([]int{10}); err == nil || !strings.Contains(err.Error(), "target of 17 positions exceeds max_position_embeddings 16") {
		t.Errorf("Step past max_position_embeddings = %v", err)
	}
}

// TestTrainableAfterLoad trains a loaded model: Load gives weights without
// gradient buffers, and every parameter receives one with its first gradient.
func TestTrainableAfterLoad(t *testing.T) {
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", "marian-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	tp := autograd.NewTape(nil)
	logits, err := m.Forward(tp, []int{5, 6, 7, 0}, nil, []int{63, 9, 10}, 1, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	tp.Backward(tp.CrossEntropy(logits, []int{9, 10, 0}, -100, 0))
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
