package autograd

import (
	"math"

	"github.com/attn-go/attn/tensor"
)

// SiLU returns x·σ(x) (Swish; Hendrycks & Gimpel 2016, Ramachandran et al.
// 2017), Marian's "swish" activation.
func (tp *Tape) SiLU(x *Var) *Var {
	y := tp.alloc(x.Value.Shape...)
	xd := x.Value.Data
	tensor.Parallel(len(xd), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(xd[i])
			y.Data[i] = float32(v / (1 + math.Exp(-v)))
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { // d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x)))
			dx := x.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					v := float64(xd[i])
					s := 1 / (1 + math.Exp(-v))
					dx[i] += dy[i] * float32(s*(1+v*(1-s)))
				}
			})
		})
	}
	return out
}

// Tanh returns tanh(x) elementwise: BERT's pooler, ahead of a sequence
// classifier.
func (tp *Tape) Tanh(x *Var) *Var {
	y := tp.alloc(x.Value.Shape...)
	xd, yd := x.Value.Data, y.Data
	tensor.Parallel(len(xd), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yd[i] = float32(math.Tanh(float64(xd[i])))
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { // d/dx tanh(x) = 1 − tanh²(x)
			dx := x.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					dx[i] += dy[i] * (1 - yd[i]*yd[i])
				}
			})
		})
	}
	return out
}
