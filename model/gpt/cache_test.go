package gpt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// smallModel returns a random model whose LayerNorms and biases are not
// trivial, so that a cache mix-up cannot hide behind a near-zero signal.
func smallModel(t testing.TB, cfg Config) *Model {
	t.Helper()
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := tensor.NewRNG(4)
	for _, p := range m.Params() {
		if len(p.Value.Shape) == 1 {
			r.FillNormal(p.Value, 0, 0.1)
		} else {
			r.FillNormal(p.Value, 0, 0.3)
		}
	}
	return m
}

func randIDs(r *tensor.RNG, n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = r.Intn(vocab)
	}
	return ids
}

// TestStepMatchesForward runs a prompt in one chunk, then the rest token by
// token (and in uneven chunks), and compares every position's logits with
// Forward on the whole sequence.
func TestStepMatchesForward(t *testing.T) {
	cfg := Config{VocabSize: 29, NPositions: 24, NEmbd: 24, NLayer: 2, NHead: 3, Eps: 1e-5}
	m := smallModel(t, cfg)
	const tt = 24 // fills the cache to n_positions
	for _, c := range []struct {
		b      int
		chunks []int // new tokens per Step
	}{
		{1, append([]int{9}, ones(15)...)},
		{1, []int{1, 5, 2, 7, 1, 8}},
		{3, append([]int{6}, ones(18)...)},
	} {
		t.Run(fmt.Sprintf("B=%d/chunks=%v", c.b, c.chunks[:2]), func(t *testing.T) {
			r := tensor.NewRNG(uint64(7 + c.b))
			ids := randIDs(r, c.b*tt, cfg.VocabSize)
			full, err := m.Forward(nil, ids, c.b, tt)
			if err != nil {
				t.Fatal(err)
			}
			cache := m.NewCache(c.b)
			v, worst, pos := cfg.VocabSize, 0.0, 0
			for _, n := range c.chunks {
				chunk := make([]int, 0, c.b*n)
				for i := 0; i < c.b; i++ {
					chunk = append(chunk, ids[i*tt+pos:i*tt+pos+n]...)
				}
				logits, err := m.Step(cache, chunk, c.b)
				if err != nil {
					t.Fatal(err)
				}
				if !tensor.EqualShape(logits.Shape, []int{c.b, n, v}) {
					t.Fatalf("Step: logits %v; want [%d %d %d]", logits.Shape, c.b, n, v)
				}
				for i := 0; i < c.b; i++ {
					want := full.Value.Data[(i*tt+pos)*v : (i*tt+pos+n)*v]
					got := logits.Data[i*n*v : (i+1)*n*v]
					worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("sequence %d, positions %d..%d", i, pos, pos+n-1), got, want, 1e-5))
				}
				pos += n
				if cache.Len() != pos {
					t.Fatalf("cache.Len() = %d; want %d", cache.Len(), pos)
				}
			}
			t.Logf("logits with and without the cache: max abs error %.2e", worst)
		})
	}
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// TestStepLastAndTruncate checks StepLast against Step, and that a truncated
// cache continues as if the dropped positions had never been run.
func TestStepLastAndTruncate(t *testing.T) {
	cfg := Config{VocabSize: 17, NPositions: 16, NEmbd: 16, NLayer: 2, NHead: 2, Eps: 1e-5}
	m := smallModel(t, cfg)
	ids := randIDs(tensor.NewRNG(1), 2*6, cfg.VocabSize)
	c1, c2 := m.NewCache(2), m.NewCache(2)
	all, err := m.Step(c1, ids, 2)
	if err != nil {
		t.Fatal(err)
	}
	last, err := m.StepLast(c2, ids, 2)
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.VocabSize
	for i := 0; i < 2; i++ {
		golden.CheckAbs(t, "StepLast", last.Data[i*v:(i+1)*v], all.Data[(i*6+5)*v:(i*6+6)*v], 1e-6)
	}
	// Run two junk tokens, rewind, then the real next token.
	if _, err := m.Step(c2, []int{3, 4}, 2); err != nil {
		t.Fatal(err)
	}
	c2.Truncate(6)
	next := []int{5, 6}
	a, _ := m.Step(c1, next, 2)
	b, _ := m.Step(c2, next, 2)
	golden.CheckAbs(t, "after Truncate", b.Data, a.Data, 1e-6)
}

func TestInputErrors(t *testing.T) {
	cfg := Config{VocabSize: 10, NPositions: 8, NEmbd: 8, NLayer: 1, NHead: 2, Eps: 1e-5}
	m := smallModel(t, cfg)
	for _, c := range []struct {
		name  string
		ids   []int
		b, tt int
		want  string
	}{
		{"shape", []int{1, 2, 3}, 2, 2, "3 token ids are not B=2 × T=2"},
		{"range", []int{1, 10}, 1, 2, "token id 10 at index 1 is outside the vocabulary [0, 10)"},
		{"negative", []int{-1, 0}, 2, 1, "token id -1 at index 0"},
		{"length", make([]int, 9), 1, 9, "9 positions exceed n_positions 8"},
	} {
		if _, err := m.Forward(nil, c.ids, c.b, c.tt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward(%s) = %v; want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := m.Loss(nil, []int{1, 2}, []int{1, 11}, 1, 2); err == nil || !strings.Contains(err.Error(), "target 11 at index 1") {
		t.Errorf("Loss with target 11 = %v; want an error", err)
	}
	if l, err := m.Loss(nil, []int{1, 2}, []int{IgnoreIndex, 3}, 1, 2); err != nil || l.Item() <= 0 {
		t.Errorf("Loss with an ignored target = %v, %v; want a positive loss", l, err)
	}
	c := m.NewCache(1)
	if _, err := m.Step(c, make([]int, 6), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(c, make([]int, 3), 1); err == nil || !strings.Contains(err.Error(), "9 positions exceed n_positions 8") {
		t.Errorf("Step past n_positions = %v; want an error", err)
	}
	if c.Len() != 6 {
		t.Errorf("a failed Step changed the cache length to %d; want 6", c.Len())
	}
	if _, err := m.Step(c, make([]int, 2), 2); err == nil {
		t.Error("Step with B=2 on a cache for B=1: no error")
	}
}

// benchConfig is the baby-GPT size of the issue (nanoGPT's CPU settings)
// with room for 1,024 cached positions and a character vocabulary.
var benchConfig = Config{VocabSize: 65, NPositions: 1025, NEmbd: 128, NLayer: 4, NHead: 4, Eps: 1e-5}

// BenchmarkDecodeStep measures one generated token (B = 1) after n cached
// positions, with the cache and, as the baseline, without it (Forward on the
// whole sequence, what generation costs without a cache).
func BenchmarkDecodeStep(b *testing.B) {
	m, err := New(benchConfig, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := tensor.NewRNG(2)
	for _, n := range []int{16, 64, 256, 1024} {
		prompt := randIDs(r, n, benchConfig.VocabSize)
		b.Run(fmt.Sprintf("cached=%d", n), func(b *testing.B) {
			c := m.NewCache(1)
			if _, err := m.Step(c, prompt, 1); err != nil {
				b.Fatal(err)
			}
			next := []int{7}
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.StepLast(c, next, 1); err != nil {
					b.Fatal(err)
				}
				c.Truncate(n)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run(fmt.Sprintf("nocache=%d", n), func(b *testing.B) {
			seq := append(append([]int(nil), prompt...), 7)
			var tp *autograd.Tape
			for b.Loop() {
				if _, err := m.Forward(tp, seq, 1, n+1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// TestStepBatch decodes sequences of different lengths together, several
// steps running, and compares every row with StepLast on a twin cache that
// decodes its sequence alone. Nine sequences take the products past the
// skinny-matrix kernels (up to eight rows) into the blocked ones.
func TestStepBatch(t *testing.T) {
	cfg := Config{VocabSize: 31, NPositions: 20, NEmbd: 24, NLayer: 2, NHead: 3, Eps: 1e-5}
	m := smallModel(t, cfg)
	v := cfg.VocabSize // 3 more than a multiple of 4: the skinny kernels' ragged columns
	for _, b := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9} {
		t.Run(fmt.Sprintf("B=%d", b), func(t *testing.T) {
			r := tensor.NewRNG(uint64(b))
			batched, alone := make([]*Cache, b), make([]*Cache, b)
			for i := range batched {
				batched[i], alone[i] = m.NewCache(1), m.NewCache(1)
				if n := (i * 5) % 11; n > 0 { // lengths 0, 5, 10, 4, 9, ...
					prompt := randIDs(r, n, v)
					for _, c := range []*Cache{batched[i], alone[i]} {
						if _, err := m.Step(c, prompt, 1); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			bt, worst := NewBatchBuffers(), 0.0
			for step := range 8 {
				ids := randIDs(r, b, v)
				got, err := m.StepBatch(bt, batched, ids)
				if err != nil {
					t.Fatal(err)
				}
				if !tensor.EqualShape(got.Shape, []int{b, v}) {
					t.Fatalf("StepBatch: logits %v; want [%d %d]", got.Shape, b, v)
				}
				for i, c := range alone {
					want, err := m.StepLast(c, ids[i:i+1], 1)
					if err != nil {
						t.Fatal(err)
					}
					worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("step %d, sequence %d", step, i), got.Data[i*v:(i+1)*v], want.Data, 1e-5))
					if batched[i].Len() != c.Len() {
						t.Fatalf("step %d, sequence %d: cache length %d; want %d", step, i, batched[i].Len(), c.Len())
					}
				}
			}
			t.Logf("batched against alone: max abs error %.2e", worst)
			if b <= 8 && worst != 0 {
				t.Errorf("StepBatch differs from StepLast by %.2e; up to 8 sequences want the same numbers", worst)
			}
		})
	}
}

func TestStepBatchErrors(t *testing.T) {
	cfg := Config{VocabSize: 10, NPositions: 4, NEmbd: 8, NLayer: 1, NHead: 2, Eps: 1e-5}
	m := smallModel(t, cfg)
	full, a, b := m.NewCache(1), m.NewCache(1), m.NewCache(1)
	if _, err := m.Step(full, make([]int, 4), 1); err != nil {
		t.Fatal(err)
	}
	other, err := New(Config{VocabSize: 10, NPositions: 4, NEmbd: 16, NLayer: 1, NHead: 2, Eps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	shorter, err := New(Config{VocabSize: 10, NPositions: 2, NEmbd: 8, NLayer: 1, NHead: 2, Eps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(shorter.NewCache(1), []int{1}, 1); err == nil {
		t.Error("Step on the cache of a model with a shorter window: no error")
	}
	bt := NewBatchBuffers()
	for _, c := range []struct {
		name   string
		bt     *BatchBuffers
		caches []*Cache
		ids    []int
		want   string
	}{
		{"no batch", nil, []*Cache{a}, []int{1}, "needs BatchBuffers"},
		{"no caches", bt, nil, nil, "needs BatchBuffers and one token id for each of its 0 caches"},
		{"ids", bt, []*Cache{a, b}, []int{1}, "each of its 2 caches (got 1 ids)"},
		{"twice", bt, []*Cache{a, b, a}, []int{1, 2, 3}, "caches 0 and 2 are the same cache"},
		{"two sequences", bt, []*Cache{a, m.NewCache(2)}, []int{1, 2}, "cache 1 is not a one-sequence cache of this model"},
		{"other model", bt, []*Cache{other.NewCache(1)}, []int{1}, "cache 0 is not a one-sequence cache of this model"},
		{"other window", bt, []*Cache{shorter.NewCache(1)}, []int{1}, "cache 0 is not a one-sequence cache of this model"},
		{"nil cache", bt, []*Cache{a, nil}, []int{1, 2}, "cache 1 is not"},
		{"full", bt, []*Cache{a, full}, []int{1, 2}, "sequence 1: gpt: 5 positions exceed n_positions 4"},
		{"vocabulary", bt, []*Cache{a, b}, []int{1, 10}, "sequence 1: gpt: token id 10 at index 0 is outside the vocabulary [0, 10)"},
	} {
		if _, err := m.StepBatch(c.bt, c.caches, c.ids); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: StepBatch = %v; want an error containing %q", c.name, err, c.want)
		}
	}
	if a.Len() != 0 || b.Len() != 0 || full.Len() != 4 {
		t.Errorf("failed steps changed the caches' lengths to %d, %d, %d; want 0, 0, 4", a.Len(), b.Len(), full.Len())
	}
}

// TestStepPieces: a prompt longer than stepChunk runs through the blocks in
// pieces, for one sequence and for three, with Forward's logits (every
// position's and the last's) after a prefix already cached too; a bad id
// in the last piece is refused before any piece runs.
func TestStepPieces(t *testing.T) {
	cfg := Config{VocabSize: 29, NPositions: 24, NEmbd: 24, NLayer: 2, NHead: 3, Eps: 1e-5}
	m := smallModel(t, cfg)
	defer func(n int) { stepChunk = n }(stepChunk)
	stepChunk = 7
	const tt = 23
	v := cfg.VocabSize
	for _, b := range []int{1, 3} {
		ids := randIDs(tensor.NewRNG(uint64(b)), b*tt, v)
		full, err := m.Forward(nil, ids, b, tt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Step(m.NewCache(b), ids, b)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.EqualShape(got.Shape, []int{b, tt, v}) {
			t.Fatalf("B=%d: logits %v", b, got.Shape)
		}
		golden.CheckAbs(t, fmt.Sprintf("B=%d: Step in pieces", b), got.Data, full.Value.Data, 1e-5)
		c := m.NewCache(b)
		var first, rest []int
		for i := range b {
			first = append(first, ids[i*tt:i*tt+2]...)
			rest = append(rest, ids[i*tt+2:(i+1)*tt]...)
		}
		if _, err := m.StepLast(c, first, b); err != nil {
			t.Fatal(err)
		}
		last, err := m.StepLast(c, rest, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			golden.CheckAbs(t, fmt.Sprintf("B=%d: StepLast in pieces, sequence %d", b, i), last.Data[i*v:(i+1)*v], full.Value.Data[((i+1)*tt-1)*v:(i+1)*tt*v], 1e-5)
		}
		if c.Len() != tt {
			t.Errorf("B=%d: %d positions cached, want %d", b, c.Len(), tt)
		}
		bad := append([]int(nil), ids...)
		bad[len(bad)-1] = v
		c.Reset()
		if _, err := m.Step(c, bad, b); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Errorf("B=%d: a bad id in the last piece: %v", b, err)
		}
		if c.Len() != 0 {
			t.Errorf("B=%d: a refused prompt left %d positions in the cache", b, c.Len())
		}
	}
}
