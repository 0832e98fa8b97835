package autograd

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/tensor"
)

// LayerNorm normalises each row of x (over its last dimension) to zero mean
// and unit variance, then scales by w and shifts by b (Ba et al. 2016; the
// paper's "LayerNorm(x + Sublayer(x))", §5.4). w and b are [C]; b may be nil.
func (tp *Tape) LayerNorm(x, w, b *Var, eps float32) *Var {
	rows, c := x.Value.Rows()
	if w.Value.Len() != c || (b != nil && b.Value.Len() != c) {
		panic(fmt.Sprintf("autograd.LayerNorm: input %v, weight %v", x.Value.Shape, w.Value.Shape))
	}
	y := tp.output(x.Value.Shape...)
	mean := tp.take(rows, false) // written in full
	rstd := tp.take(rows, false)
	var bd []float32
	if b != nil {
		bd = b.Value.Data
	}
	parallelRows(rows, c, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			mean[r], rstd[r] = lnFwdRow(x.Value.Data[r*c:(r+1)*c], w.Value.Data, bd, y.Data[r*c:(r+1)*c], eps)
		}
	})
	out, rec := tp.result(y, x, w, b)
	if rec {
		tp.record(out, func(dy []float32) { layerNormBackward(tp, x, w, b, dy, mean, rstd) })
	}
	return out
}

// layerNormBackward adds LayerNorm's gradients into x, w and b:
// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w and x̂ the normalised
// input; dw = Σ dy·x̂; db = Σ dy. Its partial sums are a buffer of tp's.
func layerNormBackward(tp *Tape, x, w, b *Var, dy, mean, rstd []float32) {
	rows, c := x.Value.Rows()
	var dx []float32
	if needs(x) {
		dx = x.grad()
	}
	// Each chunk of rows sums its own dw, db (parts[2·ch·c:] and the c
	// after); they are added up after.
	chunks := max(1, min(tensor.Workers(), rows/max(1, elemGrain/max(c, 1))))
	parts := tp.take(2*chunks*c, true)
	tensor.Parallel(chunks, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			pw, pb := parts[2*ch*c:(2*ch+1)*c], parts[(2*ch+1)*c:(2*ch+2)*c]
			for r := ch * rows / chunks; r < (ch+1)*rows/chunks; r++ {
				var d []float32
				if dx != nil {
					d = dx[r*c : (r+1)*c]
				}
				lnBwdRow(x.Value.Data[r*c:(r+1)*c], dy[r*c:(r+1)*c], w.Value.Data, pw, pb, d, mean[r], rstd[r])
			}
		}
	})
	if needs(w) {
		dw := w.grad()
		for ch := range chunks {
			for i, v := range parts[2*ch*c : (2*ch+1)*c] {
				dw[i] += v
			}
		}
	}
	if needs(b) {
		db := b.grad()
		for ch := range chunks {
			for i, v := range parts[(2*ch+1)*c : (2*ch+2)*c] {
				db[i] += v
			}
		}
	}
}

// lnFwdRowGo normalises one row: y = (x − mean)·rstd·w + b (b may be nil),
// with the statistics summed in float64; it returns mean and rstd.
func lnFwdRowGo(xs, w, b, ys []float32, eps float32) (float32, float32) {
	var s float64
	for _, v := range xs {
		s += float64(v)
	}
	mu := s / float64(len(xs))
	var ss float64
	for _, v := range xs {
		d := float64(v) - mu
		ss += d * d
	}
	rs := 1 / math.Sqrt(ss/float64(len(xs))+float64(eps))
	w, ys = w[:len(xs)], ys[:len(xs)]
	for i, v := range xs {
		n := (v - float32(mu)) * float32(rs) * w[i]
		if b != nil {
			n += b[i]
		}
		ys[i] = n
	}
	return float32(mu), float32(rs)
}

// lnBwdRowGo is one row of LayerNorm's backward pass: pw += g·x̂, pb += g
// and, when dx is not nil, dx += rstd·(g·w − mean(g·w) − x̂·mean(g·w·x̂)).
func lnBwdRowGo(xs, g, w, pw, pb, dx []float32, mu, rs float32) {
	g, w, pw, pb = g[:len(xs)], w[:len(xs)], pw[:len(xs)], pb[:len(xs)]
	var sg, sgx float64
	for i, v := range xs {
		xh := (v - mu) * rs
		gi := g[i] * w[i]
		sg += float64(gi)
		sgx += float64(gi * xh)
		pw[i] += g[i] * xh
		pb[i] += g[i]
	}
	if dx == nil {
		return
	}
	mg, mgx := float32(sg/float64(len(xs))), float32(sgx/float64(len(xs)))
	dx = dx[:len(xs)]
	for i, v := range xs {
		xh := (v - mu) * rs
		dx[i] += rs * (g[i]*w[i] - mg - xh*mgx)
	}
}

// CrossEntropy returns the mean softmax cross-entropy of logits [N, V]
// against targets (N class ids), with label smoothing ε as in the paper
// (§5.4) and PyTorch: the target distribution is (1−ε)·onehot + ε/V. Rows
// whose target is ignoreIndex are left out of the loss and the mean; if every
// row is ignored the loss is 0. Targets out of range are a programming error.
func (tp *Tape) CrossEntropy(logits *Var, targets []int, ignoreIndex int, smoothing float32) *Var {
	n, vocab := logits.Value.Rows()
	if len(targets) != n {
		panic(fmt.Sprintf("autograd.CrossEntropy: %d targets for %d rows", len(targets), n))
	}
	counted := 0
	for _, t := range targets {
		if t == ignoreIndex {
			continue
		}
		if t < 0 || t >= vocab {
			panic(fmt.Sprintf("autograd.CrossEntropy: target %d out of range [0, %d)", t, vocab))
		}
		counted++
	}
	// grad holds, for the backward pass, the gradient the logits get when
	// the loss's own gradient is 1 (it is, when the loss is what Backward
	// starts from): g0·(softmax − ε/V), less g0·(1 − ε) at the target, with
	// g0 = 1/counted, and 0 in the rows of ignored targets. It is written
	// here, while each row is in cache, and the backward pass hands it over
	// as the logits' gradient (see ceHandOver) instead of making another
	// pass over the logits.
	rec := tp != nil && !tp.noGrad && logits.requiresGrad && counted > 0
	grad := tp.take(n*vocab, false) // without rec, scratch for the exponentials
	rowLoss := make([]float64, n)
	eps := float64(smoothing)
	g0 := 1 / float32(max(counted, 1))
	uniform := float32(eps) / float32(vocab)
	parallelRows(n, vocab, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			p := grad[r*vocab : (r+1)*vocab]
			t := targets[r]
			if t == ignoreIndex {
				if rec {
					clear(p)
				}
				continue
			}
			x := logits.Value.Data[r*vocab : (r+1)*vocab]
			copy(p, x)
			m := rowMax(p)
			s := float64(expShift(p, m)) // p = e^(x−m), s = Σ p
			lse := float64(m) + math.Log(s)
			rowLoss[r] = (1 - eps) * (lse - float64(x[t]))
			if eps != 0 {
				rowLoss[r] += eps * (lse - float64(rowSum(x))/float64(vocab))
			}
			if rec {
				axpb(p, p, g0*float32(1/s), -g0*uniform, false)
				p[t] -= g0 * (1 - float32(eps))
			}
		}
	})
	var total float64
	for _, l := range rowLoss {
		total += l
	}
	loss := 0.0
	if counted > 0 {
		loss = total / float64(counted)
	}
	out, _ := tp.result(tensor.FromSlice([]float32{float32(loss)}, 1), logits)
	if rec {
		tp.record(out, func(dy []float32) {
			if ceHandOver && dy[0] == 1 && logits.Grad == nil && logits.spare == nil && logits.tape == tp {
				// The logits are this tape's and have no gradient yet:
				// grad is theirs, a buffer of the tape like the one
				// gradNew would give.
				logits.Grad = &tensor.Tensor{Shape: append([]int(nil), logits.Value.Shape...), Data: grad}
				return
			}
			dx, fresh := logits.gradNew()
			parallelRows(n, vocab, func(r0, r1 int) {
				for r := r0; r < r1; r++ {
					axpb(dx[r*vocab:(r+1)*vocab], grad[r*vocab:(r+1)*vocab], dy[0], 0, !fresh)
				}
			})
		})
	}
	return out
}

// ceHandOver lets CrossEntropy's backward pass hand the gradient it wrote
// in the forward pass to the logits; tests switch it off to compare.
var ceHandOver = true

// Softmax returns the softmax of x over its last dimension.
func (tp *Tape) Softmax(x *Var) *Var {
	rows, c := x.Value.Rows()
	y := x.Value.Clone()
	parallelRows(rows, c, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			maskedSoftmax(y.Data[r*c:(r+1)*c], c-1, nil)
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) { // dx = y⊙(dy − Σ dy⊙y)
			dx := x.grad()
			for r := 0; r < rows; r++ {
				ys, g := y.Data[r*c:(r+1)*c], dy[r*c:(r+1)*c]
				dot := tensor.Dot(ys, g)
				for i, yv := range ys {
					dx[r*c+i] += yv * (g[i] - dot)
				}
			}
		})
	}
	return out
}
