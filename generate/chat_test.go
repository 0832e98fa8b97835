package generate

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// TestSessionReusesCache: each turn of a Session gives the tokens Text
// gives for the whole conversation from an empty cache, while running only
// the positions that changed: a turn that extends the last one reuses all
// of it (but the last sampled token, never run), one that rewrites the
// middle reuses what comes before, and a prompt that fills the context is
// ErrContextFull.
func TestSessionReusesCache(t *testing.T) {
	lw, err := llama.New(llama.Config{Type: "llama", VocabSize: 23, Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2,
		Act: "silu", MaxPositions: 40, Eps: 1e-6, RopeTheta: 10000}, 5)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gpt.New(gpt.Config{VocabSize: 23, NPositions: 40, NEmbd: 16, NLayer: 2, NHead: 2, Eps: 1e-5}, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    interface {
			lm.Model
			Params() []nn.Param
		}
	}{{"llama", lw}, {"gpt", gw}} {
		t.Run(tc.name, func(t *testing.T) {
			r := tensor.NewRNG(6)
			for _, p := range tc.m.Params() {
				r.FillNormal(p.Value, 0, 0.5)
			}
			s := NewSession(tc.m)
			greedy := &Sampler{}
			turn := func(prompt []int, maxNew, reused int) []int {
				t.Helper()
				got, err := s.Generate(prompt, maxNew, greedy, nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Text(tc.m, prompt, maxNew, greedy, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("prompt %v: the session generated %v; Text from an empty cache %v", prompt, got, want)
				}
				if s.Reused() != reused {
					t.Errorf("prompt %v: %d positions reused; want %d", prompt, s.Reused(), reused)
				}
				return got
			}
			p1 := []int{1, 5, 7, 9, 11}
			out1 := turn(p1, 6, 0)
			p2 := append(append(slices.Clone(p1), out1...), 3, 4, 5)
			out2 := turn(p2, 6, len(p1)+len(out1)-1)
			p3 := append(append(slices.Clone(p2[:3]), 8, 8), out2...)
			turn(p3, 4, 3)
			turn(p3[:2], 3, 1) // a shorter prompt: its last position is run again
			long := make([]int, 40)
			if _, err := s.Generate(long, 1, greedy, nil); !errors.Is(err, ErrContextFull) {
				t.Errorf("a 40-token prompt in a 40-token context: %v; want ErrContextFull", err)
			}
			turn(p1, 6, 2) // the refused prompt left the cache as it was (holding p3[:2])
			// Near the end of the context the session stops instead of sliding.
			near := make([]int, 37)
			got, err := s.Generate(near, 10, greedy, nil)
			if err != nil || len(got) != 4 {
				t.Errorf("37 tokens in a 40-token context, 10 wanted: %v, %v; want 4 tokens", got, err)
			}
		})
	}
}

// BenchmarkSessionTurn times one turn of a conversation 512 tokens long
// (its last 64 tokens new) on a SmolLM2-135M-shaped Llama, up to its first
// new token: through a Session that holds the earlier turns ("reuse"), and
// from an empty cache as a stateless request is ("fresh").
//
//	go test ./generate -run NONE -bench SessionTurn -benchtime 5x
func BenchmarkSessionTurn(b *testing.B) {
	m, err := llama.New(llama.Config{Type: "llama", VocabSize: 49152, Hidden: 576, Intermediate: 1536, Layers: 30, Heads: 9, KVHeads: 3,
		Act: "silu", MaxPositions: 2048, Eps: 1e-5, RopeTheta: 10000, Tied: true}, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := tensor.NewRNG(2)
	conv := make([]int, 512)
	for i := range conv {
		conv[i] = r.Intn(49152)
	}
	greedy := &Sampler{}
	b.Run("reuse", func(b *testing.B) {
		s := NewSession(m)
		for b.Loop() {
			b.StopTimer()
			if _, err := s.Generate(conv[:448], 1, greedy, nil); err != nil { // the earlier turns
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := s.Generate(conv, 1, greedy, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			if _, err := Text(m, conv, 1, greedy, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBatcherReusesPrefixes: with ReusePrefixes, a prompt that begins with
// what a finished sequence's cache holds (a chat client's next turn) runs
// only the rest, and gets Text's tokens; one sharing less than the least
// length starts afresh; concurrent callers continuing each other's
// conversations all get Text's tokens.
func TestBatcherReusesPrefixes(t *testing.T) {
	for _, m := range []lm.BatchModel{sessionLlama(t), batchModel(t)} {
		b := NewBatcher(m, 3, ReusePrefixes(4))
		run := func(prompt []int, maxNew int) []int {
			t.Helper()
			got, err := b.Generate(context.Background(), prompt, maxNew, &Sampler{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Text(m, prompt, maxNew, &Sampler{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("prompt %v: the batcher gave %v; Text %v", prompt, got, want)
			}
			return got
		}
		p1 := []int{1, 5, 7, 9, 11}
		out1 := run(p1, 5)
		before := b.Stats().Reused
		p2 := append(append(slices.Clone(p1), out1...), 3, 4)
		run(p2, 3)
		if got, want := b.Stats().Reused-before, int64(len(p1)+len(out1)-1); got != want {
			t.Errorf("the next turn reused %d positions; want %d", got, want)
		}
		before = b.Stats().Reused
		run([]int{1, 5, 7, 2, 2, 2}, 3) // three shared: fewer than 4
		if got := b.Stats().Reused - before; got != 0 {
			t.Errorf("a prompt sharing 3 positions reused %d; want none", got)
		}
		// Conversations going on at once, each turn extending the last.
		var wg sync.WaitGroup
		for c := range 4 {
			wg.Go(func() {
				conv := []int{c + 1, 3, 5, 7, 9}
				for turn := range 3 {
					got, err := b.Generate(context.Background(), conv, 3, &Sampler{}, nil)
					want, _ := Text(m, conv, 3, &Sampler{}, nil)
					if err != nil || !slices.Equal(got, want) {
						t.Errorf("conversation %d, turn %d: %v, %v; want %v", c, turn, got, err, want)
						return
					}
					conv = append(append(conv, got...), 4+turn)
				}
			})
		}
		wg.Wait()
		b.Close()
	}
}

// sessionLlama is a random Llama with a context long enough for several
// turns.
func sessionLlama(t *testing.T) *llama.Model {
	t.Helper()
	m, err := llama.New(llama.Config{Type: "llama", VocabSize: 23, Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2,
		Act: "silu", MaxPositions: 64, Eps: 1e-6, RopeTheta: 10000}, 5)
	if err != nil {
		t.Fatal(err)
	}
	r := tensor.NewRNG(6)
	for _, p := range m.Params() {
		r.FillNormal(p.Value, 0, 0.5)
	}
	return m
}
