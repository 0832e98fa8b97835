package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attn-go/attn/tensor/internal/kernels"
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
// range. The ranges are cut finer than one per worker and claimed as the
// workers come free, so a helper that starts late, or a core the machine
// lends elsewhere for a while, costs a fraction of a range, not half the loop.
func Parallel(n, grain int, fn func(lo, hi int)) {
	chunks := min(workers*chunksPerWorker, n/max(grain, 1))
	if chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	forItems(chunks, nil, fn, n)
}

// chunksPerWorker is how many ranges per worker Parallel cuts a loop into.
const chunksPerWorker = 4

// ParallelFor calls fn(i) once for each i in [0, n), on the calling
// goroutine and up to Workers()−1 helpers of the pool, each claiming an i
// nobody has taken as it comes free: the caller from the front, helpers
// from the back. It returns when every call has returned.
func ParallelFor(n int, fn func(i int)) { forItems(n, fn, nil, 0) }

// forItems runs items on the caller and the pool: fn(i) for each, or, for
// Parallel, ranges over item i's share of [0, n) (see runItem). Parallel
// passes its function on as it is: wrapped in a closure for ParallelFor,
// each loop made a heap allocation more.
func forItems(items int, fn func(i int), ranges func(lo, hi int), n int) {
	if items <= 0 {
		return
	}
	if logEnter() {
		defer logLoop(time.Now())
	}
	if workers == 1 || items == 1 {
		for i := range items {
			runItem(fn, ranges, n, items, i)
		}
		return
	}
	f := forCalls.Get().(*forCall)
	f.fn, f.ranges, f.n = fn, ranges, n
	f.start(items)
	share(f, min(workers, items)-1)
	f.work(true)
	f.wait() // only for calls a helper has started
	f.release()
}

// runItem runs item i of items: fn(i), or with ranges set its share
// [i·n/items, (i+1)·n/items) of [0, n).
func runItem(fn func(i int), ranges func(lo, hi int), n, items, i int) {
	if ranges != nil {
		ranges(i*n/items, (i+1)*n/items)
		return
	}
	fn(i)
}

// forCall is one ParallelFor or Parallel shared with the pool (forItems).
type forCall struct {
	claims
	fn     func(i int)
	ranges func(lo, hi int)
	n      int
}

var forCalls = sync.Pool{New: func() any { return new(forCall) }}

func (f *forCall) run() { f.work(false) }

// work runs items until none is left: from the front for the goroutine
// that called ParallelFor, from the back for helpers (kernels.Ends). The
// element-wise loops over rows and attention's heads then keep each row
// on one core from op to op: attention at the base training step's shape
// (16 sequences of 32, 8 heads of 64) ran 1.22× faster alone than with every
// goroutine claiming from the front, the training steps 1.01–1.03×
// (paired in one process).
func (f *forCall) work(front bool) {
	for {
		i, ok := f.take(front)
		if !ok {
			return
		}
		runItem(f.fn, f.ranges, f.n, int(f.items), i)
		f.done()
	}
}

func (f *forCall) release() {
	if f.drop() {
		f.fn, f.ranges = nil, nil
		forCalls.Put(f)
	}
}

// claims hands out the items 0..n−1 of a job shared with the pool, each
// to one goroutine, from either end (kernels.Ends), and counts the
// goroutines holding the job and the items not finished.
type claims struct {
	items int32
	ends  kernels.Ends   // the items not taken yet
	refs  atomic.Int32   // goroutines holding the job
	left  atomic.Int32   // items not finished
	wg    sync.WaitGroup // the same, to block on
}

// start readies the claims for a job of n items.
func (c *claims) start(n int) {
	c.items = int32(n)
	c.ends.Reset(n)
	c.left.Store(int32(n))
	c.wg.Add(n)
}

// take returns an item nobody has taken, from the front or the back, or
// false when none is left.
func (c *claims) take(front bool) (int, bool) { return c.ends.Take(front) }

// done marks one claimed item finished.
func (c *claims) done() {
	c.left.Add(-1)
	c.wg.Done()
}

func (c *claims) hold(n int32) { c.refs.Store(n) }

// drop drops one holder and reports whether it was the last.
func (c *claims) drop() bool { return c.refs.Add(-1) == 0 }

// wait returns once every item is finished. It polls for up to helperSpin
// before blocking: a goroutine parked on wg would idle its core and wait
// tens to hundreds of µs to be woken when the last helper finishes a moment
// later.
func (c *claims) wait() {
	for deadline := time.Now().Add(helperSpin); c.left.Load() > 0 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	c.wg.Wait()
}

// The pool: long-lived helper goroutines that share the work of a parallel
// Gemm or ParallelFor with the goroutine that called it. The caller always
// works too and claims whatever no helper has started, so a busy or sleeping
// pool delays nothing, and work may nest (a fn may call Gemm).

// A job is work offered to the pool: run claims and runs its items until
// none is left; hold sets how many goroutines hold the job, and release
// drops one of them (the last recycles it).
type job interface {
	run()
	hold(n int32)
	release()
}

var (
	pool        = make(chan job, 4*maxBands)
	poolMu      sync.Mutex
	poolHelpers int
)

// share offers j to up to n helpers, starting them as needed; the caller
// then runs j itself and releases it.
func share(j job, n int) {
	poolMu.Lock()
	for poolHelpers < n && poolHelpers < maxBands {
		poolHelpers++
		go helper()
	}
	h := min(n, poolHelpers)
	poolMu.Unlock()
	j.hold(int32(h + 1))
	for range h {
		select {
		case pool <- j:
		default:
			// The queue is full: every helper is inside items of jobs that
			// offered more work than it holds (loops nested in loops), and
			// nobody takes offers until they are done. Waiting for room
			// deadlocked; the caller runs the job without this helper.
			j.release() // never the last reference: the caller holds one
		}
	}
	// A parked helper the send woke sits in this P's run queue, and an idle
	// P does not reliably steal it while this goroutine keeps running: step
	// aside, so the helper starts here and this goroutine moves on to the
	// next free P. Helpers still polling take the job themselves, and the
	// trip through the scheduler would gain nothing (about a thousand
	// trips a base training step). Skipping it leaves the small training
	// step as fast as before, 1.003 (200 pairs in one process, each pair's
	// order alternating). The 1.00–1.02 first recorded for it was probably
	// an artefact: pairs always run in the same order favoured the second
	// by 1.4% in a control that ran the same code twice.
	if polling.Load() < int32(h) {
		runtime.Gosched()
	}
}

// polling counts the helpers awake and polling the pool for a job.
var polling atomic.Int32

// helperSpin is how long a helper stays awake polling for the next job
// after finishing one (yielding to any other goroutine as it polls). Work
// comes in bursts (the layers of a model, a training step's operations one
// after another, with serial work between them); waking a parked goroutine
// takes tens of µs, on a virtual machine sometimes hundreds, as long as a
// whole 256³ product. Measured against 50 µs: the baby GPT's training step
// 15% faster, the small nn.Transformer's 1–8%, decoding unchanged; the cost
// is a core kept busy for 2 ms after the last parallel work.
const helperSpin = 2 * time.Millisecond

func helper() {
	for j := range pool {
		for j != nil {
			j.run()
			j.release()
			j = nil
			polling.Add(1)
			for deadline := time.Now().Add(helperSpin); j == nil && time.Now().Before(deadline); {
				select {
				case j = <-pool:
				default:
					runtime.Gosched()
				}
			}
			polling.Add(-1)
		}
	}
}
