package autograd

import (
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// halfWeights returns n random values that are exactly values of the
// format h, as stored and widened (by safetensors' conversions).
func halfWeights(rng *tensor.RNG, h tensor.Half, n int) ([]uint16, *tensor.Tensor) {
	w := tensor.New(n)
	rng.FillNormal(w, 0, 1)
	out := make([]uint16, n)
	for i, v := range w.Data {
		if h == tensor.BF16 {
			out[i] = safetensors.Float32ToBFloat16(v)
			w.Data[i] = safetensors.BFloat16ToFloat32(out[i])
		} else {
			out[i] = safetensors.Float32ToFloat16(v)
			w.Data[i] = safetensors.Float16ToFloat32(out[i])
		}
	}
	return out, w
}

var halves = []tensor.Half{tensor.BF16, tensor.F16}

// TestLinearHalf: the numbers of Linear on the widened weight, with and
// without a bias, for inputs of 1 to 40 rows (2-D and 3-D), on a nil, an
// inference and a recording tape (nothing requiring a gradient).
func TestLinearHalf(t *testing.T) {
	rng := tensor.NewRNG(5)
	for i, rows := range []int{1, 5, 12, 17, 40} {
		for _, s := range [][2]int{{3, 7}, {33, 64}, {100, 19}} {
			out, in := s[0], s[1]
			hf := halves[i%2]
			h, wt := halfWeights(rng, hf, out*in)
			w := Const(tensor.FromSlice(wt.Data, out, in))
			b := tensor.New(out)
			rng.FillNormal(b, 0, 1)
			x := tensor.New(1, rows, in)
			rng.FillNormal(x, 0, 1)
			for _, bias := range []*Var{nil, Const(b)} {
				for _, tp := range []*Tape{nil, NewInferenceTape(), NewTape(rng)} {
					want := tp.Linear(Const(x), w, bias)
					got := tp.LinearHalf(Const(x), hf, h, out, bias)
					if !slices.Equal(got.Value.Shape, want.Value.Shape) || !slices.Equal(got.Value.Data, want.Value.Data) {
						t.Errorf("rows=%d out=%d in=%d bias=%v: LinearHalf %v differs from Linear %v", rows, out, in, bias != nil, got.Value.Shape, want.Value.Shape)
					}
				}
			}
		}
	}
}

// TestLinearHalfRefuses: a weight of the wrong size, and an input that
// wants a gradient, are programming errors.
func TestLinearHalfRefuses(t *testing.T) {
	x := NewParam(tensor.New(2, 4))
	for name, f := range map[string]func(){
		"size":     func() { (*Tape)(nil).LinearHalf(Const(x.Value), tensor.F16, make([]uint16, 11), 3, nil) },
		"gradient": func() { NewTape(tensor.NewRNG(1)).LinearHalf(x, tensor.BF16, make([]uint16, 12), 3, nil) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "LinearHalf") {
					t.Errorf("%s: %v; want LinearHalf's panic", name, r)
				}
			}()
			f()
		}()
	}
}

// TestEmbeddingHalf: the rows Embedding gives from the widened table,
// scaled; an id out of range panics.
func TestEmbeddingHalf(t *testing.T) {
	rng := tensor.NewRNG(6)
	const vocab, cols = 11, 9
	ids := []int{0, 10, 3, 3, 7}
	for _, hf := range halves {
		h, wt := halfWeights(rng, hf, vocab*cols)
		w := Const(tensor.FromSlice(wt.Data, vocab, cols))
		for _, scale := range []float32{1, 0.5, 3} {
			want := (*Tape)(nil).Embedding(w, ids, scale)
			got := NewInferenceTape().EmbeddingHalf(hf, h, cols, ids, scale)
			if !slices.Equal(got.Value.Shape, want.Value.Shape) || !slices.Equal(got.Value.Data, want.Value.Data) {
				t.Errorf("%v scale %v: EmbeddingHalf differs from Embedding", hf, scale)
			}
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("id 11 of 11: no panic")
		}
	}()
	(*Tape)(nil).EmbeddingHalf(tensor.BF16, make([]uint16, vocab*cols), cols, []int{11}, 1)
}

// TestLinearQ8: the numbers of Linear on the dequantized weight, with and
// without a bias, for 1 to 40 rows, on a nil, an inference and a recording
// tape; EmbeddingQ8's rows are Embedding's from the dequantized table.
func TestLinearQ8(t *testing.T) {
	rng := tensor.NewRNG(7)
	for _, rows := range []int{1, 5, 12, 17, 40} {
		for _, s := range [][2]int{{3, 32}, {33, 64}, {100, 96}} {
			out, in := s[0], s[1]
			wt := tensor.New(out, in)
			rng.FillNormal(wt, 0, 1)
			q, sc := tensor.QuantizeQ8(wt.Data, in)
			tensor.DequantizeQ8(wt.Data, q, sc)
			w := Const(wt)
			b := tensor.New(out)
			rng.FillNormal(b, 0, 1)
			x := tensor.New(1, rows, in)
			rng.FillNormal(x, 0, 1)
			for _, bias := range []*Var{nil, Const(b)} {
				for _, tp := range []*Tape{nil, NewInferenceTape(), NewTape(rng)} {
					want := tp.Linear(Const(x), w, bias)
					got := tp.LinearQ8(Const(x), q, sc, out, bias)
					if !slices.Equal(got.Value.Shape, want.Value.Shape) || !slices.Equal(got.Value.Data, want.Value.Data) {
						t.Errorf("rows=%d out=%d in=%d bias=%v: LinearQ8 differs from Linear", rows, out, in, bias != nil)
					}
				}
			}
			ids := []int{0, out - 1, out / 2, 0}
			want := (*Tape)(nil).Embedding(w, ids, 0.5)
			got := NewInferenceTape().EmbeddingQ8(q, sc, in, ids, 0.5)
			if !slices.Equal(got.Value.Data, want.Value.Data) {
				t.Errorf("out=%d in=%d: EmbeddingQ8 differs from Embedding", out, in)
			}
		}
	}
}
