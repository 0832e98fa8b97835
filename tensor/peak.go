package tensor

import (
	"sync"
	"time"

	"github.com/attn-go/attn/tensor/internal/kernels"
)

// CPUInfo describes a processor: its name, vendor, family and model, and
// the level 1 data and level 2 caches of the core it ran on.
type CPUInfo = kernels.CPUInfo

// CPU returns what this machine's processor says of itself (CPUID on
// amd64; the zero CPUInfo where it cannot be asked), so that a benchmark's
// numbers can name the machine they came from.
func CPU() CPUInfo { return kernels.CPU() }

// PeakGFLOPS measures the floating-point peak of this machine: every worker
// runs the widest fused multiply-add loop the CPU supports for about d, and
// the result is the total rate in GFLOP/s. Benchmarks quote results as a
// fraction of it.
func PeakGFLOPS(d time.Duration) float64 {
	const chunk = 1 << 16        // about 0.4 ms on one core
	kernels.PeakLoop(16 * chunk) // warm up the vector units and the clock
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

// StreamGBps measures memory bandwidth over arrays far larger than the
// caches, split over the workers, with the vector kernels: triad is STREAM's
// update y[i] += s·x[i] (12 bytes moved per element: two reads, one write),
// read is a dot product of two arrays (8 bytes read per element), the
// traffic of decoding, which reads every weight once per token. Each is
// the best of reps runs.
func StreamGBps(reps int) (triad, read float64) {
	const n = 1 << 25 // 128 MiB per array
	x, y := make([]float32, n), make([]float32, n)
	Parallel(n, 1<<16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x[i], y[i] = 1, 2
		}
	})
	best := func(fn func(lo, hi int)) time.Duration {
		b := time.Duration(1 << 62)
		for r := 0; r <= reps; r++ { // the first run warms up
			t0 := time.Now()
			Parallel(n, 1<<20, fn)
			if r > 0 {
				b = min(b, time.Since(t0))
			}
		}
		return b
	}
	sums := make([]float32, n>>20)
	tTriad := best(func(lo, hi int) { kernels.Axpy(1e-9, x[lo:hi], y[lo:hi]) })
	tRead := best(func(lo, hi int) { sums[lo>>20] += kernels.Dot(x[lo:hi], y[lo:hi]) })
	return 12 * n / tTriad.Seconds() / 1e9, 8 * n / tRead.Seconds() / 1e9
}
