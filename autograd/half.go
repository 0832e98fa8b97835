package autograd

import (
	"fmt"

	"github.com/attn-go/attn/tensor"
)

// LinearHalf is Linear with the weight [out, in] in the 16-bit format h
// (bfloat16 or half precision: a model's weights kept in half the memory,
// for inference): y = x·Wᵀ + b, the numbers Linear gives on W widened to
// float32. Nothing is recorded: a gradient through it is a programming
// error, since a model is widened to float32 to be trained.
func (tp *Tape) LinearHalf(x *Var, h tensor.Half, w []uint16, out int, b *Var) *Var {
	rows, in := x.Value.Rows()
	if len(w) != out*in {
		panic(fmt.Sprintf("autograd.LinearHalf: input %v, %d weights for %d outputs", x.Value.Shape, len(w), out))
	}
	var dims [8]int
	shape := lastAs(&dims, x.Value.Shape, out)
	y := tp.output(shape...)
	var bias []float32
	if b != nil {
		bias = b.Value.Data
	}
	tensor.GemmHalf(h, rows, out, in, 1, x.Value.Data, in, w, in, 0, bias, y.Data, out)
	v, rec := tp.result(y, x, b)
	if rec {
		panic("autograd.LinearHalf: 16-bit weights are for inference; widen the model to train it")
	}
	return v
}

// EmbeddingHalf is Embedding with the table [V, cols] in the 16-bit format
// h: the rows of ids, widened and scaled. Nothing is recorded.
func (tp *Tape) EmbeddingHalf(h tensor.Half, w []uint16, cols int, ids []int, scale float32) *Var {
	return tp.embedRows("EmbeddingHalf", len(w)/cols, cols, ids, scale, func(row []float32, id int) {
		h.Widen(row, w[id*cols:(id+1)*cols])
	})
}

// embedRows returns, for each of ids, the row of a [vocab, cols] table
// that read writes (widened or dequantized), times scale; op names the
// caller in the panic for an id out of range. Nothing is recorded.
func (tp *Tape) embedRows(op string, vocab, cols int, ids []int, scale float32, read func(row []float32, id int)) *Var {
	y := tp.output(len(ids), cols)
	for i, id := range ids {
		if id < 0 || id >= vocab {
			panic(fmt.Sprintf("autograd.%s: id %d out of range [0, %d)", op, id, vocab))
		}
		row := y.Data[i*cols : (i+1)*cols]
		read(row, id)
		if scale != 1 {
			for j := range row {
				row[j] *= scale
			}
		}
	}
	v, _ := tp.result(y)
	return v
}

// LinearQ8 is Linear with the weight [out, in] quantized to 8 bits (q,
// with a float32 scale s for each block of tensor.Q8Block values of a
// row): the numbers Linear gives on the dequantized weight. Nothing is
// recorded, as for LinearHalf.
func (tp *Tape) LinearQ8(x *Var, q []int8, s []float32, out int, b *Var) *Var {
	rows, in := x.Value.Rows()
	if len(q) != out*in || len(s)*tensor.Q8Block != len(q) {
		panic(fmt.Sprintf("autograd.LinearQ8: input %v, %d weights and %d scales for %d outputs", x.Value.Shape, len(q), len(s), out))
	}
	var dims [8]int
	shape := lastAs(&dims, x.Value.Shape, out)
	y := tp.output(shape...)
	var bias []float32
	if b != nil {
		bias = b.Value.Data
	}
	tensor.GemmQ8(rows, out, in, 1, x.Value.Data, in, q, s, in, 0, bias, y.Data, out)
	v, rec := tp.result(y, x, b)
	if rec {
		panic("autograd.LinearQ8: 8-bit weights are for inference; dequantize the model to train it (a Llama: Widen; nn layers: nn.Dequantize)")
	}
	return v
}

// EmbeddingQ8 is Embedding with the table [V, cols] quantized to 8 bits:
// the rows of ids, dequantized and scaled. Nothing is recorded.
func (tp *Tape) EmbeddingQ8(q []int8, s []float32, cols int, ids []int, scale float32) *Var {
	return tp.embedRows("EmbeddingQ8", len(q)/cols, cols, ids, scale, func(row []float32, id int) {
		tensor.DequantizeQ8(row, q[id*cols:(id+1)*cols], s[id*cols/tensor.Q8Block:(id+1)*cols/tensor.Q8Block])
	})
}
