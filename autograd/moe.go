package autograd

import (
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/tensor"
)

// The ops of a sparse mixture-of-experts layer (Mixtral, Qwen3-MoE, OLMoE):
// Route picks each token's experts, GatherRows collects an expert's tokens
// and CombineRows adds the experts' outputs back into their tokens, each
// weighted by its routing weight. Every expert then runs as one dense
// matrix product over its own tokens.

// Route picks each row's k experts from router logits [N, E]: the softmax
// over the E experts (float32), the k largest probabilities (ties: the lower
// expert index first; in descending order of probability), renormalised to
// sum 1 when normalize (Mixtral always; Qwen3-MoE with norm_topk_prob;
// OLMoE by default not). It returns the weights [N, k] and the chosen
// experts, row-major (experts[t*k+j] is the expert of w[t, j]). The gradient
// reaches the logits through the chosen probabilities (and their sum when
// normalize); the choice itself has none. The backward pass reads experts
// again, so it must not change before then.
func (tp *Tape) Route(logits *Var, k int, normalize bool) (w *Var, experts []int) {
	n, ne := logits.Value.Rows()
	if k < 1 || k > ne {
		panic(fmt.Sprintf("autograd.Route: k = %d experts of %d (logits %v)", k, ne, logits.Value.Shape))
	}
	// p holds every row's whole softmax: the backward pass without
	// normalize needs it (every logit moves the chosen probabilities).
	p := tp.take(n*ne, false) // written in full
	y := tp.output(n, k)
	experts = make([]int, n*k)
	parallelRows(n, ne, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			pr, sel := p[r*ne:(r+1)*ne], experts[r*k:(r+1)*k]
			copy(pr, logits.Value.Data[r*ne:(r+1)*ne])
			maskedSoftmax(pr, ne-1, nil)
			topK(pr, sel)
			wr := y.Data[r*k : (r+1)*k]
			var s float64
			for j, e := range sel {
				wr[j] = pr[e]
				s += float64(pr[e])
			}
			if normalize {
				for j := range wr {
					wr[j] = float32(float64(wr[j]) / s)
				}
			}
		}
	})
	out, rec := tp.result(y, logits)
	if rec {
		tp.record(out, func(dy []float32) { routeBackward(logits, y.Data, p, experts, dy, k, normalize) })
	}
	return out, experts
}

// routeBackward adds Route's gradient into the logits. Without normalize
// w_j = p[e_j], so dlogits = p⊙(dp − Σ p·dp) with dp = dw at the chosen
// experts and 0 elsewhere: every logit moves the chosen probabilities
// through the softmax's sum. With normalize w_j = p[e_j]/S is the softmax
// of the chosen logits alone (the full sum cancels), so only they get a
// gradient: w_j·(dw_j − Σ_i w_i·dw_i), which is what the chain through
// S = Σ_j p[e_j] gives, without its rounding.
func routeBackward(logits *Var, w, p []float32, experts []int, dw []float32, k int, normalize bool) {
	n, ne := logits.Value.Rows()
	dx, fresh := logits.gradNew()
	parallelRows(n, ne, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			d, g := dx[r*ne:(r+1)*ne], dw[r*k:(r+1)*k]
			wr, sel := w[r*k:(r+1)*k], experts[r*k:(r+1)*k]
			var dot float32 // Σ_j w_j·dw_j
			for j, gv := range g {
				dot += wr[j] * gv
			}
			if normalize {
				if fresh {
					clear(d)
				}
				for j, e := range sel {
					d[e] += wr[j] * (g[j] - dot)
				}
				continue
			}
			axpb(d, p[r*ne:(r+1)*ne], -dot, 0, !fresh) // −p·Σ p·dp for every expert
			for j, e := range sel {
				d[e] += wr[j] * g[j] // + p·dp at the chosen
			}
		}
	})
}

// topK sets sel to the indices of the len(sel) largest of p in descending
// order, the lower index first among equals, by insertion: k is small. A NaN
// may land anywhere, but sel always holds distinct indices.
func topK(p []float32, sel []int) {
	k, have := len(sel), 0
	for e, v := range p {
		i := have
		if have == k {
			if !(v > p[sel[k-1]]) { // ties keep the earlier expert
				continue
			}
			i = k - 1
		} else {
			have++
		}
		for ; i > 0 && !(p[sel[i-1]] >= v); i-- {
			sel[i] = sel[i-1]
		}
		sel[i] = e
	}
}

// GatherRows returns rows[i] of x as row i, [len(rows), C]; rows may
// repeat. Its gradient is added back into the rows it came from. The
// backward pass reads rows again, so it must not change before then.
func (tp *Tape) GatherRows(x *Var, rows []int) *Var {
	nx, c := x.Value.Rows()
	for _, r := range rows {
		if r < 0 || r >= nx {
			panic(fmt.Sprintf("autograd.GatherRows: row %d out of range [0, %d) of %v", r, nx, x.Value.Shape))
		}
	}
	y := tp.output(len(rows), c)
	parallelRows(len(rows), c, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			copy(y.Data[i*c:(i+1)*c], x.Value.Data[rows[i]*c:(rows[i]+1)*c])
		}
	})
	out, rec := tp.result(y, x)
	if rec {
		tp.record(out, func(dy []float32) {
			// Each worker owns whole rows of dx and adds their copies in
			// order, so the sums do not depend on how the rows are split.
			start, slots := groupSlots(nx, [][]int{rows}, func(s int) int { return s })
			dx, fresh := x.gradNew()
			parallelRows(nx, c, func(r0, r1 int) {
				for r := r0; r < r1; r++ {
					d, from := dx[r*c:(r+1)*c], slots[start[r]:start[r+1]]
					if fresh {
						if len(from) == 0 {
							clear(d)
							continue
						}
						copy(d, dy[int(from[0].i)*c:int(from[0].i+1)*c])
						from = from[1:]
					}
					for _, sl := range from {
						addInto(d, dy[int(sl.i)*c:int(sl.i+1)*c])
					}
				}
			})
		})
	}
	return out
}

// CombineRows returns out [N, C] (N, k from w [N, k]): for each e and i,
// out[at[e][i]/k] += w.flat[at[e][i]] · ys[e] row i — the experts' outputs
// (ys[e] has len(at[e]) rows of C) summed into their tokens, each weighted
// by its routing weight. Gradients reach w and every ys[e]. An expert no
// token chose has an empty at[e] and a nil or empty ys[e]; C is that of the
// first ys[e] with rows (0 if none has any). Each output row adds its
// contributions in the order of e, then i, whatever the number of workers.
// The backward pass reads at again, so it must not change before then.
func (tp *Tape) CombineRows(w *Var, ys []*Var, at [][]int) *Var {
	n, k := w.Value.Rows()
	if len(ys) != len(at) {
		panic(fmt.Sprintf("autograd.CombineRows: %d expert outputs for %d slot lists", len(ys), len(at)))
	}
	c, first := 0, -1
	for e, y := range ys {
		if y == nil {
			if len(at[e]) != 0 {
				panic(fmt.Sprintf("autograd.CombineRows: ys[%d] is nil for %d slots", e, len(at[e])))
			}
			continue
		}
		rows, cols := y.Value.Rows()
		if rows != len(at[e]) {
			panic(fmt.Sprintf("autograd.CombineRows: ys[%d] %v has %d rows for %d slots", e, y.Value.Shape, rows, len(at[e])))
		}
		if rows == 0 {
			continue
		}
		if first < 0 {
			c, first = cols, e
		} else if cols != c {
			panic(fmt.Sprintf("autograd.CombineRows: ys[%d] %v and ys[%d] %v differ in row length", first, ys[first].Value.Shape, e, y.Value.Shape))
		}
	}
	for e, a := range at {
		for _, s := range a {
			if s < 0 || s >= n*k {
				panic(fmt.Sprintf("autograd.CombineRows: at[%d] slot %d out of range [0, %d) of weights %v", e, s, n*k, w.Value.Shape))
			}
		}
	}
	// Each output row is one worker's, summing its contributions in order.
	start, slots := groupSlots(n, at, func(s int) int { return s / k })
	y := tp.output(n, c)
	wd := w.Value.Data
	parallelRows(n, k*c, func(r0, r1 int) {
		for t := r0; t < r1; t++ {
			d := y.Data[t*c : (t+1)*c]
			clear(d)
			for _, sl := range slots[start[t]:start[t+1]] {
				i := int(sl.i)
				tensor.Axpy(wd[at[sl.e][i]], ys[sl.e].Value.Data[i*c:(i+1)*c], d)
			}
		}
	})
	out, rec := tp.result(y, append([]*Var{w}, ys...)...)
	if rec {
		for e, ye := range ys { // two slots writing one gradient row at once would race
			for e2 := e + 1; e2 < len(ys) && needs(ye) && len(at[e]) > 0; e2++ {
				if ys[e2] == ye {
					panic(fmt.Sprintf("autograd.CombineRows: ys[%d] and ys[%d] are the same Var", e, e2))
				}
			}
		}
		tp.record(out, func(dy []float32) { combineBackward(w, ys, at, start, slots, dy, c) })
	}
	return out
}

// combineBackward adds CombineRows's gradients: dw.flat[s] += dy[t]·ys[e]
// row i and d(ys[e] row i) += w.flat[s]·dy[t] for each slot s = at[e][i] of
// output row t. A worker owns whole output rows, hence the weights of their
// slots and the expert rows that fed them.
func combineBackward(w *Var, ys []*Var, at [][]int, start []int, slots []moeSlot, dy []float32, c int) {
	n, k := w.Value.Rows()
	var dw []float32
	freshW := false
	if needs(w) {
		dw, freshW = w.gradNew()
	}
	dys, freshY := make([][]float32, len(ys)), make([]bool, len(ys))
	for e, y := range ys {
		if needs(y) {
			dys[e], freshY[e] = y.gradNew() // every row is some slot's: written in full
		}
	}
	wd := w.Value.Data
	parallelRows(n, k*c, func(r0, r1 int) {
		for t := r0; t < r1; t++ {
			g := dy[t*c : (t+1)*c]
			if freshW {
				clear(dw[t*k : (t+1)*k])
			}
			for _, sl := range slots[start[t]:start[t+1]] {
				e, i := sl.e, int(sl.i)
				s := at[e][i]
				if dw != nil {
					dw[s] += tensor.Dot(g, ys[e].Value.Data[i*c:(i+1)*c])
				}
				if dys[e] != nil {
					axpb(dys[e][i*c:(i+1)*c], g, wd[s], 0, !freshY[e])
				}
			}
		}
	})
}

// moeSlot names row i of expert e's rows.
type moeSlot struct{ e, i int32 }

// groupSlots sorts the slots of at by the row of [0, n) each belongs to,
// keeping their order (e, then i) within a row: row t's are
// slots[start[t]:start[t+1]]. It lets each worker own whole rows of a
// scatter-add, so the sums come out the same however the rows are split.
func groupSlots(n int, at [][]int, row func(s int) int) (start []int, slots []moeSlot) {
	start = make([]int, n+1)
	total := 0
	for _, a := range at {
		for _, s := range a {
			start[row(s)+1]++
		}
		total += len(a)
	}
	for t := range n {
		start[t+1] += start[t]
	}
	slots = make([]moeSlot, total)
	next := start[:n:n] // advanced as slots are placed, then shifted back
	for e, a := range at {
		for i, s := range a {
			t := row(s)
			slots[next[t]] = moeSlot{int32(e), int32(i)}
			next[t]++
		}
	}
	copy(start[1:], start[:n]) // start[t] now holds row t's end: shift
	start[0] = 0
	return start, slots
}

// TopKScores returns, for logits [..., E], the softmax of each row's k
// largest logits, the other experts 0, chosen as Route chooses them
// (GPT-OSS's router_scores, which its load-balancing loss reads): the
// softmax of the logits with the others masked to −∞, so its gradient
// reaches the chosen ones alone.
func (tp *Tape) TopKScores(logits *Var, k int) *Var {
	n, ne := logits.Value.Rows()
	if k < 1 || k > ne {
		panic(fmt.Sprintf("autograd.TopKScores: k = %d experts of %d", k, ne))
	}
	mask := tensor.New(logits.Value.Shape...)
	sel := make([]int, k)
	for r := range n {
		topK(logits.Value.Data[r*ne:(r+1)*ne], sel)
		row := mask.Data[r*ne : (r+1)*ne]
		for e := range row {
			row[e] = float32(math.Inf(-1))
		}
		for _, e := range sel {
			row[e] = 0
		}
	}
	return tp.Softmax(tp.Add(logits, Const(mask)))
}

// LoadBalance returns the auxiliary load-balancing loss of a mixture of
// experts' routers (the Switch Transformer's, as HF's
// load_balancing_loss_func computes it), over every row of every one of
// logits (each [..., E], a sparse layer's router logits): with p a row's
// softmax and its k largest chosen, E·Σ_e f_e·P_e, f_e the number of
// (row, choice) pairs that chose expert e and P_e the sum of its
// probabilities, each over the R rows. It is smallest when the experts
// share the tokens evenly. Its gradient reaches the logits through P (the
// choice has none): ∂/∂p_re = E·count_e/R².
func (tp *Tape) LoadBalance(logits []*Var, k int) *Var {
	if len(logits) == 0 {
		panic("autograd.LoadBalance: no router logits")
	}
	_, ne := logits[0].Value.Rows()
	if k < 1 || k > ne {
		panic(fmt.Sprintf("autograd.LoadBalance: k = %d experts of %d", k, ne))
	}
	rows := 0
	for _, l := range logits {
		n, e := l.Value.Rows()
		if e != ne {
			panic(fmt.Sprintf("autograd.LoadBalance: logits of %d and %d experts", ne, e))
		}
		rows += n
	}
	// The rows' softmax, kept for the backward pass, and the two sums.
	probs := make([][]float32, len(logits))
	count, psum := make([]float64, ne), make([]float64, ne)
	sel := make([]int, k)
	for i, l := range logits {
		n, _ := l.Value.Rows()
		p := slices.Clone(l.Value.Data[:n*ne])
		for r := range n {
			pr := p[r*ne : (r+1)*ne]
			maskedSoftmax(pr, ne-1, nil)
			topK(pr, sel)
			for _, e := range sel {
				count[e]++
			}
			for e, v := range pr {
				psum[e] += float64(v)
			}
		}
		probs[i] = p
	}
	var loss float64
	for e := range ne {
		loss += count[e] * psum[e]
	}
	r2 := float64(rows) * float64(rows)
	out, rec := tp.result(tensor.FromSlice([]float32{float32(float64(ne) * loss / r2)}, 1), logits...)
	if rec {
		tp.record(out, func(dy []float32) {
			g := make([]float64, ne) // ∂loss/∂p_re, the same for every row
			for e := range ne {
				g[e] = float64(dy[0]) * float64(ne) * count[e] / r2
			}
			for i, l := range logits {
				if !l.requiresGrad {
					continue
				}
				dx := l.grad()
				n, _ := l.Value.Rows()
				for r := range n {
					pr, d := probs[i][r*ne:(r+1)*ne], dx[r*ne:(r+1)*ne]
					var dot float64 // Σ_e p_e·g_e
					for e, v := range pr {
						dot += float64(v) * g[e]
					}
					for e, v := range pr {
						d[e] += float32(float64(v) * (g[e] - dot))
					}
				}
			}
		})
	}
	return out
}
