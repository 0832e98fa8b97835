package nn

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// KVCache holds the keys and values of the positions decoded so far, for N
// sequences decoded together, so each new token attends to the past without
// recomputing it. K and V are [N, Cap, E]; Len positions are filled.
type KVCache struct {
	K, V      []float32
	N, Cap, E int // Cap: positions per sequence the buffers hold now
	Len       int
	limit     int // the most positions it may grow to
	scratchK  []float32
	scratchV  []float32
}

// NewKVCache returns an empty cache for n sequences of up to capacity
// positions of width e. Its buffers start small and double as positions
// are appended: a beam of 4 over 32 sentences, preallocated for 512
// positions at width 512, would take 1.6 GB for sentences of 30 tokens.
func NewKVCache(n, capacity, e int) *KVCache {
	c := &KVCache{N: n, E: e, limit: capacity}
	c.resize(min(capacity, 32))
	return c
}

// resize moves the cache into buffers of capacity positions per sequence.
func (c *KVCache) resize(capacity int) {
	k, v := make([]float32, c.N*capacity*c.E), make([]float32, c.N*capacity*c.E)
	used := c.Len * c.E
	for i := 0; i < c.N; i++ {
		copy(k[i*capacity*c.E:i*capacity*c.E+used], c.K[i*c.Cap*c.E:])
		copy(v[i*capacity*c.E:i*capacity*c.E+used], c.V[i*c.Cap*c.E:])
	}
	c.K, c.V, c.Cap = k, v, capacity
	c.scratchK, c.scratchV = nil, nil
}

// Reorder makes sequence i continue what sequence from[i] held: beam search
// keeps the best hypotheses, which may descend from the same parent.
func (c *KVCache) Reorder(from []int) {
	size := c.Cap * c.E
	if len(c.scratchK) < len(c.K) {
		c.scratchK, c.scratchV = make([]float32, len(c.K)), make([]float32, len(c.V))
	}
	used := c.Len * c.E
	for i, f := range from {
		copy(c.scratchK[i*size:i*size+used], c.K[f*size:f*size+used])
		copy(c.scratchV[i*size:i*size+used], c.V[f*size:f*size+used])
	}
	c.K, c.scratchK = c.scratchK, c.K
	c.V, c.scratchV = c.scratchV, c.V
}

// attendOne computes, for each of n single-position queries q [n, E] and
// each head, softmax(q_h·k_hᵀ·scale)·v_h over the tk keys of its sequence,
// writing out [n, E]. Sequence i reads keys and values at k[kv(i)·stride:],
// one row of width E per position; pad (may be nil) marks padding keys of
// that sequence. It is the decoding form of Attention: no tape, no T×T
// matrix, work linear in tk.
func attendOne(out, q, k, v []float32, n, e, heads, tk, stride int, kv func(i int) int, pad func(i int) []bool) {
	d := e / heads
	scale := float32(1 / math.Sqrt(float64(d)))
	tensor.Parallel(n*heads, max(1, 4096/max(tk*d, 1)), func(lo, hi int) {
		scores := make([]float32, tk)
		for ih := lo; ih < hi; ih++ {
			i, h := ih/heads, ih%heads
			base := kv(i) * stride
			qh := q[i*e+h*d : i*e+(h+1)*d]
			var p []bool
			if pad != nil {
				p = pad(i)
			}
			m := float32(math.Inf(-1))
			for j := 0; j < tk; j++ {
				if p != nil && p[j] {
					continue
				}
				s := tensor.Dot(qh, k[base+j*e+h*d:base+j*e+(h+1)*d]) * scale
				scores[j] = s
				m = max(m, s)
			}
			o := out[i*e+h*d : i*e+(h+1)*d]
			clear(o)
			if math.IsInf(float64(m), -1) {
				continue
			}
			var sum float32
			for j := 0; j < tk; j++ {
				if p != nil && p[j] {
					scores[j] = 0
					continue
				}
				scores[j] = float32(math.Exp(float64(scores[j] - m)))
				sum += scores[j]
			}
			for j := 0; j < tk; j++ {
				if scores[j] != 0 {
					tensor.Axpy(scores[j]/sum, v[base+j*e+h*d:base+j*e+(h+1)*d], o)
				}
			}
		}
	})
}

// StepSelf runs causal self-attention for one new position per sequence:
// x is [N, 1, E]; its key and value are appended to c, and the query attends
// to every cached position. tp (an inference tape, or nil) holds the
// activations.
func (m *MultiHeadAttention) StepSelf(tp *autograd.Tape, x *autograd.Var, c *KVCache) *autograd.Var {
	n, e := x.Value.Shape[0], c.E
	q, k, v := m.project(tp, x, x, x)
	if c.Len == c.Cap {
		if c.Cap >= c.limit {
			panic(fmt.Sprintf("nn: KV cache full at %d positions", c.limit))
		}
		c.resize(min(2*c.Cap, c.limit))
	}
	for i := 0; i < n; i++ {
		off := (i*c.Cap + c.Len) * e
		copy(c.K[off:off+e], k.Value.Data[i*e:(i+1)*e])
		copy(c.V[off:off+e], v.Value.Data[i*e:(i+1)*e])
	}
	c.Len++
	o := tensor.New(n, 1, e)
	attendOne(o.Data, q.Value.Data, c.K, c.V, n, e, m.Heads, c.Len, c.Cap*e, func(i int) int { return i }, nil)
	return m.OutProj.Forward(tp, autograd.Const(o))
}

// CrossKV projects the encoder output memory [B, S, E] to the keys and
// values of encoder-decoder attention, once per decoding run.
func (m *MultiHeadAttention) CrossKV(memory *autograd.Var) (k, v *tensor.Tensor) {
	var tp *autograd.Tape // none: computed once, outside any pass
	kv := tp.Split(m.inProj(tp, memory, 1, 3), 2)
	return kv[0].Value, kv[1].Value
}

// StepCross runs encoder-decoder attention for one new position of each of N
// sequences; sequence i reads memory row src(i) of k, v ([B, S, E]) with its
// padding mask memPad (B·S entries, may be nil). tp (an inference tape, or
// nil) holds the activations.
func (m *MultiHeadAttention) StepCross(tp *autograd.Tape, x *autograd.Var, k, v *tensor.Tensor, memPad []bool, src func(i int) int) *autograd.Var {
	n, e := x.Value.Shape[0], k.Shape[2]
	s := k.Shape[1]
	q := m.inProj(tp, x, 0, 1)
	o := tensor.New(n, 1, e)
	var pad func(int) []bool
	if memPad != nil {
		pad = func(i int) []bool { b := src(i); return memPad[b*s : (b+1)*s] }
	}
	attendOne(o.Data, q.Value.Data, k.Data, v.Data, n, e, m.Heads, s, s*e, src, pad)
	return m.OutProj.Forward(tp, autograd.Const(o))
}

// DecoderState is what a decoder layer keeps between decoding steps: its
// self-attention cache and the projected encoder output.
type DecoderState struct {
	Self           *KVCache
	CrossK, CrossV *tensor.Tensor
}

// Step runs the layer on one new position of N sequences, x [N, 1, E];
// sequence i attends to encoder output row src(i). tp is nil or an
// inference tape (autograd.NewInferenceTape) that holds the activations,
// which the caller resets between steps.
func (l *DecoderLayer) Step(tp *autograd.Tape, x *autograd.Var, st *DecoderState, memPad []bool, src func(int) int) *autograd.Var {
	x = sublayer(tp, x, l.Norm1, l.Cfg, func(h *autograd.Var) *autograd.Var { return l.SelfAttn.StepSelf(tp, h, st.Self) })
	x = sublayer(tp, x, l.Norm2, l.Cfg, func(h *autograd.Var) *autograd.Var {
		return l.CrossAttn.StepCross(tp, h, st.CrossK, st.CrossV, memPad, src)
	})
	return sublayer(tp, x, l.Norm3, l.Cfg, func(h *autograd.Var) *autograd.Var { return l.FF.Forward(tp, h) })
}

// ReorderRows makes rows[i] hold what rows[from[i]] held, for caches kept
// as one buffer per hypothesis (beam search keeps the best hypotheses, which
// may share a parent). spare holds one reusable buffer per row.
func ReorderRows(rows, spare [][]float32, from []int) {
	for i, f := range from {
		spare[i] = append(spare[i][:0], rows[f]...)
	}
	for i := range rows {
		rows[i], spare[i] = spare[i], rows[i]
	}
}
