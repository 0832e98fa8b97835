package autograd

import (
	"fmt"
	"math"
)

// RMSNorm scales each row of x (over its last dimension) to unit root mean
// square and multiplies by w [C]: y = w·x/√(mean(x²) + eps), with no mean
// subtraction and no bias (Zhang & Sennrich 2019; T5's T5LayerNorm). The
// mean of squares is accumulated in float64.
func (tp *Tape) RMSNorm(x, w *Var, eps float32) *Var {
	rows, c := x.Value.Rows()
	if w.Value.Len() != c {
		panic(fmt.Sprintf("autograd.RMSNorm: input %v, weight %v", x.Value.Shape, w.Value.Shape))
	}
	y := tp.alloc(x.Value.Shape...)
	rstd := tp.floats(rows)
	xd, wd := x.Value.Data, w.Value.Data
	parallelRows(rows, c, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			xs, ys := xd[r*c:(r+1)*c], y.Data[r*c:(r+1)*c]
			var ss float64
			for _, v := range xs {
				ss += float64(v) * float64(v)
			}
			rs := float32(1 / math.Sqrt(ss/float64(c)+float64(eps)))
			rstd[r] = rs
			for i, v := range xs {
				ys[i] = wd[i] * (v * rs)
			}
		}
	})
	out, rec := tp.result(y, x, w)
	if rec {
		tp.record(out, func(dy []float32) { rmsNormBackward(x, w, dy, rstd) })
	}
	return out
}

// rmsNormBackward adds RMSNorm's gradients: with x̂ = x·rstd and g = dy·w,
// dx = rstd·(g − x̂·mean(g·x̂)) and dw = Σ_rows dy·x̂.
func rmsNormBackward(x, w *Var, dy, rstd []float32) {
	rows, c := x.Value.Rows()
	xd, wd := x.Value.Data, w.Value.Data
	if needs(x) {
		dx := x.grad()
		parallelRows(rows, c, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				xs, g, d := xd[r*c:(r+1)*c], dy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
				rs := rstd[r]
				var sgx float64
				for i, v := range xs {
					sgx += float64(g[i] * wd[i] * v * rs)
				}
				m := float32(sgx / float64(c))
				for i, v := range xs {
					xh := v * rs
					d[i] += rs * (g[i]*wd[i] - xh*m)
				}
			}
		})
	}
	if needs(w) {
		acc := make([]float64, c)
		for r := 0; r < rows; r++ {
			xs, g := xd[r*c:(r+1)*c], dy[r*c:(r+1)*c]
			for i, v := range xs {
				acc[i] += float64(g[i] * v * rstd[r])
			}
		}
		dw := w.grad()
		for i, v := range acc {
			dw[i] += float32(v)
		}
	}
}
