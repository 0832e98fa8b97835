package autograd

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/tensor"
)

// RotaryFreqs returns the inverse frequencies θ^(−2i/d), i < d/2, of a
// rotation over d values, in float32 as HF computes them.
func RotaryFreqs(theta float64, d int) []float32 {
	f := make([]float32, d/2)
	for i := range f {
		f[i] = 1 / float32(math.Pow(theta, float64(float32(2*i)/float32(d))))
	}
	return f
}

// RotaryAngles returns the cos and sin, times scale, of the angles of
// positions n..n+t−1 at the frequencies freq, [t, len(freq)] each (Rotary's
// cos and sin): position × frequency in float32, as HF computes them.
func RotaryAngles(freq []float32, n, t int, scale float32) (cos, sin []float32) {
	half := len(freq)
	cos, sin = make([]float32, t*half), make([]float32, t*half)
	for p := range t {
		for i, f := range freq {
			a := float64(float32(n+p) * f)
			cos[p*half+i], sin[p*half+i] = float32(math.Cos(a))*scale, float32(math.Sin(a))*scale
		}
	}
	return cos, sin
}

// Rotary applies rotary position embeddings (Su et al. 2021) to x, whose
// rows (all dimensions but the last) each hold heads·d values: in every
// head, element i and element i + half are turned by the row's angle i
// (HF's "rotate half" layout, Llama's), where cos and sin hold half values
// per row of x, the angles of its position: d/2, or fewer for a partial
// rotation (Phi-4-mini's), which leaves each head's values from 2·half on
// as they are. The backward pass turns the gradient back by the same
// angles.
func (tp *Tape) Rotary(x *Var, heads, d int, cos, sin []float32) *Var {
	n := x.Value.Shape[len(x.Value.Shape)-1]
	rows := len(x.Value.Data) / max(n, 1)
	half := 0
	if rows > 0 {
		half = len(cos) / rows
	}
	if heads <= 0 || d <= 0 || n != heads*d || half == 0 || 2*half > d || len(cos) != rows*half || len(sin) != len(cos) {
		panic(fmt.Sprintf("autograd.Rotary: x %v, %d heads of %d, %d cos and %d sin values", x.Value.Shape, heads, d, len(cos), len(sin)))
	}
	y := tp.alloc(x.Value.Shape...)
	// turn adds src turned by the angles (sign −1: turned back) to dst,
	// which starts at zero for the forward pass.
	turn := func(dst, src []float32, sign float32) {
		tensor.Parallel(rows, max(1, elemGrain/n), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				cs, sn := cos[r*half:(r+1)*half], sin[r*half:(r+1)*half]
				for h := range heads {
					at := r*n + h*d
					a, b := src[at:at+half], src[at+half:at+2*half]
					da, db := dst[at:at+half], dst[at+half:at+2*half]
					for i := range half {
						s := sign * sn[i]
						da[i] += a[i]*cs[i] - b[i]*s
						db[i] += b[i]*cs[i] + a[i]*s
					}
					pass, dpass := src[at+2*half:at+d], dst[at+2*half:at+d]
					for i, v := range pass {
						dpass[i] += v
					}
				}
			}
		})
	}
	clear(y.Data)
	turn(y.Data, x.Value.Data, 1)
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			turn(x.grad(), dy, -1) // the rotation's transpose is the rotation back
		})
	}
	return out
}

// RepeatHeads returns x, whose last dimension holds kv heads of d values,
// with each head repeated group times in place ([..., kv·d] → [...,
// kv·group·d]), as HF's repeat_kv expands grouped-query attention's keys
// and values for training; the gradient of a head is the sum over its
// copies.
func (tp *Tape) RepeatHeads(x *Var, group, d int) *Var {
	shape := append([]int(nil), x.Value.Shape...)
	n := shape[len(shape)-1]
	if group <= 0 || d <= 0 || n%d != 0 {
		panic(fmt.Sprintf("autograd.RepeatHeads: x %v, groups of %d, heads of %d", x.Value.Shape, group, d))
	}
	kv := n / d
	shape[len(shape)-1] = n * group
	y := tp.alloc(shape...)
	rows := len(x.Value.Data) / max(n, 1)
	xd := x.Value.Data
	for r := range rows {
		for h := range kv * group {
			copy(y.Data[(r*kv*group+h)*d:], xd[r*n+h/group*d:r*n+(h/group+1)*d])
		}
	}
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			for r := range rows {
				for h := range kv * group {
					src := dy[(r*kv*group+h)*d : (r*kv*group+h+1)*d]
					dst := dx[r*n+h/group*d : r*n+(h/group+1)*d]
					for i, v := range src {
						dst[i] += v
					}
				}
			}
		})
	}
	return out
}
