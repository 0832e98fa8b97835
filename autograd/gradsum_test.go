package autograd

import (
	"math"
	"slices"
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

// TestBackwardProductsPaired checks the gradients of Linear, Conv1D and
// MatMul whose two products run at once on two workers (tensor.GemmPair)
// against the same products computed one by one on one core, bit for bit,
// over two passes (the second adds to the first); and the gradient of a
// MatMul of a value with itself, whose two products add into one gradient
// and so run one after the other. (Run at once, they race on that
// gradient's rows. The assembly kernels' race did not show in this test's
// results; go test -race -tags purego reports it at once.)
func TestBackwardProductsPaired(t *testing.T) {
	const rows, in, out = 300, 200, 130 // 7.8M multiply-adds per pass: shared
	rng := tensor.NewRNG(6)
	fill := func(n int) []float32 { return randTensor(rng, n).Data }
	x, w, dy := fill(rows*in), fill(out*in), fill(rows*out)
	ops := map[string]struct {
		wShape []int
		f      func(tp *Tape, x, w *Var) *Var
	}{
		"Linear": {[]int{out, in}, func(tp *Tape, x, w *Var) *Var { return tp.Linear(x, w, nil) }},
		"Conv1D": {[]int{in, out}, func(tp *Tape, x, w *Var) *Var { return tp.Conv1D(x, w, nil) }},
		"MatMul": {[]int{out, in}, func(tp *Tape, x, w *Var) *Var { return tp.MatMul(x, w, false, true) }},
	}
	for name, op := range ops {
		var want [2][]float32 // the gradients of x and w on one worker
		for _, workers := range []int{1, 2} {
			prev := tensor.SetWorkers(workers)
			xv, wv := NewParam(tensor.FromSlice(slices.Clone(x), rows, in)), NewParam(tensor.FromSlice(slices.Clone(w), op.wShape...))
			for range 2 {
				tp := NewTape(nil)
				y := op.f(tp, xv, wv)
				tp.Backward(tp.Sum(tp.Mul(y, Const(tensor.FromSlice(dy, rows, out)))))
			}
			tensor.SetWorkers(prev)
			got := [2][]float32{xv.Grad.Data, wv.Grad.Data}
			if workers == 1 {
				want = got
				continue
			}
			for i, g := range got {
				for j := range g {
					if g[j] != want[i][j] {
						t.Fatalf("%s, gradient %d, element %d: %v on two workers, %v on one", name, i, j, g[j], want[i][j])
					}
				}
			}
		}
	}
	// a·aᵀ: both products add into a's gradient, dy·a + dyᵀ·a.
	const n, k = 300, 100
	a, d := fill(n*k), fill(n*n)
	prev := tensor.SetWorkers(2)
	defer tensor.SetWorkers(prev)
	av := NewParam(tensor.FromSlice(slices.Clone(a), n, k))
	tp := NewTape(nil)
	tp.Backward(tp.Sum(tp.Mul(tp.MatMul(av, av, false, true), Const(tensor.FromSlice(d, n, n)))))
	for i := range n {
		for j := range k {
			var s float64
			for r := range n {
				s += float64(d[i*n+r]+d[r*n+i]) * float64(a[r*k+j])
			}
			if g := float64(av.Grad.Data[i*k+j]); math.Abs(g-s) > 1e-4*(1+math.Abs(s)) {
				t.Fatalf("a·aᵀ: gradient [%d,%d] is %v, want %v", i, j, g, s)
			}
		}
	}
}
