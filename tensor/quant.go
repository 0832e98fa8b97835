package tensor

import (
	"fmt"
	"math"

	"github.com/attn-go/attn/tensor/internal/kernels"
)

// Q8Block is the number of consecutive values of a row that share a scale
// in an 8-bit matrix (QuantizeQ8, GemmQ8).
const Q8Block = kernels.Q8Block

// QuantizeQ8 quantizes the rows of a matrix (k values each, k a multiple
// of Q8Block) to 8-bit integers with a float32 scale for each block of
// Q8Block values, as llama.cpp's Q8_0 does: the scale is the block's
// largest magnitude over 127 and each value its nearest multiple of it, so
// a value moves by at most half a scale, 1/254 of its block's largest.
func QuantizeQ8(w []float32, k int) (q []int8, s []float32) {
	if k <= 0 || k%Q8Block != 0 || len(w)%k != 0 {
		panic(fmt.Sprintf("tensor.QuantizeQ8: %d values in rows of %d; want rows of a multiple of %d", len(w), k, Q8Block))
	}
	q, s = make([]int8, len(w)), make([]float32, len(w)/Q8Block)
	QuantizeQ8To(q, s, w)
	return q, s
}

// QuantizeQ8To is QuantizeQ8 into q (len(w) values) and s (len(w)/Q8Block
// scales), for a matrix quantized a few rows at a time; len(w) is a
// multiple of Q8Block.
func QuantizeQ8To(q []int8, s []float32, w []float32) {
	if len(w)%Q8Block != 0 || len(q) != len(w) || len(s) != len(w)/Q8Block {
		panic(fmt.Sprintf("tensor.QuantizeQ8To: %d values into %d and %d scales", len(w), len(q), len(s)))
	}
	for b := range s {
		blk := w[b*Q8Block : (b+1)*Q8Block]
		var amax float32
		for _, v := range blk {
			// |v|; the builtin max, which keeps a NaN, costs several times
			// more: a NaN weight makes the block's scale NaN, so that it
			// shows (as ±Inf's does: Inf, or NaN once dequantized).
			if a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31)); a > amax || a != a {
				amax = a
			}
		}
		if amax == 0 {
			s[b] = 0
			clear(q[b*Q8Block : (b+1)*Q8Block])
			continue
		}
		s[b] = amax / 127
		inv := 1 / s[b]
		// A scale so small (subnormal) that its reciprocal overflows would
		// make every value ±127: those blocks divide instead.
		divide := math.IsInf(float64(inv), 0)
		for i, v := range blk {
			if divide {
				q[b*Q8Block+i] = int8(max(-127, min(127, math.Round(float64(v)/float64(s[b])))))
				continue
			}
			// math.Round of a float32 product: adding ±½ in float64 is
			// exact (24 significant bits), so truncating rounds half away
			// from zero as Round does, at a fraction of its cost.
			x := float64(v * inv)
			q[b*Q8Block+i] = int8(max(-127, min(127, int(x+math.Copysign(0.5, x)))))
		}
	}
}

// DequantizeQ8 sets dst[i] to s[i/Q8Block]·q[i], rounded to float32 once:
// the values GemmQ8's products are those of.
func DequantizeQ8(dst []float32, q []int8, s []float32) { kernels.DequantizeQ8(dst, q, s) }
