package kernels

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestGemmBandHelped computes products as a Band's owner while one or two
// helpers call Help from the start, so they take strips of nearly every
// block, and requires exactly the serial Gemm's (or GemmBias's) result:
// every strip must be computed as the owner would compute it, each tile of
// C seeing the same additions in the same order. The shapes cross blocks
// of k and of n, leave edge strips and tiles, and cover all four
// transposes, with every implementation this CPU runs. Under -race it also
// catches two goroutines on one tile at once.
func TestGemmBandHelped(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(5, 6)))
	for _, im := range Impls() {
		prev, _ := Use(im.Name)
		for _, sh := range [][3]int{{517, 600, 800}, {200, 33, 400}, {13, 1100, 70}, {40, 64, 1}, {5, 300, 200}} {
			m, n, k := sh[0], sh[1], sh[2]
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				transA, transB := tr[0], tr[1]
				for _, withBias := range []bool{false, true} {
					name := fmt.Sprintf("%s/%dx%dx%d/transA=%v/transB=%v/bias=%v", im.Name, m, n, k, transA, transB, withBias)
					a, b, c0 := rnd(m*k), rnd(k*n), rnd(m*n)
					lda, ldb := strides(transA, transB, m, n, k)
					var bias []float32
					alpha, beta := float32(1.5), float32(0.5)
					if withBias {
						bias, alpha, beta = rnd(n), 1, 0
					}
					want := append([]float32(nil), c0...)
					if withBias {
						GemmBias(transA, transB, m, n, k, a, lda, b, ldb, bias, want, n)
					} else {
						Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, want, n)
					}
					for helpers := 1; helpers <= 2; helpers++ {
						got := append([]float32(nil), c0...)
						var band Band
						band.Reset()
						var wg sync.WaitGroup
						for range helpers {
							wg.Add(1)
							go func() {
								defer wg.Done()
								band.Help()
							}()
						}
						GemmBand(&band, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, got, n)
						band.Finish()
						wg.Wait()
						for i := range want {
							if got[i] != want[i] {
								t.Fatalf("%s, %d helpers: C[%d] = %v, want %v", name, helpers, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
		Use(prev.Name)
	}
}

// strides returns the row strides of op(A) (m×k) and op(B) (k×n) stored
// densely, transposed or not.
func strides(transA, transB bool, m, n, k int) (lda, ldb int) {
	lda, ldb = k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	return lda, ldb
}

// normals returns a function giving n standard normal float32s from rng.
func normals(rng *rand.Rand) func(n int) []float32 {
	return func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
}
