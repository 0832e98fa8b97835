package autograd

import (
	"testing"

	"github.com/attn-go/attn/tensor"
)

// TestBiasAndResidualGradsSplit checks a residual sum and the gradients
// that are summed over the workers (a Linear's bias, a broadcast Add's
// bias, a residual Add's input, Reshape's input) against plain loops, on shapes large enough to be
// split, with 1 to 3 workers: each must equal the loop bit for bit, and a
// second backward pass must add to the first.
func TestBiasAndResidualGradsSplit(t *testing.T) {
	const rows, in, out = 300, 8, 1031 // out is not a multiple of 16
	rng := tensor.NewRNG(5)
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	x, w, b, dy := fill(rows*in), fill(out*in), fill(out), fill(rows*out)
	// The plain loops: a bias's gradient is the sum of dy's rows, in order.
	// After a second pass the sums continue from the first.
	want := [3][]float32{make([]float32, out), make([]float32, out), make([]float32, out)}
	for pass := 1; pass <= 2; pass++ {
		copy(want[pass], want[pass-1])
		for r := range rows {
			for j := range out {
				want[pass][j] += dy[r*out+j]
			}
		}
	}
	for workers := 1; workers <= 3; workers++ {
		prev := tensor.SetWorkers(workers)
		wv, bv := NewParam(tensor.FromSlice(w, out, in)), NewParam(tensor.FromSlice(b, out))
		xv := NewParam(tensor.FromSlice(x, rows, in))
		cv := NewParam(tensor.FromSlice(b, out))
		rv := NewParam(tensor.FromSlice(fill(rows*out), rows*out))
		for pass := 1; pass <= 2; pass++ {
			tp := NewTape(nil)
			y := tp.Linear(xv, wv, bv)                // bias gradient from Linear
			z := tp.Add(tp.Reshape(rv, rows, out), y) // a residual, and Reshape
			s := tp.Add(z, cv)                        // a broadcast bias
			loss := tp.Sum(tp.Mul(s, Const(tensor.FromSlice(dy, rows, out))))
			for i, v := range z.Value.Data { // the residual sum, split by elements
				if want := rv.Value.Data[i] + y.Value.Data[i]; v != want {
					t.Fatalf("%d workers: residual sum %d is %v, want %v", workers, i, v, want)
				}
			}
			tp.Backward(loss)
			for i, g := range rv.Grad.Data {
				if want := dy[i] + float32(pass-1)*dy[i]; g != want {
					t.Fatalf("%d workers, pass %d: residual gradient %d is %v, want %v", workers, pass, i, g, want)
				}
			}
			for name, g := range map[string]*Var{"Linear's bias": bv, "Add's broadcast bias": cv} {
				for j := range out {
					if g.Grad.Data[j] != want[pass][j] {
						t.Fatalf("%d workers, pass %d: %s gradient %d is %v, want %v", workers, pass, name, j, g.Grad.Data[j], want[pass][j])
					}
				}
			}
		}
		tensor.SetWorkers(prev)
	}
}
