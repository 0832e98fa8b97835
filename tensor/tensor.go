// Package tensor provides the dense float32 tensor of attn, the kernels that
// work on it, and the worker pool that spreads them over all cores.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense, row-major float32 array. Data always holds exactly
// Size(Shape) elements; views made by Reshape share Data.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Size(shape))}
}

// FromSlice wraps data (not copied) as a tensor of the given shape. It panics
// if the sizes differ: that is a programming error, not bad input.
func FromSlice(data []float32, shape ...int) *Tensor {
	if len(data) != Size(shape) {
		panic(fmt.Sprintf("tensor.FromSlice: %d elements for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Size returns the number of elements of a tensor of the given shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Rows views the tensor as a matrix: the product of all leading dimensions
// by the last one.
func (t *Tensor) Rows() (rows, cols int) {
	if len(t.Shape) == 0 {
		return 1, 1
	}
	cols = t.Shape[len(t.Shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return len(t.Data) / cols, cols
}

// Reshape returns a view with a new shape and the same data. One dimension
// may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			infer = i
		} else {
			known *= d
		}
	}
	if infer >= 0 && known != 0 {
		shape[infer] = len(t.Data) / known
	}
	if Size(shape) != len(t.Data) {
		panic(fmt.Sprintf("tensor.Reshape: cannot view %v as %v", t.Shape, shape))
	}
	return &Tensor{Shape: shape, Data: t.Data}
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Zero sets every element to zero.
func (t *Tensor) Zero() { Clear(t.Data) }

// Clear sets every element of s to zero, on all workers when s is large:
// one core clears a large gradient (an 8000×512 embedding's, say) at well
// under the machine's write bandwidth.
func Clear(s []float32) {
	const grain = 1 << 16
	if len(s) < 2*grain || workers == 1 {
		clear(s) // without the closure Parallel would allocate
		return
	}
	Parallel(len(s), grain, func(lo, hi int) { clear(s[lo:hi]) })
}

// SameShape reports whether t and u have identical shapes.
func (t *Tensor) SameShape(u *Tensor) bool { return EqualShape(t.Shape, u.Shape) }

// EqualShape reports whether two shapes are identical.
func EqualShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String prints the shape and up to the first eight elements.
func (t *Tensor) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Tensor%v[", t.Shape)
	for i, v := range t.Data {
		if i == 8 {
			sb.WriteString(" …")
			break
		}
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%.4g", v)
	}
	sb.WriteByte(']')
	return sb.String()
}

// Argmax returns the index of the largest value of xs (the first on ties):
// greedy decoding's choice from a row of logits.
func Argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}
