package autograd

import (
	"fmt"

	"github.com/attn-go/attn/tensor"
)

// Conv1D returns x·w + b, the linear layer of GPT-2 as HuggingFace stores it
// (transformers' Conv1D, a width-1 convolution): x is [..., in], w is
// [in, out] (the transpose of nn.Linear's weight), b is [out] or nil; the
// result is [..., out].
func (tp *Tape) Conv1D(x, w, b *Var) *Var {
	rows, in := x.Value.Rows()
	if len(w.Value.Shape) != 2 || w.Value.Shape[0] != in || (b != nil && b.Value.Len() != w.Value.Shape[1]) {
		bs := []int(nil)
		if b != nil {
			bs = b.Value.Shape
		}
		panic(fmt.Sprintf("autograd.Conv1D: input %v, weight %v, bias %v", x.Value.Shape, w.Value.Shape, bs))
	}
	outDim := w.Value.Shape[1]
	var dims [8]int
	shape := lastAs(&dims, x.Value.Shape, outDim)
	y := tp.output(shape...)
	if b != nil {
		tensor.GemmBias(false, false, rows, outDim, in, x.Value.Data, in, w.Value.Data, outDim, b.Value.Data, y.Data, outDim)
	} else {
		tensor.Gemm(false, false, rows, outDim, in, 1, x.Value.Data, in, w.Value.Data, outDim, 0, y.Data, outDim)
	}
	out, rec := tp.result(y, x, w, b)
	if rec {
		tp.record(out, func(dy []float32) {
			var ps products
			if needs(x) { // dx += dy·wᵀ
				dx, fresh := x.gradNew()
				ps.add(tensor.Product{TransB: true, M: rows, N: in, K: outDim, Alpha: 1, A: dy, Lda: outDim, B: w.Value.Data, Ldb: outDim, Beta: beta1(fresh), C: dx, Ldc: in})
			}
			if needs(w) { // dw += xᵀ·dy
				dw, fresh := w.gradNew()
				ps.add(tensor.Product{TransA: true, M: in, N: outDim, K: rows, Alpha: 1, A: x.Value.Data, Lda: in, B: dy, Ldb: outDim, Beta: beta1(fresh), C: dw, Ldc: outDim})
			}
			ps.run(x != w)
			if needs(b) { // db += Σ_rows dy
				db, fresh := b.gradNew()
				sumRowsInto(db, dy, fresh)
			}
		})
	}
	return out
}

// Split cuts x's last dimension into n equal parts, as
// torch.split(x, C/n, dim=-1) does: GPT-2 splits its fused query/key/value
// projection this way. The parts are copies, [..., C/n] each.
func (tp *Tape) Split(x *Var, n int) []*Var {
	rows, c := x.Value.Rows()
	if n <= 0 || c%n != 0 {
		panic(fmt.Sprintf("autograd.Split: %v into %d parts", x.Value.Shape, n))
	}
	w := c / n
	var dims [8]int
	shape := lastAs(&dims, x.Value.Shape, w)
	parts := make([]*Var, n)
	for p := range parts {
		y := tp.output(shape...)
		parallelRows(rows, w, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				copy(y.Data[r*w:(r+1)*w], x.Value.Data[r*c+p*w:r*c+(p+1)*w])
			}
		})
		out, rec := tp.result(y, x)
		if rec {
			tp.record(out, func(dy []float32) {
				// The first part to arrive writes its columns and clears
				// the others; the rest add theirs.
				dx, fresh := x.gradNew()
				parallelRows(rows, c, func(r0, r1 int) {
					for r := r0; r < r1; r++ {
						row, g := dx[r*c:(r+1)*c], dy[r*w:(r+1)*w]
						if fresh {
							clear(row[:p*w])
							copy(row[p*w:(p+1)*w], g)
							clear(row[(p+1)*w:])
							continue
						}
						addInto(row[p*w:(p+1)*w], g)
					}
				})
			})
		}
		parts[p] = out
	}
	return parts
}
