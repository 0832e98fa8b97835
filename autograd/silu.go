package autograd

import (
	"fmt"
	"math"
	"slices"

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

// QuickGELU returns x·σ(1.702x), the GELU approximation of OpenAI's CLIP
// (HF's quick_gelu), in float32 through expf.
func (tp *Tape) QuickGELU(x *Var) *Var {
	const a = quickGELUScale
	y := tp.output(x.Value.Shape...) // written in full
	xd, yd := x.Value.Data, y.Data
	parallelVec(len(xd), func(lo, hi int) { quickGELU(xd[lo:hi], yd[lo:hi]) })
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { // d/dx x·σ(ax) = σ(ax)·(1 + a·x·(1 − σ(ax)))
			dx := x.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					v := xd[i]
					s := 1 / (1 + expf(-a*v))
					dx[i] += dy[i] * s * (1 + a*v*(1-s))
				}
			})
		})
	}
	return out
}

// quickGELUScale is the 1.702 of quick GELU, x·σ(1.702x) (the vector loop
// holds its float32 bits, 0x3fd9db23).
const quickGELUScale = 1.702

// quickGELUGo sets y = x·σ(1.702x) = x/(1 + e^(−1.702x)): x·0 where
// e^(−1.702x) overflows to +Inf, as the vector loop gives.
func quickGELUGo(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = v / (1 + expf(-quickGELUScale*v))
	}
}

// swigluGo sets y = silu(g)·u = g·u/(1 + e^(−g)).
func swigluGo(g, u, y []float32) {
	u, y = u[:len(g)], y[:len(g)]
	for i, v := range g {
		y[i] = v / (1 + expf(-v)) * u[i]
	}
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

// Sigmoid returns 1/(1+e^−x) elementwise (Qwen2-MoE's gate of its shared
// expert).
func (tp *Tape) Sigmoid(x *Var) *Var {
	y := tp.alloc(x.Value.Shape...)
	xd, yd := x.Value.Data, y.Data
	tensor.Parallel(len(xd), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yd[i] = float32(1 / (1 + math.Exp(-float64(xd[i]))))
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { // d/dx σ(x) = σ(x)(1 − σ(x))
			dx := x.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					dx[i] += dy[i] * yd[i] * (1 - yd[i])
				}
			})
		})
	}
	return out
}

// SwiGLU returns silu(g)·u elementwise (Shazeer 2020), the gated
// feed-forward net of Llama and its family, in one pass: g and u have the
// same shape. The sigmoid runs in float32 through expf, as PyTorch computes
// silu in float32.
func (tp *Tape) SwiGLU(g, u *Var) *Var {
	if !g.Value.SameShape(u.Value) {
		panic(fmt.Sprintf("autograd.SwiGLU: gate %v and up %v differ in shape", g.Value.Shape, u.Value.Shape))
	}
	y := tp.alloc(g.Value.Shape...)
	gd, ud, yd := g.Value.Data, u.Value.Data, y.Data
	// Cut at multiples of 8, so that the vector loop and the Go one take
	// the same elements whatever the number of workers.
	parallelVec(len(gd), func(lo, hi int) { swiglu(gd[lo:hi], ud[lo:hi], yd[lo:hi]) })
	out, rec := tp.result(y, g, u)
	if rec {
		tp.record(out, func(dy []float32) {
			// ∂/∂u = silu(g); ∂/∂g = u·σ(g)·(1 + g·(1 − σ(g))).
			dg, du := g.grad(), u.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					v := gd[i]
					s := 1 / (1 + expf(-v))
					du[i] += dy[i] * v * s
					dg[i] += dy[i] * ud[i] * s * (1 + v*(1-s))
				}
			})
		})
	}
	return out
}

// gatedHalves returns the shape of a gated op on x's two halves (op's name for
// the panic when its last dimension is odd), that dimension and its half.
func gatedHalves(op string, x *Var) (shape []int, in, half int) {
	shape = slices.Clone(x.Value.Shape)
	if len(shape) == 0 || shape[len(shape)-1]%2 != 0 {
		panic(fmt.Sprintf("autograd.%s: last dimension of %v is not even", op, x.Value.Shape))
	}
	in = shape[len(shape)-1]
	half = in / 2
	shape[len(shape)-1] = half
	return shape, in, half
}

// SwiGLUConcat is SwiGLU of the two halves of x's last dimension,
// [..., 2I] → [..., I]: the gate first, then the up projection, as one
// product computing both leaves them (Llama's gate_proj and up_proj
// fused).
func (tp *Tape) SwiGLUConcat(x *Var) *Var {
	shape, in, half := gatedHalves("SwiGLUConcat", x)
	y := tp.alloc(shape...)
	xd, yd := x.Value.Data, y.Data
	rows := len(yd) / max(half, 1)
	tensor.Parallel(rows, max(1, elemGrain/max(in, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := xd[r*in : (r+1)*in]
			swiglu(row[:half], row[half:], yd[r*half:(r+1)*half])
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			tensor.Parallel(rows, max(1, elemGrain/max(in, 1)), func(lo, hi int) {
				for r := lo; r < hi; r++ {
					g, u := xd[r*in:r*in+half], xd[r*in+half:(r+1)*in]
					dg, du := dx[r*in:r*in+half], dx[r*in+half:(r+1)*in]
					for i, v := range g {
						s := 1 / (1 + expf(-v))
						d := dy[r*half+i]
						du[i] += d * v * s
						dg[i] += d * u[i] * s * (1 + v*(1-s))
					}
				}
			})
		})
	}
	return out
}

// ClampedSwiGLU is GPT-OSS's gated activation (GptOssExperts): with the
// gate g clamped to at most limit and the up projection u to [−limit,
// limit], (u + 1)·g·σ(alpha·g). The clamps pass no gradient where they
// bite (as torch.clamp's backward).
func (tp *Tape) ClampedSwiGLU(g, u *Var, alpha, limit float32) *Var {
	if !g.Value.SameShape(u.Value) {
		panic(fmt.Sprintf("autograd.ClampedSwiGLU: gate %v and up %v differ in shape", g.Value.Shape, u.Value.Shape))
	}
	y := tp.output(g.Value.Shape...)
	gd, ud := g.Value.Data, u.Value.Data
	tensor.Parallel(len(gd), elemGrain, func(lo, hi int) { clampedSwiGLU(gd[lo:hi], ud[lo:hi], y.Data[lo:hi], alpha, limit) })
	out, rec := tp.result(y, g, u)
	if rec {
		tp.record(out, func(dy []float32) {
			dg, du := g.grad(), u.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) {
				clampedSwiGLUBack(gd[lo:hi], ud[lo:hi], dy[lo:hi], dg[lo:hi], du[lo:hi], alpha, limit)
			})
		})
	}
	return out
}

// ClampedSwiGLUConcat is ClampedSwiGLU of the two halves of x's last
// dimension, [..., 2I] → [..., I]: the gate first, then the up projection,
// as the fused product of both leaves them (GPT-OSS's checkpoints
// interleave them; the loader separates them).
func (tp *Tape) ClampedSwiGLUConcat(x *Var, alpha, limit float32) *Var {
	shape, in, half := gatedHalves("ClampedSwiGLUConcat", x)
	y := tp.output(shape...)
	xd, yd := x.Value.Data, y.Data
	rows := len(yd) / max(half, 1)
	grain := max(1, elemGrain/max(in, 1))
	tensor.Parallel(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			clampedSwiGLU(xd[r*in:r*in+half], xd[r*in+half:(r+1)*in], yd[r*half:(r+1)*half], alpha, limit)
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			tensor.Parallel(rows, grain, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					clampedSwiGLUBack(xd[r*in:r*in+half], xd[r*in+half:(r+1)*in], dy[r*half:(r+1)*half], dx[r*in:r*in+half], dx[r*in+half:(r+1)*in], alpha, limit)
				}
			})
		})
	}
	return out
}

// clampedSwiGLU sets y = (clamp(u) + 1)·g'·σ(alpha·g'), g' = min(g, limit).
func clampedSwiGLU(g, u, y []float32, alpha, limit float32) {
	for i, v := range g {
		v = min(v, limit)
		y[i] = (min(max(u[i], -limit), limit) + 1) * v / (1 + expf(-alpha*v))
	}
}

// clampedSwiGLUBack adds clampedSwiGLU's gradients for dy into dg and du.
func clampedSwiGLUBack(g, u, dy, dg, du []float32, alpha, limit float32) {
	for i, v := range g {
		gc := min(v, limit)
		s := 1 / (1 + expf(-alpha*gc))
		uc := min(max(u[i], -limit), limit)
		if u[i] == uc {
			du[i] += dy[i] * gc * s
		}
		if v == gc {
			dg[i] += dy[i] * (uc + 1) * s * (1 + alpha*gc*(1-s))
		}
	}
}

// GeGLUConcat is GeGLU (Shazeer 2020) of the two halves of x's last
// dimension, [..., 2I] → [..., I]: gelu_tanh(g)·u for x = [g | u], Gemma's
// gated MLP (GELUTanh's approximation, PyTorch's gelu(approximate="tanh"))
// with its gate and up projections run as one product.
func (tp *Tape) GeGLUConcat(x *Var) *Var {
	shape, in, half := gatedHalves("GeGLUConcat", x)
	y := tp.output(shape...)
	xd, yd := x.Value.Data, y.Data
	rows := len(yd) / max(half, 1)
	th := tp.take(len(yd), false) // the tanh inside each gate value's GELU, for the backward pass
	gl := tp.take(len(yd), false) // gelu_tanh(g)
	grain := max(1, elemGrain/max(in, 1))
	tensor.Parallel(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			g, u := xd[r*in:r*in+half], xd[r*in+half:(r+1)*in]
			gr, yr := gl[r*half:(r+1)*half], yd[r*half:(r+1)*half]
			geluTanh(g, th[r*half:(r+1)*half], gr)
			for i, v := range gr {
				yr[i] = v * u[i]
			}
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			tensor.Parallel(rows, grain, func(lo, hi int) {
				du := make([]float32, half) // dy·u, the gate's output gradient
				for r := lo; r < hi; r++ {
					g, u := xd[r*in:r*in+half], xd[r*in+half:(r+1)*in]
					dg, dU := dx[r*in:r*in+half], dx[r*in+half:(r+1)*in]
					dyr, gr := dy[r*half:(r+1)*half], gl[r*half:(r+1)*half]
					for i, d := range dyr {
						dU[i] += d * gr[i]
						du[i] = d * u[i]
					}
					geluTanhBack(g, th[r*half:(r+1)*half], du, dg)
				}
			})
		})
	}
	return out
}

// Softcap returns c·tanh(x/c) elementwise, squashing x into (−c, c): Gemma
// 2's final_logit_softcapping, in HF's order (divide, tanh, multiply).
func (tp *Tape) Softcap(x *Var, c float32) *Var {
	y := tp.output(x.Value.Shape...)
	th := tp.take(len(y.Data), false)
	xd, yd := x.Value.Data, y.Data
	tensor.Parallel(len(xd), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			th[i] = float32(math.Tanh(float64(xd[i] / c)))
			yd[i] = th[i] * c
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					dx[i] += dy[i] * (1 - th[i]*th[i])
				}
			})
		})
	}
	return out
}
