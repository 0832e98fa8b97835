package nn

import (
	"reflect"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// q8Matrix is a matrix in 8 bits with a float32 scale for each block of
// tensor.Q8Block values of a row (tensor.QuantizeQ8); empty when the
// matrix is in float32.
type q8Matrix struct {
	q []int8
	s []float32
}

// quantize replaces v's float32 values by their 8-bit form, if its rows are
// whole blocks, and reports whether it did.
func (m *q8Matrix) quantize(v *autograd.Var) bool {
	if m.q != nil {
		return true
	}
	cols := v.Value.Shape[len(v.Value.Shape)-1]
	if cols%tensor.Q8Block != 0 || v.Value.Data == nil {
		return false
	}
	m.q, m.s = tensor.QuantizeQ8(v.Value.Data, cols)
	v.Value.Data = nil
	return true
}

// dequantize gives v back float32 values: the dequantized ones (already
// there when another layer sharing v gave them back).
func (m *q8Matrix) dequantize(v *autograd.Var) {
	if m.q == nil {
		return
	}
	if v.Value.Data == nil {
		v.Value.Data = make([]float32, len(m.q))
		tensor.DequantizeQ8(v.Value.Data, m.q, m.s)
	}
	m.q, m.s = nil, nil
}

// Q8 returns the layer's weight in 8 bits and its block scales, if
// QuantizeQ8 quantized it (for a model whose output layer is the
// embeddings).
func (e *Embedding) Q8() (q []int8, s []float32, ok bool) { return e.q8.q, e.q8.s, e.q8.q != nil }

// QuantizeQ8 quantizes the weights of every Linear and Embedding in the
// module m (a pointer to a model's struct, walked as Params walks it) to 8
// bits with a float32 scale for each block of 32 values of a row
// (tensor.QuantizeQ8, llama.cpp's Q8_0 scheme), for inference: their
// float32 values are dropped, and the layers compute exactly as they would
// on the dequantized weights. A weight whose rows are not whole blocks
// stays float32. A weight layers share (tied embeddings) is quantized once,
// for all of them; one the model reads other than through its layer's
// Forward (an output layer that is the embeddings) must be read there in 8
// bits (Embedding.Q8), as marian.Model does: its float32 values are gone.
// Training through a quantized layer is refused (panics, a programming
// error): Dequantize first. It returns how many weights it quantized.
//
// The layers in except (a *Linear or *Embedding each) stay float32: tables
// a model reads other than through the layer's Forward (T5's relative
// position biases); so does every layer sharing such a layer's weight,
// whose float32 values would otherwise be dropped.
func QuantizeQ8(m any, except ...any) int {
	done := map[*autograd.Var]q8Matrix{} // the shared weights' 8 bits
	skip := map[*autograd.Var]bool{}     // the weights of the layers in except
	for _, l := range except {
		switch l := l.(type) {
		case *Linear:
			skip[l.Weight] = true
		case *Embedding:
			skip[l.Weight] = true
		}
	}
	quantize := func(q *q8Matrix, v *autograd.Var) {
		if d, ok := done[v]; ok {
			*q = d // its float32 values were dropped by the layer before
		} else if q.quantize(v) {
			done[v] = *q
		}
	}
	visitLayers(reflect.ValueOf(m), func(l *Linear) {
		if !skip[l.Weight] {
			quantize(&l.q8, l.Weight)
		}
	}, func(e *Embedding) {
		if !skip[e.Weight] {
			quantize(&e.q8, e.Weight)
		}
	})
	return len(done)
}

// Dequantize gives every weight QuantizeQ8 quantized in m its float32
// values back (the dequantized ones, the numbers it computed with), for
// training or saving.
func Dequantize(m any) {
	visitLayers(reflect.ValueOf(m), func(l *Linear) { l.q8.dequantize(l.Weight) }, func(e *Embedding) { e.q8.dequantize(e.Weight) })
}

var (
	linearType    = reflect.TypeFor[*Linear]()
	embeddingType = reflect.TypeFor[*Embedding]()
)

// visitLayers calls linear and embedding on each Linear and Embedding in
// the fields Params follows, once each.
func visitLayers(v reflect.Value, linear func(*Linear), embedding func(*Embedding)) {
	seen := map[any]bool{}
	walk(v, "", func(v reflect.Value, _ string) bool {
		switch v.Type() {
		case linearType:
			if l := v.Interface().(*Linear); !seen[l] {
				seen[l] = true
				linear(l)
			}
		case embeddingType:
			if e := v.Interface().(*Embedding); !seen[e] {
				seen[e] = true
				embedding(e)
			}
		default:
			return false
		}
		return true
	})
}
