package tensor_test

import (
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestTimeLog(t *testing.T) {
	a, b, c := make([]float32, 300*200), make([]float32, 200*100), make([]float32, 300*100)
	tensor.Gemm(false, false, 300, 100, 200, 1, a, 200, b, 100, 0, c, 100) // before the log: not counted
	tensor.StartTimeLog()
	for range 3 {
		tensor.Gemm(false, false, 300, 100, 200, 1, a, 200, b, 100, 0, c, 100)
	}
	tensor.Gemm(true, false, 200, 100, 300, 1, a, 200, c, 100, 0, b, 100)
	// A loop whose items run products: one loop, its products not counted.
	tensor.ParallelFor(4, func(i int) {
		tensor.Gemm(false, true, 8, 8, 8, 1, a, 8, b, 8, 0, c[i*64:], 8)
	})
	l := tensor.StopTimeLog()
	tensor.Gemm(false, false, 300, 100, 200, 1, a, 200, b, 100, 0, c, 100) // after: not counted

	if len(l.Products) != 2 {
		t.Fatalf("logged %d product shapes, want 2: %+v", len(l.Products), l.Products)
	}
	want := map[tensor.ProductTime]bool{
		{M: 300, N: 100, K: 200, Calls: 3}:               true,
		{TransA: true, M: 200, N: 100, K: 300, Calls: 1}: true,
	}
	for _, p := range l.Products {
		if p.Time <= 0 {
			t.Errorf("%+v: no time logged", p)
		}
		q := p
		q.Time = 0
		if !want[q] {
			t.Errorf("logged %+v, want one of %v", p, want)
		}
	}
	// The loop is logged under the function outside package tensor that
	// started it: this test, in package tensor_test.
	if len(l.Loops) != 1 || l.Loops[0].Calls != 1 || l.Loops[0].Time <= 0 || l.Loops[0].Caller != "github.com/attn-go/attn/tensor_test.TestTimeLog ← testing.tRunner" {
		t.Errorf("logged loops %+v, want one call from TestTimeLog", l.Loops)
	}
	if l.LoopsTime() != l.Loops[0].Time {
		t.Errorf("LoopsTime %v, want %v", l.LoopsTime(), l.Loops[0].Time)
	}
	if got := l.Products[0].FLOPs() + l.Products[1].FLOPs(); got != 4*2*300*100*200 {
		t.Errorf("FLOPs: %g, want %d", got, 4*2*300*100*200)
	}
	if l.ProductsTime() != l.Products[0].Time+l.Products[1].Time {
		t.Errorf("ProductsTime %v, want the sum of %v and %v", l.ProductsTime(), l.Products[0].Time, l.Products[1].Time)
	}
	if l.Products[0].Time < l.Products[1].Time {
		t.Errorf("products not slowest first: %v before %v", l.Products[0].Time, l.Products[1].Time)
	}
}

// TestTimeLogPair checks that a GemmPair shared over two workers is logged
// as one call of each shape, its time split in proportion to their
// arithmetic.
func TestTimeLogPair(t *testing.T) {
	defer tensor.SetWorkers(tensor.SetWorkers(2))
	a, b := make([]float32, 300*200), make([]float32, 200*100)
	c, d := make([]float32, 300*100), make([]float32, 200*100)
	p := tensor.Product{M: 300, N: 100, K: 200, Alpha: 1, A: a, Lda: 200, B: b, Ldb: 100, C: c, Ldc: 100}
	q := tensor.Product{TransA: true, M: 200, N: 100, K: 300, Alpha: 1, A: a, Lda: 200, B: make([]float32, 300*100), Ldb: 100, C: d, Ldc: 100}
	tensor.StartTimeLog()
	tensor.GemmPair(p, q)
	l := tensor.StopTimeLog()
	if len(l.Products) != 2 {
		t.Fatalf("logged %d product shapes, want 2: %+v", len(l.Products), l.Products)
	}
	for _, x := range l.Products {
		if x.Calls != 1 || x.Time <= 0 {
			t.Errorf("%+v: want one call with its time", x)
		}
	}
	// Both shapes have 6M multiply-adds: the halves differ by at most the
	// rounding of one nanosecond.
	if diff := l.Products[0].Time - l.Products[1].Time; diff < -1 || diff > 1 {
		t.Errorf("pair's time split %v and %v, want equal halves", l.Products[0].Time, l.Products[1].Time)
	}
}
