package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// TestAttentionColsMatchesSplit runs attention on column blocks of a fused
// projection's output (self-attention on [B, T, 3E], cross-attention on
// [B, Tk, 2E] keys and values) and on copies split out of it, and requires
// the same output and the same gradients, bit for bit: one tile and many
// (the transposed path), causal, padded, with dropout.
func TestAttentionColsMatchesSplit(t *testing.T) {
	const bsz, heads, e = 2, 3, 24
	for _, c := range []struct {
		tq, tk  int
		self    bool
		opt     AttentionOpts
		padding bool
	}{
		{tq: 7, tk: 7, self: true, opt: AttentionOpts{Causal: true}},
		{tq: 150, tk: 150, self: true, opt: AttentionOpts{Causal: true, Dropout: 0.2}},
		{tq: 9, tk: 13, opt: AttentionOpts{Dropout: 0.1}, padding: true},
		{tq: 70, tk: 200, padding: true},
	} {
		name := fmt.Sprintf("tq %d tk %d self %v", c.tq, c.tk, c.self)
		rng := tensor.NewRNG(21)
		var pad []bool
		if c.padding {
			pad = make([]bool, bsz*c.tk)
			for i := range pad {
				pad[i] = i%c.tk >= c.tk-3
			}
		}
		c.opt.KeyPad = pad
		width := 2 * e // the memory's k|v (cross)
		if c.self {
			width = 3 * e // q|k|v
		}
		wide := randTensor(rng, bsz, c.tk, width)
		qsep := randTensor(rng, bsz, c.tq, e)
		dy := randTensor(rng, bsz, c.tq, e)
		run := func(cols bool) (out []float32) {
			w, q := NewParam(wide.Clone()), NewParam(qsep.Clone())
			tp := NewTape(tensor.NewRNG(5))
			var y *Var
			switch {
			case c.self && cols:
				y = tp.AttentionCols(Cols{w, 0, e}, Cols{w, e, e}, Cols{w, 2 * e, e}, heads, c.opt)
			case c.self:
				s := tp.Split(w, 3)
				y = tp.Attention(s[0], s[1], s[2], heads, c.opt)
			case cols:
				y = tp.AttentionCols(Cols{q, 0, e}, Cols{w, 0, e}, Cols{w, e, e}, heads, c.opt)
			default:
				s := tp.Split(w, 2)
				y = tp.Attention(q, s[0], s[1], heads, c.opt)
			}
			tp.Backward(tp.Sum(tp.Mul(y, Const(dy))))
			out = append(out, y.Value.Data...)
			out = append(out, w.Grad.Data...)
			if !c.self {
				out = append(out, q.Grad.Data...)
			}
			return out
		}
		want, got := run(false), run(true)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: value %d is %v on column blocks, %v on split copies", name, i, got[i], want[i])
			}
		}
	}
}
