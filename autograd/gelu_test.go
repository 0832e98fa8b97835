package autograd

import (
	"math"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// TestGELUKernels compares the GELU loops on this build (assembly where the
// CPU has it) with the Go loops and with float64 math, on every length up to
// 70 (vector bodies and tails) and on extreme inputs.
func TestGELUKernels(t *testing.T) {
	rng := tensor.NewRNG(5)
	for n := 0; n <= 70; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Normal() * 4)
		}
		if n > 3 {
			x[0], x[1], x[2], x[3] = 0, -30, 30, 1e-20
		}
		dy := make([]float32, n)
		for i := range dy {
			dy[i] = float32(rng.Normal())
		}
		tv, y := make([]float32, n), make([]float32, n)
		tg, yg := make([]float32, n), make([]float32, n)
		geluTanh(x, tv, y)
		geluTanhGo(x, tg, yg)
		dx, dxg := make([]float32, n), make([]float32, n)
		for i := range dx {
			dx[i], dxg[i] = 0.5, 0.5
		}
		geluTanhBack(x, tv, dy, dx)
		geluTanhBackGo(x, tg, dy, dxg)
		for i, v := range x {
			u := math.Sqrt(2/math.Pi) * (float64(v) + 0.044715*math.Pow(float64(v), 3))
			th := math.Tanh(u)
			want := 0.5 * float64(v) * (1 + th)
			d := 0.5*(1+th) + 0.5*float64(v)*(1-th*th)*math.Sqrt(2/math.Pi)*(1+3*0.044715*float64(v)*float64(v))
			wantDx := 0.5 + float64(dy[i])*d
			for _, c := range []struct {
				what      string
				got, want float64
			}{
				{"tanh", float64(tv[i]), th}, {"tanh (Go)", float64(tg[i]), th},
				{"y", float64(y[i]), want}, {"y (Go)", float64(yg[i]), want},
				{"dx", float64(dx[i]), wantDx}, {"dx (Go)", float64(dxg[i]), wantDx},
			} {
				if err := math.Abs(c.got - c.want); err > 2e-6*max(1, math.Abs(c.want)) {
					t.Fatalf("n %d, x %g: %s = %g, want %g", n, v, c.what, c.got, c.want)
				}
			}
		}
	}
}
