package autograd

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/tensor"
)

// LinearBF16 is Linear with the weight [out, in] in bfloat16 (a model's
// weights kept in half the memory, for inference): y = x·Wᵀ + b, the
// numbers Linear gives on W widened to float32. Nothing is recorded: a
// gradient through it is a programming error, since a model is widened to
// float32 to be trained.
func (tp *Tape) LinearBF16(x *Var, w []uint16, out int, b *Var) *Var {
	rows, in := x.Value.Rows()
	if len(w) != out*in {
		panic(fmt.Sprintf("autograd.LinearBF16: input %v, %d weights for %d outputs", x.Value.Shape, len(w), out))
	}
	shape := append(append([]int(nil), x.Value.Shape[:len(x.Value.Shape)-1]...), out)
	y := tp.output(shape...)
	var bias []float32
	if b != nil {
		bias = b.Value.Data
	}
	tensor.GemmBF16(rows, out, in, 1, x.Value.Data, in, w, in, 0, bias, y.Data, out)
	v, rec := tp.result(y, x, b)
	if rec {
		panic("autograd.LinearBF16: bfloat16 weights are for inference; widen the model to train it")
	}
	return v
}

// EmbeddingBF16 is Embedding with the table [V, cols] in bfloat16: the
// rows of ids, widened and scaled. Nothing is recorded.
func (tp *Tape) EmbeddingBF16(w []uint16, cols int, ids []int, scale float32) *Var {
	vocab := len(w) / cols
	y := tp.output(len(ids), cols)
	for i, id := range ids {
		if id < 0 || id >= vocab {
			panic(fmt.Sprintf("autograd.EmbeddingBF16: id %d out of range [0, %d)", id, vocab))
		}
		for j, h := range w[id*cols : (id+1)*cols] {
			y.Data[i*cols+j] = scale * math.Float32frombits(uint32(h)<<16)
		}
	}
	v, _ := tp.result(y)
	return v
}
