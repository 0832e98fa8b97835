package autograd

import (
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// TestTapeReusesBuffers: repeated passes on one tape give identical results
// while allocating a small fraction of the bytes of the first pass.
func TestTapeReusesBuffers(t *testing.T) {
	r := tensor.NewRNG(1)
	x := Const(randTensor(r, 64, 32))
	w1, w2 := NewParam(randTensor(r, 128, 32)), NewParam(randTensor(r, 10, 128))
	g := NewParam(randTensor(r, 128))
	w3 := NewParam(randTensor(r, 128*128))
	targets := make([]int, 64)
	for i := range targets {
		targets[i] = i % 10
	}
	tp := NewTape(tensor.NewRNG(5))
	pass := func() (float32, []float32) {
		w1.ZeroGrad()
		w2.ZeroGrad()
		w3.ZeroGrad()
		g.ZeroGrad()
		tp.RNG.State = 5
		h := tp.GELUTanh(tp.LayerNorm(tp.Linear(x, w1, nil), g, nil, 1e-5))
		h = tp.Add(tp.ReLU(h), tp.Scale(tp.GELU(h), 0.5))
		h = tp.Mul(h, tp.Conv1D(h, tp.Reshape(w3, 128, 128), nil))
		loss := tp.CrossEntropy(tp.Linear(tp.Dropout(h, 0.1), w2, nil), targets, 3, 0.1) // rows with target 3 are ignored
		l := loss.Item()
		tp.Backward(loss)
		return l, append([]float32(nil), w1.Grad.Data...)
	}
	bytes := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.TotalAlloc
	}
	poisonReused = true // every reused output buffer starts as NaN
	defer func() { poisonReused = false }()
	b0 := bytes()
	l1, g1 := pass()
	first := bytes() - b0
	pass()
	b1 := bytes()
	l3, g3 := pass()
	steady := bytes() - b1
	if l1 != l1 || l1 != l3 {
		t.Errorf("loss changed between passes: %v then %v", l1, l3)
	}
	for i := range g1 {
		if g1[i] != g3[i] {
			t.Fatalf("gradient %d changed between passes: %v then %v", i, g1[i], g3[i])
		}
	}
	t.Logf("bytes allocated: first pass %d, steady pass %d", first, steady)
	if steady*5 > first {
		t.Errorf("a steady pass allocated %d bytes, the first %d; want under a fifth", steady, first)
	}
}

// TestTapeReusesLargerBuffers: a pass on shorter sequences than the last
// one takes the last pass's buffers of the next size classes up (at most
// twice its size) instead of new ones, cleared when asked, and returns
// them to their own classes.
func TestTapeReusesLargerBuffers(t *testing.T) {
	tp := NewTape(nil)
	big := tp.take(1000, false)
	huge := tp.take(5000, false)
	for i := range big {
		big[i] = 7
	}
	tp.Reset()
	small := tp.take(900, true) // class 960: free are 1,024 and 5,120
	if &small[0] != &big[0] || len(small) != 900 {
		t.Fatalf("take(900) after a pass that freed 1,000 floats: got a new buffer (len %d)", len(small))
	}
	for i, v := range small {
		if v != 0 {
			t.Fatalf("take(900, zero) reused a buffer whose element %d is %v", i, v)
		}
	}
	tiny := tp.take(400, false) // 5,120 is more than twice 400's class
	if &tiny[0] == &huge[0] {
		t.Fatalf("take(400) took a free buffer of 5,120 floats")
	}
	tp.Reset()
	if l := tp.free[1024]; len(l) != 1 || &l[0][0] != &big[0] {
		t.Fatalf("the 1,024-float buffer did not return to its own class: %d there", len(l))
	}
}

// TestTapeLetsIdleBuffersGo: a free buffer that no pass takes through a
// whole window of trimPasses passes is let go at the window's end; one
// taken in the window is kept, as is one every pass takes, and one whose
// shape first came late in a window and comes back every trimPasses
// passes.
func TestTapeLetsIdleBuffersGo(t *testing.T) {
	tp := NewTape(nil)
	var big, mid, late, small []float32
	for pass := range 3*trimPasses - 1 {
		s := tp.take(1000, false)
		switch {
		case pass == 0:
			big, mid, small = tp.take(100_000, false), tp.take(10_000, false), s
		case pass == trimPasses+5:
			if m := tp.take(10_000, false); &m[0] != &mid[0] {
				t.Fatalf("pass %d did not reuse the 10,000-float buffer", pass)
			}
		}
		// A shape first seen two passes before the first trim, then every
		// trimPasses passes.
		if pass >= trimPasses-2 && (pass-(trimPasses-2))%trimPasses == 0 {
			l := tp.take(20_000, false)
			if late == nil {
				late = l
			} else if &l[0] != &late[0] {
				t.Fatalf("pass %d: the 20,000-float shape, back after %d passes, got a new buffer", pass, trimPasses)
			}
		}
		if &s[0] != &small[0] {
			t.Fatalf("pass %d did not reuse the 1,000-float buffer", pass)
		}
		tp.Reset()
		l, bigKept := tp.free[sizeClass(100_000)]
		switch pass + 1 { // passes done
		case trimPasses, 2*trimPasses - 1:
			// The window in which big was freed began before it, and the
			// next has not ended.
			if !bigKept || &l[0][0] != &big[0] {
				t.Fatalf("after %d passes the idle 100,000-float buffer was let go early", pass+1)
			}
		case 2 * trimPasses:
			if bigKept {
				t.Fatalf("after %d passes the 100,000-float buffer, idle through the second window, is still kept", pass+1)
			}
		}
	}
	// The third window has not ended.
	if l := tp.free[sizeClass(10_000)]; len(l) != 1 || &l[0][0] != &mid[0] {
		t.Fatalf("the 10,000-float buffer, taken in pass %d, was let go", trimPasses+5)
	}
}

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1, 64}, {64, 64}, {65, 72}, {100, 104}, {1000, 1024}, {1025, 1152}, {4096, 4096}, {4097, 4608}} {
		if got := sizeClass(c.n); got != c.want {
			t.Errorf("sizeClass(%d) = %d; want %d", c.n, got, c.want)
		}
		if got := sizeClass(c.n); got < c.n || got > c.n+c.n/4+64 {
			t.Errorf("sizeClass(%d) = %d out of range", c.n, got)
		}
	}
}

// TestZeroGradDropsGradient: after ZeroGrad a parameter's gradient is nil;
// the next backward pass writes it into the same buffer (whatever that held:
// here NaNs) with the values a fresh parameter gets, a parameter the pass
// does not reach keeps none, and passes without ZeroGrad between them add up.
func TestZeroGradDropsGradient(t *testing.T) {
	r := tensor.NewRNG(2)
	x := Const(randTensor(r, 6, 8))
	w := NewParam(randTensor(r, 5, 8))   // written whole by Linear's backward
	b := NewParam(randTensor(r, 5))      // a Linear bias
	e := NewParam(randTensor(r, 10, 5))  // added into row by row by Embedding's backward
	unused := NewParam(randTensor(r, 3)) // never reached
	ids := []int{1, 4, 4, 7, 1, 0}
	tp := NewTape(tensor.NewRNG(1))
	pass := func() {
		tp.Reset()
		h := tp.Mul(tp.Linear(x, w, b), tp.Embedding(e, ids, 1))
		tp.Backward(tp.Sum(tp.Mul(h, h)))
	}
	params := []*Var{w, b, e}
	pass()
	want := make([][]float32, len(params))
	for i, p := range params {
		want[i] = append([]float32(nil), p.Grad.Data...)
	}
	for _, p := range append(params, unused) {
		p.ZeroGrad()
		if p.Grad != nil {
			t.Fatalf("ZeroGrad left a gradient")
		}
	}
	bufs := make([]*float32, len(params))
	for i, p := range params {
		for j := range p.spare.Data {
			p.spare.Data[j] = float32(math.NaN())
		}
		bufs[i] = &p.spare.Data[0]
	}
	pass()
	for i, p := range params {
		if &p.Grad.Data[0] != bufs[i] {
			t.Errorf("param %d: the gradient buffer was not reused", i)
		}
		for j, g := range p.Grad.Data {
			if g != want[i][j] {
				t.Fatalf("param %d: gradient %d is %v after ZeroGrad, %v fresh", i, j, g, want[i][j])
			}
		}
	}
	if unused.Grad != nil {
		t.Errorf("a parameter the pass did not reach has a gradient")
	}
	pass() // no ZeroGrad: the gradients add up
	for i, p := range params {
		for j, g := range p.Grad.Data {
			if d := g - 2*want[i][j]; d > 1e-5*(1+abs32(g)) || -d > 1e-5*(1+abs32(g)) {
				t.Fatalf("param %d: gradient %d after two passes is %v, want %v", i, j, g, 2*want[i][j])
			}
		}
	}
}

// TestTapeHeaders: a tape's values and views take their Var and Tensor
// structs from the tape, without allocating once warm; each has its own
// shape (appending to one leaves the next alone); a pass's structs keep
// their values after Reset (a gradient read after Backward) until the next
// pass takes them, and those of an earlier, longer pass are dropped.
func TestTapeHeaders(t *testing.T) {
	tp := NewInferenceTape()
	data := make([]float32, 6)
	const long = 3*headerChunk + 5 // across chunks
	views := make([]*Var, long)
	pass := func(n int) {
		tp.Reset()
		for i := range n {
			views[i] = tp.View(data[:i%6+1], 1, i%6+1)
		}
	}
	pass(long)
	for i, v := range views {
		if want := []int{1, i%6 + 1}; !slices.Equal(v.Value.Shape, want) || len(v.Value.Data) != i%6+1 {
			t.Fatalf("view %d: shape %v, %d values; want %v", i, v.Value.Shape, len(v.Value.Data), want)
		}
	}
	_ = append(views[0].Value.Shape, 99)
	if !slices.Equal(views[1].Value.Shape, []int{1, 2}) {
		t.Fatalf("appending to one view's shape changed the next's to %v", views[1].Value.Shape)
	}
	if allocs := testing.AllocsPerRun(20, func() { pass(long) }); allocs != 0 {
		t.Errorf("a warm pass of %d views made %.0f allocations; want 0", long, allocs)
	}
	pass(10)
	tp.Reset()
	tp.Reset() // twice, with no pass between
	if views[9].Value == nil || len(views[9].Value.Shape) != 2 {
		t.Errorf("after Reset, the pass's last view lost its value")
	}
	if views[10].Value != nil || views[long-1].Value != nil {
		t.Errorf("views of an earlier, longer pass still hold their values after a shorter pass")
	}
}

// TestSliceRowsView requires SliceRows to give a view of the right rows and
// shape, on a tape from its header chunks (a warm pass that records nothing
// allocates nothing) and without one as a tensor of its own.
func TestSliceRowsView(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 4, 3))
	for _, tp := range []*Tape{nil, NewInferenceTape()} {
		y := tp.SliceRows(x, 1, 3)
		if !slices.Equal(y.Value.Shape, []int{2, 3}) || !slices.Equal(y.Value.Data, []float32{3, 4, 5, 6, 7, 8}) {
			t.Fatalf("tape %v: SliceRows(1, 3) = %v %v", tp != nil, y.Value.Shape, y.Value.Data)
		}
		if tp == nil {
			continue
		}
		if allocs := testing.AllocsPerRun(20, func() {
			tp.Reset()
			tp.SliceRows(x, 0, 2)
		}); allocs != 0 {
			t.Errorf("a warm SliceRows on a tape made %.0f allocations; want 0", allocs)
		}
	}
}
