package tensor

import (
	"sync"
	"time"

	"github.com/attn-go/attn/tensor/internal/kernels"
)

// PeakGFLOPS measures the floating-point peak of this machine: every worker
// runs the widest fused multiply-add loop the CPU supports for about d, and
// the result is the total rate in GFLOP/s. Benchmarks quote results as a
// fraction of it.
func PeakGFLOPS(d time.Duration) float64 {
	const chunk = 1 << 20
	kernels.PeakLoop(chunk) // warm up the vector units and the clock
	var mu sync.Mutex
	var total float64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f float64
			for time.Since(start) < d {
				f += kernels.PeakLoop(chunk)
			}
			mu.Lock()
			total += f
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total / time.Since(start).Seconds() / 1e9
}

// StreamGBps measures memory bandwidth with the STREAM triad
// a[i] = b[i] + s·c[i] over arrays far larger than the caches, split over
// the workers; it counts 12 bytes moved per element.
func StreamGBps(reps int) float64 {
	const n = 1 << 25 // 128 MiB per array
	a, b, c := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range b {
		b[i], c[i] = 1, 2
	}
	triad := func() {
		Parallel(n, 1<<16, func(lo, hi int) {
			a, b, c := a[lo:hi], b[lo:hi], c[lo:hi]
			for i := range a {
				a[i] = b[i] + 3*c[i]
			}
		})
	}
	triad()
	best := time.Duration(1 << 62)
	for range reps {
		t0 := time.Now()
		triad()
		best = min(best, time.Since(t0))
	}
	return 12 * n / best.Seconds() / 1e9
}
