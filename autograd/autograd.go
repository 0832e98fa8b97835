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
// begins; copy what must outlive it.
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
	return &tensor.Tensor{Shape: append([]int(nil), shape...), Data: tp.floats(tensor.Size(shape))}
}

// poisonReused makes tests fill reused output buffers with NaN, so an op
// that leaves part of its output unwritten shows up.
var poisonReused = false

// output is alloc for an op output that the op writes in full: a reused
// buffer is not cleared first (clearing was 7% of a GPT training step).
func (tp *Tape) output(shape ...int) *tensor.Tensor {
	return &tensor.Tensor{Shape: append([]int(nil), shape...), Data: tp.take(tensor.Size(shape), false)}
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
	out := &Var{Value: value}
	if tp == nil || tp.noGrad {
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
