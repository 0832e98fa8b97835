package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// gradCase is one op under test: build runs it on the inputs through tp.
type gradCase struct {
	name   string
	inputs []*tensor.Tensor
	build  func(tp *Tape, in []*Var) *Var
	// seed, if non-zero, gives every tape an RNG with that seed, so dropout
	// draws the same mask in each evaluation.
	seed uint64
}

func randTensor(r *tensor.RNG, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	r.FillNormal(t, 0, 1)
	return t
}

// checkGrad compares the tape's gradients of L = Σ out⊙R (R fixed random)
// with central finite differences of L, where L is summed in float64.
// Tolerance: the error vector's norm relative to the numeric gradient's norm,
// which float32 forward passes allow at about 1e-3 with step h = 1e-2.
func checkGrad(t *testing.T, c gradCase) {
	t.Helper()
	newTape := func() *Tape {
		if c.seed != 0 {
			return NewTape(tensor.NewRNG(c.seed))
		}
		return NewTape(nil)
	}
	vars := make([]*Var, len(c.inputs))
	for i, x := range c.inputs {
		vars[i] = NewParam(x)
		// As after ZeroGrad: the op gets back a buffer full of an earlier
		// pass's values (here NaNs) and must write or clear every element.
		vars[i].spare = tensor.New(x.Shape...)
		for j := range vars[i].spare.Data {
			vars[i].spare.Data[j] = float32(math.NaN())
		}
	}
	tp := newTape()
	out := c.build(tp, vars)
	r := randTensor(tensor.NewRNG(99), out.Value.Shape...)
	loss := tp.Sum(tp.Mul(out, Const(r)))
	tp.Backward(loss)

	eval := func() float64 {
		y := c.build(newTape(), constAll(c.inputs))
		var s float64
		for i, v := range y.Value.Data {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}
	const h = 1e-2
	for i, x := range c.inputs {
		var errNorm, refNorm, worst float64
		worstAt := -1
		for j := range x.Data {
			orig := x.Data[j]
			x.Data[j] = orig + h
			lp := eval()
			x.Data[j] = orig - h
			lm := eval()
			x.Data[j] = orig
			num := (lp - lm) / (2 * h)
			got := float64(vars[i].Grad.Data[j])
			d := math.Abs(got - num)
			errNorm += d * d
			refNorm += num * num
			if d > worst {
				worst, worstAt = d, j
			}
		}
		rel := math.Sqrt(errNorm) / math.Max(math.Sqrt(refNorm), 1e-6)
		if !(rel <= 2e-3) { // a NaN fails too
			t.Errorf("%s: input %d: gradient relative error %.2e (worst element %d off by %.3g)", c.name, i, rel, worstAt, worst)
		}
	}
}

// awayFromZero moves elements out of (-0.1, 0.1), where a finite difference
// would straddle ReLU's kink.
func awayFromZero(t *tensor.Tensor) *tensor.Tensor {
	for i, v := range t.Data {
		if v > -0.1 && v < 0.1 {
			t.Data[i] = v + float32(math.Copysign(0.2, float64(v)))
		}
	}
	return t
}

func constAll(ts []*tensor.Tensor) []*Var {
	vs := make([]*Var, len(ts))
	for i, t := range ts {
		vs[i] = NewParam(t) // requires grad, so ops record as in the checked pass
	}
	return vs
}

func TestGradients(t *testing.T) {
	r := tensor.NewRNG(1)
	pad := []bool{false, false, false, true, true, false, false, false, false, false, true, false}
	cases := []gradCase{
		{name: "Reshape", inputs: []*tensor.Tensor{randTensor(r, 3, 4)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Reshape(in[0], 2, 6) }},
		{name: "SliceRows", inputs: []*tensor.Tensor{randTensor(r, 6, 3)},
			build: func(tp *Tape, in []*Var) *Var { return tp.SliceRows(in[0], 2, 5) }},
		{name: "ConcatSeq", inputs: []*tensor.Tensor{randTensor(r, 2, 1, 3), randTensor(r, 2, 4, 3)},
			build: func(tp *Tape, in []*Var) *Var { return tp.ConcatSeq(in[0], in[1]) }},
		{name: "ConcatSeq/broadcast", inputs: []*tensor.Tensor{randTensor(r, 1, 2, 3), randTensor(r, 3, 2, 3)},
			build: func(tp *Tape, in []*Var) *Var { return tp.ConcatSeq(in[0], in[1]) }},
		{name: "ConcatSeq/twice", inputs: []*tensor.Tensor{randTensor(r, 1, 2, 3), randTensor(r, 3, 2, 3)},
			build: func(tp *Tape, in []*Var) *Var { // the second backward adds to the first's gradients
				return tp.Add(tp.ConcatSeq(in[0], in[1]), tp.Scale(tp.ConcatSeq(in[0], in[1]), -0.3))
			}},
		{name: "Add", inputs: []*tensor.Tensor{randTensor(r, 3, 4), randTensor(r, 3, 4)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Add(in[0], in[1]) }},
		{name: "Add/broadcast", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 4), randTensor(r, 3, 4)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Add(in[0], in[1]) }},
		{name: "Mul/broadcast", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 4), randTensor(r, 4)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Mul(in[0], in[1]) }},
		{name: "Scale", inputs: []*tensor.Tensor{randTensor(r, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Scale(in[0], -1.7) }},
		{name: "Sum", inputs: []*tensor.Tensor{randTensor(r, 2, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Sum(in[0]) }},
		{name: "ReLU", inputs: []*tensor.Tensor{awayFromZero(randTensor(r, 4, 5))},
			build: func(tp *Tape, in []*Var) *Var { return tp.ReLU(in[0]) }},
		{name: "GELU", inputs: []*tensor.Tensor{randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.GELU(in[0]) }},
		{name: "GELUTanh", inputs: []*tensor.Tensor{randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.GELUTanh(in[0]) }},
		{name: "Sigmoid", inputs: []*tensor.Tensor{randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Sigmoid(in[0]) }},
		{name: "QuickGELU", inputs: []*tensor.Tensor{randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.QuickGELU(in[0]) }},
		{name: "SwiGLU", inputs: []*tensor.Tensor{randTensor(r, 4, 5), randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.SwiGLU(in[0], in[1]) }},
		{name: "Softcap", inputs: []*tensor.Tensor{randTensor(r, 3, 7)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Softcap(in[0], 0.7) }},
		{name: "GeGLUConcat", inputs: []*tensor.Tensor{randTensor(r, 3, 2, 10)},
			build: func(tp *Tape, in []*Var) *Var { return tp.GeGLUConcat(in[0]) }},
		{name: "SwiGLUConcat", inputs: []*tensor.Tensor{randTensor(r, 3, 2, 10)},
			build: func(tp *Tape, in []*Var) *Var { return tp.SwiGLUConcat(in[0]) }},
		// A limit of 0.9 clamps about a third of N(0, 1)'s gates and up values.
		{name: "ClampedSwiGLUConcat", inputs: []*tensor.Tensor{randTensor(r, 3, 2, 10)},
			build: func(tp *Tape, in []*Var) *Var { return tp.ClampedSwiGLUConcat(in[0], 1.702, 0.9) }},
		{name: "ClampedSwiGLU", inputs: []*tensor.Tensor{randTensor(r, 4, 5), randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.ClampedSwiGLU(in[0], in[1], 1.702, 0.9) }},
		{name: "Rotary", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 8)},
			build: func(tp *Tape, in []*Var) *Var {
				cs, sn := make([]float32, 6*2), make([]float32, 6*2)
				for i := range cs {
					cs[i], sn[i] = float32(math.Cos(0.3*float64(i+1))), float32(math.Sin(0.3*float64(i+1)))
				}
				return tp.Rotary(in[0], 2, 4, cs, sn)
			}},
		{name: "RotaryPartial", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 12)},
			build: func(tp *Tape, in []*Var) *Var { // 4 of each head's 6 values turned, cos and sin scaled
				cs, sn := make([]float32, 6*2), make([]float32, 6*2)
				for i := range cs {
					cs[i], sn[i] = 1.2*float32(math.Cos(0.3*float64(i+1))), 1.2*float32(math.Sin(0.3*float64(i+1)))
				}
				return tp.Rotary(in[0], 2, 6, cs, sn)
			}},
		{name: "RepeatHeads", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 6)},
			build: func(tp *Tape, in []*Var) *Var { return tp.RepeatHeads(in[0], 2, 3) }},
		{name: "Softmax", inputs: []*tensor.Tensor{randTensor(r, 3, 7)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Softmax(in[0]) }},
		{name: "Dropout", inputs: []*tensor.Tensor{randTensor(r, 4, 9)}, seed: 7,
			build: func(tp *Tape, in []*Var) *Var { return tp.Dropout(in[0], 0.3) }},
		{name: "Embedding", inputs: []*tensor.Tensor{randTensor(r, 6, 4)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Embedding(in[0], []int{1, 5, 1, 0, 3}, 2) }},
		{name: "Linear", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 5), randTensor(r, 4, 5), randTensor(r, 4)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Linear(in[0], in[1], in[2]) }},
		{name: "Linear/nobias", inputs: []*tensor.Tensor{randTensor(r, 3, 5), randTensor(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { return tp.Linear(in[0], in[1], nil) }},
		{name: "LayerNorm", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 6), randTensor(r, 6), randTensor(r, 6)},
			build: func(tp *Tape, in []*Var) *Var { return tp.LayerNorm(in[0], in[1], in[2], 1e-5) }},
		{name: "CrossEntropy", inputs: []*tensor.Tensor{randTensor(r, 5, 7)},
			build: func(tp *Tape, in []*Var) *Var { return tp.CrossEntropy(in[0], []int{3, 0, 6, 2, 2}, 2, 0.1) }},
		{name: "CrossEntropy/plain", inputs: []*tensor.Tensor{randTensor(r, 5, 7)},
			build: func(tp *Tape, in []*Var) *Var { return tp.CrossEntropy(in[0], []int{3, 0, 6, 1, 2}, -100, 0) }},
		{name: "Attention/self+pad", inputs: []*tensor.Tensor{randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{KeyPad: pad})
			}},
		{name: "Attention/causal+pad", inputs: []*tensor.Tensor{randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 3, AttentionOpts{Causal: true, KeyPad: pad})
			}},
		{name: "Attention/cross", inputs: []*tensor.Tensor{randTensor(r, 2, 3, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 3, AttentionOpts{KeyPad: pad, Scale: 0.3})
			}},
		{name: "Attention/sinks", inputs: []*tensor.Tensor{randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 2, 6, 6), randTensor(r, 3)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 3, AttentionOpts{Causal: true, Window: 4, Sinks: in[3]})
			}},
		// Blocks of 2 queries and 3 keys: the backward pass recomputes the
		// weights from the log-sum-exps, which count the sinks.
		{name: "Attention/sinks+blocks", inputs: []*tensor.Tensor{randTensor(r, 2, 7, 4), randTensor(r, 2, 7, 4), randTensor(r, 2, 7, 4), randTensor(r, 2)},
			build: func(tp *Tape, in []*Var) (y *Var) {
				withBlocks(2, 3, 2, func() { y = tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{Causal: true, Sinks: in[3]}) })
				return y
			}},
		{name: "Attention/dropout", inputs: []*tensor.Tensor{randTensor(r, 2, 4, 6), randTensor(r, 2, 4, 6), randTensor(r, 2, 4, 6)}, seed: 3,
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{Causal: true, Dropout: 0.25})
			}},
	}
	for _, mm := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		ta, tb := mm[0], mm[1]
		as, bs := []int{3, 4}, []int{4, 5}
		if ta {
			as = []int{4, 3}
		}
		if tb {
			bs = []int{5, 4}
		}
		cases = append(cases, gradCase{name: fmt.Sprintf("MatMul/%v%v", ta, tb),
			inputs: []*tensor.Tensor{randTensor(r, as...), randTensor(r, bs...)},
			build:  func(tp *Tape, in []*Var) *Var { return tp.MatMul(in[0], in[1], ta, tb) }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c) })
	}
}

func TestAttentionMasks(t *testing.T) {
	// With a causal mask, changing a future key or value must not change
	// earlier outputs; a padded key must not change any output.
	r := tensor.NewRNG(5)
	q, k, v := randTensor(r, 1, 5, 4), randTensor(r, 1, 5, 4), randTensor(r, 1, 5, 4)
	pad := []bool{false, false, false, false, true}
	var tp *Tape
	base := tp.Attention(Const(q), Const(k), Const(v), 2, AttentionOpts{Causal: true, KeyPad: pad}).Value
	k.Data[3*4] += 5
	v.Data[3*4+1] -= 3
	k.Data[4*4+2] += 7 // padded key
	after := tp.Attention(Const(q), Const(k), Const(v), 2, AttentionOpts{Causal: true, KeyPad: pad}).Value
	for i := 0; i < 3*4; i++ {
		if base.Data[i] != after.Data[i] {
			t.Fatalf("causal attention: output %d changed from %v to %v after editing position 3", i, base.Data[i], after.Data[i])
		}
	}
	// A query with every key masked gets zeros, not NaN.
	all := []bool{true, true, true, true, true}
	y := tp.Attention(Const(q), Const(k), Const(v), 2, AttentionOpts{KeyPad: all}).Value
	for i, x := range y.Data {
		if x != 0 {
			t.Fatalf("fully masked attention: output %d = %v; want 0", i, x)
		}
	}
}

func TestCrossEntropyAllIgnored(t *testing.T) {
	tp := NewTape(nil)
	x := NewParam(tensor.New(2, 3))
	loss := tp.CrossEntropy(x, []int{0, 0}, 0, 0.1)
	tp.Backward(loss)
	if loss.Item() != 0 || x.Grad != nil {
		t.Fatalf("CrossEntropy with every target ignored = %v (grad %v); want 0 and no gradient", loss.Item(), x.Grad)
	}
}

// TestCrossEntropyHandOver requires the gradient CrossEntropy writes in its
// forward pass and hands over to logits of its own tape, when the loss's
// gradient is 1, to equal what its backward pass computes otherwise, with
// an ignored target; and twice the loss to give twice the gradient.
func TestCrossEntropyHandOver(t *testing.T) {
	rng := tensor.NewRNG(3)
	x, w := randTensor(rng, 6, 5), randTensor(rng, 7, 5)
	targets := []int{3, 0, 6, 2, 2, 6} // 2 is ignored
	run := func(handOver bool, scale float32) []float32 {
		defer func(h bool) { ceHandOver = h }(ceHandOver)
		ceHandOver = handOver
		tp := NewTape(nil)
		wv := NewParam(w.Clone())
		loss := tp.CrossEntropy(tp.Linear(Const(x), wv, nil), targets, 2, 0.1)
		if scale != 1 {
			loss = tp.Scale(loss, scale)
		}
		tp.Backward(loss)
		return wv.Grad.Data
	}
	handed, computed, twice := run(true, 1), run(false, 1), run(true, 2)
	for i := range handed {
		if handed[i] != computed[i] {
			t.Fatalf("weight gradient %d: %v handed over, %v computed", i, handed[i], computed[i])
		}
		if d := math.Abs(float64(twice[i] - 2*handed[i])); d > 1e-6*(1+math.Abs(float64(handed[i]))) {
			t.Fatalf("weight gradient %d: %v for twice the loss, %v for the loss", i, twice[i], handed[i])
		}
	}
}

func TestNilTapeRecordsNothing(t *testing.T) {
	var tp *Tape
	x := NewParam(tensor.FromSlice([]float32{1, -2}, 2))
	y := tp.ReLU(x)
	if y.RequiresGrad() || tp.Len() != 0 {
		t.Fatalf("nil tape: output requires grad = %v; want false", y.RequiresGrad())
	}
	if y.Value.Data[0] != 1 || y.Value.Data[1] != 0 {
		t.Fatalf("ReLU([1 -2]) = %v; want [1 0]", y.Value.Data)
	}
}
