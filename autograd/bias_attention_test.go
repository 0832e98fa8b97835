package autograd

import (
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

func TestBiasAttentionGradients(t *testing.T) {
	r := tensor.NewRNG(21)
	pad := []bool{false, false, false, true, true, false, false, false, false, false, true, false}
	for _, c := range []gradCase{
		{name: "self+pad", inputs: []*tensor.Tensor{randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.BiasAttention(in[0], in[1], in[2], in[3], 2, AttentionOpts{KeyPad: pad, Scale: 1})
			}},
		{name: "causal+pad", inputs: []*tensor.Tensor{randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 3, 6, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.BiasAttention(in[0], in[1], in[2], in[3], 3, AttentionOpts{Causal: true, KeyPad: pad})
			}},
		{name: "cross/nobias", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.BiasAttention(in[0], in[1], in[2], nil, 3, AttentionOpts{KeyPad: pad, Scale: 0.3})
			}},
		{name: "RelativeBias", inputs: []*tensor.Tensor{randTensor(r, 5, 2), randTensor(r, 1, 3, 4), randTensor(r, 1, 4, 4), randTensor(r, 1, 4, 4)},
			build: func(tp *Tape, in []*Var) *Var {
				bias := tp.RelativeBias(in[0], []int{0, 1, 2, 4, 3, 0, 1, 2, 4, 3, 0, 1}, 3, 4)
				return tp.BiasAttention(in[1], in[2], in[3], bias, 2, AttentionOpts{Scale: 1, Causal: true})
			}},
		{name: "dropout", seed: 5, inputs: []*tensor.Tensor{randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 3, 6, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.BiasAttention(in[0], in[1], in[2], in[3], 3, AttentionOpts{Causal: true, KeyPad: pad, Scale: 1, Dropout: 0.3})
			}},
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c) })
	}
}

// TestBiasAttentionDropoutMatchesAttention: in training, BiasAttention
// without a bias drops the weights Attention drops from the same RNG state,
// so it gives Attention's outputs and gradients; and it drops some.
func TestBiasAttentionDropoutMatchesAttention(t *testing.T) {
	r := tensor.NewRNG(8)
	q, k, v := randTensor(r, 2, 5, 8), randTensor(r, 2, 7, 8), randTensor(r, 2, 7, 8)
	dy := randTensor(r, 2, 5, 8)
	pad := make([]bool, 14)
	pad[6], pad[12] = true, true
	run := func(bias bool, opt AttentionOpts) (y []float32, grads [][]float32) {
		tp := NewTape(tensor.NewRNG(3))
		in := []*Var{NewParam(q.Clone()), NewParam(k.Clone()), NewParam(v.Clone())}
		var out *Var
		if bias {
			out = tp.BiasAttention(in[0], in[1], in[2], nil, 2, opt)
		} else {
			out = tp.Attention(in[0], in[1], in[2], 2, opt)
		}
		tp.Backward(tp.Sum(tp.Mul(out, Const(dy))))
		for _, x := range in {
			grads = append(grads, x.Grad.Data)
		}
		return out.Value.Data, grads
	}
	for _, opt := range []AttentionOpts{{Dropout: 0.4}, {Causal: true, KeyPad: pad, Scale: 0.5, Dropout: 0.2}} {
		want, wantGrads := run(false, opt)
		got, grads := run(true, opt)
		golden.CheckAbs(t, "output", got, want, 1e-5)
		for i, name := range []string{"dq", "dk", "dv"} {
			golden.CheckAbs(t, name, grads[i], wantGrads[i], 1e-5)
		}
		undropped, _ := run(true, AttentionOpts{Causal: opt.Causal, KeyPad: opt.KeyPad, Scale: opt.Scale})
		if d, _ := golden.MaxAbs(got, undropped); d < 1e-3 {
			t.Errorf("dropout %v changed nothing", opt.Dropout)
		}
	}
}

// TestBiasAttentionMatchesAttention: without a bias, BiasAttention is
// Attention.
func TestBiasAttentionMatchesAttention(t *testing.T) {
	r := tensor.NewRNG(8)
	q, k, v := randTensor(r, 2, 5, 8), randTensor(r, 2, 7, 8), randTensor(r, 2, 7, 8)
	pad := make([]bool, 14)
	pad[6], pad[12], pad[13] = true, true, true
	var tp *Tape
	for _, opt := range []AttentionOpts{{KeyPad: pad}, {Causal: true, Scale: 1}, {Causal: true, KeyPad: pad, Scale: 0.5}} {
		want := tp.Attention(Const(q), Const(k), Const(v), 2, opt).Value.Data
		got := tp.BiasAttention(Const(q), Const(k), Const(v), nil, 2, opt).Value.Data
		golden.CheckAbs(t, "BiasAttention without bias", got, want, 1e-5)
	}
}
