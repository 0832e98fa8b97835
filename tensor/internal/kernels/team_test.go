//go:build amd64 && !purego

package kernels

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestTeam runs a Team with one to three goroutines, some joining late, on
// products with several blocks of k and of n, shallow and deep (the shared packing buffer is
// refilled block after block, and blocks of k follow each other over the
// same tiles of C), and requires exactly the serial kernel's result: each
// tile must see the same additions in the same order. Under -race it also
// catches two goroutines on one tile at once.
func TestTeam(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	prev, _ := Use("avx512")
	defer Use(prev.Name)
	rnd := normals(rand.New(rand.NewPCG(3, 4)))
	for _, sh := range [][3]int{{1030, 100, 450}, {1040, 1100, 800}, {1024, 64, 1200}, {13, 1, 1}, {1030, deepC + 6, deepK + 170}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, transB := range []bool{false, true} {
			for _, withBias := range []bool{false, true} {
				a, b, c0 := rnd(m*k), rnd(k*n), rnd(m*n)
				ldb := n
				if transB {
					ldb = k
				}
				var bias []float32
				beta := float32(0.5)
				if withBias {
					bias, beta = rnd(n), 0
				}
				want := append([]float32(nil), c0...)
				if withBias {
					arch512.gemmBias(false, transB, m, n, k, a, k, b, ldb, bias, want, n)
				} else {
					arch512.gemm(false, transB, m, n, k, 1.5, a, k, b, ldb, beta, want, n)
				}
				for workers := 1; workers <= 3; workers++ {
					got := append([]float32(nil), c0...)
					alpha := float32(1.5)
					if withBias {
						alpha = 1
					}
					tm := NewTeam(transB, m, n, k, alpha, a, k, b, ldb, beta, bias, got, n)
					tm.Hold(int32(workers))
					var wg sync.WaitGroup
					for w := 1; w < workers; w++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							time.Sleep(time.Duration(w) * 200 * time.Microsecond) // join late, mid-product
							tm.Work(false)
							tm.Release()
						}()
					}
					tm.Work(true)
					tm.Release()
					wg.Wait()
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("m=%d n=%d k=%d transB=%v bias=%v workers=%d: C[%d] = %v, serial %v", m, n, k, transB, withBias, workers, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
