package autograd

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// routeRef is Route in float64: the softmax, the experts sorted by
// probability (stably, so the lower index wins a tie), the first k, and
// their probabilities, renormalised when normalize.
func routeRef(logits []float64, k int, normalize bool) ([]float64, []int) {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, v)
	}
	p := make([]float64, len(logits))
	var s float64
	for e, v := range logits {
		p[e] = math.Exp(v - m)
		s += p[e]
	}
	idx := make([]int, len(p))
	for e := range p {
		p[e] /= s
		idx[e] = e
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	idx = idx[:k]
	w := make([]float64, k)
	var sk float64
	for j, e := range idx {
		w[j] = p[e]
		sk += p[e]
	}
	if normalize {
		for j := range w {
			w[j] /= sk
		}
	}
	return w, idx
}

// TestRouteForward: Route's weights and experts are those of a float64
// softmax and sort, for k from 1 to E, both normalize settings, 2-D and
// 3-D logits; rows with equal logits choose the lower experts first, and
// every row's weights descend.
func TestRouteForward(t *testing.T) {
	r := tensor.NewRNG(3)
	const ne = 8
	logits := randTensor(r, 2, 5, ne) // 10 rows
	r.FillNormal(logits, 0, 2)
	// Row 3: ties among the largest and the next; row 7: all equal.
	copy(logits.Data[3*ne:], []float32{0.5, 2, 0.5, 2, -1, 0.5, 2, -1})
	for e := range ne {
		logits.Data[7*ne+e] = 0.25
	}
	for _, k := range []int{1, 2, 3, 4, ne} {
		for _, normalize := range []bool{false, true} {
			w, experts := (*Tape)(nil).Route(Const(logits), k, normalize)
			if !slices.Equal(w.Value.Shape, []int{10, k}) || len(experts) != 10*k {
				t.Fatalf("k %d: weights %v, %d experts; want [10 %d], %d", k, w.Value.Shape, len(experts), k, 10*k)
			}
			for row := range 10 {
				x := make([]float64, ne)
				for e := range x {
					x[e] = float64(logits.Data[row*ne+e])
				}
				wantW, wantE := routeRef(x, k, normalize)
				gotW, gotE := w.Value.Data[row*k:(row+1)*k], experts[row*k:(row+1)*k]
				if !slices.Equal(gotE, wantE) {
					t.Errorf("k %d normalize %v row %d: experts %v; want %v", k, normalize, row, gotE, wantE)
				}
				for j := range k {
					if math.Abs(float64(gotW[j])-wantW[j]) > 1e-6 {
						t.Errorf("k %d normalize %v row %d: weight %d is %v; want %v", k, normalize, row, j, gotW[j], wantW[j])
					}
					if j > 0 && gotW[j] > gotW[j-1] {
						t.Errorf("k %d normalize %v row %d: weights %v do not descend", k, normalize, row, gotW)
					}
				}
			}
			if k == 4 {
				if got := experts[3*k : 4*k]; !slices.Equal(got, []int{1, 3, 6, 0}) {
					t.Errorf("ties: experts %v; want [1 3 6 0]", got)
				}
				if got := experts[7*k : 8*k]; !slices.Equal(got, []int{0, 1, 2, 3}) {
					t.Errorf("all equal: experts %v; want [0 1 2 3]", got)
				}
			}
		}
	}
	// No tokens: empty weights and experts.
	w, experts := (*Tape)(nil).Route(Const(tensor.New(0, ne)), 2, true)
	if !slices.Equal(w.Value.Shape, []int{0, 2}) || len(experts) != 0 {
		t.Errorf("no rows: weights %v, experts %v", w.Value.Shape, experts)
	}
}

// TestGatherRowsCombineRowsForward: GatherRows copies the named rows, repeats
// included; CombineRows sums each slot's weighted expert row into its
// token, in float64 here, with an expert no token chose (nil), a slot
// taken twice and slots taken by none.
func TestGatherRowsCombineRowsForward(t *testing.T) {
	r := tensor.NewRNG(4)
	x := randTensor(r, 5, 3)
	rows := []int{4, 1, 4, 0}
	g := (*Tape)(nil).GatherRows(Const(x), rows)
	if !slices.Equal(g.Value.Shape, []int{4, 3}) {
		t.Fatalf("GatherRows shape %v; want [4 3]", g.Value.Shape)
	}
	for i, row := range rows {
		if !slices.Equal(g.Value.Data[i*3:(i+1)*3], x.Data[row*3:(row+1)*3]) {
			t.Errorf("GatherRows row %d is not x's row %d", i, row)
		}
	}
	w := randTensor(r, 4, 3)
	at := [][]int{{0, 4, 8, 11}, {1, 5, 0}, nil, {2, 3, 6, 9}}
	ys := []*Var{Const(randTensor(r, 4, 5)), Const(randTensor(r, 3, 5)), nil, Const(randTensor(r, 4, 5))}
	out := (*Tape)(nil).CombineRows(Const(w), ys, at)
	if !slices.Equal(out.Value.Shape, []int{4, 5}) {
		t.Fatalf("CombineRows shape %v; want [4 5]", out.Value.Shape)
	}
	want := make([]float64, 4*5)
	for e, a := range at {
		for i, s := range a {
			for c := range 5 {
				want[s/3*5+c] += float64(w.Data[s]) * float64(ys[e].Value.Data[i*5+c])
			}
		}
	}
	for i, v := range out.Value.Data {
		if math.Abs(float64(v)-want[i]) > 1e-5 {
			t.Errorf("CombineRows element %d is %v; want %v", i, v, want[i])
		}
	}
	// No tokens, no expert outputs: [0, 0].
	if got := (*Tape)(nil).CombineRows(Const(tensor.New(0, 2)), []*Var{nil, nil}, [][]int{nil, nil}); got.Value.Len() != 0 {
		t.Errorf("no tokens: CombineRows gave %v", got.Value.Shape)
	}
}

// moeLogits returns router logits [n, ne] whose values in each row are a
// permutation of steps 0.6 apart (plus noise under 0.1), so that no
// finite-difference step changes which experts are chosen.
func moeLogits(r *tensor.RNG, n, ne int) *tensor.Tensor {
	t := tensor.New(n, ne)
	for row := range n {
		for e, v := range r.Perm(ne) {
			t.Data[row*ne+e] = 0.6*(float32(v)-float32(ne)/2) + 0.2*(r.Float32()-0.5)
		}
	}
	return t
}

// moeLayer is a small mixture-of-experts layer: the router's logits pick
// k experts per token; each expert's tokens, gathered, go through its own
// Linear; the results are combined back. The last expert, whose logits are
// far below the others', is never chosen and has no weight.
func moeLayer(tp *Tape, logits, x *Var, weights []*Var, k int, normalize bool) *Var {
	ne := logits.Value.Shape[len(logits.Value.Shape)-1]
	w, experts := tp.Route(logits, k, normalize)
	rows, at := make([][]int, ne), make([][]int, ne)
	for s, e := range experts {
		rows[e] = append(rows[e], s/k)
		at[e] = append(at[e], s)
	}
	ys := make([]*Var, ne)
	for e := range weights {
		if len(rows[e]) > 0 {
			ys[e] = tp.Linear(tp.GatherRows(x, rows[e]), weights[e], nil)
		}
	}
	return tp.CombineRows(w, ys, at)
}

// moeInputs returns the router logits [6, 5] of moeLayer, whose top two
// experts of each token cover experts 0 to 3 (never 4), tokens x [6, 4]
// and four expert weights [3, 4].
func moeInputs(r *tensor.RNG) []*tensor.Tensor {
	logits := tensor.New(6, 5)
	base := []float32{1.5, 0.9, 0.3, -0.3}
	for t := range 6 {
		for e := range 4 {
			logits.Data[t*5+e] = base[(e+t)%4] + 0.1*(r.Float32()-0.5)
		}
		logits.Data[t*5+4] = -3
	}
	in := []*tensor.Tensor{logits, randTensor(r, 6, 4)}
	for range 4 {
		in = append(in, randTensor(r, 3, 4))
	}
	return in
}

// TestMoEGradients checks the gradients of Route, GatherRows and
// CombineRows against finite differences, alone (with repeated rows,
// untouched rows, slots taken twice or never, gradients added to earlier
// ones) and composed into a mixture-of-experts layer: the gradients of the
// tokens, the router's logits and the experts' weights.
func TestMoEGradients(t *testing.T) {
	r := tensor.NewRNG(5)
	var cases []gradCase
	for _, k := range []int{1, 2, 6} {
		for _, normalize := range []bool{false, true} {
			cases = append(cases, gradCase{name: fmt.Sprintf("Route/k=%d/normalize=%v", k, normalize),
				inputs: []*tensor.Tensor{moeLogits(r, 5, 6)},
				build: func(tp *Tape, in []*Var) *Var {
					w, _ := tp.Route(in[0], k, normalize)
					return w
				}})
		}
	}
	cases = append(cases,
		gradCase{name: "Route/3-D", inputs: []*tensor.Tensor{moeLogits(r, 6, 7).Reshape(2, 3, 7)},
			build: func(tp *Tape, in []*Var) *Var {
				w, _ := tp.Route(in[0], 3, false)
				return w
			}},
		gradCase{name: "Route/twice", inputs: []*tensor.Tensor{moeLogits(r, 4, 5)},
			build: func(tp *Tape, in []*Var) *Var { // the second backward adds to the first's gradient
				a, _ := tp.Route(in[0], 2, false)
				b, _ := tp.Route(in[0], 2, true)
				return tp.Add(a, tp.Scale(b, -0.7))
			}},
		gradCase{name: "GatherRows", inputs: []*tensor.Tensor{randTensor(r, 5, 3)},
			build: func(tp *Tape, in []*Var) *Var { return tp.GatherRows(in[0], []int{4, 1, 4, 0, 4}) }},
		gradCase{name: "GatherRows/twice", inputs: []*tensor.Tensor{randTensor(r, 5, 3)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Add(tp.GatherRows(in[0], []int{4, 1, 4}), tp.Scale(tp.GatherRows(in[0], []int{2, 1, 0}), -0.3))
			}},
	)
	combine := func(tp *Tape, in []*Var) *Var {
		return tp.CombineRows(in[0], []*Var{in[1], in[2], nil, in[3]}, [][]int{{0, 4, 8, 11}, {1, 5, 0}, nil, {2, 3, 6, 9}})
	}
	combineIn := func() []*tensor.Tensor {
		return []*tensor.Tensor{randTensor(r, 4, 3), randTensor(r, 4, 5), randTensor(r, 3, 5), randTensor(r, 4, 5)}
	}
	cases = append(cases,
		gradCase{name: "CombineRows", inputs: combineIn(), build: combine},
		gradCase{name: "CombineRows/twice", inputs: combineIn(),
			build: func(tp *Tape, in []*Var) *Var { return tp.Add(combine(tp, in), tp.Scale(combine(tp, in), -0.3)) }},
	)
	for _, normalize := range []bool{false, true} {
		cases = append(cases, gradCase{name: fmt.Sprintf("MoE/normalize=%v", normalize), inputs: moeInputs(r),
			build: func(tp *Tape, in []*Var) *Var { return moeLayer(tp, in[0], in[1], in[2:], 2, normalize) }})
	}
	for _, c := range cases {
		checkGrad(t, c)
	}
}

// TestMoEInferenceTape: a mixture-of-experts layer gives the same values
// on a recording tape, a nil tape and an inference tape, the latter also
// when its buffers come back from an earlier pass (poisoned with NaN).
func TestMoEInferenceTape(t *testing.T) {
	in := moeInputs(tensor.NewRNG(6))
	params := constAll(in)
	defer func() { poisonReused = false }()
	for _, normalize := range []bool{false, true} {
		run := func(tp *Tape) []float32 {
			return slices.Clone(moeLayer(tp, params[0], params[1], params[2:], 2, normalize).Value.Data)
		}
		rec := NewTape(nil)
		want := run(rec)
		if rec.Len() == 0 {
			t.Fatal("the recording tape recorded nothing")
		}
		poisonReused = true
		inf := NewInferenceTape()
		got := [][]float32{run(nil), run(inf)}
		inf.Reset()
		got = append(got, run(inf))
		if inf.Len() != 0 {
			t.Errorf("the inference tape recorded %d steps", inf.Len())
		}
		for i, g := range got {
			if !slices.Equal(g, want) {
				t.Errorf("normalize %v: pass %d (nil tape, inference tape, reused) differs from the recording tape's", normalize, i)
			}
		}
	}
}

// moeExpectPanic runs f and checks that it panics with a message naming op
// and containing what.
func moeExpectPanic(t *testing.T, name, op, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		msg := fmt.Sprint(recover())
		if !strings.Contains(msg, "autograd."+op+":") || !strings.Contains(msg, what) {
			t.Errorf("%s: recovered %q; want a panic of %s saying %q", name, msg, op, what)
		}
	}()
	f()
}

// TestMoEPanics: shapes and indices that do not fit are programming
// errors, reported by the op.
func TestMoEPanics(t *testing.T) {
	var tp *Tape
	logits := Const(tensor.New(3, 4))
	w := Const(tensor.New(3, 2))
	y2 := Const(tensor.New(2, 5))
	moeExpectPanic(t, "k = 0", "Route", "k = 0", func() { tp.Route(logits, 0, true) })
	moeExpectPanic(t, "k > E", "Route", "k = 5 experts of 4", func() { tp.Route(logits, 5, false) })
	moeExpectPanic(t, "row < 0", "GatherRows", "row -1 out of range", func() { tp.GatherRows(w, []int{0, -1}) })
	moeExpectPanic(t, "row = N", "GatherRows", "row 3 out of range", func() { tp.GatherRows(w, []int{3}) })
	moeExpectPanic(t, "slot = N·k", "CombineRows", "slot 6 out of range", func() {
		tp.CombineRows(w, []*Var{y2}, [][]int{{0, 6}})
	})
	moeExpectPanic(t, "slot < 0", "CombineRows", "slot -1 out of range", func() {
		tp.CombineRows(w, []*Var{y2}, [][]int{{-1, 2}})
	})
	moeExpectPanic(t, "rows", "CombineRows", "has 2 rows for 3 slots", func() {
		tp.CombineRows(w, []*Var{y2}, [][]int{{0, 1, 2}})
	})
	moeExpectPanic(t, "lists", "CombineRows", "2 expert outputs for 1 slot lists", func() {
		tp.CombineRows(w, []*Var{y2, y2}, [][]int{{0, 1}})
	})
	moeExpectPanic(t, "row length", "CombineRows", "differ in row length", func() {
		tp.CombineRows(w, []*Var{y2, Const(tensor.New(1, 4))}, [][]int{{0, 1}, {2}})
	})
	moeExpectPanic(t, "nil", "CombineRows", "ys[1] is nil for 1 slots", func() {
		tp.CombineRows(w, []*Var{y2, nil}, [][]int{{0, 1}, {2}})
	})
	p := NewParam(tensor.New(2, 5))
	moeExpectPanic(t, "same Var", "CombineRows", "ys[0] and ys[1] are the same Var", func() {
		NewTape(nil).CombineRows(w, []*Var{p, p}, [][]int{{0, 1}, {2, 3}})
	})
}

// TestMoEWorkers: values and gradients are the same bits whatever the
// number of workers the ops split their rows over (enough rows here that
// each op splits them).
func TestMoEWorkers(t *testing.T) {
	r := tensor.NewRNG(7)
	const n, c, ne, k = 4096, 64, 8, 2
	logits, x, proj := randTensor(r, n, ne), randTensor(r, n, c), randTensor(r, n, c)
	scales := make([]*Var, ne)
	for e := range scales {
		scales[e] = Const(randTensor(r, c))
	}
	for _, normalize := range []bool{false, true} {
		var outs [][][]float32
		for _, workers := range []int{1, 2, 7} {
			prev := tensor.SetWorkers(workers)
			lv, xv := NewParam(logits), NewParam(x)
			tp := NewTape(nil)
			w, experts := tp.Route(lv, k, normalize)
			rows, at := make([][]int, ne), make([][]int, ne)
			for s, e := range experts {
				rows[e] = append(rows[e], s/k)
				at[e] = append(at[e], s)
			}
			ys := make([]*Var, ne)
			for e := range ne {
				ys[e] = tp.Mul(tp.GatherRows(xv, rows[e]), scales[e])
			}
			out := tp.CombineRows(w, ys, at)
			res := [][]float32{slices.Clone(out.Value.Data), slices.Clone(w.Value.Data)}
			tp.Backward(tp.Sum(tp.Mul(out, Const(proj))))
			outs = append(outs, append(res, lv.Grad.Data, xv.Grad.Data))
			tensor.SetWorkers(prev)
		}
		for i, what := range []string{"output", "weights", "logits' gradient", "tokens' gradient"} {
			if !slices.Equal(outs[0][i], outs[1][i]) || !slices.Equal(outs[0][i], outs[2][i]) {
				t.Errorf("normalize %v: the %s differs with the number of workers", normalize, what)
			}
		}
	}
}

// TestLoadBalance: the load-balancing loss against a float64 computation
// of HF's load_balancing_loss_func (softmax, top-k, the share of choices
// and the mean probability of each expert), over two layers' logits, and
// its gradient numerically; an even split of a batch's tokens gives 1·k.
func TestLoadBalance(t *testing.T) {
	r := tensor.NewRNG(7)
	const ne, k = 5, 2
	a, b := randTensor(r, 6, ne), randTensor(r, 2, 3, ne) // 6 + 6 rows
	for i := range a.Data {
		a.Data[i] *= 3
	}
	for i := range b.Data {
		b.Data[i] *= 3
	}
	tp := NewTape(nil)
	got := tp.LoadBalance([]*Var{Const(a), Const(b)}, k).Value.Data[0]
	var count, psum [ne]float64
	rows := 0
	for _, x := range []*tensor.Tensor{a, b} {
		for row := range len(x.Data) / ne {
			z := x.Data[row*ne : (row+1)*ne]
			p := make([]float64, ne)
			var s float64
			for e, v := range z {
				p[e] = math.Exp(float64(v))
				s += p[e]
			}
			order := []int{0, 1, 2, 3, 4}
			slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(p[j], p[i]) })
			for _, e := range order[:k] {
				count[e]++
			}
			for e := range p {
				psum[e] += p[e] / s
			}
			rows++
		}
	}
	var want float64
	for e := range ne {
		want += count[e] / float64(rows) * psum[e] / float64(rows)
	}
	want *= ne
	if math.Abs(float64(got)-want) > 1e-6 {
		t.Errorf("LoadBalance = %v; want %v", got, want)
	}
	checkGrad(t, gradCase{name: "LoadBalance", inputs: []*tensor.Tensor{a, b}, build: func(tp *Tape, in []*Var) *Var { return tp.LoadBalance(in, k) }})
	// Equal logits: every expert equally likely (P_e = 1/E), the choices
	// of the ties going to the first k: E·Σ_e f_e/E = k.
	flat := tensor.New(4, ne)
	if got := tp.LoadBalance([]*Var{Const(flat)}, k).Value.Data[0]; math.Abs(float64(got)-k) > 1e-6 {
		t.Errorf("LoadBalance of equal logits = %v; want %d", got, k)
	}
}
