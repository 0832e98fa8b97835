package autograd

import (
	"fmt"
	"math"
	"strings"
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

// TestAttentionColsRefuses checks that column blocks that do not fit their
// value, or partly overlap in one value, are refused with a message.
func TestAttentionColsRefuses(t *testing.T) {
	w := NewParam(tensor.New(1, 4, 24))
	for _, c := range []struct {
		q, k, v Cols
		want    string
	}{
		{Cols{w, 0, 8}, Cols{w, 8, 8}, Cols{w, 20, 8}, "columns [20, 28)"},
		{Cols{w, 0, 8}, Cols{w, 4, 8}, Cols{w, 16, 8}, "overlap"},
		{Cols{w, 0, 8}, Cols{w, 8, 6}, Cols{w, 16, 6}, "2 heads"},
	} {
		func() {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, c.want) {
					t.Errorf("q %v, k %v, v %v: panic %v, want one naming %q", c.q, c.k, c.v, r, c.want)
				}
			}()
			NewTape(nil).AttentionCols(c.q, c.k, c.v, 2, AttentionOpts{})
		}()
	}
	// The same block for q, k and v is not an overlap.
	NewTape(nil).AttentionCols(Cols{w, 0, 8}, Cols{w, 0, 8}, Cols{w, 0, 8}, 2, AttentionOpts{})
}
