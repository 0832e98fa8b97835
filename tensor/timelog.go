package tensor

import (
	"cmp"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The time log answers "where did this step's time go?" without a
// profiler: while it is on, every product (Gemm, GemmBias, GemmHalf,
// GemmQ8) adds its wall time to its shape's total, and every other parallel
// loop (ParallelFor, and Parallel when it splits its range: the element-wise
// work, attention's heads, Adam) to the total of the function that started
// it. What is left of a step is serial work. Work nested in a logged call
// (the products inside attention's loop over heads) counts once, in the
// outer call, so the parts add up to no more than the wall time. The log is
// meant for one model step at a time: calls made concurrently from several
// goroutines are logged only while no other is. Off, it costs one atomic
// load per call.

// ProductTime is the time the logged products of one shape took.
type ProductTime struct {
	TransA, TransB bool
	M, N, K        int
	Calls          int
	Time           time.Duration
}

// FLOPs returns the arithmetic of all the calls: 2·M·N·K each.
func (p ProductTime) FLOPs() float64 {
	return 2 * float64(p.M) * float64(p.N) * float64(p.K) * float64(p.Calls)
}

// LoopTime is the time the logged parallel loops started by one function
// took: the function outside this package that called Parallel or
// ParallelFor (an op of the autograd package, say), or that called
// whatever in this package called them.
type LoopTime struct {
	Caller string // its full name, package path included, and its caller's: "f ← g"
	Calls  int
	Time   time.Duration
}

// TimeLog is what StopTimeLog returns.
type TimeLog struct {
	Products []ProductTime // the slowest shape first
	Loops    []LoopTime    // the other parallel loops, the slowest caller first
}

// ProductsTime returns the products' total time.
func (l TimeLog) ProductsTime() time.Duration {
	var d time.Duration
	for _, p := range l.Products {
		d += p.Time
	}
	return d
}

// LoopsTime returns the other parallel loops' total time.
func (l TimeLog) LoopsTime() time.Duration {
	var d time.Duration
	for _, p := range l.Loops {
		d += p.Time
	}
	return d
}

type productShape struct {
	transA, transB bool
	m, n, k        int
}

var timeLog struct {
	on    atomic.Bool
	depth atomic.Int32 // logged calls running
	sync.Mutex
	products map[productShape]*ProductTime
	loops    map[callStack]*LoopTime // by where the loop was started
}

// StartTimeLog clears the log and starts logging.
func StartTimeLog() {
	timeLog.Lock()
	timeLog.products = map[productShape]*ProductTime{}
	timeLog.loops = map[callStack]*LoopTime{}
	timeLog.Unlock()
	timeLog.on.Store(true)
}

// StopTimeLog stops logging and returns what was logged since StartTimeLog.
func StopTimeLog() TimeLog {
	timeLog.on.Store(false)
	timeLog.Lock()
	defer timeLog.Unlock()
	var l TimeLog
	for _, p := range timeLog.products {
		l.Products = append(l.Products, *p)
	}
	slices.SortFunc(l.Products, func(a, b ProductTime) int {
		return cmp.Or(cmp.Compare(b.Time, a.Time), cmp.Compare(a.M, b.M), cmp.Compare(a.N, b.N), cmp.Compare(a.K, b.K))
	})
	byName := map[string]*LoopTime{} // call sites in the same functions merged
	for st, p := range timeLog.loops {
		name := st.caller()
		q := byName[name]
		if q == nil {
			q = &LoopTime{Caller: name}
			byName[name] = q
		}
		q.Calls += p.Calls
		q.Time += p.Time
	}
	for _, p := range byName {
		l.Loops = append(l.Loops, *p)
	}
	slices.SortFunc(l.Loops, func(a, b LoopTime) int {
		return cmp.Or(cmp.Compare(b.Time, a.Time), cmp.Compare(a.Caller, b.Caller))
	})
	return l
}

// logEnter reports whether the call starting now is logged: the log is on
// and no other logged call is running. A logged call ends with logProduct
// or logLoop.
func logEnter() bool {
	if !timeLog.on.Load() {
		return false
	}
	if timeLog.depth.Add(1) != 1 {
		timeLog.depth.Add(-1)
		return false
	}
	return true
}

// logProduct ends a logged product that started at t0.
func logProduct(transA, transB bool, m, n, k int, t0 time.Time) {
	d := time.Since(t0)
	timeLog.Lock()
	addProduct(productShape{transA, transB, m, n, k}, d)
	timeLog.Unlock()
	timeLog.depth.Add(-1)
}

// logPair ends a logged GemmPair that started at t0: its time is shared
// between its two shapes in proportion to their arithmetic, so that each
// reads at the pair's rate.
func logPair(p, q *Product, t0 time.Time) {
	d := time.Since(t0)
	fp, fq := float64(p.M)*float64(p.N)*float64(p.K), float64(q.M)*float64(q.N)*float64(q.K)
	dp := time.Duration(float64(d) * fp / max(fp+fq, 1))
	timeLog.Lock()
	addProduct(productShape{p.TransA, p.TransB, p.M, p.N, p.K}, dp)
	addProduct(productShape{q.TransA, q.TransB, q.M, q.N, q.K}, d-dp)
	timeLog.Unlock()
	timeLog.depth.Add(-1)
}

// addProduct adds one call of shape s that took d; timeLog is locked.
func addProduct(s productShape, d time.Duration) {
	if timeLog.products == nil {
		return
	}
	p := timeLog.products[s]
	if p == nil {
		p = &ProductTime{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k}
		timeLog.products[s] = p
	}
	p.Calls++
	p.Time += d
}

// logLoop ends a logged parallel loop that started at t0.
func logLoop(t0 time.Time) {
	d := time.Since(t0)
	var st callStack
	runtime.Callers(2, st[:])
	timeLog.Lock()
	if timeLog.loops != nil {
		p := timeLog.loops[st]
		if p == nil {
			p = &LoopTime{}
			timeLog.loops[st] = p
		}
		p.Calls++
		p.Time += d
	}
	timeLog.Unlock()
	timeLog.depth.Add(-1)
}

// A callStack holds the innermost return addresses of a logged loop's
// caller: kept as they are while logging, which allocates nothing (so the
// log leaves a benchmark's count of allocations as it was), and named when
// the log stops.
type callStack [12]uintptr

// caller names the innermost function in st that is not in this package
// (nor a closure in it) and the function that called that one, as "f ← g":
// a helper that runs its caller's loops (an autograd op's parallel rows,
// say) then shows whose loops they were.
func (st callStack) caller() string {
	n := 0
	for n < len(st) && st[n] != 0 {
		n++
	}
	frames := runtime.CallersFrames(st[:n])
	var names []string
	for len(names) < 2 {
		f, more := frames.Next()
		if f.Function != "" && (len(names) > 0 || !strings.HasPrefix(f.Function, thisPackage)) {
			names = append(names, f.Function)
		}
		if !more {
			break
		}
	}
	if len(names) == 0 {
		return "?"
	}
	return strings.Join(names, " ← ")
}

// thisPackage prefixes the names of this package's functions.
var thisPackage = reflect.TypeFor[TimeLog]().PkgPath() + "."
