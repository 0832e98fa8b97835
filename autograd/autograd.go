// Package autograd does reverse-mode differentiation of tensor programs: each
// op computes its value and, when a Tape is recording, appends its backward
// step to the tape; Backward runs the steps in reverse.
//
// A nil *Tape is valid and records nothing, which is how inference runs
// without the cost of a tape. The ops that dominate a Transformer (linear
// layers, attention, LayerNorm, softmax cross-entropy) are fused, with
// hand-written backward passes.
package autograd

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

	"github.com/attn-go/attn/tensor"
)

// Var is a tensor value in a computation, with the gradient of the loss with
// respect to it once Backward has run.
type Var struct {
	Value *tensor.Tensor
	// Grad has Value's shape once a gradient has flowed into v; until then,
	// and after ZeroGrad, it is nil, so models loaded only for inference
	// carry no gradient buffers.
	Grad *tensor.Tensor
	// spare is the buffer ZeroGrad took from Grad, for the next gradient.
	spare *tensor.Tensor

	requiresGrad bool
	// tape, for values computed on a live tape, is where the gradient
	// buffer comes from.
	tape *Tape
}

// NewParam returns a trainable leaf whose gradient is accumulated across
// backward passes until ZeroGrad. Its gradient buffer is allocated when the
// first gradient arrives.
func NewParam(t *tensor.Tensor) *Var {
	return &Var{Value: t, requiresGrad: true}
}

// GradData returns v's gradient, allocating a zero one if none has flowed in
// yet (for code that sets gradients by hand).
func (v *Var) GradData() []float32 { return v.grad() }

// Const returns a leaf that takes no gradient (inputs, fixed tables).
func Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// View returns a leaf that takes no gradient over data (not copied), shaped
// shape: Const(tensor.FromSlice(data, shape...)) whose structs, on a tape,
// are the tape's, valid until its next pass (a decode step's views of its
// sequences' queries, keys and values, three a sequence and layer).
func (tp *Tape) View(data []float32, shape ...int) *Var {
	if len(data) != tensor.Size(shape) {
		panic(fmt.Sprintf("autograd.View: %d elements for shape %v", len(data), append([]int(nil), shape...))) // a copy: shape itself stays off the heap
	}
	t := tp.tensorOver(data, shape)
	if tp == nil {
		return Const(t)
	}
	return tp.heads.variable(t)
}

// tensorOver returns a tensor of the given shape over data, on a tape from
// its header chunks (valid until its next pass, as its values are), so an
// op's view of its input allocates nothing.
func (tp *Tape) tensorOver(data []float32, shape []int) *tensor.Tensor {
	if tp == nil {
		return &tensor.Tensor{Shape: append([]int(nil), shape...), Data: data}
	}
	return tp.heads.tensor(shape, data)
}

// RequiresGrad reports whether gradients flow into v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// Shape returns the shape of v's value.
func (v *Var) Shape() []int { return v.Value.Shape }

// ZeroGrad drops v's gradient, as PyTorch's zero_grad(set_to_none=True)
// does: Grad is nil until the next backward pass writes one, into the same
// buffer. Clearing it instead would cost a pass over every parameter's
// gradient per step (3% of a training step at 56M parameters), and the ops
// that produce most gradients (a Linear's weight) write them whole anyway.
// Optimizers leave a parameter with no gradient alone.
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		v.spare, v.Grad = v.Grad, nil
	}
}

// Item returns the single element of a one-element value.
func (v *Var) Item() float32 {
	if len(v.Value.Data) != 1 {
		panic(fmt.Sprintf("autograd: Item of a %v value", v.Value.Shape))
	}
	return v.Value.Data[0]
}

// grad returns v's gradient buffer, allocating it on first use.
func (v *Var) grad() []float32 {
	switch {
	case v.Grad != nil:
	case v.spare != nil:
		v.Grad, v.spare = v.spare, nil
		v.Grad.Zero()
	default:
		v.Grad = v.tape.alloc(v.Value.Shape...)
	}
	return v.Grad.Data
}

// gradNew is grad for an op that can write its gradient as well as add it:
// when v has no gradient yet, it returns a buffer that is not cleared and
// fresh = true, and the op must set every element (clearing a gradient
// first and adding to it cost a pass over memory, as much as the op itself
// for the logits of a large vocabulary).
func (v *Var) gradNew() (g []float32, fresh bool) {
	switch {
	case v.Grad != nil:
		return v.Grad.Data, false
	case v.spare != nil:
		v.Grad, v.spare = v.spare, nil
	default:
		v.Grad = v.tape.output(v.Value.Shape...)
	}
	return v.Grad.Data, true
}

// beta1 is the beta of a GEMM that adds into a gradient from gradNew: 0
// (overwrite) when the buffer is fresh, else 1.
func beta1(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

// Tape records the backward steps of the ops run through it.
//
// A tape also owns the buffers of the values and gradients computed through
// it: after Backward (or Reset) they go back to the tape and are reused by
// the next pass, so a steady training loop allocates almost nothing. Values
// from one pass are therefore valid until the next pass on the same tape
// begins, and so are their Var and Tensor structs, which the tape keeps
// too (those of Reshape, View and the losses as well, whose data it does
// not own); copy what must outlive it.
type Tape struct {
	steps []func()
	// RNG drives dropout. With a nil RNG, dropout is the identity.
	RNG *tensor.RNG

	free   map[int][][]float32 // buffers of earlier passes, by length
	used   [][]float32         // buffers handed out in this pass
	noGrad bool                // record nothing (NewInferenceTape)

	// idle holds, for each size class, the fewest of its free buffers a
	// pass left untaken since the last trim: that many sat unused through
	// every one of those passes (see trim). passes counts the passes since
	// the last trim.
	idle   map[int]int
	passes int

	// heads hands out the pass's Tensor and Var structs (see headers).
	heads headers
}

// headers holds the Tensor and Var structs, and the shapes, of the values
// a tape's passes compute, in chunks kept from pass to pass: a value is
// valid until the next pass begins (see Tape), and so are its structs. A
// decode step made one to three small allocations a value, and the runtime
// cleared their fresh spans on the decoding goroutine while the other core
// waited: without them a SmolLM2-135M-shaped Llama decoded one sequence
// 1.013–1.029× faster, eight 1.009–1.021×, GPT-2 1.013× (40 pairs each,
// toggled in one process); with the views of the queries, keys and values
// too (Tape.View), eight 1.025–1.033× more, 1,889 → 954 allocations a step
// for one sequence and 5,377 → 958 for eight.
type headers struct {
	ts         [][]tensor.Tensor
	vs         [][]Var
	dims       [][]int
	nt, nv, nd int // the next free header of each kind (across chunks)
	oldT, oldV int // the headers the last pass took
	dimsAt     int // the chunk dims take from
}

const headerChunk = 256

// slot returns element i of chunks, adding a chunk when i is the first
// past them.
func slot[T any](chunks *[][]T, i int) *T {
	if i/headerChunk == len(*chunks) {
		*chunks = append(*chunks, make([]T, headerChunk))
	}
	return &(*chunks)[i/headerChunk][i%headerChunk]
}

// tensor returns a header for a value of the given shape and data.
func (h *headers) tensor(shape []int, data []float32) *tensor.Tensor {
	t := slot(&h.ts, h.nt)
	h.nt++
	*t = tensor.Tensor{Shape: h.shape(shape), Data: data}
	return t
}

// shape returns a copy of shape, capped at its length.
func (h *headers) shape(shape []int) []int {
	n := len(shape)
	for {
		if h.dimsAt == len(h.dims) {
			h.dims = append(h.dims, make([]int, max(4*headerChunk, n)))
		}
		if c := h.dims[h.dimsAt]; h.nd+n <= len(c) {
			s := c[h.nd : h.nd+n : h.nd+n]
			h.nd += n
			copy(s, shape)
			return s
		}
		h.dimsAt, h.nd = h.dimsAt+1, 0
	}
}

// variable returns a zeroed Var header holding value.
func (h *headers) variable(value *tensor.Tensor) *Var {
	v := slot(&h.vs, h.nv)
	h.nv++
	*v = Var{Value: value}
	return v
}

// reset hands every header out again. The pass's stay as they are until
// the next pass takes them (a gradient read after Backward); those of
// earlier passes that this one did not take again are dropped, so that
// what they pointed at (a finished sequence's cache, which a view held)
// is not kept alive.
func (h *headers) reset() {
	if h.nt == 0 && h.nv == 0 { // no pass since the last reset: nothing to hand back
		return
	}
	for i := h.nt; i < h.oldT; i++ {
		*slot(&h.ts, i) = tensor.Tensor{}
	}
	for i := h.nv; i < h.oldV; i++ {
		*slot(&h.vs, i) = Var{}
	}
	h.oldT, h.oldV = h.nt, h.nv
	h.nt, h.nv, h.nd, h.dimsAt = 0, 0, 0, 0
}

// trimPasses is how many passes a free buffer may sit unused before Reset
// lets it go.
const trimPasses = 16

// NewTape returns an empty tape; rng (may be nil) drives dropout.
func NewTape(rng *tensor.RNG) *Tape { return &Tape{RNG: rng} }

// NewInferenceTape returns a tape that records nothing and drops nothing:
// only an arena. Ops run through it take their results from its buffers, and
// Reset takes them back, so a loop of forward passes (a server's prompts, a
// decoder's steps) stops allocating, clearing and page-faulting fresh memory
// for every activation, as a nil tape does. No gradient flows through it.
func NewInferenceTape() *Tape { return &Tape{noGrad: true} }

// inferenceTapes pools inference tapes for forward passes whose results are
// copied out or handed back before the tape is returned.
var inferenceTapes = sync.Pool{New: func() any { return NewInferenceTape() }}

// BorrowInferenceTape returns an inference tape from a pool shared by the
// models' one-shot passes (an encoder, an embedding batch): the memory of
// earlier passes is reused, so a loop over batches allocates only its
// results. Give it back with ReturnInferenceTape once nothing computed on
// it is needed any more.
func BorrowInferenceTape() *Tape { return inferenceTapes.Get().(*Tape) }

// ReturnInferenceTape takes back a tape from BorrowInferenceTape; the values
// computed on it become invalid.
func ReturnInferenceTape(tp *Tape) {
	tp.Reset()
	inferenceTapes.Put(tp)
}

// Records reports whether ops run on tp record their backward steps: not
// on a nil tape or an inference tape.
func (tp *Tape) Records() bool { return tp != nil && !tp.noGrad }

// Len returns the number of recorded steps.
func (tp *Tape) Len() int {
	if tp == nil {
		return 0
	}
	return len(tp.steps)
}

// Reset forgets the recorded steps and takes back the buffers of this pass
// for the next one.
func (tp *Tape) Reset() {
	tp.heads.reset()
	clear(tp.steps)
	tp.steps = tp.steps[:0]
	if tp.free == nil {
		tp.free = map[int][][]float32{}
		tp.idle = map[int]int{}
	}
	tp.trim()
	for _, b := range tp.used {
		tp.free[cap(b)] = append(tp.free[cap(b)], b[:cap(b)])
	}
	clear(tp.used)
	tp.used = tp.used[:0]
}

// trim notes, before a pass's buffers return to the free lists, how many
// free buffers of each class the pass left untaken, and every trimPasses
// passes lets go of those that were free and untaken through all of them:
// the buffers of a shape that stopped coming (a long batch early on, a
// validation pass's) go back to the garbage collector, after trimPasses
// to 2·trimPasses passes, instead of staying for good. A shape that comes
// back at least once every trimPasses passes keeps its buffers. Training
// the multi30k-de-en preset 200 steps (batches of varying length), the
// tape kept 479–734 MB free beside the 1.3 GB a pass used (means over 25
// passes, after the first 50) instead of 780–814 MB, with the same losses.
func (tp *Tape) trim() {
	for c, list := range tp.free {
		switch n, ok := tp.idle[c]; {
		case !ok && tp.passes > 0:
			// A class new since the trim was not free through the
			// passes before it appeared: keep its buffers this time.
			tp.idle[c] = 0
		case !ok || len(list) < n:
			tp.idle[c] = len(list)
		}
	}
	if tp.passes++; tp.passes < trimPasses {
		return
	}
	tp.passes = 0
	for c, n := range tp.idle {
		// A pass takes buffers from the end of a list and Reset puts them
		// back there, so the n that sat unused are the first n.
		list := tp.free[c]
		kept := copy(list, list[n:])
		clear(list[kept:])
		if kept == 0 {
			delete(tp.free, c)
		} else {
			tp.free[c] = list[:kept]
		}
	}
	clear(tp.idle)
}

// alloc returns a zeroed tensor whose buffer, on a live tape, is reused from
// an earlier pass when one of the same size is free. On a nil tape it is a
// plain allocation.
func (tp *Tape) alloc(shape ...int) *tensor.Tensor {
	if tp == nil {
		return tensor.New(shape...)
	}
	return tp.heads.tensor(shape, tp.floats(tensor.Size(shape)))
}

// poisonReused makes tests fill reused output buffers with NaN, so an op
// that leaves part of its output unwritten shows up.
var poisonReused = false

// output is alloc for an op output that the op writes in full: a reused
// buffer is not cleared first (clearing was 7% of a GPT training step).
func (tp *Tape) output(shape ...int) *tensor.Tensor {
	if tp == nil {
		return tensor.New(shape...)
	}
	return tp.heads.tensor(shape, tp.take(tensor.Size(shape), false))
}

// floats returns n zeroed float32s, reused as alloc's are. Buffers are kept
// by size class (steps of an eighth of a power of two), so batches whose
// shapes change from step to step, as length-bucketed ones do, still reuse
// them.
func (tp *Tape) floats(n int) []float32 { return tp.take(n, true) }

// take returns n float32s from the free buffers (cleared if zero is set),
// or new zeroed ones. With no free buffer of n's class it takes one of the
// next classes up, to twice the size: when batches' shapes change from step
// to step (sentences padded to each batch's longest), a shorter batch then
// reuses a longer one's buffers instead of adding its own. Training the
// small nn.Transformer on Multi30k's batches of 32 pairs, the heap stayed at
// 0.8 GB instead of growing to 2.1 GB, and the steps after the first, some
// of which had taken up to 1 s in this machine's page faults, all took
// 0.14–0.22 s.
func (tp *Tape) take(n int, zero bool) []float32 {
	if tp == nil {
		return make([]float32, n)
	}
	class := sizeClass(n)
	list := tp.free[class]
	if len(list) == 0 { // the next classes up, to twice the size
		for c := sizeClass(class + 1); c <= 2*class; c = sizeClass(c + 1) {
			if l := tp.free[c]; len(l) > 0 {
				class, list = c, l
				break
			}
		}
	}
	var b []float32
	if len(list) > 0 {
		b = list[len(list)-1][:n]
		tp.free[class] = list[:len(list)-1]
		if zero {
			tensor.Clear(b)
		} else if poisonReused {
			for i := range b {
				b[i] = float32(math.NaN())
			}
		}
	} else {
		b = make([]float32, n, class)
	}
	tp.used = append(tp.used, b)
	return b
}

// sizeClass rounds n up to the next of 8 steps between powers of two, so a
// buffer wastes at most an eighth of its size.
func sizeClass(n int) int {
	if n <= 64 {
		return 64
	}
	step := 1 << (bits.Len(uint(n-1)) - 4) // an eighth of the power of two below n
	return (n + step - 1) / step * step
}

// Backward seeds loss's gradient with 1 (loss must hold one element) and runs
// every recorded step in reverse, accumulating into the gradients of all
// inputs that require them. The tape is reset afterwards.
func (tp *Tape) Backward(loss *Var) {
	if len(loss.Value.Data) != 1 {
		panic(fmt.Sprintf("autograd: Backward of a %v value; want one element", loss.Value.Shape))
	}
	if !loss.requiresGrad {
		tp.Reset()
		return
	}
	loss.grad()[0] += 1
	for i := len(tp.steps) - 1; i >= 0; i-- {
		tp.steps[i]()
	}
	tp.Reset()
}

// result returns a new Var for an op's output and whether its backward step
// must be recorded: only on a live tape, and only if some input wants grads.
func (tp *Tape) result(value *tensor.Tensor, inputs ...*Var) (*Var, bool) {
	if tp == nil {
		return &Var{Value: value}, false
	}
	out := tp.heads.variable(value)
	if tp.noGrad {
		return out, false
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad, out.tape = true, tp
			return out, true
		}
	}
	return out, false
}

// record appends a backward step that runs only if a gradient reached out.
func (tp *Tape) record(out *Var, step func(dy []float32)) {
	tp.steps = append(tp.steps, func() {
		if out.Grad != nil {
			step(out.Grad.Data)
		}
	})
}

// needs reports whether gradients must flow into v.
func needs(v *Var) bool { return v != nil && v.requiresGrad }
