package train

import (
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// Muon is the Muon optimizer (Jordan et al. 2024, "MomentUm Orthogonalized
// by Newton-Schulz") for the weight matrices of hidden layers: SGD with
// Nesterov momentum whose update, per matrix, is replaced by the nearest
// semi-orthogonal matrix, computed with five Newton-Schulz iterations. It
// takes larger steps in the directions that plain gradients under-use and
// reaches a given loss in fewer steps than AdamW. Embeddings, the output
// head, biases and gains stay with Adam (see Loop.Muon).
//
// Matrices are stored fan-in × fan-out (GPT-2's Conv1D layout); the update
// is scaled by √max(1, fan-out/fan-in), as the reference implementation does
// for PyTorch's fan-out × fan-in weights.
type Muon struct {
	// Momentum is β of the momentum buffer (0.95 in the reference).
	Momentum float32
	// Steps is the number of Newton-Schulz iterations (5).
	Steps int
	// LRScale converts the schedule's learning rate into Muon's (which is
	// in units of spectral norm per step): Muon steps with lr·LRScale.
	LRScale float32
	// WeightDecay decays the weights by lr·LRScale·WeightDecay each step.
	WeightDecay float32

	bufs    map[*autograd.Var][]float32
	scratch map[*autograd.Var]*nsScratch
}

// nsScratch holds one matrix's update and its Newton-Schulz work space.
type nsScratch struct{ u, a, b, t []float32 }

// HiddenMatrices is implemented by jobs and models whose hidden-layer weight
// matrices Muon can train, each stored fan-in × fan-out.
type HiddenMatrices interface{ HiddenMatrices() []*autograd.Var }

// NewMuon returns Muon with the reference momentum (0.95, Nesterov) and
// five Newton-Schulz steps.
func NewMuon(lrScale, weightDecay float32) *Muon {
	return &Muon{Momentum: 0.95, Steps: 5, LRScale: lrScale, WeightDecay: weightDecay}
}

// The quintic Newton-Schulz coefficients of the reference, chosen to
// maximise the slope at zero: singular values land roughly between 0.5 and
// 1.5 rather than exactly on 1, which (the reference reports) trains as well.
const nsA, nsB, nsC = 3.4445, -4.7750, 2.0315

// Update applies one step with the schedule's learning rate lr to each
// matrix in ps (2-D, fan-in × fan-out) that has a gradient. The matrices
// are orthogonalised concurrently, one per worker at a time: each is too
// small for its products to gain from splitting.
func (o *Muon) Update(ps []*autograd.Var, lr float32) {
	if o.bufs == nil {
		o.bufs = map[*autograd.Var][]float32{}
	}
	if o.scratch == nil {
		o.scratch = map[*autograd.Var]*nsScratch{}
	}
	lr *= o.LRScale
	var todo []*autograd.Var
	for _, p := range ps {
		if p.Grad == nil {
			continue
		}
		if o.bufs[p] == nil {
			o.bufs[p] = make([]float32, p.Value.Len())
		}
		if o.scratch[p] == nil {
			o.scratch[p] = &nsScratch{}
		}
		todo = append(todo, p)
	}
	tensor.Parallel(len(todo), 1, func(lo, hi int) {
		for _, p := range todo[lo:hi] {
			o.update(p, lr)
		}
	})
}

// update is Update for one matrix.
func (o *Muon) update(p *autograd.Var, lr float32) {
	in, out := p.Value.Shape[0], p.Value.Shape[1]
	w, g, m, sc := p.Value.Data, p.Grad.Data, o.bufs[p], o.scratch[p]
	// m = β·m + (1−β)·g; the Nesterov update u = (1−β)·g + β·m.
	beta := o.Momentum
	u := grow(&sc.u, len(w))
	for i, gv := range g {
		m[i] = beta*m[i] + (1-beta)*gv
		u[i] = (1-beta)*gv + beta*m[i]
	}
	o.orthogonalize(sc, in, out)
	scale := lr * float32(math.Sqrt(max(1, float64(out)/float64(in))))
	decay := 1 - lr*o.WeightDecay
	for i := range w {
		w[i] = w[i]*decay - scale*u[i]
	}
}

// orthogonalize replaces the r×c matrix sc.u by its approximate orthogonal
// polar factor: X = u/‖u‖, then X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ (or,
// for r > c, X ← a·X + X·(b·A + c·A²) with A = Xᵀ·X, the same iteration
// transposed), so every product is on the smaller Gram matrix.
func (o *Muon) orthogonalize(sc *nsScratch, r, c int) {
	x := sc.u
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / (math.Sqrt(ss) + 1e-7))
	for i := range x {
		x[i] *= inv
	}
	s := min(r, c)
	a, b, t := grow(&sc.a, s*s), grow(&sc.b, s*s), grow(&sc.t, r*c)
	gemm := tensor.GemmSerial
	for range o.Steps {
		if r <= c {
			gemm(false, true, r, r, c, 1, x, c, x, c, 0, a, r) // A = X·Xᵀ
		} else {
			gemm(true, false, c, c, r, 1, x, c, x, c, 0, a, c) // A = Xᵀ·X
		}
		copy(b, a)
		gemm(false, false, s, s, s, nsC, a, s, a, s, nsB, b, s) // B = b·A + c·A·A
		copy(t, x)
		if r <= c {
			gemm(false, false, r, c, r, 1, b, r, t, c, nsA, x, c) // X = a·X + B·X
		} else {
			gemm(false, false, r, c, c, 1, t, c, b, c, nsA, x, c) // X = a·X + X·B
		}
	}
}

// MomentumOf returns p's momentum buffer (nil before its first update, or
// on a nil Muon), for saving optimizer state.
func (o *Muon) MomentumOf(p *autograd.Var) []float32 {
	if o == nil {
		return nil
	}
	return o.bufs[p]
}

// SetMomentum restores p's momentum buffer (copied) when resuming a run.
func (o *Muon) SetMomentum(p *autograd.Var, m []float32) {
	if o.bufs == nil {
		o.bufs = map[*autograd.Var][]float32{}
	}
	o.bufs[p] = append([]float32(nil), m...)
}

// grow returns (*buf)[:n], reallocating when it is too short.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}
