package nn

import (
	"slices"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// TestQuantizeQ8Tied: a weight that two layers share (embeddings tied to
// the output layer, as model/transformer ties them) is quantized once, and
// both layers compute through the 8-bit form: the second had found the
// float32 values dropped and read nil.
func TestQuantizeQ8Tied(t *testing.T) {
	rng := tensor.NewRNG(1)
	emb := NewEmbedding(5, 32, 0.5, 1, rng)
	m := &struct {
		Embed *Embedding `attn:"embed"`
		Out   *Linear    `attn:"out"`
	}{emb, &Linear{Weight: emb.Weight}}
	want := slices.Clone(emb.Weight.Value.Data) // the dequantized weights
	q, s := tensor.QuantizeQ8(want, 32)
	tensor.DequantizeQ8(want, q, s)
	ref := NewEmbedding(5, 32, 0.5, 1, rng)
	copy(ref.Weight.Value.Data, want)
	if n := QuantizeQ8(m); n != 1 {
		t.Errorf("%d weights quantized; want 1", n)
	}
	ids := []int{3, 0, 4}
	x := m.Embed.Forward(nil, ids, 1, 3)
	if got := x.Value.Data; !slices.Equal(got, ref.Forward(nil, ids, 1, 3).Value.Data) {
		t.Error("the embeddings differ from the dequantized ones")
	}
	if got := m.Out.Forward(nil, x).Value.Data; !slices.Equal(got, (&Linear{Weight: ref.Weight}).Forward(nil, x).Value.Data) {
		t.Error("the tied output layer differs from the dequantized one's")
	}
	Dequantize(m)
	if !slices.Equal(emb.Weight.Value.Data, want) {
		t.Error("Dequantize: not the dequantized weights")
	}
}

// TestQuantizeQ8Except: a layer in except keeps its float32 values, read
// directly, even when a layer quantized with it shares its weight; the
// other layers are quantized.
func TestQuantizeQ8Except(t *testing.T) {
	rng := tensor.NewRNG(1)
	table := NewEmbedding(32, 32, 0.5, 1, rng)
	m := &struct {
		Out   *Linear    `attn:"out"` // visited before the table
		Table *Embedding `attn:"table"`
		Proj  *Linear    `attn:"proj"`
	}{&Linear{Weight: table.Weight}, table, NewLinear(32, 32, false, rng)}
	want := slices.Clone(table.Weight.Value.Data)
	if n := QuantizeQ8(m, m.Table); n != 1 {
		t.Errorf("%d weights quantized; want 1 (proj)", n)
	}
	if !slices.Equal(table.Weight.Value.Data, want) {
		t.Error("the table in except lost its float32 values")
	}
	if _, _, ok := table.Q8(); ok || m.Proj.Weight.Value.Data != nil {
		t.Error("the table quantized, or proj kept in float32")
	}
}
