package autograd

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// TestGroupedQueryAttention: attention with fewer key/value heads than
// query heads (KVHeads) equals attention over keys and values whose heads
// are repeated for each query head that reads them, exactly, for causal
// and full attention, prompt and decoding shapes, and tiny ragged blocks;
// for decoding also with windows, softcaps, sinks and key padding; a tape
// that records gradients refuses it.
func TestGroupedQueryAttention(t *testing.T) {
	rand := normalConsts(7)
	const d = 8
	for _, blocks := range [][2]int{{64, 128}, {3, 5}} {
		for _, tc := range []struct{ b, tq, tk, heads, kv int }{
			{2, 9, 9, 4, 2}, {1, 13, 13, 6, 1}, {2, 1, 17, 4, 2}, {1, 4, 20, 8, 4},
		} {
			t.Run(fmt.Sprintf("blocks=%v/%+v", blocks, tc), func(t *testing.T) {
				withBlocks(blocks[0], blocks[1], 2, func() {
					q := rand(tc.b, tc.tq, tc.heads*d)
					k, v := rand(tc.b, tc.tk, tc.kv*d), rand(tc.b, tc.tk, tc.kv*d)
					// Keys and values with each head repeated for its group.
					group := tc.heads / tc.kv
					wide := func(x *Var) *Var {
						out := tensor.New(tc.b, tc.tk, tc.heads*d)
						for r := range tc.b * tc.tk {
							for h := range tc.heads {
								copy(out.Data[r*tc.heads*d+h*d:], x.Value.Data[r*tc.kv*d+h/group*d:r*tc.kv*d+h/group*d+d])
							}
						}
						return Const(out)
					}
					for _, causal := range []bool{true, false} {
						got := (*Tape)(nil).Attention(q, k, v, tc.heads, AttentionOpts{Causal: causal, KVHeads: tc.kv}).Value.Data
						want := (*Tape)(nil).Attention(q, wide(k), wide(v), tc.heads, AttentionOpts{Causal: causal}).Value.Data
						if !slices.Equal(got, want) {
							t.Errorf("causal %v: grouped-query attention differs from attention over repeated heads", causal)
						}
					}
				})
			})
		}
	}
	// Decoding (one query): the query heads of a group are computed
	// together, as the rows of one block; each must get the bits it gets
	// over repeated heads, computed head by head. Groups of 2 to 8 (16
	// stays head by head), caches that cross the 512-key decode block,
	// heads of 64, sliding windows, softcaps, sinks and key padding.
	type decodeCase struct{ b, tk, heads, kv, d int }
	cases := []decodeCase{
		{1, 1, 6, 3, 64}, {3, 16, 9, 3, 64}, {2, 129, 8, 2, 64}, {1, 700, 8, 1, 64}, {2, 1030, 16, 2, 16}, {1, 40, 32, 2, 8}, {2, 33, 12, 4, 24},
		// Heads not a multiple of 32 wide with outputs over 1,024 wide
		// and more than 384 keys: per head, the last panel's blocks of k
		// are cut for the wide output.
		{1, 600, 14, 2, 80}, {1, 600, 16, 2, 112},
		{1, 100, 32, 4, 128},
	}
	// With products in bfloat16, more than four rows are computed in
	// bfloat16: groups of 5 to 8 must still get each head's own numbers.
	bf16 := tensor.SetMatmulBF16(true) == nil
	tensor.SetMatmulBF16(false)
	for i, tc := range append(cases, decodeCase{1, 100, 28, 4, 64}, decodeCase{1, 100, 8, 1, 64}, decodeCase{1, 100, 8, 2, 64}) {
		if i >= len(cases) {
			if !bf16 {
				break
			}
			tensor.SetMatmulBF16(true)
		}
		q := rand(tc.b, 1, tc.heads*tc.d)
		k, v := rand(tc.b, tc.tk, tc.kv*tc.d), rand(tc.b, tc.tk, tc.kv*tc.d)
		group := tc.heads / tc.kv
		wide := func(x *Var) *Var {
			out := tensor.New(tc.b, tc.tk, tc.heads*tc.d)
			for r := range tc.b * tc.tk {
				for h := range tc.heads {
					copy(out.Data[r*tc.heads*tc.d+h*tc.d:], x.Value.Data[r*tc.kv*tc.d+h/group*tc.d:r*tc.kv*tc.d+h/group*tc.d+tc.d])
				}
			}
			return Const(out)
		}
		sinks := rand(tc.heads)
		pad := make([]bool, tc.b*tc.tk)
		for i := range pad {
			pad[i] = i%7 == 3
		}
		for _, opt := range []AttentionOpts{
			{Causal: true},
			{Causal: true, Window: 5},
			{Causal: true, Softcap: 2},
			{Causal: true, Sinks: sinks},
			{KeyPad: pad},
		} {
			want := (*Tape)(nil).Attention(q, wide(k), wide(v), tc.heads, opt).Value.Data
			opt.KVHeads = tc.kv
			got := (*Tape)(nil).Attention(q, k, v, tc.heads, opt).Value.Data
			if !slices.Equal(got, want) {
				t.Errorf("decoding %+v (bfloat16 products %v), window %d, softcap %v, sinks %v, padding %v: grouped-query attention differs from attention over repeated heads",
					tc, tensor.MatmulBF16(), opt.Window, opt.Softcap, opt.Sinks != nil, opt.KeyPad != nil)
			}
		}
	}
	tensor.SetMatmulBF16(false)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "no backward pass") {
			t.Errorf("a recording tape: recovered %v; want a panic saying there is no backward pass", r)
		}
	}()
	tp := NewTape(nil)
	q := tensor.New(1, 2, 16)
	k := tensor.New(1, 2, 8)
	tp.Attention(NewParam(q), Const(k), Const(k), 2, AttentionOpts{KVHeads: 1})
}

// TestAttentionSteps: several sequences of one query, each against keys of
// its own length, computed in one loop, give each sequence exactly what
// Attention gives it alone: grouped-query and plain heads, windows,
// softcaps and sinks; a recording tape and a sequence of two queries are
// refused.
func TestAttentionSteps(t *testing.T) {
	rand := normalConsts(11)
	for _, tc := range []struct{ heads, kv, d int }{{9, 3, 64}, {8, 8, 32}, {4, 1, 16}} {
		lens := []int{1, 17, 129, 600, 33}
		var qs, ks, vs []*Var
		for _, tk := range lens {
			qs = append(qs, rand(1, 1, tc.heads*tc.d))
			ks = append(ks, rand(1, tk, tc.kv*tc.d))
			vs = append(vs, rand(1, tk, tc.kv*tc.d))
		}
		for _, opt := range []AttentionOpts{
			{Causal: true, KVHeads: tc.kv},
			{Causal: true, KVHeads: tc.kv, Window: 20},
			{Causal: true, KVHeads: tc.kv, Softcap: 3, Sinks: rand(tc.heads)},
		} {
			got := (*Tape)(nil).AttentionSteps(qs, ks, vs, tc.heads, opt)
			for i := range lens {
				want := (*Tape)(nil).Attention(qs[i], ks[i], vs[i], tc.heads, opt).Value.Data
				if !slices.Equal(got[i].Value.Data, want) {
					t.Errorf("%+v, %d keys, window %d, softcap %v: sequence %d differs from Attention alone", tc, lens[i], opt.Window, opt.Softcap, i)
				}
			}
		}
	}
	for _, bad := range []func(){
		func() {
			NewTape(nil).AttentionSteps([]*Var{NewParam(tensor.New(1, 1, 16))}, []*Var{Const(tensor.New(1, 3, 16))}, []*Var{Const(tensor.New(1, 3, 16))}, 2, AttentionOpts{})
		},
		func() {
			(*Tape)(nil).AttentionSteps([]*Var{Const(tensor.New(1, 2, 16))}, []*Var{Const(tensor.New(1, 3, 16))}, []*Var{Const(tensor.New(1, 3, 16))}, 2, AttentionOpts{})
		},
		func() {
			(*Tape)(nil).AttentionSteps([]*Var{Const(tensor.New(1, 1, 16))}, nil, nil, 2, AttentionOpts{})
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "AttentionSteps") {
					t.Errorf("recovered %v; want a panic from AttentionSteps", r)
				}
			}()
			bad()
		}()
	}
}

// normalConsts returns a function making constants of the given shape with
// standard normal values, drawn from a generator seeded with seed.
func normalConsts(seed uint64) func(shape ...int) *Var {
	rng := tensor.NewRNG(seed)
	return func(shape ...int) *Var {
		x := tensor.New(shape...)
		rng.FillNormal(x, 0, 1)
		return Const(x)
	}
}
