package tensor

import (
	"runtime"
	"sync"
)

// workers is the number of goroutines the kernels split their work over.
var workers = runtime.GOMAXPROCS(0)

// Workers returns the number of goroutines work is split over.
func Workers() int { return workers }

// SetWorkers sets the number of goroutines work is split over (at least 1)
// and returns the previous value.
func SetWorkers(n int) int {
	prev := workers
	workers = max(n, 1)
	return prev
}

// Parallel calls fn on disjoint ranges [lo, hi) that cover [0, n), on up to
// Workers() goroutines. Each range holds at least grain items, so small loops
// stay on the calling goroutine. fn must only write to memory owned by its
// range.
func Parallel(n, grain int, fn func(lo, hi int)) {
	chunks := min(workers, n/max(grain, 1))
	if chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(chunks - 1)
	for c := 1; c < chunks; c++ {
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(c*n/chunks, (c+1)*n/chunks)
	}
	// Yield once so an idle core picks the new goroutines up now rather than
	// when this one blocks (measured: without it, short parallel loops
	// often ran on one core).
	runtime.Gosched()
	fn(0, n/chunks)
	wg.Wait()
}
