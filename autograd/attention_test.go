package autograd

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// attnCase is one shape and set of options for the streaming kernel.
type attnCase struct {
	b, tq, tk, heads, d int
	causal              bool
	window              int
	softcap             float32
	pad                 []bool
	scale, dropout      float32
}

func (c attnCase) String() string {
	return fmt.Sprintf("b%d_tq%d_tk%d_h%d_d%d_causal%v_window%d_cap%v_pad%v_drop%v", c.b, c.tq, c.tk, c.heads, c.d, c.causal, c.window, c.softcap, c.pad != nil, c.dropout)
}

// runAttn runs attention (ref or streaming) forward and backward with loss
// Σ y⊙R and returns y and the gradients of q, k and v.
func runAttn(c attnCase, ref bool, seed uint64) (y, dq, dk, dv []float32) {
	r := tensor.NewRNG(uint64(c.b*1000 + c.tq*31 + c.tk*7 + c.heads + c.d))
	e := c.heads * c.d
	q, k, v := NewParam(randTensor(r, c.b, c.tq, e)), NewParam(randTensor(r, c.b, c.tk, e)), NewParam(randTensor(r, c.b, c.tk, e))
	proj := randTensor(r, c.b, c.tq, e)
	tp := NewTape(tensor.NewRNG(seed))
	opt := AttentionOpts{Causal: c.causal, Window: c.window, Softcap: c.softcap, KeyPad: c.pad, Scale: c.scale, Dropout: c.dropout}
	var out *Var
	if ref {
		out = tp.attentionRef(q, k, v, c.heads, opt)
	} else {
		out = tp.Attention(q, k, v, c.heads, opt)
	}
	tp.Backward(tp.Sum(tp.Mul(out, Const(proj))))
	return out.Value.Data, q.Grad.Data, k.Grad.Data, v.Grad.Data
}

// closeTo reports the largest |got − want| relative to max|want| (at least 1).
func closeTo(got, want []float32) float64 {
	var worst, ref float64
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
		ref = max(ref, math.Abs(float64(want[i])))
	}
	return worst / max(ref, 1)
}

func attnCases() []attnCase {
	r := tensor.NewRNG(42)
	padFor := func(b, tk int, fully int) []bool {
		p := make([]bool, b*tk)
		for i := range p {
			p[i] = r.Float32() < 0.3
		}
		if fully >= 0 { // sequence `fully` is all padding
			for j := 0; j < tk; j++ {
				p[fully*tk+j] = true
			}
		}
		for j := 0; j < tk; j++ { // a padded run covering whole key blocks
			if j >= tk/3 && j < 2*tk/3 {
				p[j] = true
			}
		}
		return p
	}
	var cs []attnCase
	shapes := [][5]int{ // b, tq, tk, heads, d
		{1, 1, 1, 1, 1}, {1, 5, 5, 1, 3}, {2, 7, 7, 2, 5}, {1, 13, 13, 3, 4}, {2, 9, 17, 4, 3},
		{2, 17, 9, 2, 7}, {1, 1, 23, 8, 2}, {3, 3, 19, 5, 3}, {1, 31, 31, 8, 1}, {2, 20, 20, 6, 6},
		{1, 70, 70, 2, 8}, {1, 65, 129, 1, 16}, {2, 130, 130, 1, 5},
	}
	for si, s := range shapes {
		for _, causal := range []bool{false, true} {
			for _, pad := range []bool{false, true} {
				c := attnCase{b: s[0], tq: s[1], tk: s[2], heads: s[3], d: s[4], causal: causal}
				if pad {
					fully := -1
					if c.b > 1 {
						fully = 1
					}
					c.pad = padFor(c.b, c.tk, fully)
				}
				switch si % 3 {
				case 1:
					c.scale = 0.7
				case 2: // scores spread over ±40: the running maximum jumps between blocks
					c.scale = 4
				}
				cs = append(cs, c)
				if (si+len(cs))%2 == 0 {
					c.dropout = 0.3
					cs = append(cs, c)
				}
				// A sliding window, narrower than a key block or wider
				// (without the causal mask, on either side).
				c.window = 1 + (si*7)%max(1, c.tk/2)
				cs = append(cs, c)
				c.window, c.dropout = c.tk/3+1, 0.3*float32(si%2)
				cs = append(cs, c)
				if si%2 == 0 { // a softcap that bites: scores spread over ±40 at scale 4
					c.window, c.softcap = 0, 1.5
					cs = append(cs, c)
				}
			}
		}
	}
	return cs
}

// withBlocks runs fn with the kernel's block sizes and worker count set.
func withBlocks(bq, bk, workers int, fn func()) {
	oq, ok, od := attnBlockQ, attnBlockK, attnBlockKDecode
	attnBlockQ, attnBlockK, attnBlockKDecode = bq, bk, bk
	prev := tensor.SetWorkers(workers)
	defer func() {
		attnBlockQ, attnBlockK, attnBlockKDecode = oq, ok, od
		tensor.SetWorkers(prev)
	}()
	fn()
}

// TestAttentionMatchesReference checks the streaming kernel against the
// materialising one on many shapes, with block sizes that cut them into
// ragged pieces and worker counts that split heads across tasks. With
// dropout both draw the same mask from the same seed.
func TestAttentionMatchesReference(t *testing.T) {
	configs := [][3]int{{64, 128, 2}, {3, 5, 1}, {4, 7, 2}, {5, 2, 5}, {16, 8, 3}}
	simd := attnSIMD
	defer func() { attnSIMD, attnTranspose, attnShort = simd, true, true }()
	for ci, c := range attnCases() {
		wy, wdq, wdk, wdv := runAttn(c, true, 7)
		for i, cfg := range configs {
			attnSIMD = simd && (ci+i)%2 == 0 // the assembly and the Go loops
			attnTranspose = (ci+i)%3 != 0    // with and without transposed copies
			attnShort = (ci/2+i)%2 == 0      // one tile per head, or the streaming kernel
			withBlocks(cfg[0], cfg[1], cfg[2], func() {
				y, dq, dk, dv := runAttn(c, false, 7)
				// Rounding errors in the scores grow with them: scale 4
				// spreads them over ±40.
				amp := max(1, float64(c.scale))
				for _, x := range []struct {
					name      string
					got, want []float32
					tol       float64
				}{{"y", y, wy, 2e-6 * amp}, {"dq", dq, wdq, 2e-5 * amp}, {"dk", dk, wdk, 2e-5 * amp}, {"dv", dv, wdv, 2e-5 * amp}} {
					if err := closeTo(x.got, x.want); err > x.tol || math.IsNaN(err) {
						t.Errorf("%v blocks %v simd %v transpose %v short %v: %s off by %.3g (relative to max)", c, cfg, attnSIMD, attnTranspose, attnShort, x.name, err)
					}
				}
			})
		}
	}
}

// TestAttentionDeterministic checks that dropout draws the same mask for the
// same seed whatever the scheduling: forward and backward are bit for bit
// the same on 1, 2 and 5 workers, and a different seed changes them.
func TestAttentionDeterministic(t *testing.T) {
	for _, block := range []int{8, 64} { // the streaming kernel, and one tile per head
		t.Run(fmt.Sprint("blocks", block), func(t *testing.T) { testAttentionDeterministic(t, block) })
	}
}

func testAttentionDeterministic(t *testing.T, block int) {
	c := attnCase{b: 3, tq: 40, tk: 40, heads: 5, d: 4, causal: true, dropout: 0.4}
	var runs [][4][]float32
	for _, w := range []int{1, 5, 2, 5} {
		withBlocks(block, block, w, func() {
			y, dq, dk, dv := runAttn(c, false, 11)
			runs = append(runs, [4][]float32{y, dq, dk, dv})
		})
	}
	for _, r := range runs[1:] {
		for x, name := range []string{"y", "dq", "dk", "dv"} {
			for i, v := range r[x] {
				if v != runs[0][x][i] {
					t.Fatalf("%s[%d]: %v and %v differ across runs", name, i, runs[0][x][i], v)
				}
			}
		}
	}
	ys := [][]float32{runs[0][0]}
	y2, _, _, _ := runAttn(c, false, 12)
	if closeTo(y2, ys[0]) < 1e-3 {
		t.Fatalf("a different seed gave the same output")
	}
}

// TestAttentionGradientsBlocked runs the finite-difference check on the
// streaming kernel cut into small blocks, with dropout, padding and Tq ≠ Tk.
func TestAttentionGradientsBlocked(t *testing.T) {
	r := tensor.NewRNG(8)
	pad := make([]bool, 2*9)
	for _, j := range []int{1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17} {
		pad[j] = true // the second sequence is all padding
	}
	cases := []gradCase{
		{name: "dropout+pad", inputs: []*tensor.Tensor{randTensor(r, 2, 7, 6), randTensor(r, 2, 9, 6), randTensor(r, 2, 9, 6)}, seed: 5,
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{KeyPad: pad, Dropout: 0.3})
			}},
		{name: "causal+dropout/cross", inputs: []*tensor.Tensor{randTensor(r, 1, 5, 9), randTensor(r, 1, 11, 9), randTensor(r, 1, 11, 9)}, seed: 9,
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 3, AttentionOpts{Causal: true, Dropout: 0.2})
			}},
		{name: "window+dropout", inputs: []*tensor.Tensor{randTensor(r, 1, 8, 4), randTensor(r, 1, 10, 4), randTensor(r, 1, 10, 4)}, seed: 3,
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{Causal: true, Window: 3, Dropout: 0.2})
			}},
		{name: "window/bidirectional+dropout", inputs: []*tensor.Tensor{randTensor(r, 1, 8, 4), randTensor(r, 1, 10, 4), randTensor(r, 1, 10, 4)}, seed: 5,
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{Window: 3, Dropout: 0.2})
			}},
		{name: "softcap+window", inputs: []*tensor.Tensor{randTensor(r, 1, 7, 4), randTensor(r, 1, 9, 4), randTensor(r, 1, 9, 4)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{Causal: true, Window: 4, Softcap: 0.8, Scale: 2})
			}},
		{name: "softcap+pad", inputs: []*tensor.Tensor{randTensor(r, 2, 7, 6), randTensor(r, 2, 9, 6), randTensor(r, 2, 9, 6)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 2, AttentionOpts{KeyPad: pad, Softcap: 1.1})
			}},
		{name: "causal/long-q", inputs: []*tensor.Tensor{randTensor(r, 1, 10, 4), randTensor(r, 1, 6, 4), randTensor(r, 1, 6, 4)},
			build: func(tp *Tape, in []*Var) *Var {
				return tp.Attention(in[0], in[1], in[2], 1, AttentionOpts{Causal: true})
			}},
	}
	for _, cfg := range [][3]int{{2, 3, 1}, {3, 2, 4}, {64, 128, 2}} { // the last: one tile per head
		withBlocks(cfg[0], cfg[1], cfg[2], func() {
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/blocks%v", c.name, cfg), func(t *testing.T) { checkGrad(t, c) })
			}
		})
	}
}

// TestAttentionPartialGrads checks the gradients when only some of q, k and
// v take one (a frozen input), against the materialising kernel, on one
// tile per head and on the streaming kernel, with dropout, padding and
// Tq ≠ Tk.
func TestAttentionPartialGrads(t *testing.T) {
	defer func() { attnShort = true }()
	r := tensor.NewRNG(21)
	const b, tq, tk, heads, d = 2, 24, 32, 3, 16
	pad := make([]bool, b*tk)
	for i := range pad {
		pad[i] = r.Float32() < 0.2
	}
	in := []*tensor.Tensor{randTensor(r, b, tq, heads*d), randTensor(r, b, tk, heads*d), randTensor(r, b, tk, heads*d)}
	proj := randTensor(r, b, tq, heads*d)
	opt := AttentionOpts{Causal: true, KeyPad: pad, Dropout: 0.25}
	run := func(wants [3]bool, ref bool) [][]float32 {
		vars := make([]*Var, 3)
		for i, x := range in {
			vars[i] = Const(x)
			if wants[i] {
				vars[i] = NewParam(x.Clone())
			}
		}
		tp := NewTape(tensor.NewRNG(4))
		var y *Var
		if ref {
			y = tp.attentionRef(vars[0], vars[1], vars[2], heads, opt)
		} else {
			y = tp.Attention(vars[0], vars[1], vars[2], heads, opt)
		}
		tp.Backward(tp.Sum(tp.Mul(y, Const(proj))))
		out := [][]float32{y.Value.Data}
		for i, v := range vars {
			if wants[i] {
				out = append(out, v.Grad.Data)
			}
		}
		return out
	}
	for _, wants := range [][3]bool{{true, false, false}, {false, true, false}, {false, false, true}, {false, true, true}, {true, false, true}} {
		want := run(wants, true)
		for _, short := range []bool{true, false} {
			attnShort = short
			got := run(wants, false)
			for i := range want {
				if err := closeTo(got[i], want[i]); err > 2e-5 || math.IsNaN(err) {
					t.Errorf("grads of %v, short %v: output %d off by %.3g", wants, short, i, err)
				}
			}
		}
	}
}

// TestAttentionMemoryLinear checks that the bytes a forward and backward
// pass allocate grow linearly in T: T eight times longer must not take more
// than twice 8 times the bytes (the materialising kernel takes 64 times).
func TestAttentionMemoryLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	bytes := func(tlen int) uint64 {
		c := attnCase{b: 1, tq: tlen, tk: tlen, heads: 2, d: 8, causal: true}
		r := tensor.NewRNG(1)
		q, k, v := NewParam(randTensor(r, 1, tlen, 16)), NewParam(randTensor(r, 1, tlen, 16)), NewParam(randTensor(r, 1, tlen, 16))
		grad := randTensor(r, 1, tlen, 16)
		run := func() {
			tp := NewTape(nil)
			y := tp.Attention(q, k, v, c.heads, AttentionOpts{Causal: true})
			y.Grad = grad
			tp.steps[len(tp.steps)-1]()
			tp.Reset()
		}
		run()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		run()
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc
	}
	small, big := bytes(512), bytes(4096)
	if big > 16*small {
		t.Fatalf("attention allocated %d bytes at T=512 and %d at T=4096: not linear", small, big)
	}
	t.Logf("allocated %d bytes at T=512, %d at T=4096", small, big)
}

// TestAttentionVectorLoops checks the element-wise loops (assembly where the
// CPU has it) against plain scalar code, on every length up to 70, with
// masked (−Inf), tiny and NaN scores.
func TestAttentionVectorLoops(t *testing.T) {
	r := tensor.NewRNG(3)
	for n := 0; n <= 70; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.Normal() * 10)
			switch r.Intn(10) {
			case 0:
				x[i] = float32(math.Inf(-1))
			case 1:
				x[i] = -90 - 30*r.Float32()
			}
		}
		m := rowMax(x)
		wantMax := float32(math.Inf(-1))
		for _, v := range x {
			wantMax = max(wantMax, v)
		}
		if m != wantMax {
			t.Fatalf("n=%d: rowMax = %v, want %v", n, m, wantMax)
		}
		if math.IsInf(float64(m), -1) {
			m = 0 // the kernel skips rows with no visible key
		}
		y := append([]float32(nil), x...)
		sum := expShift(y, m)
		var want float64
		for i, v := range x {
			w := math.Exp(float64(v - m))
			want += w
			if d := math.Abs(float64(y[i]) - w); d > 3e-7*w+1e-37 {
				t.Fatalf("n=%d: e^(%v − %v) = %v, want %v", n, v, m, y[i], w)
			}
		}
		if math.Abs(float64(sum)-want) > 1e-6*want {
			t.Fatalf("n=%d: sum %v, want %v", n, sum, want)
		}
		dp := append([]float32(nil), x...)
		for i := range dp {
			dp[i] = float32(r.Normal())
		}
		want2 := make([]float32, n)
		for i := range dp {
			want2[i] = y[i] * (dp[i] - 0.3)
		}
		dsRow(y, dp, 0.3)
		for i := range dp {
			if dp[i] != want2[i] {
				t.Fatalf("n=%d: dsRow[%d] = %v, want %v", n, i, dp[i], want2[i])
			}
		}
		if n > 0 {
			x[n/2] = float32(math.NaN())
			expShift(x, 0)
			if !math.IsNaN(float64(x[n/2])) {
				t.Fatalf("n=%d: e^NaN = %v", n, x[n/2])
			}
		}
	}
}

// TestAttentionTranspose checks transpose (assembly where the CPU has it)
// on every shape up to 19×19, with row strides, against plain indexing.
func TestAttentionTranspose(t *testing.T) {
	for rows := 0; rows <= 19; rows++ {
		for cols := 0; cols <= 19; cols++ {
			lds, ldd := cols+3, rows+5
			src := make([]float32, rows*lds)
			for i := range src {
				src[i] = float32(i)
			}
			dst := make([]float32, cols*ldd+1)
			for i := range dst {
				dst[i] = -1
			}
			transpose(dst, ldd, src, lds, rows, cols)
			for c := 0; c < cols; c++ {
				for i := 0; i < ldd; i++ {
					want := float32(-1)
					if i < rows {
						want = src[i*lds+c]
					}
					if dst[c*ldd+i] != want {
						t.Fatalf("%d×%d: dst[%d][%d] = %v, want %v", rows, cols, c, i, dst[c*ldd+i], want)
					}
				}
			}
			if dst[cols*ldd] != -1 {
				t.Fatalf("%d×%d: wrote past the end", rows, cols)
			}
		}
	}
}

// TestAttentionSinks checks attention with sinks (a logit per head that
// joins each row's softmax and has no value) against a direct float64
// computation, with grouped-query heads, the causal mask, sliding windows
// and block sizes that cut the rows and keys into ragged pieces.
func TestAttentionSinks(t *testing.T) {
	r := tensor.NewRNG(9)
	for _, c := range []struct{ b, tq, tk, heads, kv, d, window int }{
		{1, 1, 1, 2, 1, 4, 0}, {1, 5, 5, 4, 2, 3, 0}, {2, 7, 7, 4, 2, 5, 3}, {1, 1, 23, 4, 1, 8, 0},
		{2, 9, 17, 6, 3, 4, 4}, {1, 33, 33, 2, 2, 6, 1}, {1, 70, 70, 4, 2, 8, 16},
	} {
		q, k, v := randTensor(r, c.b, c.tq, c.heads*c.d), randTensor(r, c.b, c.tk, c.kv*c.d), randTensor(r, c.b, c.tk, c.kv*c.d)
		st := tensor.New(c.heads)
		sinks := st.Data
		for h := range sinks {
			sinks[h] = 3 * (r.Float32() - 0.5) // from well below the scores to above them
		}
		sinks[0] = 8 // a sink that takes nearly all the weight
		if c.heads > 2 {
			sinks[2] = float32(math.Inf(-1)) // a sink of weight 0: no sink
		}
		want := make([]float64, c.b*c.tq*c.heads*c.d)
		scale := 1 / math.Sqrt(float64(c.d))
		for b := range c.b {
			for h := range c.heads {
				g := h / (c.heads / c.kv)
				for i := range c.tq {
					at := i + c.tk - c.tq // the query's position among the keys
					var js []int
					for j := 0; j <= at; j++ {
						if c.window == 0 || at-j < c.window {
							js = append(js, j)
						}
					}
					s := make([]float64, len(js))
					mx := float64(sinks[h])
					for n, j := range js {
						for x := range c.d {
							s[n] += float64(q.Data[(b*c.tq+i)*c.heads*c.d+h*c.d+x]) * float64(k.Data[(b*c.tk+j)*c.kv*c.d+g*c.d+x])
						}
						s[n] *= scale
						mx = max(mx, s[n])
					}
					sum := math.Exp(float64(sinks[h]) - mx) // 0 for a sink of −Inf
					for n := range s {
						s[n] = math.Exp(s[n] - mx)
						sum += s[n]
					}
					for n, j := range js {
						for x := range c.d {
							want[(b*c.tq+i)*c.heads*c.d+h*c.d+x] += s[n] / sum * float64(v.Data[(b*c.tk+j)*c.kv*c.d+g*c.d+x])
						}
					}
				}
			}
		}
		for _, cfg := range [][3]int{{64, 128, 2}, {3, 5, 1}, {4, 7, 2}} {
			withBlocks(cfg[0], cfg[1], cfg[2], func() {
				y := NewInferenceTape().Attention(Const(q), Const(k), Const(v), c.heads, AttentionOpts{Causal: true, KVHeads: c.kv, Window: c.window, Sinks: Const(st)})
				for i, w := range want {
					if d := math.Abs(float64(y.Value.Data[i]) - w); d > 1e-5 {
						t.Fatalf("%+v blocks %v: y[%d] = %v, want %v", c, cfg, i, y.Value.Data[i], w)
					}
				}
			})
		}
	}
}

// TestAttentionWritesOutputs runs Attention's short heads and BiasAttention
// twice on one tape whose reused buffers start as NaN: their outputs and
// kept weights, which they write without clearing first, must be whole on
// the second pass (rows with no visible key included).
func TestAttentionWritesOutputs(t *testing.T) {
	r := tensor.NewRNG(17)
	const b, tq, tk, heads, d = 2, 20, 24, 2, 8
	pad := make([]bool, b*tk)
	for j := range tk {
		pad[tk+j] = true // the second sequence is all padding
	}
	q, k, v := NewParam(randTensor(r, b, tq, heads*d)), NewParam(randTensor(r, b, tk, heads*d)), NewParam(randTensor(r, b, tk, heads*d))
	bias := NewParam(randTensor(r, heads, tq, tk))
	proj := randTensor(r, b, tq, heads*d)
	tp := NewTape(tensor.NewRNG(4))
	pass := func(withBias bool) [][]float32 {
		for _, x := range []*Var{q, k, v, bias} {
			x.ZeroGrad()
		}
		tp.RNG.State = 4
		opt := AttentionOpts{Causal: true, KeyPad: pad, Dropout: 0.2}
		var y *Var
		if withBias {
			y = tp.BiasAttention(q, k, v, bias, heads, opt)
		} else {
			y = tp.Attention(q, k, v, heads, opt)
		}
		out := slices.Clone(y.Value.Data)
		tp.Backward(tp.Sum(tp.Mul(y, Const(proj))))
		res := [][]float32{out}
		for _, x := range []*Var{q, k, v} {
			res = append(res, slices.Clone(x.Grad.Data))
		}
		return res
	}
	poisonReused = true
	defer func() { poisonReused = false }()
	for _, withBias := range []bool{false, true} {
		first := pass(withBias)
		second := pass(withBias)
		for i := range first {
			for j := range first[i] {
				if first[i][j] != second[i][j] || math.IsNaN(float64(second[i][j])) {
					t.Fatalf("bias %v: output %d [%d] is %v on the first pass, %v on the second", withBias, i, j, first[i][j], second[i][j])
				}
			}
		}
	}
}

// TestAttentionNoKeys runs Attention (both paths) and BiasAttention with no
// keys at all: every query sees nothing, so the output and q's gradient
// are 0, and nothing panics.
func TestAttentionNoKeys(t *testing.T) {
	defer func() { attnShort = true }()
	for _, tq := range []int{3, 10} {
		for _, impl := range []string{"short", "streaming", "bias"} {
			attnShort = impl != "streaming"
			r := tensor.NewRNG(1)
			q, k, v := NewParam(randTensor(r, 2, tq, 8)), NewParam(tensor.New(2, 0, 8)), NewParam(tensor.New(2, 0, 8))
			tp := NewTape(tensor.NewRNG(2))
			opt := AttentionOpts{Causal: true, Dropout: 0.1}
			var y *Var
			if impl == "bias" {
				y = tp.BiasAttention(q, k, v, nil, 2, opt)
			} else {
				y = tp.Attention(q, k, v, 2, opt)
			}
			tp.Backward(tp.Sum(tp.Mul(y, Const(randTensor(r, 2, tq, 8)))))
			for i, x := range append(slices.Clone(y.Value.Data), q.Grad.Data...) {
				if x != 0 {
					t.Fatalf("%s, %d queries: value %d is %v, want 0", impl, tq, i, x)
				}
			}
		}
	}
}
