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

// TestGELUErf compares exact GELU's loops (assembly where the CPU has it,
// and Go) with each other and with float64 math (math.Erf), on lengths up
// to 70 and on extreme inputs: y and the gradient to 3e-7 of max(1, |value|).
func TestGELUErf(t *testing.T) {
	rng := tensor.NewRNG(7)
	for n := 0; n <= 70; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Normal() * 3)
		}
		if n > 5 {
			x[0], x[1], x[2], x[3], x[4] = 0, -30, 30, 1e-20, float32(math.Inf(-1))
		}
		dy := make([]float32, n)
		for i := range dy {
			dy[i] = float32(rng.Normal())
		}
		e, y, dx := make([]float32, n), make([]float32, n), make([]float32, n)
		eg, yg, dxg := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range dx {
			dx[i], dxg[i] = 0.5, 0.5
		}
		geluErf(x, e, y) // assembly where the CPU has it
		geluErfBack(x, e, dy, dx)
		geluErfGo(x, eg, yg)
		geluErfBackGo(x, eg, dy, dxg)
		for i, v := range x {
			if !sameFloat(y[i], yg[i]) || !sameFloat(dx[i], dxg[i]) || !sameFloat(e[i], eg[i]) {
				t.Fatalf("n %d, x %g: y, dx, e = %g, %g, %g; the Go loops give %g, %g, %g", n, v, y[i], dx[i], e[i], yg[i], dxg[i], eg[i])
			}
			xv := float64(v)
			cdf := 0.5 * (1 + math.Erf(xv/math.Sqrt2))
			want, wantDx := xv*cdf, 0.5+float64(dy[i])*(cdf+xv*math.Exp(-0.5*xv*xv)/math.Sqrt(2*math.Pi))
			if math.IsInf(xv, -1) { // −∞·Φ(−∞): PyTorch gives NaN too
				if !math.IsNaN(float64(y[i])) {
					t.Errorf("GELU(−Inf) = %g; want NaN", y[i])
				}
				continue
			}
			if d := math.Abs(float64(y[i]) - want); d > 3e-7*max(1, math.Abs(want)) {
				t.Fatalf("n %d, x %g: y = %g, want %g", n, v, y[i], want)
			}
			if d := math.Abs(float64(dx[i]) - wantDx); d > 3e-7*max(1, math.Abs(wantDx)) {
				t.Fatalf("n %d, x %g: dx = %g, want %g", n, v, dx[i], wantDx)
			}
		}
	}
}

// sameFloat reports whether a and b are equal to within 3e-7 relative, or
// both NaN (FMAs round the assembly's last bits differently).
func sameFloat(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Abs(float64(a-b)) <= 3e-7*max(1, math.Abs(float64(b)))
}

// TestLayerNormRows compares LayerNorm's row loops on this build (assembly
// where the CPU has it) with the Go loops, on widths with and without a
// vector tail, with and without an input gradient.
func TestLayerNormRows(t *testing.T) {
	rng := tensor.NewRNG(6)
	vec := func(n int, mean, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(mean + std*rng.Normal())
		}
		return v
	}
	for _, c := range []int{1, 7, 8, 16, 24, 192, 200, 768, 772} {
		x, w, b, g := vec(c, 3, 2), vec(c, 1, 0.2), vec(c, 0, 0.5), vec(c, 0, 1)
		y, yg := make([]float32, c), make([]float32, c)
		mu, rs := lnFwdRow(x, w, b, y, 1e-5)
		mug, rsg := lnFwdRowGo(x, w, b, yg, 1e-5)
		if math.Abs(float64(mu-mug)) > 1e-5 || math.Abs(float64(rs-rsg)) > 1e-5*float64(rsg) {
			t.Fatalf("c %d: mean, rstd %g, %g; Go %g, %g", c, mu, rs, mug, rsg)
		}
		for i := range y {
			if math.Abs(float64(y[i]-yg[i])) > 2e-5 {
				t.Fatalf("c %d: y[%d] = %g, Go %g", c, i, y[i], yg[i])
			}
		}
		for _, withDx := range []bool{true, false} {
			pw, pb, pwg, pbg := vec(c, 0, 1), vec(c, 0, 1), make([]float32, c), make([]float32, c)
			copy(pwg, pw)
			copy(pbg, pb)
			var dx, dxg []float32
			if withDx {
				dx = vec(c, 0, 1)
				dxg = append([]float32(nil), dx...)
			}
			lnBwdRow(x, g, w, pw, pb, dx, mu, rs)
			lnBwdRowGo(x, g, w, pwg, pbg, dxg, mu, rs)
			for i := range pw {
				if math.Abs(float64(pw[i]-pwg[i])) > 2e-5 || pb[i] != pbg[i] || withDx && math.Abs(float64(dx[i]-dxg[i])) > 2e-5 {
					t.Fatalf("c %d, dx %v, i %d: pw %g pb %g dx %v; Go %g %g %v", c, withDx, i, pw[i], pb[i], dx, pwg[i], pbg[i], dxg)
				}
			}
		}
	}
}

// TestDropoutMask checks the dropout kernel on this build against the Go
// loop (bit for bit), the fraction dropped against p, and that a mask does
// not depend on the number of workers.
func TestDropoutMask(t *testing.T) {
	const n = 1 << 20
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	for _, p := range []float32{0.1, 0.5, 0.9} {
		m, y := make([]float32, n), make([]float32, n)
		mg, yg := make([]float32, n), make([]float32, n)
		seed := uint64(0x1234567890abcdef) * uint64(p*10)
		dropout(x[3:], m[3:], y[3:], seed, 3, dropThreshold(p), 1/(1-p)) // an odd start: vector body and tails
		dropout(x[:3], m[:3], y[:3], seed, 0, dropThreshold(p), 1/(1-p))
		dropoutGo(x, mg, yg, seed, 0, dropThreshold(p), 1/(1-p))
		// Without keeping the mask (as the backward pass draws it again).
		yn, yng := make([]float32, n), make([]float32, n)
		dropout(x[5:], nil, yn[5:], seed, 5, dropThreshold(p), 1/(1-p))
		dropout(x[:5], nil, yn[:5], seed, 0, dropThreshold(p), 1/(1-p))
		dropoutGo(x, nil, yng, seed, 0, dropThreshold(p), 1/(1-p))
		dropped := 0
		for i := range m {
			if m[i] != mg[i] || y[i] != yg[i] {
				t.Fatalf("p %v, element %d: mask %v, y %v; Go %v, %v", p, i, m[i], y[i], mg[i], yg[i])
			}
			if math.Float32bits(yn[i]) != math.Float32bits(y[i]) || math.Float32bits(yng[i]) != math.Float32bits(y[i]) {
				t.Fatalf("p %v, element %d: y %v without the mask (Go %v), %v with it", p, i, yn[i], yng[i], y[i])
			}
			switch m[i] {
			case 0:
				dropped++
			case 1 / (1 - p):
			default:
				t.Fatalf("p %v: mask value %v", p, m[i])
			}
		}
		frac, sd := float64(dropped)/n, math.Sqrt(float64(p*(1-p))/n)
		if math.Abs(frac-float64(p)) > 5*sd {
			t.Errorf("p %v: dropped %.5f of the elements (5σ = %.5f)", p, frac, 5*sd)
		}
	}
	run := func(workers int) []float32 {
		defer tensor.SetWorkers(tensor.Workers())
		tensor.SetWorkers(workers)
		tp := NewTape(tensor.NewRNG(9))
		return tp.Dropout(Const(tensor.FromSlice(x, n)), 0.3).Value.Data
	}
	one, two := run(1), run(2)
	for i := range one {
		if one[i] != two[i] {
			t.Fatalf("element %d: %v with 1 worker, %v with 2", i, one[i], two[i])
		}
	}
}

// TestDropoutBackward checks that Dropout's backward pass, which draws the
// mask again, gives dy times the forward pass's mask exactly: written into
// a fresh gradient, and added to one that holds a value.
func TestDropoutBackward(t *testing.T) {
	rng := tensor.NewRNG(11)
	const n = 1<<16 + 7
	x, c := randTensor(rng, n), randTensor(rng, n)
	for _, add := range []bool{false, true} {
		v := NewParam(x.Clone())
		tp := NewTape(tensor.NewRNG(4))
		d := tp.Dropout(v, 0.3)
		in := d
		if add {
			in = tp.Add(v, d) // v's gradient is written by Add first
		}
		mask := make([]float32, n) // from the forward pass: y = x·keep or 0
		for i, yv := range d.Value.Data {
			if yv != 0 {
				mask[i] = 1 / (1 - float32(0.3))
			}
		}
		tp.Backward(tp.Sum(tp.Mul(in, Const(c))))
		for i, g := range v.Grad.Data {
			// The conversion rounds the product before the sum, as the
			// two passes do: Go may fuse a·b + c into one rounding (it
			// does on arm64).
			want := float32(c.Data[i] * mask[i])
			if add {
				want = c.Data[i] + want
			}
			if math.Float32bits(g) != math.Float32bits(want) {
				t.Fatalf("added %v, element %d: gradient %v, want %v", add, i, g, want)
			}
		}
	}
}

// TestReLUKernels compares ReLU's loops on this build with the Go loops on
// every length up to 40, zeros and signed zeros included, the backward
// pass both adding into a gradient and writing one.
func TestReLUKernels(t *testing.T) {
	rng := tensor.NewRNG(8)
	for n := 0; n <= 40; n++ {
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], dy[i] = float32(rng.Normal()), float32(rng.Normal())
			if i%5 == 0 {
				x[i] = 0
			}
			if i%7 == 0 {
				x[i] = float32(math.Copysign(0, -1))
			}
		}
		y, yg := make([]float32, n), make([]float32, n)
		relu(x, y)
		reluGo(x, yg)
		dx, dxg := make([]float32, n), make([]float32, n)
		reluBack(x, dy, dx)
		reluBackGo(x, dy, dxg, true)
		// Written rather than added, over NaNs that must all go; and in
		// place, dx being dy.
		set, setg, inPlace := make([]float32, n), make([]float32, n), append([]float32(nil), dy...)
		for i := range set {
			set[i], setg[i] = float32(math.NaN()), float32(math.NaN())
		}
		reluMask(x, dy, set)
		reluBackGo(x, dy, setg, false)
		reluMask(x, inPlace, inPlace)
		for i := range x {
			if y[i] != yg[i] || dx[i] != dxg[i] {
				t.Fatalf("n %d, x %g: y %g, dx %g; Go %g, %g", n, x[i], y[i], dx[i], yg[i], dxg[i])
			}
			if math.Float32bits(set[i]) != math.Float32bits(setg[i]) || set[i] != dx[i] || math.Float32bits(inPlace[i]) != math.Float32bits(set[i]) {
				t.Fatalf("n %d, x %g: written dx %g, Go %g, in place %g, added %g", n, x[i], set[i], setg[i], inPlace[i], dx[i])
			}
		}
	}
}

// TestReLUDropBack compares ReLUDropout's backward loop on this build with
// the Go loop and with what it stands for, dy·keep where y > 0, bit for bit:
// written over NaNs and added, on every length up to 40, with y's zeros of
// both signs.
func TestReLUDropBack(t *testing.T) {
	rng := tensor.NewRNG(12)
	const keep = 1.25
	for n := 0; n <= 40; n++ {
		y, dy, base := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range y {
			y[i], dy[i], base[i] = float32(math.Abs(rng.Normal())), float32(rng.Normal()), float32(rng.Normal())
			switch i % 4 {
			case 0:
				y[i] = 0
			case 1:
				y[i] = float32(math.Copysign(0, -1))
			}
		}
		for _, add := range []bool{false, true} {
			got, gotGo := make([]float32, n), make([]float32, n)
			for i := range got {
				got[i], gotGo[i] = float32(math.NaN()), float32(math.NaN())
				if add {
					got[i], gotGo[i] = base[i], base[i]
				}
			}
			reluDropBack(y, dy, got, keep, add)
			reluDropBackGo(y, dy, gotGo, keep, add)
			for i := range got {
				var want float32
				if y[i] > 0 {
					want = dy[i] * keep
				}
				if add {
					want += base[i]
				}
				if math.Float32bits(got[i]) != math.Float32bits(want) || math.Float32bits(gotGo[i]) != math.Float32bits(want) {
					t.Fatalf("n %d, add %v, y %g: dx %g, Go %g, want %g", n, add, y[i], got[i], gotGo[i], want)
				}
			}
		}
	}
}

// TestRowSumAxpb compares cross-entropy's row loops and dropout's gradient
// loop on this build with the Go loops and float64 math on every length up
// to 70.
func TestRowSumAxpb(t *testing.T) {
	rng := tensor.NewRNG(9)
	for n := 0; n <= 70; n++ {
		x, d0 := make([]float32, n), make([]float32, n)
		var want float64
		for i := range x {
			x[i], d0[i] = float32(rng.Normal()*3), float32(rng.Normal())
			want += float64(x[i])
		}
		if got := rowSum(x); math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("n %d: rowSum %g, want %g", n, got, want)
		}
		if got := rowSumGo(x); math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("n %d: rowSumGo %g, want %g", n, got, want)
		}
		a, b := float32(-0.37), float32(0.011)
		for _, add := range []bool{false, true} {
			d, dg := append([]float32(nil), d0...), append([]float32(nil), d0...)
			axpb(d, x, a, b, add)
			axpbGo(dg, x, a, b, add)
			for i := range d {
				w := float64(a)*float64(x[i]) + float64(b)
				if add {
					w += float64(d0[i])
				}
				if math.Abs(float64(d[i])-w) > 1e-6*(1+math.Abs(w)) || math.Abs(float64(dg[i])-w) > 1e-6*(1+math.Abs(w)) {
					t.Fatalf("n %d, add %v: axpb [%d] = %g (Go %g), want %g", n, add, i, d[i], dg[i], w)
				}
			}
		}
		for _, add := range []bool{false, true} {
			d, dg := append([]float32(nil), d0...), append([]float32(nil), d0...)
			mulInto(d, x, d0, add)
			mulIntoGo(dg, x, d0, add)
			for i := range d {
				w := float64(x[i]) * float64(d0[i])
				if add {
					w += float64(d0[i])
				}
				if math.Abs(float64(d[i])-w) > 1e-6*(1+math.Abs(w)) || math.Abs(float64(dg[i])-w) > 1e-6*(1+math.Abs(w)) {
					t.Fatalf("n %d, add %v: mulInto [%d] = %g (Go %g), want %g", n, add, i, d[i], dg[i], w)
				}
			}
		}
	}
}

// TestGELUWorkerIndependent runs both GELUs, and dropout's backward pass
// into a gradient that already holds a value, forward and backward on 1
// and on 7 workers: every value must be the same, bit for bit.
func TestGELUWorkerIndependent(t *testing.T) {
	rng := tensor.NewRNG(8)
	x := randTensor(rng, 1<<20+5)
	run := func(workers int) (out []float32) {
		defer tensor.SetWorkers(tensor.Workers())
		tensor.SetWorkers(workers)
		for _, f := range []func(*Tape, *Var) *Var{(*Tape).GELU, (*Tape).GELUTanh} {
			v := NewParam(x.Clone())
			tp := NewTape(nil)
			y := f(tp, v)
			tp.Backward(tp.Sum(y))
			out = append(append(out, y.Value.Data...), v.Grad.Data...)
			y = f(nil, Const(x)) // without a tape
			out = append(out, y.Value.Data...)
		}
		v := NewParam(x.Clone())
		tp := NewTape(tensor.NewRNG(3))
		tp.Backward(tp.Sum(tp.Mul(tp.Add(v, tp.Dropout(v, 0.1)), Const(x))))
		return append(out, v.Grad.Data...)
	}
	one, three := run(1), run(7)
	for i := range one {
		if math.Float32bits(one[i]) != math.Float32bits(three[i]) {
			t.Fatalf("value %d: %v on 1 worker, %v on 7", i, one[i], three[i])
		}
	}
}

// TestDropoutAddMatches requires DropoutAdd to give what Add(x, Dropout(y))
// gives, bit for bit: the value and both gradients, y's written fresh and
// added to one that holds a value, on 1 and 3 workers.
func TestDropoutAddMatches(t *testing.T) {
	rng := tensor.NewRNG(12)
	const n = 1<<16 + 5
	xs, ys, c := randTensor(rng, n), randTensor(rng, n), randTensor(rng, n)
	for _, workers := range []int{1, 3} {
		for _, twice := range []bool{false, true} {
			run := func(fused bool) []float32 {
				defer tensor.SetWorkers(tensor.SetWorkers(workers))
				x, y := NewParam(xs.Clone()), NewParam(ys.Clone())
				tp := NewTape(tensor.NewRNG(6))
				var z *Var
				if fused {
					z = tp.DropoutAdd(x, y, 0.25)
				} else {
					z = tp.Add(x, tp.Dropout(y, 0.25))
				}
				loss := tp.Sum(tp.Mul(z, Const(c)))
				if twice { // y's gradient already holds a value when DropoutAdd's arrives
					loss = tp.Add(loss, tp.Sum(tp.Mul(y, Const(c))))
				}
				tp.Backward(loss)
				return append(append(append([]float32(nil), z.Value.Data...), x.Grad.Data...), y.Grad.Data...)
			}
			want, got := run(false), run(true)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d workers, twice %v: value %d is %v fused, %v apart", workers, twice, i, got[i], want[i])
				}
			}
		}
	}
}

// TestReLUDropoutMatches requires ReLUDropout to give what
// Dropout(ReLU(x)) gives: the value bit for bit, and the gradient equal
// (written fresh, a dropped or masked element may be −0 where adding to a
// cleared gradient gave +0) or, added to one that holds a value, bit for
// bit; on 1 and 3 workers.
func TestReLUDropoutMatches(t *testing.T) {
	rng := tensor.NewRNG(13)
	const n = 1<<16 + 3
	xs, c := randTensor(rng, n), randTensor(rng, n)
	for i := 0; i < n; i += 97 {
		xs.Data[i] = 0
	}
	for _, workers := range []int{1, 3} {
		for _, twice := range []bool{false, true} {
			run := func(fused bool) []float32 {
				defer tensor.SetWorkers(tensor.SetWorkers(workers))
				x := NewParam(xs.Clone())
				tp := NewTape(tensor.NewRNG(7))
				var y *Var
				if fused {
					y = tp.ReLUDropout(x, 0.3)
				} else {
					y = tp.Dropout(tp.ReLU(x), 0.3)
				}
				loss := tp.Sum(tp.Mul(y, Const(c)))
				if twice { // x's gradient already holds a value when ReLUDropout's arrives
					loss = tp.Add(loss, tp.Sum(tp.Mul(x, Const(c))))
				}
				tp.Backward(loss)
				return append(append([]float32(nil), y.Value.Data...), x.Grad.Data...)
			}
			want, got := run(false), run(true)
			for i := range want {
				same := got[i] == want[i]
				if i < n || twice {
					same = math.Float32bits(got[i]) == math.Float32bits(want[i])
				}
				if !same {
					t.Fatalf("%d workers, twice %v: value %d is %v fused, %v apart", workers, twice, i, got[i], want[i])
				}
			}
		}
	}
}
