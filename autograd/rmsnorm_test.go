package autograd

import (
	"math"
	"slices"
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestRMSNormSiLUTanhGradients(t *testing.T) {
	r := tensor.NewRNG(11)
	for _, c := range []gradCase{
		{name: "RMSNorm", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 6), randTensor(r, 6)},
			build: func(tp *Tape, in []*Var) *Var { return tp.RMSNorm(in[0], in[1], 1e-6) }},
		{name: "SiLU", inputs: []*tensor.Tensor{randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.SiLU(in[0]) }},
		{name: "Tanh", inputs: []*tensor.Tensor{randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Tanh(in[0]) }},
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c) })
	}
}

func TestRMSNormValues(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{3, -4, 0, 0}, 1, 4))
	w := Const(tensor.FromSlice([]float32{1, 2, 1, 1}, 4))
	var tp *Tape
	y := tp.RMSNorm(x, w, 0).Value.Data // rms = √(25/4) = 2.5
	want := []float32{1.2, -3.2, 0, 0}
	for i := range want {
		if math.Abs(float64(y[i]-want[i])) > 1e-6 {
			t.Fatalf("RMSNorm([3 -4 0 0], w=[1 2 1 1]) = %v; want %v", y, want)
		}
	}
	if th := tp.Tanh(Const(tensor.FromSlice([]float32{0, 1}, 2))).Value.Data; th[0] != 0 || math.Abs(float64(th[1])-0.7615941560) > 1e-6 {
		t.Fatalf("Tanh([0 1]) = %v; want [0 0.7615942]", th)
	}
	s := tp.SiLU(Const(tensor.FromSlice([]float32{0, 1}, 2))).Value.Data
	if s[0] != 0 || math.Abs(float64(s[1])-0.7310585786) > 1e-6 {
		t.Fatalf("SiLU([0 1]) = %v; want [0 0.7310586]", s)
	}
}

// TestSwiGLUValues: SwiGLU equals silu(g)·u (SiLU, then Mul) to float32
// rounding, over a range of gates including large ones.
func TestSwiGLUValues(t *testing.T) {
	inf := float32(math.Inf(1))
	g := tensor.FromSlice([]float32{-90, -20, -3, -0.5, 0, 0.25, 1, 4, 30, 100, -1e30, -3e38, -inf, inf, -88.5, 88.9}, 2, 8)
	u := tensor.FromSlice([]float32{1, -2, 0.5, 3, 7, -1, 2, -0.25, 1.5, 1, 2, 1, 1, 1, 3, -1}, 2, 8)
	r := tensor.NewRNG(3) // and 67 draws: the vector loop's blocks of 8 and a tail
	g2, u2 := tensor.New(67), tensor.New(67)
	r.FillNormal(g2, 0, 4)
	r.FillNormal(u2, 0, 1)
	for _, c := range [][2]*tensor.Tensor{{g, u}, {g2, u2}} {
		g, u := c[0], c[1]
		got := (*Tape)(nil).SwiGLU(Const(g), Const(u)).Value.Data
		want := (*Tape)(nil).Mul((*Tape)(nil).SiLU(Const(g)), Const(u)).Value.Data
		for i := range want {
			if math.IsNaN(float64(want[i])) != math.IsNaN(float64(got[i])) {
				t.Errorf("SwiGLU(%v, %v) = %v; SiLU·u gives %v", g.Data[i], u.Data[i], got[i], want[i])
				continue
			}
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*math.Max(1, math.Abs(float64(want[i]))) {
				t.Errorf("SwiGLU(%v, %v) = %v; SiLU·u gives %v", g.Data[i], u.Data[i], got[i], want[i])
			}
		}
	}
}

// TestQuickGELU checks x·σ(1.702x) (the vector loop's blocks of 8 and the
// Go loop's tail) against float64, extremes included.
func TestQuickGELU(t *testing.T) {
	inf := float32(math.Inf(1))
	x := tensor.New(83)
	tensor.NewRNG(5).FillNormal(x, 0, 4)
	copy(x.Data, []float32{-90, -60, -52, -51, -3, 0, 0.25, 4, 30, 100, -3e38, -inf, inf, 1e-30, -1e-30, 52})
	got := (*Tape)(nil).QuickGELU(Const(x)).Value.Data
	for i, v := range x.Data {
		want := float64(v) / (1 + math.Exp(-1.702*float64(v)))
		if math.IsInf(float64(v), -1) {
			want = math.NaN() // −∞·0, as PyTorch's x·sigmoid(1.702x) gives
		}
		if math.IsNaN(want) != math.IsNaN(float64(got[i])) || !math.IsNaN(want) && math.Abs(float64(got[i])-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("QuickGELU(%v) = %v; want %v", v, got[i], want)
		}
	}
}

// splitRows returns a random x [3, 42] (seed) and the halves g and u of
// each of its rows.
func splitRows(seed uint64) (x, g, u *tensor.Tensor) {
	x = tensor.New(3, 2*21)
	tensor.NewRNG(seed).FillNormal(x, 0, 3)
	g, u = tensor.New(3, 21), tensor.New(3, 21)
	for i := range 3 {
		copy(g.Data[i*21:], x.Data[i*42:i*42+21])
		copy(u.Data[i*21:], x.Data[i*42+21:(i+1)*42])
	}
	return x, g, u
}

// TestSwiGLUConcat: the halves of one tensor give what SwiGLU gives on them
// apart.
func TestSwiGLUConcat(t *testing.T) {
	x, g, u := splitRows(5)
	got := (*Tape)(nil).SwiGLUConcat(Const(x))
	want := (*Tape)(nil).SwiGLU(Const(g), Const(u))
	if !slices.Equal(got.Value.Data, want.Value.Data) || !slices.Equal(got.Value.Shape, []int{3, 21}) {
		t.Errorf("SwiGLUConcat %v %v; SwiGLU of the halves %v", got.Value.Shape, got.Value.Data, want.Value.Data)
	}
}

// TestSwiGLUWorkers: the result does not depend on how many workers share
// the elements (the vector loop and the Go one round differently).
func TestSwiGLUWorkers(t *testing.T) {
	r := tensor.NewRNG(8)
	g, u := tensor.New(3*elemGrain+13), tensor.New(3*elemGrain+13)
	r.FillNormal(g, 0, 3)
	r.FillNormal(u, 0, 1)
	var outs [][]float32
	for _, w := range []int{1, 2, 7} {
		prev := tensor.SetWorkers(w)
		outs = append(outs, (*Tape)(nil).SwiGLU(Const(g), Const(u)).Value.Data)
		tensor.SetWorkers(prev)
	}
	if !slices.Equal(outs[0], outs[1]) || !slices.Equal(outs[0], outs[2]) {
		t.Error("SwiGLU differs with the number of workers")
	}
}

// TestGeGLUConcat: the halves of one tensor give gelu_tanh(g)·u, as
// GELUTanh and Mul give it on them apart (to rounding: the vector loop and
// the Go tail round the tanh differently), forward and backward.
func TestGeGLUConcat(t *testing.T) {
	x, g, u := splitRows(6)
	r := tensor.NewRNG(7)
	proj := tensor.New(3, 21)
	r.FillNormal(proj, 0, 1)
	tp := NewTape(nil)
	xv, gv, uv := NewParam(x), NewParam(g), NewParam(u)
	got := tp.GeGLUConcat(xv)
	want := tp.Mul(tp.GELUTanh(gv), uv)
	tp.Backward(tp.Add(tp.Sum(tp.Mul(got, Const(proj))), tp.Sum(tp.Mul(want, Const(proj)))))
	if !slices.Equal(got.Value.Shape, []int{3, 21}) || closeTo(got.Value.Data, want.Value.Data) > 1e-6 {
		t.Fatalf("GeGLUConcat %v %v; gelu_tanh(g)·u %v", got.Value.Shape, got.Value.Data, want.Value.Data)
	}
	for i := range 3 {
		if e := closeTo(xv.Grad.Data[i*42:i*42+21], gv.Grad.Data[i*21:(i+1)*21]); e > 1e-6 {
			t.Errorf("row %d: the gate's gradient off by %.3g", i, e)
		}
		if e := closeTo(xv.Grad.Data[i*42+21:(i+1)*42], uv.Grad.Data[i*21:(i+1)*21]); e > 1e-6 {
			t.Errorf("row %d: the up projection's gradient off by %.3g", i, e)
		}
	}
}
