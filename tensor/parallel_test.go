package tensor

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelFor checks that every index runs exactly once, for any number
// of workers, including calls nested inside the pool's work (a fn that runs
// a parallel Gemm or another ParallelFor must not deadlock).
func TestParallelFor(t *testing.T) {
	for _, w := range []int{1, 2, 3, 8} {
		prev := SetWorkers(w)
		for _, n := range []int{0, 1, 2, 7, 64, 1000} {
			counts := make([]atomic.Int32, n)
			ParallelFor(n, func(i int) {
				counts[i].Add(1)
				if i%97 == 0 { // nest: an inner loop and a product big enough to split
					var inner atomic.Int32
					ParallelFor(10, func(int) { inner.Add(1) })
					if inner.Load() != 10 {
						t.Errorf("workers %d: nested ParallelFor ran %d of 10", w, inner.Load())
					}
					const s = 200
					a, b, c := make([]float32, s*s), make([]float32, s*s), make([]float32, s*s)
					for j := range a {
						a[j], b[j] = 1, 2
					}
					Gemm(false, false, s, s, s, 1, a, s, b, s, 0, c, s)
					if c[0] != 2*s || c[s*s-1] != 2*s {
						t.Errorf("workers %d: nested Gemm gave %v, %v, want %v", w, c[0], c[s*s-1], 2*s)
					}
				}
			})
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("workers %d, n %d: index %d ran %d times", w, n, i, c)
				}
			}
		}
		// Parallel's ranges must tile [0, n) exactly.
		for _, n := range []int{0, 1, 5, 100, 4097} {
			cover := make([]atomic.Int32, n)
			Parallel(n, 3, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					cover[i].Add(1)
				}
			})
			for i := range cover {
				if c := cover[i].Load(); c != 1 {
					t.Fatalf("workers %d: Parallel(%d) covered %d %d times", w, n, i, c)
				}
			}
		}
		// Parallel hands its ranges on as they are: the caller's closure is
		// the one allocation (a wrapper per loop was another). With more
		// workers the pool may also need a second job while a helper
		// still holds the last one, so the count is checked with one.
		if w == 1 {
			buf := make([]float32, 1<<12)
			if a := testing.AllocsPerRun(20, func() {
				Parallel(len(buf), 16, func(lo, hi int) { clear(buf[lo:hi]) })
			}); a > 1 {
				t.Errorf("Parallel allocated %v times a call", a)
			}
		}
		SetWorkers(prev)
	}
}

// TestParallelNestedMany requires loops nested many times inside the items
// of a loop that keeps every helper busy to finish: each nested loop offers
// itself to the pool's queue, which nobody empties while the helpers are
// inside the outer items, and an offer that waited for room deadlocked.
func TestParallelNestedMany(t *testing.T) {
	defer SetWorkers(SetWorkers(4))
	done := make(chan int64)
	go func() {
		var total atomic.Int64
		ParallelFor(4, func(int) {
			for range 500 {
				Parallel(8, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
			}
		})
		done <- total.Load()
	}()
	select {
	case got := <-done:
		if want := int64(4 * 500 * 8); got != want {
			t.Errorf("nested loops covered %d items, want %d", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nested parallel loops did not finish in 30 s: deadlocked")
	}
}
