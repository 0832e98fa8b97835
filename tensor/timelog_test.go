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
