package autograd

import (
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestConv1DGradients(t *testing.T) {
	r := tensor.NewRNG(11)
	cases := []gradCase{
		{name: "Conv1D", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 5), randTensor(r, 5, 4), randTensor(r, 4)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Conv1D(in[0], in[1], in[2]) }},
		{name: "Conv1D/nobias", inputs: []*tensor.Tensor{randTensor(r, 3, 5), randTensor(r, 5, 7)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Conv1D(in[0], in[1], nil) }},
		{name: "Split/middle", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 6)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Split(in[0], 3)[1] }},
		{name: "Split/all", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				p := tp.Split(in[0], 3)
				return tp.Add(tp.Mul(p[0], p[1]), p[2])
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c) })
	}
}

// TestConv1DIsTransposedLinear checks Conv1D(x, w, b) = Linear(x, wᵀ, b).
func TestConv1DIsTransposedLinear(t *testing.T) {
	r := tensor.NewRNG(12)
	x, w, b := randTensor(r, 4, 6), randTensor(r, 6, 5), randTensor(r, 5)
	wt := tensor.New(5, 6)
	for i := 0; i < 6; i++ {
		for j := 0; j < 5; j++ {
			wt.Data[j*6+i] = w.Data[i*5+j]
		}
	}
	var tp *Tape
	got := tp.Conv1D(Const(x), Const(w), Const(b)).Value
	want := tp.Linear(Const(x), Const(wt), Const(b)).Value
	if !tensor.EqualShape(got.Shape, []int{4, 5}) {
		t.Fatalf("Conv1D shape = %v; want [4 5]", got.Shape)
	}
	for i := range want.Data {
		if d := got.Data[i] - want.Data[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("Conv1D[%d] = %v; want %v (Linear with wᵀ)", i, got.Data[i], want.Data[i])
		}
	}
}
