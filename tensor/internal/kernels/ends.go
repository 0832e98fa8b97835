package kernels

import "sync/atomic"

// Ends hands out the items lo..hi−1 of a parallel job not yet taken (lo in
// the low 32 bits, hi in the high), from either end: the goroutine that
// started the job takes them from the front and its helpers from the back.
// Loops over the same rows then give each core mostly the same rows, op
// after op, whose data its caches already hold; they meet wherever the
// faster one gets to.
type Ends struct{ atomic.Uint64 }

// Reset readies n items.
func (e *Ends) Reset(n int) { e.Store(uint64(n) << 32) }

// Take claims the next item from the front or the back, or reports false
// when none is left.
func (e *Ends) Take(front bool) (int, bool) {
	for {
		v := e.Load()
		lo, hi := uint32(v), uint32(v>>32)
		if lo >= hi {
			return 0, false
		}
		next, i := v+1, lo
		if !front {
			next, i = uint64(hi-1)<<32|uint64(lo), hi-1
		}
		if e.CompareAndSwap(v, next) {
			return int(i), true
		}
	}
}
