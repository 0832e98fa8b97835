package autograd

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// bf16Weights returns n random values that are exactly bfloat16, as
// uint16s and widened.
func bf16Weights(rng *tensor.RNG, n int) ([]uint16, *tensor.Tensor) {
	w := tensor.New(n)
	rng.FillNormal(w, 0, 1)
	h := make([]uint16, n)
	for i, v := range w.Data {
		h[i] = uint16(math.Float32bits(v) >> 16)
		w.Data[i] = math.Float32frombits(uint32(h[i]) << 16)
	}
	return h, w
}

// TestLinearBF16: the numbers of Linear on the widened weight, with and
// without a bias, for inputs of 1 to 40 rows (2-D and 3-D), on a nil, an
// inference and a recording tape (nothing requiring a gradient).
func TestLinearBF16(t *testing.T) {
	rng := tensor.NewRNG(5)
	for _, rows := range []int{1, 5, 12, 17, 40} {
		for _, s := range [][2]int{{3, 7}, {33, 64}, {100, 19}} {
			out, in := s[0], s[1]
			h, wt := bf16Weights(rng, out*in)
			w := Const(tensor.FromSlice(wt.Data, out, in))
			b := tensor.New(out)
			rng.FillNormal(b, 0, 1)
			x := tensor.New(1, rows, in)
			rng.FillNormal(x, 0, 1)
			for _, bias := range []*Var{nil, Const(b)} {
				for _, tp := range []*Tape{nil, NewInferenceTape(), NewTape(rng)} {
					want := tp.Linear(Const(x), w, bias)
					got := tp.LinearBF16(Const(x), h, out, bias)
					if !slices.Equal(got.Value.Shape, want.Value.Shape) || !slices.Equal(got.Value.Data, want.Value.Data) {
						t.Errorf("rows=%d out=%d in=%d bias=%v: LinearBF16 %v differs from Linear %v", rows, out, in, bias != nil, got.Value.Shape, want.Value.Shape)
					}
				}
			}
		}
	}
}

// TestLinearBF16Refuses: a weight of the wrong size, and an input that
// wants a gradient, are programming errors.
func TestLinearBF16Refuses(t *testing.T) {
	x := NewParam(tensor.New(2, 4))
	for name, f := range map[string]func(){
		"size":     func() { (*Tape)(nil).LinearBF16(Const(x.Value), make([]uint16, 11), 3, nil) },
		"gradient": func() { NewTape(tensor.NewRNG(1)).LinearBF16(x, make([]uint16, 12), 3, nil) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "LinearBF16") {
					t.Errorf("%s: %v; want LinearBF16's panic", name, r)
				}
			}()
			f()
		}()
	}
}

// TestEmbeddingBF16: the rows Embedding gives from the widened table,
// scaled; an id out of range panics.
func TestEmbeddingBF16(t *testing.T) {
	rng := tensor.NewRNG(6)
	const vocab, cols = 11, 9
	h, wt := bf16Weights(rng, vocab*cols)
	w := Const(tensor.FromSlice(wt.Data, vocab, cols))
	ids := []int{0, 10, 3, 3, 7}
	for _, scale := range []float32{1, 0.5, 3} {
		want := (*Tape)(nil).Embedding(w, ids, scale)
		got := NewInferenceTape().EmbeddingBF16(h, cols, ids, scale)
		if !slices.Equal(got.Value.Shape, want.Value.Shape) || !slices.Equal(got.Value.Data, want.Value.Data) {
			t.Errorf("scale %v: EmbeddingBF16 differs from Embedding", scale)
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("id 11 of 11: no panic")
		}
	}()
	(*Tape)(nil).EmbeddingBF16(h, cols, []int{11}, 1)
}
