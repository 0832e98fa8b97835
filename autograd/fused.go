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
	y := tensor.New(x.Value.Shape...)
	mean := make([]float32, rows)
	rstd := make([]float32, rows)
	parallelRows(rows, c, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			xs, ys := x.Value.Data[r*c:(r+1)*c], y.Data[r*c:(r+1)*c]
			var s float64
			for _, v := range xs {
				s += float64(v)
			}
			mu := s / float64(c)
			var ss float64
			for _, v := range xs {
				d := float64(v) - mu
				ss += d * d
			}
			rs := 1 / math.Sqrt(ss/float64(c)+float64(eps))
			mean[r], rstd[r] = float32(mu), float32(rs)
			for i, v := range xs {
				n := (v - float32(mu)) * float32(rs) * w.Value.Data[i]
				if b != nil {
					n += b.Value.Data[i]
				}
				ys[i] = n
			}
		}
	})
	out, rec := tp.result(y, x, w, b)
	if rec {
		tp.record(out, func(dy []float32) { layerNormBackward(x, w, b, dy, mean, rstd) })
	}
	return out
}

// layerNormBackward adds LayerNorm's gradients into x, w and b:
// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w and x̂ the normalised
// input; dw = Σ dy·x̂; db = Σ dy.
func layerNormBackward(x, w, b *Var, dy, mean, rstd []float32) {
	rows, c := x.Value.Rows()
	var dx []float32
	if needs(x) {
		dx = x.grad()
	}
	// Each chunk of rows sums its own dw, db; they are added up after.
	chunks := max(1, min(tensor.Workers(), rows/max(1, elemGrain/max(c, 1))))
	partW := make([][]float64, chunks)
	partB := make([][]float64, chunks)
	tensor.Parallel(chunks, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			pw, pb := make([]float64, c), make([]float64, c)
			for r := ch * rows / chunks; r < (ch+1)*rows/chunks; r++ {
				xs, g := x.Value.Data[r*c:(r+1)*c], dy[r*c:(r+1)*c]
				mu, rs := mean[r], rstd[r]
				var sg, sgx float64
				for i, v := range xs {
					xh := (v - mu) * rs
					gi := g[i] * w.Value.Data[i]
					sg += float64(gi)
					sgx += float64(gi * xh)
					pw[i] += float64(g[i] * xh)
					pb[i] += float64(g[i])
				}
				if dx != nil {
					mg, mgx := float32(sg/float64(c)), float32(sgx/float64(c))
					d := dx[r*c : (r+1)*c]
					for i, v := range xs {
						xh := (v - mu) * rs
						d[i] += rs * (g[i]*w.Value.Data[i] - mg - xh*mgx)
					}
				}
			}
			partW[ch], partB[ch] = pw, pb
		}
	})
	if needs(w) {
		dw := w.grad()
		for _, pw := range partW {
			for i, v := range pw {
				dw[i] += float32(v)
			}
		}
	}
	if needs(b) {
		db := b.grad()
		for _, pb := range partB {
			for i, v := range pb {
				db[i] += float32(v)
			}
		}
	}
}

// AttentionOpts configures Attention.
type AttentionOpts struct {
	// Causal masks key j for query i when j > i + (Tk − Tq): each position
	// sees only itself and the past (the decoder's masked self-attention,
	// §3.2.3), also when the queries are the last Tq of Tk positions.
	Causal bool
	// KeyPad, if set, has B·Tk entries; true marks a padding key that no
	// query may attend to (PyTorch's key_padding_mask).
	KeyPad []bool
	// Scale multiplies q·kᵀ; 0 means 1/√D, the paper's choice (§3.2.1).
	Scale float32
	// Dropout is the probability of dropping an attention weight in training.
	Dropout float32
}

// Attention is multi-head scaled dot-product attention (§3.2.1–3.2.2):
// for each head h, softmax(q_h·k_hᵀ·scale + mask)·v_h. q is [B, Tq, H·D],
// k and v are [B, Tk, H·D]; heads are the H consecutive D-wide column blocks,
// so no transposes are needed. The result is [B, Tq, H·D]. A query whose keys
// are all masked gets zeros.
func (tp *Tape) Attention(q, k, v *Var, heads int, opt AttentionOpts) *Var {
	bsz, tq, e := q.Value.Shape[0], q.Value.Shape[1], q.Value.Shape[2]
	tk := k.Value.Shape[1]
	if heads <= 0 || e%heads != 0 || !k.Value.SameShape(v.Value) || k.Value.Shape[0] != bsz || k.Value.Shape[2] != e {
		panic(fmt.Sprintf("autograd.Attention: q %v, k %v, v %v, %d heads", q.Value.Shape, k.Value.Shape, v.Value.Shape, heads))
	}
	if opt.KeyPad != nil && len(opt.KeyPad) != bsz*tk {
		panic(fmt.Sprintf("autograd.Attention: key padding mask has %d entries, want %d", len(opt.KeyPad), bsz*tk))
	}
	d := e / heads
	scale := opt.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	dropout := opt.Dropout
	if tp == nil || tp.RNG == nil {
		dropout = 0
	}
	var rngs []*tensor.RNG
	if dropout > 0 {
		rngs = make([]*tensor.RNG, bsz*heads)
		for i := range rngs {
			rngs[i] = tp.RNG.Split()
		}
	}
	y := tensor.New(bsz, tq, e)
	// probs holds softmax weights per (b, h) for the backward pass; dropped
	// holds them after dropout (the weights actually applied to v).
	probs := make([]float32, bsz*heads*tq*tk)
	dropped := probs
	if dropout > 0 {
		dropped = make([]float32, len(probs))
	}
	qd, kd, vd := q.Value.Data, k.Value.Data, v.Value.Data
	tensor.Parallel(bsz*heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			qo, ko := b*tq*e+h*d, b*tk*e+h*d
			p := probs[bh*tq*tk : (bh+1)*tq*tk]
			tensor.GemmSerial(false, true, tq, tk, d, scale, qd[qo:], e, kd[ko:], e, 0, p, tk)
			var pad []bool
			if opt.KeyPad != nil {
				pad = opt.KeyPad[b*tk : (b+1)*tk]
			}
			for i := 0; i < tq; i++ {
				last := tk - 1
				if opt.Causal {
					last = min(tk-1, i+tk-tq)
				}
				maskedSoftmax(p[i*tk:(i+1)*tk], last, pad)
			}
			pv := p
			if dropout > 0 {
				pv = dropped[bh*tq*tk : (bh+1)*tq*tk]
				r, keep := rngs[bh], 1/(1-dropout)
				for i, w := range p {
					if r.Float32() >= dropout {
						pv[i] = w * keep
					}
				}
			}
			tensor.GemmSerial(false, false, tq, d, tk, 1, pv, tk, vd[ko:], e, 0, y.Data[qo:], e)
		}
	})
	out, rec := tp.result(y, q, k, v)
	if rec {
		tp.record(out, func(dy []float32) {
			attentionBackward(q, k, v, heads, scale, dropout, probs, dropped, dy)
		})
	}
	return out
}

// maskedSoftmax turns row (scores) into softmax weights over keys 0..last
// that are not padding; masked keys get weight 0, and a row with no visible
// key becomes all zeros.
func maskedSoftmax(row []float32, last int, pad []bool) {
	m := float32(math.Inf(-1))
	for j := 0; j <= last; j++ {
		if pad == nil || !pad[j] {
			m = max(m, row[j])
		}
	}
	if math.IsInf(float64(m), -1) {
		clear(row)
		return
	}
	var s float32
	for j := range row {
		if j > last || (pad != nil && pad[j]) {
			row[j] = 0
			continue
		}
		ev := expf(row[j] - m)
		row[j] = ev
		s += ev
	}
	inv := 1 / s
	for j := 0; j <= last; j++ {
		row[j] *= inv
	}
}

// attentionBackward adds Attention's gradients into q, k and v. With P the
// weights, P' the weights after dropout and dO the output gradient, per head:
// dV = P'ᵀ·dO; dP' = dO·Vᵀ; dP = dP'·(dropout mask); dS = P⊙(dP − rowsum(dP⊙P));
// dQ = scale·dS·K; dK = scale·dSᵀ·Q.
func attentionBackward(q, k, v *Var, heads int, scale, dropout float32, probs, dropped, dy []float32) {
	bsz, tq, e := q.Value.Shape[0], q.Value.Shape[1], q.Value.Shape[2]
	tk, d := k.Value.Shape[1], e/heads
	var dq, dk, dv []float32
	if needs(q) {
		dq = q.grad()
	}
	if needs(k) {
		dk = k.grad()
	}
	if needs(v) {
		dv = v.grad()
	}
	qd, kd, vd := q.Value.Data, k.Value.Data, v.Value.Data
	tensor.Parallel(bsz*heads, 1, func(lo, hi int) {
		ds := make([]float32, tq*tk)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			qo, ko := b*tq*e+h*d, b*tk*e+h*d
			p := probs[bh*tq*tk : (bh+1)*tq*tk]
			pv := dropped[bh*tq*tk : (bh+1)*tq*tk]
			if dv != nil {
				tensor.GemmSerial(true, false, tk, d, tq, 1, pv, tk, dy[qo:], e, 1, dv[ko:], e)
			}
			if dq == nil && dk == nil {
				continue
			}
			tensor.GemmSerial(false, true, tq, tk, d, 1, dy[qo:], e, vd[ko:], e, 0, ds, tk)
			if dropout > 0 { // the mask is P'/P where P > 0; a dropped weight has P' = 0
				for i, w := range p {
					if w != 0 {
						ds[i] *= pv[i] / w
					}
				}
			}
			for i := 0; i < tq; i++ {
				pr, dr := p[i*tk:(i+1)*tk], ds[i*tk:(i+1)*tk]
				var dot float32
				for j, w := range pr {
					dot += w * dr[j]
				}
				for j, w := range pr {
					dr[j] = w * (dr[j] - dot)
				}
			}
			if dq != nil {
				tensor.GemmSerial(false, false, tq, d, tk, scale, ds, tk, kd[ko:], e, 1, dq[qo:], e)
			}
			if dk != nil {
				tensor.GemmSerial(true, false, tk, d, tq, scale, ds, tk, qd[qo:], e, 1, dk[ko:], e)
			}
		}
	})
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
	// probs keeps the softmax of each counted row for the backward pass.
	probs := make([]float32, n*vocab)
	rowLoss := make([]float64, n)
	eps := float64(smoothing)
	parallelRows(n, vocab, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			if targets[r] == ignoreIndex {
				continue
			}
			x, p := logits.Value.Data[r*vocab:(r+1)*vocab], probs[r*vocab:(r+1)*vocab]
			m := x[0]
			for _, v := range x {
				m = max(m, v)
			}
			var s, sum float64
			for i, v := range x {
				ev := expf(v - m)
				p[i] = ev
				s += float64(ev)
				sum += float64(v)
			}
			lse := float64(m) + math.Log(s)
			inv := float32(1 / s)
			for i := range p {
				p[i] *= inv
			}
			rowLoss[r] = (1-eps)*(lse-float64(x[targets[r]])) + eps*(lse-sum/float64(vocab))
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
	out, rec := tp.result(tensor.FromSlice([]float32{float32(loss)}, 1), logits)
	if rec && counted > 0 {
		tp.record(out, func(dy []float32) {
			dx := logits.grad()
			g := dy[0] / float32(counted)
			uniform := float32(eps) / float32(vocab)
			parallelRows(n, vocab, func(r0, r1 int) {
				for r := r0; r < r1; r++ {
					t := targets[r]
					if t == ignoreIndex {
						continue
					}
					p, d := probs[r*vocab:(r+1)*vocab], dx[r*vocab:(r+1)*vocab]
					for i, pi := range p {
						d[i] += g * (pi - uniform)
					}
					d[t] -= g * (1 - float32(eps))
				}
			})
		})
	}
	return out
}

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
