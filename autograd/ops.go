package autograd

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/tensor"
)

// elemGrain is the number of elements below which elementwise loops stay on
// one goroutine.
const elemGrain = 1 << 14

// lastAs returns shape with its last dimension set to n, in dims when it
// fits: the output shape of an op on the last dimension, off the heap (the
// tape copies it).
func lastAs(dims *[8]int, shape []int, n int) []int {
	return append(append(dims[:0], shape[:len(shape)-1]...), n)
}

// Reshape returns x viewed with a new shape (one dimension may be -1).
func (tp *Tape) Reshape(x *Var, shape ...int) *Var {
	out, rec := tp.result(x.Value.Reshape(shape...), x)
	if rec {
		tp.record(out, func(dy []float32) { addGrad(x, dy) })
	}
	return out
}

// Token returns the states [B, C] at position j of each sequence of x
// [B, T, C] (a classifier reading the first token, say), gathered as
// Embedding gathers rows.
func (tp *Tape) Token(x *Var, j int) *Var {
	b, t := x.Value.Shape[0], x.Value.Shape[1]
	rows := make([]int, b)
	for i := range rows {
		rows[i] = i*t + j
	}
	return tp.Embedding(tp.Reshape(x, b*t, -1), rows, 1)
}

// SliceRows returns rows [lo, hi) of x along its first dimension, as a view
// that shares x's data (used to split PyTorch's packed in_proj_weight).
func (tp *Tape) SliceRows(x *Var, lo, hi int) *Var {
	rowLen := len(x.Value.Data) / x.Value.Shape[0]
	var dims [8]int
	shape := append(append(dims[:0], hi-lo), x.Value.Shape[1:]...)
	out, rec := tp.result(tp.tensorOver(x.Value.Data[lo*rowLen:hi*rowLen], shape), x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx, fresh := x.gradNew()
			if fresh { // the rows outside the slice get no gradient from it
				tensor.Clear(dx[:lo*rowLen])
				tensor.Clear(dx[hi*rowLen:])
				copy(dx[lo*rowLen:hi*rowLen], dy)
				return
			}
			addInto(dx[lo*rowLen:hi*rowLen], dy)
		})
	}
	return out
}

// ConcatSeq returns the sequences of a and b joined, a's tokens first: b is
// [B, Tb, E] and a is [B, Ta, E], or [1, Ta, E] for the same tokens before
// every sequence (ViT's class token); the result is [B, Ta+Tb, E].
func (tp *Tape) ConcatSeq(a, b *Var) *Var {
	as, bs := a.Value.Shape, b.Value.Shape
	if len(as) != 3 || len(bs) != 3 || as[2] != bs[2] || (as[0] != bs[0] && as[0] != 1) {
		panic(fmt.Sprintf("autograd.ConcatSeq: shapes %v and %v do not join", as, bs))
	}
	batch, na, nb := bs[0], as[1]*as[2], bs[1]*bs[2]
	ta := func(i int) []float32 { // a's tokens before sequence i
		if as[0] == 1 {
			return a.Value.Data[:na]
		}
		return a.Value.Data[i*na : (i+1)*na]
	}
	y := tp.output(batch, as[1]+bs[1], bs[2])
	for i := range batch {
		row := y.Data[i*(na+nb) : (i+1)*(na+nb)]
		copy(row, ta(i))
		copy(row[na:], b.Value.Data[i*nb:(i+1)*nb])
	}
	out, rec := tp.result(y, a, b)
	if rec {
		tp.record(out, func(dy []float32) {
			if needs(a) {
				da, fresh := a.gradNew()
				for i := range batch {
					g := dy[i*(na+nb) : i*(na+nb)+na]
					if as[0] != 1 {
						if dst := da[i*na : (i+1)*na]; fresh {
							copy(dst, g)
						} else {
							addInto(dst, g)
						}
					} else if i == 0 && fresh {
						copy(da, g)
					} else {
						addInto(da, g)
					}
				}
			}
			if needs(b) {
				db, fresh := b.gradNew()
				for i := range batch {
					g, dst := dy[i*(na+nb)+na:(i+1)*(na+nb)], db[i*nb:(i+1)*nb]
					if fresh {
						copy(dst, g)
					} else {
						addInto(dst, g)
					}
				}
			}
		})
	}
	return out
}

// Add returns a + b. b's shape must equal a's or be a suffix of it (b is then
// broadcast over a's leading dimensions, as a bias or positional table is).
func (tp *Tape) Add(a, b *Var) *Var {
	n, m := len(a.Value.Data), len(b.Value.Data)
	checkSuffix("Add", a, b)
	y := tp.output(a.Value.Shape...)
	if n == m { // a residual: one "row" as long as the activations, split by elements
		ad, bd := a.Value.Data, b.Value.Data
		parallelVec(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y.Data[i] = ad[i] + bd[i]
			}
		})
	} else {
		parallelRows(n/max(m, 1), m, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				ys, as := y.Data[r*m:(r+1)*m], a.Value.Data[r*m:(r+1)*m]
				for i, bv := range b.Value.Data {
					ys[i] = as[i] + bv
				}
			}
		})
	}
	out, rec := tp.result(y, a, b)
	if rec {
		tp.record(out, func(dy []float32) {
			if needs(a) {
				addGrad(a, dy)
			}
			if needs(b) {
				db, fresh := b.gradNew()
				sumRowsInto(db, dy, fresh)
			}
		})
	}
	return out
}

// Mul returns the elementwise product a ⊙ b, with b broadcast as in Add.
func (tp *Tape) Mul(a, b *Var) *Var {
	n, m := len(a.Value.Data), len(b.Value.Data)
	checkSuffix("Mul", a, b)
	y := tp.output(a.Value.Shape...)
	if n == m { // same shapes (a gated unit's product): vectorised, over the workers
		ad, bd := a.Value.Data, b.Value.Data
		parallelVec(n, func(lo, hi int) { mulInto(y.Data[lo:hi], ad[lo:hi], bd[lo:hi], false) })
		out, rec := tp.result(y, a, b)
		if rec {
			tp.record(out, func(dy []float32) {
				for _, p := range [2][2]*Var{{a, b}, {b, a}} { // d(a·b)/da = b, and back
					if needs(p[0]) {
						g, o := p[0].grad(), p[1].Value.Data
						parallelVec(n, func(lo, hi int) { mulInto(g[lo:hi], dy[lo:hi], o[lo:hi], true) })
					}
				}
			})
		}
		return out
	}
	for i := range y.Data {
		y.Data[i] = a.Value.Data[i] * b.Value.Data[i%m]
	}
	out, rec := tp.result(y, a, b)
	if rec {
		tp.record(out, func(dy []float32) {
			if needs(a) {
				da := a.grad()
				for i := range dy {
					da[i] += dy[i] * b.Value.Data[i%m]
				}
			}
			if needs(b) {
				db := b.grad()
				for i := 0; i < n; i++ {
					db[i%m] += dy[i] * a.Value.Data[i]
				}
			}
		})
	}
	return out
}

// Scale returns s·x.
func (tp *Tape) Scale(x *Var, s float32) *Var {
	y := tp.output(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = s * v
	}
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { tensor.Axpy(s, dy, x.grad()) })
	}
	return out
}

// Sum returns the sum of all elements of x as a one-element value,
// accumulated in float64.
func (tp *Tape) Sum(x *Var) *Var {
	var s float64
	for _, v := range x.Value.Data {
		s += float64(v)
	}
	out, rec := tp.result(tensor.FromSlice([]float32{float32(s)}, 1), x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			for i := range dx {
				dx[i] += dy[0]
			}
		})
	}
	return out
}

// MatMul returns op(a)·op(b) for 2-D a and b, where op transposes when the
// flag is set.
func (tp *Tape) MatMul(a, b *Var, transA, transB bool) *Var {
	m, k := a.Value.Shape[0], a.Value.Shape[1]
	if transA {
		m, k = k, m
	}
	kb, n := b.Value.Shape[0], b.Value.Shape[1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		panic(fmt.Sprintf("autograd.MatMul: inner dimensions differ: %v·%v (trans %v %v)", a.Value.Shape, b.Value.Shape, transA, transB))
	}
	y := tp.output(m, n)
	tensor.MatMul(y, a.Value, b.Value, transA, transB, false)
	out, rec := tp.result(y, a, b)
	if rec {
		tp.record(out, func(dy []float32) {
			dY := tensor.FromSlice(dy, m, n)
			var ps products
			if needs(a) { // dA += dY·op(B)ᵀ, or its transpose when A was transposed
				dA := tensor.FromSlice(a.grad(), a.Value.Shape...)
				if transA {
					ps.add(matMul(dA, b.Value, dY, transB, true))
				} else {
					ps.add(matMul(dA, dY, b.Value, false, !transB))
				}
			}
			if needs(b) { // dB += op(A)ᵀ·dY, or its transpose when B was transposed
				dB := tensor.FromSlice(b.grad(), b.Value.Shape...)
				if transB {
					ps.add(matMul(dB, dY, a.Value, true, transA))
				} else {
					ps.add(matMul(dB, a.Value, dY, !transA, false))
				}
			}
			ps.run(a != b)
		})
	}
	return out
}

// products holds the one or two products of a backward step: an input's
// gradient and a weight's.
type products struct {
	p [2]tensor.Product
	n int
}

func (ps *products) add(p tensor.Product) {
	ps.p[ps.n] = p
	ps.n++
}

// run computes the products, both at once (tensor.GemmPair) when there
// are two and apart says their gradients are different Vars (a Var used as
// both operands gets both products added into one gradient, one after the
// other).
func (ps *products) run(apart bool) {
	if ps.n == 2 && apart {
		tensor.GemmPair(ps.p[0], ps.p[1])
		return
	}
	for _, p := range ps.p[:ps.n] {
		tensor.Gemm(p.TransA, p.TransB, p.M, p.N, p.K, p.Alpha, p.A, p.Lda, p.B, p.Ldb, p.Beta, p.C, p.Ldc)
	}
}

// matMul returns the product dst += op(a)·op(b) for 2-D tensors.
func matMul(dst, a, b *tensor.Tensor, transA, transB bool) tensor.Product {
	m, k := a.Shape[0], a.Shape[1]
	if transA {
		m, k = k, m
	}
	n := b.Shape[1]
	if transB {
		n = b.Shape[0]
	}
	return tensor.Product{TransA: transA, TransB: transB, M: m, N: n, K: k, Alpha: 1, A: a.Data, Lda: a.Shape[1], B: b.Data, Ldb: b.Shape[1], Beta: 1, C: dst.Data, Ldc: n}
}

// Linear returns x·wᵀ + b, PyTorch's nn.Linear: x is [..., in], w is
// [out, in], b is [out] or nil; the result is [..., out].
func (tp *Tape) Linear(x, w, b *Var) *Var {
	rows, in := x.Value.Rows()
	outDim := w.Value.Shape[0]
	if w.Value.Shape[1] != in {
		panic(fmt.Sprintf("autograd.Linear: input %v, weight %v", x.Value.Shape, w.Value.Shape))
	}
	var dims [8]int
	shape := lastAs(&dims, x.Value.Shape, outDim)
	y := tp.output(shape...)
	if b != nil {
		tensor.GemmBias(false, true, rows, outDim, in, x.Value.Data, in, w.Value.Data, in, b.Value.Data, y.Data, outDim)
	} else {
		tensor.Gemm(false, true, rows, outDim, in, 1, x.Value.Data, in, w.Value.Data, in, 0, y.Data, outDim)
	}
	out, rec := tp.result(y, x, w, b)
	if rec {
		tp.record(out, func(dy []float32) {
			var ps products
			if needs(x) { // dx += dy·w
				dx, fresh := x.gradNew()
				ps.add(tensor.Product{M: rows, N: in, K: outDim, Alpha: 1, A: dy, Lda: outDim, B: w.Value.Data, Ldb: in, Beta: beta1(fresh), C: dx, Ldc: in})
			}
			if needs(w) { // dw += dyᵀ·x
				dw, fresh := w.gradNew()
				ps.add(tensor.Product{TransA: true, M: outDim, N: in, K: rows, Alpha: 1, A: dy, Lda: outDim, B: x.Value.Data, Ldb: in, Beta: beta1(fresh), C: dw, Ldc: in})
			}
			ps.run(x != w)
			if needs(b) {
				db, fresh := b.gradNew()
				sumRowsInto(db, dy, fresh)
			}
		})
	}
	return out
}

// Embedding returns scale·w[ids[i]] for each id, shaped [len(ids), C] for
// w of shape [V, C]. Ids out of range are a programming error (the model
// validates its inputs first).
func (tp *Tape) Embedding(w *Var, ids []int, scale float32) *Var {
	vocab, c := w.Value.Shape[0], w.Value.Shape[1]
	y := tp.output(len(ids), c)
	for i, id := range ids {
		if id < 0 || id >= vocab {
			panic(fmt.Sprintf("autograd.Embedding: id %d out of range [0, %d)", id, vocab))
		}
		row := w.Value.Data[id*c : (id+1)*c]
		for j, v := range row {
			y.Data[i*c+j] = scale * v
		}
	}
	out, rec := tp.result(y, w)
	if rec {
		tp.record(out, func(dy []float32) {
			dw := w.grad()
			for i, id := range ids {
				tensor.Axpy(scale, dy[i*c:(i+1)*c], dw[id*c:(id+1)*c])
			}
		})
	}
	return out
}

// ReLU returns max(x, 0).
func (tp *Tape) ReLU(x *Var) *Var {
	y := tp.output(x.Value.Shape...)
	xd := x.Value.Data
	tensor.Parallel(len(xd), elemGrain, func(lo, hi int) { relu(xd[lo:hi], y.Data[lo:hi]) })
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			tensor.Parallel(len(dy), elemGrain, func(lo, hi int) { reluBack(xd[lo:hi], dy[lo:hi], dx[lo:hi]) })
		})
	}
	return out
}

// reluGo sets y = max(x, 0).
func reluGo(xs, ys []float32) {
	ys = ys[:len(xs)]
	for i, v := range xs {
		ys[i] = max(v, 0)
	}
}

// reluBackGo adds dy into dx where x > 0 (add set), or sets dx to dy there
// and +0 elsewhere (dx may be dy).
func reluBackGo(xs, dy, dx []float32, add bool) {
	dy, dx = dy[:len(xs)], dx[:len(xs)]
	for i, x := range xs {
		// The sign bit of x masks dy without a branch: random signs would
		// make a branch mispredict half the time.
		keep := uint32(int32(^math.Float32bits(x)) >> 31) // all ones if x >= +0
		if x == 0 {
			keep = 0
		}
		g := math.Float32frombits(math.Float32bits(dy[i]) & keep)
		if add {
			dx[i] += g
		} else {
			dx[i] = g
		}
	}
}

// ReLUDropout returns Dropout(ReLU(x), p), the inside of a feed-forward
// net, in one pass over its (4·d_model-wide) activations: the same draw,
// mask and numbers as ReLU then Dropout, without ReLU's output and its
// gradient in between. The backward pass reads the mask off the output
// (positive exactly where both kept the value), which must not change
// before it runs.
func (tp *Tape) ReLUDropout(x *Var, p float32) *Var {
	if p <= 0 || tp == nil || tp.RNG == nil {
		return tp.ReLU(x)
	}
	keep := 1 / (1 - p)
	n := len(x.Value.Data)
	y := tp.output(x.Value.Shape...)
	seed := tp.RNG.Uint64()
	thr := dropThreshold(p)
	xd := x.Value.Data
	tensor.Parallel(n, elemGrain, func(lo, hi int) {
		relu(xd[lo:hi], y.Data[lo:hi])
		dropout(y.Data[lo:hi], nil, y.Data[lo:hi], seed, lo, thr, keep)
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx, fresh := x.gradNew()
			// y > 0 exactly where the ReLU passed x and the dropout kept
			// it, so the mask need not be drawn again.
			yd := y.Data
			tensor.Parallel(n, elemGrain, func(lo, hi int) {
				reluDropBack(yd[lo:hi], dy[lo:hi], dx[lo:hi], keep, !fresh)
			})
		})
	}
	return out
}

// reluDropBackGo sets dx = dy·keep where y > 0, else +0, or adds it with
// add: the gradient of ReLUDropout from its output y.
func reluDropBackGo(y, dy, dx []float32, keep float32, add bool) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		// All ones where y > 0 (its sign bit and that of bits − 1 both
		// clear), without a branch, which the random mask would make
		// mispredict half the time.
		bits := math.Float32bits(v)
		pass := uint32(int32(^(bits - 1 | bits)) >> 31)
		g := math.Float32frombits(math.Float32bits(dy[i]*keep) & pass)
		if add {
			dx[i] += g
		} else {
			dx[i] = g
		}
	}
}

// parallelVec runs fn over [0, n) in ranges that start at multiples of 8,
// so that each element meets the same code whatever the number of workers:
// the vector kernels' FMAs round differently from the Go loops that finish
// a range, and results must not depend on how the work is split.
func parallelVec(n int, fn func(lo, hi int)) {
	tensor.Parallel((n+7)/8, elemGrain/8, func(lo, hi int) { fn(8*lo, min(8*hi, n)) })
}

// GELU returns x·Φ(x) with the Gaussian CDF Φ (PyTorch's default, "exact"
// GELU; Φ is computed to about 2e-7, see normCDF). e^(−x²/2) is kept for
// the backward pass.
func (tp *Tape) GELU(x *Var) *Var {
	y := tp.output(x.Value.Shape...)
	xd := x.Value.Data
	if tp == nil || tp.noGrad || !needs(x) { // no backward pass: e is scratch
		parallelVec(len(xd), func(lo, hi int) {
			var e [512]float32
			for i := lo; i < hi; i += len(e) {
				j := min(i+len(e), hi)
				geluErf(xd[i:j], e[:j-i], y.Data[i:j])
			}
		})
		out, _ := tp.result(y, x)
		return out
	}
	e := tp.take(len(xd), false) // written in full
	parallelVec(len(xd), func(lo, hi int) { geluErf(xd[lo:hi], e[lo:hi], y.Data[lo:hi]) })
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { // d/dx x·Φ(x) = Φ(x) + x·φ(x)
			dx := x.grad()
			parallelVec(len(dy), func(lo, hi int) {
				geluErfBack(xd[lo:hi], e[lo:hi], dy[lo:hi], dx[lo:hi])
			})
		})
	}
	return out
}

// geluErfGo sets e[i] = e^(−x[i]²/2) and y[i] = x[i]·Φ(x[i]), for i < len(x).
func geluErfGo(xs, es, ys []float32) {
	es, ys = es[:len(xs)], ys[:len(xs)]
	for i, v := range xs {
		es[i] = -0.5 * v * v
	}
	expShift(es, 0) // one vectorised pass for all the exponentials
	for i, v := range xs {
		ys[i] = v * normCDF(v, es[i])
	}
}

// geluErfBackGo adds dy[i]·(Φ(x[i]) + x[i]·φ(x[i])) into dx[i], from
// e[i] = e^(−x[i]²/2) saved by the forward pass.
func geluErfBackGo(xs, es, dy, dx []float32) {
	const invSqrt2Pi = 0.3989422804014327 // 1/√(2π)
	es, dy, dx = es[:len(xs)], dy[:len(xs)], dx[:len(xs)]
	for i, v := range xs {
		e := es[i]
		dx[i] += dy[i] * (normCDF(v, e) + v*invSqrt2Pi*e)
	}
}

// normCDF returns Φ(x) given e = e^(−x²/2), by Abramowitz and Stegun's
// formula 7.1.26 for erf (absolute error under 1.5e-7), the one PyTorch's
// vectorised CPU erf uses: Φ(−|x|) = ½·e·t·P(t) with t = 1/(1 + p·|x|/√2)
// and P of degree 4, then Φ(x) = ½ + sign(x)·(½ − Φ(−|x|)). The erf of
// Go's math package, in float64, took 3–4 times as long as the GEMMs
// around it in ViT's and BERT's feed-forward nets.
func normCDF(x, e float32) float32 {
	const (
		p  = 0.3275911 / math.Sqrt2 // applied to |x| rather than |x|/√2
		a1 = 0.254829592
		a2 = -0.284496736
		a3 = 1.421413741
		a4 = -1.453152027
		a5 = 1.061405429
	)
	t := 1 / (1 + p*abs32(x))
	h := 0.5 - 0.5*e*t*(a1+t*(a2+t*(a3+t*(a4+t*a5)))) // ½ − Φ(−|x|) ≥ 0
	// Give h the sign of x without a branch (random signs would mispredict).
	return 0.5 + math.Float32frombits(math.Float32bits(h)|math.Float32bits(x)&(1<<31))
}

// geluC is √(2/π), the constant of GELU's tanh approximation.
const geluC = 0.7978845608028654

// GELUTanh returns GELU's tanh approximation, as GPT-2 uses:
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). The tanh values are kept for
// the backward pass.
func (tp *Tape) GELUTanh(x *Var) *Var {
	y := tp.output(x.Value.Shape...)
	xd := x.Value.Data
	th := tp.take(len(xd), false) // written in full
	parallelVec(len(xd), func(lo, hi int) {
		geluTanh(xd[lo:hi], th[lo:hi], y.Data[lo:hi])
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			dx := x.grad()
			parallelVec(len(dy), func(lo, hi int) {
				geluTanhBack(xd[lo:hi], th[lo:hi], dy[lo:hi], dx[lo:hi])
			})
		})
	}
	return out
}

// geluTanhGo sets t[i] = tanh(u) and y[i] = ½·x[i]·(1 + t[i]), with
// u = √(2/π)·(x[i] + 0.044715·x[i]³), for i < len(x).
func geluTanhGo(xs, ts, ys []float32) {
	// tanh(u) = sign(u)·(1 − e^(−2|u|))/(1 + e^(−2|u|)): the exponent is
	// never positive, so one vectorised pass of expShift computes them.
	ts, ys = ts[:len(xs)], ys[:len(xs)]
	for i, v := range xs {
		ts[i] = -2 * geluC * abs32(v+0.044715*v*v*v)
	}
	expShift(ts, 0)
	for i, v := range xs {
		e := ts[i]
		// u has the sign of v: copy it onto (1−e)/(1+e) ≥ 0 without a
		// branch, which random signs would mispredict half the time.
		t := math.Float32frombits(math.Float32bits((1-e)/(1+e)) | math.Float32bits(v)&(1<<31))
		ts[i] = t
		ys[i] = 0.5 * v * (1 + t)
	}
}

// geluTanhBackGo adds dy[i]·GELU'(x[i]) into dx[i], from t = tanh(u) saved
// by the forward pass.
func geluTanhBackGo(xs, ts, dy, dx []float32) {
	ts, dy, dx = ts[:len(xs)], dy[:len(xs)], dx[:len(xs)]
	for i, v := range xs {
		t := ts[i]
		dx[i] += dy[i] * (0.5*(1+t) + 0.5*v*(1-t*t)*geluC*(1+3*0.044715*v*v))
	}
}

// Dropout zeroes each element with probability p and scales the rest by
// 1/(1-p) (inverted dropout). It is the identity when p is 0, on a nil tape,
// or on a tape without an RNG (evaluation).
func (tp *Tape) Dropout(x *Var, p float32) *Var {
	if p <= 0 || tp == nil || tp.RNG == nil {
		return x
	}
	keep := 1 / (1 - p)
	n := len(x.Value.Data)
	y := tp.output(x.Value.Shape...)
	// Element i is dropped by a hash of (seed, i), so the mask does not
	// depend on how the work is split, and the backward pass draws it
	// again instead of keeping it (a Transformer's masks are as large as
	// its activations).
	seed := tp.RNG.Uint64()
	thr := dropThreshold(p)
	tensor.Parallel(n, elemGrain, func(lo, hi int) {
		dropout(x.Value.Data[lo:hi], nil, y.Data[lo:hi], seed, lo, thr, keep)
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { tp.dropoutGrad(x, dy, seed, thr, keep) })
	}
	return out
}

// DropoutAdd returns x + Dropout(y, p), a residual connection around a
// sublayer, in one pass over the activations: the same numbers as Add and
// Dropout (the same draw from the tape's RNG, the same mask, the same
// roundings) without the dropped copy of y and its gradient in between.
func (tp *Tape) DropoutAdd(x, y *Var, p float32) *Var {
	if p <= 0 || tp == nil || tp.RNG == nil {
		return tp.Add(x, y)
	}
	if !x.Value.SameShape(y.Value) {
		panic(fmt.Sprintf("autograd.DropoutAdd: shapes %v and %v", x.Value.Shape, y.Value.Shape))
	}
	keep := 1 / (1 - p)
	n := len(x.Value.Data)
	z := tp.output(x.Value.Shape...)
	seed := tp.RNG.Uint64()
	thr := dropThreshold(p)
	xd, yd := x.Value.Data, y.Value.Data
	tensor.Parallel(n, elemGrain, func(lo, hi int) {
		dropout(yd[lo:hi], nil, z.Data[lo:hi], seed, lo, thr, keep)
		addInto(z.Data[lo:hi], xd[lo:hi]) // x + y·m, as Add rounds it
	})
	out, rec := tp.result(z, x, y)
	if rec {
		tp.record(out, func(dz []float32) {
			if needs(x) {
				addGrad(x, dz)
			}
			if needs(y) {
				tp.dropoutGrad(y, dz, seed, thr, keep)
			}
		})
	}
	return out
}

// dropoutGrad writes dy times the mask of a Dropout (drawn again from its
// seed) into x's gradient, or adds it there when x already has one.
func (tp *Tape) dropoutGrad(x *Var, dy []float32, seed uint64, thr int32, keep float32) {
	n := len(dy)
	dx, fresh := x.gradNew()
	if fresh {
		tensor.Parallel(n, elemGrain, func(lo, hi int) {
			dropout(dy[lo:hi], nil, dx[lo:hi], seed, lo, thr, keep)
		})
		return
	}
	g := tp.take(n, false) // dy·mask, then added
	tensor.Parallel(n, elemGrain, func(lo, hi int) {
		dropout(dy[lo:hi], nil, g[lo:hi], seed, lo, thr, keep)
		addInto(dx[lo:hi], g[lo:hi])
	})
}

// dropThreshold is p·2²⁴: an element is dropped when the top 24 bits of
// its hash fall below it.
func dropThreshold(p float32) int32 { return int32(min(float64(p)*(1<<24), 1<<24)) }

// dropHash mixes a dropout seed and an element index into 32 random bits:
// two rounds of Wellons's lowbias32 over a Weyl sequence, cheap in eight
// 32-bit vector lanes.
func dropHash(seed uint64, i int) uint32 {
	h := lowbias32(uint32(i)*0x9e3779b9 + uint32(seed))
	return lowbias32(h ^ uint32(seed>>32))
}

func lowbias32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	return x ^ x>>16
}

// dropoutGo sets y[i] = x[i]·m[i] with the mask value m[i] 0 (dropped) or
// keep, for the elements numbered base, base+1, ... of a Dropout; it keeps
// the mask in m unless m is nil.
func dropoutGo(x, m, y []float32, seed uint64, base int, thr int32, keep float32) {
	y = y[:len(x)]
	if m != nil {
		m = m[:len(x)]
	}
	for i, v := range x {
		var mi float32
		if int32(dropHash(seed, base+i)>>8) >= thr {
			mi = keep
		}
		if m != nil {
			m[i] = mi
		}
		y[i] = v * mi
	}
}

// mulIntoGo computes dst = a·b, or dst += a·b when add is set.
func mulIntoGo(dst, a, b []float32, add bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		if add {
			dst[i] += a[i] * b[i]
		} else {
			dst[i] = a[i] * b[i]
		}
	}
}

// rowSumGo returns Σ x[j] in float32, in eight interleaved partial sums
// (as the vector kernel adds).
func rowSumGo(x []float32) float32 {
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		for q := range s {
			s[q] += x[i+q]
		}
	}
	for ; i < len(x); i++ {
		s[0] += x[i]
	}
	return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

// axpbGo sets dst[j] = a·x[j] + b, or adds it to dst[j] when add is set.
func axpbGo(dst, x []float32, a, b float32, add bool) {
	x = x[:len(dst)]
	for j, v := range x {
		if add {
			dst[j] += a*v + b
		} else {
			dst[j] = a*v + b
		}
	}
}

// addGrad adds dy to v's gradient, or writes it there when v has none yet,
// over the workers (a residual's gradient is as large as the activations,
// and a serial pass over it idles the other cores).
func addGrad(v *Var, dy []float32) {
	g, fresh := v.gradNew()
	parallelVec(len(dy), func(lo, hi int) {
		if fresh {
			copy(g[lo:hi], dy[lo:hi])
		} else {
			addInto(g[lo:hi], dy[lo:hi])
		}
	})
}

// sumRowsInto sets db (when fresh) or adds to it the sum of the rows of dy,
// rows of len(db) values: a bias's gradient. The workers take bands of 128
// columns, which tensor.SumRows sums down all the rows in registers; each
// column is still summed row by row in order, so the split changes no bit
// of the result.
func sumRowsInto(db, dy []float32, fresh bool) {
	cols := len(db)
	rows := len(dy) / max(cols, 1)
	tensor.Parallel((cols+127)/128, max(1, elemGrain/(128*max(rows, 1))), func(lo, hi int) {
		c0, c1 := 128*lo, min(128*hi, cols)
		tensor.SumRows(db[c0:c1], dy[c0:], rows, cols, fresh)
	})
}

// addInto computes dst += src, with the vector kernel of Axpy (a multiply
// by 1 is exact, so the sums are those of a plain loop).
func addInto(dst, src []float32) { tensor.Axpy(1, src, dst[:len(src)]) }

// parallelRows runs fn over row ranges of a rows×cols loop.
func parallelRows(rows, cols int, fn func(r0, r1 int)) {
	tensor.Parallel(rows, max(1, elemGrain/max(cols, 1)), fn)
}

// checkSuffix panics unless b's shape is a suffix of a's.
func checkSuffix(op string, a, b *Var) {
	as, bs := a.Value.Shape, b.Value.Shape
	ok := len(bs) <= len(as) && tensor.EqualShape(as[len(as)-len(bs):], bs)
	if !ok {
		panic(fmt.Sprintf("autograd.%s: shape %v does not broadcast onto %v", op, bs, as))
	}
}

// abs32 returns |x|.
func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
