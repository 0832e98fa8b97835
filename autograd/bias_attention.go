package autograd

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/tensor"
)

// BiasAttention is multi-head attention with an additive bias on the scores,
// as T5's relative position bias needs (Raffel et al. 2020, §2.1): for each
// head h, softmax(q_h·k_hᵀ·scale + bias_h + mask)·v_h. q is [B, Tq, H·D], k
// and v are [B, Tk, H·D], heads are the H consecutive D-wide column blocks
// (as in Attention), and bias is [H, Tq, Tk], shared by the B sequences, or
// nil. opt.Causal, opt.KeyPad and opt.Scale mean what they mean for
// Attention (Scale 0 is 1/√D; T5 passes 1, as it does not scale). The result
// is [B, Tq, H·D]; a query whose keys are all masked gets zeros.
//
// Unlike Attention it keeps the weights [B, H, Tq, Tk] for the backward
// pass: simple, and fine at the lengths relative-bias models run at. With
// opt.Dropout and a tape with an RNG (training) the weights are dropped
// with exactly Attention's mask for the same RNG state, as T5 drops them.
func (tp *Tape) BiasAttention(q, k, v, bias *Var, heads int, opt AttentionOpts) *Var {
	bsz, tq, e := q.Value.Shape[0], q.Value.Shape[1], q.Value.Shape[2]
	tk := k.Value.Shape[1]
	if heads <= 0 || e%heads != 0 || !k.Value.SameShape(v.Value) || k.Value.Shape[0] != bsz || k.Value.Shape[2] != e {
		panic(fmt.Sprintf("autograd.BiasAttention: q %v, k %v, v %v, %d heads", q.Value.Shape, k.Value.Shape, v.Value.Shape, heads))
	}
	if bias != nil && !tensor.EqualShape(bias.Value.Shape, []int{heads, tq, tk}) {
		panic(fmt.Sprintf("autograd.BiasAttention: bias %v; want [%d %d %d]", bias.Value.Shape, heads, tq, tk))
	}
	if opt.KeyPad != nil && len(opt.KeyPad) != bsz*tk {
		panic(fmt.Sprintf("autograd.BiasAttention: key padding mask has %d entries, want %d", len(opt.KeyPad), bsz*tk))
	}
	var drop *biasDropout
	if opt.Dropout > 0 && tp != nil && tp.RNG != nil {
		drop = &biasDropout{}
		drop.seeds, drop.thr, drop.keep = dropSeeds(tp.RNG, bsz*heads, opt.Dropout)
	}
	d := e / heads
	scale := opt.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	off := tk - tq // query i sees keys j <= i + off under the causal mask
	qd, kd, vd := q.Value.Data, k.Value.Data, v.Value.Data
	var bd []float32
	if bias != nil {
		bd = bias.Value.Data
	}
	// The weights, the dropped weights and y are written in full below.
	p := tp.take(bsz*heads*tq*tk, false) // softmax weights, [B, H, Tq, Tk]
	pv := p                              // the weights applied to v: p, or p dropped
	if drop != nil {
		pv = tp.take(len(p), false)
		drop.p = pv
	}
	y := tp.output(bsz, tq, e)
	if tk == 0 { // no key: every query sees nothing
		clear(y.Data)
	} else {
		tensor.Parallel(bsz*heads, 1, func(lo, hi int) {
			ld := shortLD(tk)
			scratch := getScratch()
			defer putScratch(scratch)
			scratch.kt, scratch.s = grow(scratch.kt, d*ld), grow(scratch.s, tq*ld)
			kt, sc := scratch.kt, scratch.s
			negInf := float32(math.Inf(-1))
			for bh := lo; bh < hi; bh++ {
				b, h := bh/heads, bh%heads
				qo, ko := b*tq*e+h*d, b*tk*e+h*d
				transpose(kt, ld, kd[ko:], e, tk, d)
				tensor.GemmSmall(tq, ld, d, scale, qd[qo:], e, kt, ld, 0, sc, ld)
				var pad []bool
				if opt.KeyPad != nil {
					pad = opt.KeyPad[b*tk : (b+1)*tk]
				}
				pw := p[bh*tq*tk : (bh+1)*tq*tk]
				for i := 0; i < tq; i++ {
					row, pr := sc[i*ld:i*ld+tk], pw[i*tk:(i+1)*tk]
					if bd != nil {
						addInto(row, bd[(h*tq+i)*tk:(h*tq+i+1)*tk])
					}
					last := tk - 1
					if opt.Causal {
						last = min(last, i+off)
					}
					mx := negInf
					if last >= 0 {
						maskRow(row, pad, 0, last)
						mx = rowMax(row[:last+1])
					}
					if mx == negInf { // no visible key
						clear(pr)
						continue
					}
					axpb(pr, row, 1/expRow(row, last, mx), 0, false)
				}
				sv := pw
				if drop != nil {
					sv = pv[bh*tq*tk : (bh+1)*tq*tk]
					copy(sv, pw)
					for i := 0; i < tq; i++ {
						dropWeights(sv[i*tk:(i+1)*tk], drop.seeds[bh], i*tk, drop.thr, drop.keep)
					}
				}
				tensor.GemmSmall(tq, d, tk, 1, sv, tk, vd[ko:], e, 0, y.Data[qo:], e)
			}
		})
	}
	out, rec := tp.result(y, q, k, v, bias)
	if rec {
		tp.record(out, func(dy []float32) { biasAttentionBackward(q, k, v, bias, heads, scale, p, drop, dy) })
	}
	return out
}

// biasDropout is BiasAttention's dropout: the generators of its mask, and
// the dropped weights the output was made from.
type biasDropout struct {
	seeds []uint64
	thr   uint64
	keep  float32
	p     []float32 // [B, H, Tq, Tk]
}

// biasAttentionBackward adds BiasAttention's gradients, per head, from the
// weights P and the output gradient dO: dV = Pᵀ·dO; dP = dO·Vᵀ;
// dS = P⊙(dP − rowsum(dP⊙P)); dQ = scale·dS·K; dK = scale·dSᵀ·Q;
// dbias_h = Σ_b dS. With dropout the output came from P' = P⊙M (M the
// mask, scaled): dV = P'ᵀ·dO, and dP is dO·Vᵀ⊙M. Each task owns one head
// for every sequence, so the bias gradient and the head's columns of dQ,
// dK, dV have one writer.
func biasAttentionBackward(q, k, v, bias *Var, heads int, scale float32, p []float32, drop *biasDropout, dy []float32) {
	bsz, tq, e := q.Value.Shape[0], q.Value.Shape[1], q.Value.Shape[2]
	tk := k.Value.Shape[1]
	d := e / heads
	var dq, dk, dv, db []float32
	if needs(q) {
		dq = q.grad()
	}
	if needs(k) {
		dk = k.grad()
	}
	if needs(v) {
		dv = v.grad()
	}
	if needs(bias) {
		db = bias.grad()
	}
	qd, kd, vd := q.Value.Data, k.Value.Data, v.Value.Data
	if tk == 0 { // no key: the output was 0, and its gradients are
		return
	}
	tensor.Parallel(heads, 1, func(lo, hi int) {
		ld := shortLD(tk)
		sc := getScratch()
		defer putScratch(sc)
		sc.dp, sc.vt, sc.qt = grow(sc.dp, tq*ld), grow(sc.vt, d*ld), grow(sc.qt, tk*tq)
		ds, vt, t := sc.dp, sc.vt, sc.qt // t: a transposed tile, P'ᵀ, then dSᵀ
		for h := lo; h < hi; h++ {
			for b := 0; b < bsz; b++ {
				bh := b*heads + h
				qo, ko := b*tq*e+h*d, b*tk*e+h*d
				pw, pv := p[bh*tq*tk:(bh+1)*tq*tk], p[bh*tq*tk:(bh+1)*tq*tk]
				if drop != nil {
					pv = drop.p[bh*tq*tk : (bh+1)*tq*tk]
				}
				if dv != nil {
					transpose(t, tq, pv, tk, tq, tk)
					tensor.GemmSmall(tk, d, tq, 1, t, tq, dy[qo:], e, 1, dv[ko:], e)
				}
				if dq == nil && dk == nil && db == nil {
					continue
				}
				transpose(vt, ld, vd[ko:], e, tk, d)
				tensor.GemmSmall(tq, ld, d, 1, dy[qo:], e, vt, ld, 0, ds, ld)
				for i := 0; i < tq; i++ {
					pr, dr := pw[i*tk:(i+1)*tk], ds[i*ld:i*ld+tk]
					if drop != nil {
						dropWeights(dr, drop.seeds[bh], i*tk, drop.thr, drop.keep)
					}
					dsRow(pr, dr, tensor.Dot(pr, dr))
					if db != nil {
						addInto(db[(h*tq+i)*tk:(h*tq+i+1)*tk], dr)
					}
				}
				if dq != nil {
					tensor.GemmSmall(tq, d, tk, scale, ds, ld, kd[ko:], e, 1, dq[qo:], e)
				}
				if dk != nil {
					transpose(t, tq, ds, ld, tq, tk)
					tensor.GemmSmall(tk, d, tq, scale, t, tq, qd[qo:], e, 1, dk[ko:], e)
				}
			}
		}
	})
}

// RelativeBias gathers a per-head bias [H, Tq, Tk] from table [N, H] (T5's
// relative_attention_bias embedding): entry (h, i, j) is
// table[buckets[i·Tk + j], h]. Its gradient is scattered back into the
// table's rows.
func (tp *Tape) RelativeBias(table *Var, buckets []int, tq, tk int) *Var {
	n, heads := table.Value.Shape[0], table.Value.Shape[1]
	if len(buckets) != tq*tk {
		panic(fmt.Sprintf("autograd.RelativeBias: %d buckets for %d×%d positions", len(buckets), tq, tk))
	}
	y := tp.alloc(heads, tq, tk)
	w := table.Value.Data
	for ij, bk := range buckets {
		if bk < 0 || bk >= n {
			panic(fmt.Sprintf("autograd.RelativeBias: bucket %d out of range [0, %d)", bk, n))
		}
		for h := 0; h < heads; h++ {
			y.Data[h*tq*tk+ij] = w[bk*heads+h]
		}
	}
	out, rec := tp.result(y, table)
	if rec {
		tp.record(out, func(dy []float32) {
			dw := table.grad()
			for ij, bk := range buckets {
				for h := 0; h < heads; h++ {
					dw[bk*heads+h] += dy[h*tq*tk+ij]
				}
			}
		})
	}
	return out
}
