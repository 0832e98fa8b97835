package autograd

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/tensor"
)

// The materialising attention that the streaming kernel in attention.go
// replaced, kept as the reference it is tested against: it stores the full
// Tq×Tk softmax weights of every (batch, head) for the backward pass.

// attentionRef is multi-head scaled dot-product attention (§3.2.1–3.2.2):
// for each head h, softmax(q_h·k_hᵀ·scale + mask)·v_h. q is [B, Tq, H·D],
// k and v are [B, Tk, H·D]; heads are the H consecutive D-wide column blocks,
// so no transposes are needed. The result is [B, Tq, H·D]. A query whose keys
// are all masked gets zeros.
func (tp *Tape) attentionRef(q, k, v *Var, heads int, opt AttentionOpts) *Var {
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
	// tanhs holds tanh(score/softcap) for the softcap's backward pass.
	var tanhs []float32
	if opt.Softcap > 0 {
		tanhs = make([]float32, len(probs))
	}
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
			if tanhs != nil {
				th := tanhs[bh*tq*tk : (bh+1)*tq*tk]
				for i, x := range p {
					th[i] = float32(math.Tanh(float64(x / opt.Softcap)))
					p[i] = opt.Softcap * th[i]
				}
			}
			var pad []bool
			if opt.KeyPad != nil {
				pad = opt.KeyPad[b*tk : (b+1)*tk]
			}
			rowPad := make([]bool, tk) // pad, and the keys before the window
			for i := 0; i < tq; i++ {
				last := tk - 1
				if opt.Causal {
					last = min(tk-1, i+tk-tq)
				}
				for j := range rowPad {
					rowPad[j] = pad != nil && pad[j] || opt.Window > 0 && (j <= i+tk-tq-opt.Window || j >= i+tk-tq+opt.Window)
				}
				maskedSoftmax(p[i*tk:(i+1)*tk], last, rowPad)
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
			attentionRefBackward(q, k, v, heads, scale, dropout, probs, dropped, tanhs, dy)
		})
	}
	return out
}

// attentionRefBackward adds Attention's gradients into q, k and v. With P the
// weights, P' the weights after dropout and dO the output gradient, per head:
// dV = P'ᵀ·dO; dP' = dO·Vᵀ; dP = dP'·(dropout mask); dS = P⊙(dP − rowsum(dP⊙P));
// dQ = scale·dS·K; dK = scale·dSᵀ·Q.
func attentionRefBackward(q, k, v *Var, heads int, scale, dropout float32, probs, dropped, tanhs, dy []float32) {
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
				if tanhs != nil { // through the softcap: d(c·tanh(x/c))/dx = 1 − tanh²
					for j, t := range tanhs[(bh*tq+i)*tk : (bh*tq+i+1)*tk] {
						dr[j] *= 1 - t*t
					}
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
