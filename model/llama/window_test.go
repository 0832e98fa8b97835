package llama

import (
	"context"
	"slices"
	"testing"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// windowModel is a test folder's model with a sliding window of win
// positions (wider than windowSlack, as real ones are), a context of
// maxPos, and weights large enough that every key's part in a query's
// attention shows in the logits.
func windowModel(t *testing.T, name string, win, maxPos int) *Model {
	t.Helper()
	m := newWindowModel(t, name, win, maxPos, 5)
	r := tensor.NewRNG(9)
	for _, p := range m.Params() {
		r.FillNormal(p.Value, 0, 0.3)
	}
	return m
}

// newWindowModel is a test folder's model with a sliding window of win
// positions and a context of maxPos, its weights New's of seed.
func newWindowModel(t *testing.T, name string, win, maxPos int, seed uint64) *Model {
	t.Helper()
	c := load(t, name).Cfg
	c.MaxPositions, c.LocalWindow = maxPos, win
	m, err := New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// windowIDs returns n token ids below vocab.
func windowIDs(n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = (i*37 + i*i/7 + 3) % vocab
	}
	return ids
}

// firstHeld returns the latest position a sliding-window layer of c holds
// from (0 when none was trimmed).
func firstHeld(c *Cache) int {
	s := 0
	for l, st := range c.start {
		if c.m.Cfg.window(l) > 0 {
			s = max(s, st)
		}
	}
	return s
}

// TestWindowCacheLongWindow: with a window wider than windowSlack (a
// Mistral's, every layer windowed; a Gemma 3's, local layers among global
// ones), a trimmed cache gives the whole sequence's logits through prompt
// chunks longer than the window, a token at a time, and after a rewind to
// exactly the first position the windows still allow; a rewind one
// position further empties the cache.
func TestWindowCacheLongWindow(t *testing.T) {
	const win = 300
	for _, name := range []string{"mistral-tiny", "gemma3-tiny"} {
		t.Run(name, func(t *testing.T) {
			m := windowModel(t, name, win, 2500)
			v := m.Cfg.VocabSize
			ids := windowIDs(1800, v)
			whole, err := m.Step(m.NewCache(), ids)
			if err != nil {
				t.Fatal(err)
			}
			cache := m.NewCache()
			var got []float32
			for _, r := range [][2]int{{0, 100}, {100, 700}, {700, 1400}, {1400, 1410}} {
				l, err := m.Step(cache, ids[r[0]:r[1]])
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, l.Data...)
			}
			if firstHeld(cache) == 0 {
				t.Fatalf("no layer trimmed after the long chunks")
			}
			for _, id := range ids[1410:] {
				l, err := m.StepLast(cache, []int{id})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, l.Data...)
			}
			golden.CheckAbs(t, "logits through a trimmed cache", got, whole.Data, 1e-4)
			for l := range m.Layers {
				if s := cache.start[l]; m.Cfg.window(l) > 0 && cache.n-s < win-1+windowSlack || m.Cfg.window(l) == 0 && s != 0 {
					t.Errorf("layer %d holds positions %d..%d", l, s, cache.n-1)
				}
			}
			// The furthest rewind the windows allow: position b's window
			// begins at the first position held.
			b := firstHeld(cache) + win - 1
			if got := cache.Truncate(b); got != b || cache.Len() != b {
				t.Fatalf("Truncate(%d) kept %d, holds %d", b, got, cache.Len())
			}
			again, err := m.Step(cache, ids[b:])
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckAbs(t, "logits after the furthest rewind", again.Data, whole.Data[b*v:], 1e-4)
			b = firstHeld(cache) + win - 2
			if got := cache.Truncate(b); got != 0 || cache.Len() != 0 || firstHeld(cache) != 0 {
				t.Fatalf("Truncate(%d) kept %d, holds %d from %d", b, got, cache.Len(), firstHeld(cache))
			}
			fresh, err := m.Step(cache, ids[:900])
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckAbs(t, "logits after the reset", fresh.Data, whole.Data[:900*v], 1e-4)
		})
	}
}

// TestWindowCacheBatchTrims: StepBatch over caches of different lengths,
// each trimmed at steps of its own, gives bit for bit what StepLast gives
// on a twin of each cache.
func TestWindowCacheBatchTrims(t *testing.T) {
	m := windowModel(t, "gemma3-tiny", 300, 2500)
	ids := windowIDs(1600, m.Cfg.VocabSize)
	lens := []int{600, 1000, 1100}
	var caches, twins []*Cache
	for _, n := range lens {
		c, tw := m.NewCache(), m.NewCache()
		for at := 0; at < n; at += 250 {
			for _, x := range []*Cache{c, tw} {
				if _, err := m.Step(x, ids[at:min(n, at+250)]); err != nil {
					t.Fatal(err)
				}
			}
		}
		caches, twins = append(caches, c), append(twins, tw)
	}
	bt := NewBatchBuffers()
	v := m.Cfg.VocabSize
	starts := make([]int, len(caches))
	trims := make([]int, len(caches))
	for step := range 500 {
		next := make([]int, len(caches))
		for i, c := range caches {
			next[i] = ids[c.n]
			starts[i] = firstHeld(c)
		}
		got, err := m.StepBatch(bt, caches, next)
		if err != nil {
			t.Fatal(err)
		}
		for i, tw := range twins {
			want, err := m.StepLast(tw, next[i:i+1])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Data[i*v:(i+1)*v], want.Data) {
				t.Fatalf("step %d, sequence %d (at %d, held from %d): StepBatch differs from StepLast", step, i, caches[i].n-1, firstHeld(caches[i]))
			}
			if firstHeld(caches[i]) != starts[i] {
				trims[i]++
			}
		}
	}
	for i, n := range trims {
		if n == 0 {
			t.Errorf("sequence %d was never trimmed while batched", i)
		}
	}
}

// TestWindowCacheBatcher: a Batcher with ReusePrefixes goes on from a
// trimmed cache for a prompt sharing its recent part (Stats counting the
// positions kept), and runs whole one sharing only what the windows no
// longer hold (counting none); both get Text's tokens.
func TestWindowCacheBatcher(t *testing.T) {
	m := windowModel(t, "gemma3-tiny", 300, 2500)
	b := generate.NewBatcher(m, 2, generate.ReusePrefixes(1))
	defer b.Close()
	first := windowIDs(1100, m.Cfg.VocabSize)
	for i, tc := range []struct{ shared, reused int }{{0, 0}, {1090, 1090}, {400, 0}} {
		prompt := slices.Clone(first)
		if i > 0 {
			prompt = append(prompt[:tc.shared], 7, 8, 9)
		}
		before := b.Stats().Reused
		got, err := b.Generate(context.Background(), prompt, 4, &generate.Sampler{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := generate.Text(m, prompt, 4, &generate.Sampler{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := b.Stats().Reused - before; !slices.Equal(got, want) || r != int64(tc.reused) {
			t.Errorf("sharing %d: %v, reused %d; want %v, reused %d", tc.shared, got, r, want, tc.reused)
		}
	}
}

// TestWindowCacheBatcherKeeps: of two free caches, the Batcher takes the
// one a rewind leaves the most of: not a trimmed cache sharing a longer
// start whose window no longer reaches back that far, but an untrimmed one
// sharing less.
func TestWindowCacheBatcherKeeps(t *testing.T) {
	m := windowModel(t, "gemma3-tiny", 300, 2500)
	b := generate.NewBatcher(m, 2, generate.ReusePrefixes(1))
	defer b.Close()
	first := windowIDs(1100, m.Cfg.VocabSize)
	// The long prompt's cache is trimmed past position 400; it is still
	// generating (its caller blocked) when the short one arrives, so the
	// two end with a cache each.
	started, joined := make(chan struct{}), make(chan struct{})
	long := make(chan error)
	go func() {
		once := false
		_, err := b.Generate(context.Background(), first, 1000, &generate.Sampler{}, func(int) bool {
			if !once {
				once = true
				close(started)
				<-joined
			}
			return false
		})
		long <- err
	}()
	<-started
	short := append(slices.Clone(first[:330]), 5, 6)
	shortDone := make(chan error)
	go func() {
		_, err := b.Generate(context.Background(), short, 4, &generate.Sampler{}, nil)
		shortDone <- err
	}()
	// The short one ends (four tokens) long before the long one can (a
	// thousand); once it has, the long one must still be running, so that
	// the two had a cache each. Polling for both to be active at once
	// instead could miss the moment and wait forever, on a busy machine.
	if err := <-shortDone; err != nil {
		t.Fatal(err)
	}
	if n := b.Stats().Active; n != 1 {
		t.Fatalf("%d sequences active once the short one ended; want the long one still running", n)
	}
	close(joined)
	if err := <-long; err != nil {
		t.Fatal(err)
	}
	prompt := append(slices.Clone(first[:400]), 7, 8, 9)
	before := b.Stats().Reused
	got, err := b.Generate(context.Background(), prompt, 4, &generate.Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate.Text(m, prompt, 4, &generate.Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Stats().Reused - before; !slices.Equal(got, want) || r != 330 {
		t.Errorf("%v, reused %d; want %v, reused 330 (the short prompt's cache)", got, r, want)
	}
}

// TestWindowCacheTrimsAmortized: a trim copies what a sliding-window layer
// keeps (its window and windowSlack), so it must leave room for enough new
// positions that the copies come rarely, also when the buffer is just
// larger than what a trim keeps: a prompt of one position more run at
// once, or (a 256-position window) the 512 positions generate's 256-long
// chunks grow a buffer to. The logits are the whole sequence's throughout.
func TestWindowCacheTrimsAmortized(t *testing.T) {
	for _, tc := range []struct{ win, prompt, chunk int }{{300, 300 + windowSlack, 300 + windowSlack}, {256, 512, 256}} {
		m := windowModel(t, "gemma3-tiny", tc.win, 2500)
		v := m.Cfg.VocabSize
		ids := windowIDs(tc.prompt+600, v)
		whole, err := m.Step(m.NewCache(), ids)
		if err != nil {
			t.Fatal(err)
		}
		cache := m.NewCache()
		for at := 0; at < tc.prompt; at += tc.chunk {
			if _, err := m.Step(cache, ids[at:at+tc.chunk]); err != nil {
				t.Fatal(err)
			}
		}
		kept := tc.win - 1 + windowSlack // what a trim copies
		copied, start := 0, firstHeld(cache)
		var got []float32
		for _, id := range ids[tc.prompt:] {
			l, err := m.StepLast(cache, []int{id})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, l.Data...)
			if s := firstHeld(cache); s != start {
				copied, start = copied+kept, s
			}
		}
		golden.CheckAbs(t, "logits", got, whole.Data[tc.prompt*v:], 1e-4)
		if steps := len(ids) - tc.prompt; copied > kept+4*steps {
			t.Errorf("window %d, %d cached: %d steps copied %d positions a layer (a trim every %d steps)", tc.win, tc.prompt, steps, copied, steps*kept/copied)
		}
	}
}
