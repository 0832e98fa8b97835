package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/tensor"
)

// batchModel is a random GPT with a short window, so that long generations
// slide it, and weights large enough for sampling to have real choices.
func batchModel(t *testing.T) *gpt.Model {
	t.Helper()
	m, err := gpt.New(gpt.Config{VocabSize: 23, NPositions: 12, NEmbd: 16, NLayer: 2, NHead: 2, Eps: 1e-5}, 5)
	if err != nil {
		t.Fatal(err)
	}
	r := tensor.NewRNG(6)
	for _, p := range m.Params() {
		r.FillNormal(p.Value, 0, 0.5)
	}
	return m
}

type batchCase struct {
	prompt []int
	maxNew int
	s      func() *Sampler
}

func batchCases(n int) []batchCase {
	r := tensor.NewRNG(9)
	var cs []batchCase
	for i := range n {
		prompt := make([]int, 1+i*3%17) // some longer than the window
		for j := range prompt {
			prompt[j] = r.Intn(23)
		}
		temp, seed := 0.9, uint64(100+i)
		if i%3 == 0 {
			temp = 0 // greedy
		}
		cs = append(cs, batchCase{prompt, 5 + i*7%31, func() *Sampler {
			return &Sampler{Temperature: temp, TopK: 10, TopP: 0.95, RNG: tensor.NewRNG(seed)}
		}})
	}
	return cs
}

// TestBatcherMatchesText runs callers concurrently, more than the batch
// holds, with prompts of different lengths (some past the window) and
// generations that slide the window, and checks that each gets exactly
// the tokens Text gives it alone, emitted in order, with prompts run whole
// and in chunks.
func TestBatcherMatchesText(t *testing.T) {
	for _, model := range []struct {
		name string
		m    lm.BatchModel
	}{{"gpt", batchModel(t)}, {"llama", batchLlama(t)}} {
		for _, chunk := range []int{256, 4} { // prompts of 1 to 17 tokens run whole, or in chunks
			t.Run(fmt.Sprintf("%s/chunk=%d", model.name, chunk), func(t *testing.T) {
				defer func(was int) { prefillChunk = was }(prefillChunk)
				prefillChunk = chunk
				batcherMatchesText(t, model.m)
			})
		}
	}
}

// batchLlama is a random Llama with grouped-query attention and batchModel's
// vocabulary and short window.
func batchLlama(t *testing.T) *llama.Model {
	t.Helper()
	m, err := llama.New(llama.Config{Type: "llama", VocabSize: 23, Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KVHeads: 2,
		Act: "silu", MaxPositions: 12, Eps: 1e-6, RopeTheta: 10000, EOS: nil}, 5)
	if err != nil {
		t.Fatal(err)
	}
	r := tensor.NewRNG(6)
	for _, p := range m.Params() {
		r.FillNormal(p.Value, 0, 0.5)
	}
	return m
}

func batcherMatchesText(t *testing.T, m lm.BatchModel) {
	cases := batchCases(10)
	want := make([][]int, len(cases))
	for i, c := range cases {
		var err error
		if want[i], err = Text(m, c.prompt, c.maxNew, c.s(), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{1, 4, 8} {
		t.Run(fmt.Sprintf("batch=%d", size), func(t *testing.T) {
			b := NewBatcher(m, size)
			defer b.Close()
			got, emitted := make([][]int, len(cases)), make([][]int, len(cases))
			errs := make([]error, len(cases))
			var wg sync.WaitGroup
			for i, c := range cases {
				wg.Go(func() {
					got[i], errs[i] = b.Generate(context.Background(), c.prompt, c.maxNew, c.s(), func(id int) bool {
						emitted[i] = append(emitted[i], id)
						return true
					})
				})
			}
			wg.Wait()
			total := 0
			for _, w := range want {
				total += len(w)
			}
			if st := b.Stats(); st.Active != 0 || st.Tokens != int64(total) || st.Steps == 0 || st.Steps > int64(total) {
				t.Errorf("Stats %+v; want 0 active, %d tokens, and between 1 and %d steps", st, total, total)
			}
			for i := range cases {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v", i, errs[i])
				}
				if !slices.Equal(got[i], want[i]) || !slices.Equal(emitted[i], want[i]) {
					t.Errorf("caller %d: got %v, emitted %v; Text alone gives %v", i, got[i], emitted[i], want[i])
				}
			}
		})
	}
}

// TestBatcherLeaving checks that a caller can stop at a token (emit returns
// false) or by ending its context, and that the others go on unharmed.
func TestBatcherLeaving(t *testing.T) {
	m := batchModel(t)
	cases := batchCases(4)
	b := NewBatcher(m, 8)
	defer b.Close()
	full, err := Text(m, cases[0].prompt, 30, cases[0].s(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { // stops at its third token
		n := 0
		got, err := b.Generate(context.Background(), cases[0].prompt, 30, cases[0].s(), func(int) bool { n++; return n < 3 })
		if err != nil || !slices.Equal(got, full[:3]) {
			t.Errorf("stopping at the third token: %v, %v; want %v", got, err, full[:3])
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	wg.Go(func() { // leaves by its context after two tokens
		n := 0
		got, err := b.Generate(ctx, cases[1].prompt, 1000, cases[1].s(), func(int) bool {
			if n++; n == 2 {
				cancel()
			}
			return true
		})
		if !errors.Is(err, context.Canceled) || len(got) < 2 {
			t.Errorf("cancelled caller: %d tokens, %v; want at least 2 and context.Canceled", len(got), err)
		}
	})
	for _, c := range cases[2:] {
		wg.Go(func() {
			want, _ := Text(m, c.prompt, c.maxNew, c.s(), nil)
			got, err := b.Generate(context.Background(), c.prompt, c.maxNew, c.s(), nil)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("a caller beside them: %v, %v; want %v", got, err, want)
			}
		})
	}
	wg.Wait()
	// A context that has already ended is not served.
	done, stop := context.WithCancel(context.Background())
	stop()
	if got, err := b.Generate(done, []int{1}, 5, &Sampler{}, nil); !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Errorf("ended context: %v, %v; want no tokens and context.Canceled", got, err)
	}
}

// TestBatcherErrors checks bad requests, which fail alone, and Close.
func TestBatcherErrors(t *testing.T) {
	m := batchModel(t)
	b := NewBatcher(m, 2)
	for _, c := range []struct {
		name   string
		prompt []int
		s      *Sampler
		want   string
	}{
		{"empty prompt", nil, &Sampler{}, "the prompt has no tokens"},
		{"sampler", []int{1}, &Sampler{Temperature: -1}, "temperature -1 must be >= 0"},
		{"no RNG", []int{1}, &Sampler{Temperature: 1}, "sampling needs an RNG"},
		{"vocabulary", []int{1, 23}, &Sampler{}, "token id 23 at index 1 is outside the vocabulary [0, 23)"},
	} {
		if _, err := b.Generate(context.Background(), c.prompt, 4, c.s, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error containing %q", c.name, err, c.want)
		}
	}
	if got, err := b.Generate(context.Background(), []int{1, 2}, 4, &Sampler{}, nil); err != nil || len(got) != 4 {
		t.Errorf("after the bad requests: %v, %v; want 4 tokens", got, err)
	}
	// Close stops a generation under way, and later calls.
	started := make(chan bool)
	var wg sync.WaitGroup
	wg.Go(func() {
		got, err := b.Generate(context.Background(), []int{1}, 100000, &Sampler{}, func(int) bool {
			select {
			case started <- true:
			default:
			}
			return true
		})
		if !errors.Is(err, ErrClosed) || len(got) == 0 {
			t.Errorf("closed under way: %d tokens, %v; want some and ErrClosed", len(got), err)
		}
	})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no token in 10 s")
	}
	b.Close()
	wg.Wait()
	if _, err := b.Generate(context.Background(), []int{1}, 4, &Sampler{}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v; want ErrClosed", err)
	}
	b.Close() // twice is fine
}

// TestBatcherEdges: Close with every place taken, a caller cancelled just
// as its sequence ends, no limit on the tokens asked for, a panicking emit,
// and a panic in the loop itself.
func TestBatcherEdges(t *testing.T) {
	m := batchModel(t)
	t.Run("close a full batch", func(t *testing.T) {
		b := NewBatcher(m, 1)
		started := make(chan bool, 1)
		res := make(chan error)
		go func() {
			_, err := b.Generate(context.Background(), []int{1}, math.MaxInt, &Sampler{}, func(int) bool {
				select {
				case started <- true:
				default:
				}
				return true
			})
			res <- err
		}()
		<-started
		closed := make(chan bool)
		go func() { b.Close(); close(closed) }()
		select {
		case err := <-res:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Generate under way at Close: %v; want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not stop a full batch in 10 s")
		}
		<-closed
	})
	t.Run("cancelled", func(t *testing.T) {
		b := NewBatcher(m, 4)
		defer b.Close()
		for i := range 30 {
			ctx, cancel := context.WithCancel(context.Background())
			_, err := b.Generate(ctx, []int{1, 2}, 50, &Sampler{}, func(int) bool {
				cancel()
				time.Sleep(time.Duration(i%3) * time.Millisecond)
				return true
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("try %d: cancelled in emit: %v; want context.Canceled", i, err)
			}
		}
	})
	t.Run("no limit", func(t *testing.T) {
		b := NewBatcher(m, 4)
		defer b.Close()
		n := 0
		got, err := b.Generate(context.Background(), []int{1}, math.MaxInt, &Sampler{}, func(int) bool { n++; return n < 40 })
		if err != nil || len(got) != 40 {
			t.Errorf("maxNew MaxInt, stopped at 40: %d tokens, %v", len(got), err)
		}
	})
	t.Run("emit panics", func(t *testing.T) {
		b := NewBatcher(m, 4)
		defer b.Close()
		func() {
			defer func() {
				if r := recover(); r != "emit" {
					t.Errorf("recovered %v; want emit's panic", r)
				}
			}()
			b.Generate(context.Background(), []int{1}, 1000, &Sampler{}, func(int) bool { panic("emit") })
		}()
		if got, err := b.Generate(context.Background(), []int{1}, 3, &Sampler{}, nil); err != nil || len(got) != 3 {
			t.Errorf("after a panicking emit: %v, %v; want 3 tokens", got, err)
		}
	})
	t.Run("loop panics", func(t *testing.T) {
		broken := batchModel(t)
		b := NewBatcher(broken, 4)
		defer b.Close()
		if _, err := b.Generate(context.Background(), []int{1}, 2, &Sampler{}, nil); err != nil {
			t.Fatal(err)
		}
		broken.LnF.Weight.Value.Data = broken.LnF.Weight.Value.Data[:3] // a bug: ln_f lost its weights
		for range 2 {
			if _, err := b.Generate(context.Background(), []int{1}, 2, &Sampler{}, nil); err == nil || !strings.Contains(err.Error(), "generate: the batch failed: ") || !errors.Is(err, ErrClosed) {
				t.Errorf("a model that panics: %v; want the batch's failure, wrapping ErrClosed", err)
			}
		}
		if err := b.Err(); !errors.Is(err, ErrClosed) {
			t.Errorf("Err after the failure: %v", err)
		}
	})
}

// TestEndOfText: Text and the Batcher end a generation at the model's
// end-of-text token, which is the last token they return.
func TestEndOfText(t *testing.T) {
	m := batchModel(t)
	full, err := Text(m, []int{3, 4}, 8, &Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Cfg.EOS, m.Cfg.HasEOS = full[2], true
	want := full[:slices.Index(full, full[2])+1]
	got, err := Text(m, []int{3, 4}, 8, &Sampler{}, nil)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Text: %v, %v; want %v", got, err, want)
	}
	b := NewBatcher(m, 4)
	defer b.Close()
	if got, err := b.Generate(context.Background(), []int{3, 4}, 8, &Sampler{}, nil); err != nil || !slices.Equal(got, want) {
		t.Errorf("Batcher: %v, %v; want %v", got, err, want)
	}
}

// TestChunkAt: a context is cut into the fewest chunks of at most
// prefillChunk positions, their lengths differing by at most one.
func TestChunkAt(t *testing.T) {
	defer func(was int) { prefillChunk = was }(prefillChunk)
	for _, chunk := range []int{1, 4, 7, 256} {
		prefillChunk = chunk
		for n := 1; n <= 600; n++ {
			var lens []int
			for done := 0; done < n; done += lens[len(lens)-1] {
				lens = append(lens, chunkAt(done, n))
			}
			lo, hi := slices.Min(lens), slices.Max(lens)
			if len(lens) != (n+chunk-1)/chunk || hi > chunk || hi-lo > 1 || lo < 1 {
				t.Fatalf("chunk %d, n %d: cut into %v", chunk, n, lens)
			}
		}
	}
}

// TestBatcherPrefillInterleaves: while a new caller's long prompt runs, a
// chunk at a time, the batch goes on decoding the other callers between
// its chunks, and the new caller still gets Text's tokens.
func TestBatcherPrefillInterleaves(t *testing.T) {
	// A window the decoding caller cannot fill (a slide would queue it).
	m, err := gpt.New(gpt.Config{VocabSize: 23, NPositions: 4096, NEmbd: 16, NLayer: 2, NHead: 2, Eps: 1e-5}, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer func(was int) { prefillChunk = was }(prefillChunk)
	prefillChunk = 4
	long := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7} // 4 chunks: 4, 4, 3, 3
	want, err := Text(m, long, 5, &Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int64 // the decoding steps run before each chunk ended
	var lens []int    // each chunk's length
	afterChunk = func(b *Batcher) {
		steps = append(steps, b.steps.Load())
		if n := len(b.waiting); n > 0 {
			lens = append(lens, b.waiting[0].cache.Len())
		}
	}
	defer func() { afterChunk = nil }()
	b := NewBatcher(m, 4)
	defer b.Close()
	decoding := make(chan bool)
	stop := make(chan bool)
	var wg sync.WaitGroup
	wg.Go(func() { // decodes until the long prompt's caller is done
		n := 0
		b.Generate(context.Background(), []int{1}, math.MaxInt, &Sampler{}, func(int) bool {
			if n++; n == 1 {
				close(decoding)
			}
			select {
			case <-stop:
				return false
			default:
				return true
			}
		})
	})
	<-decoding
	got, err := b.Generate(context.Background(), long, 5, &Sampler{}, nil)
	close(stop)
	wg.Wait()
	b.Close()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("the long prompt's caller: %v, %v; Text alone gives %v", got, err, want)
	}
	// steps[0] is the short prompt's one chunk.
	if len(steps) != 5 {
		t.Fatalf("%d chunks ran (decoding steps before each: %v); want 1 for the short prompt and 4 for the long one", len(steps), steps)
	}
	for i := 2; i < len(steps); i++ {
		if steps[i] <= steps[i-1] {
			t.Errorf("no decoding step between chunks %d and %d of the long prompt (steps before each: %v)", i-1, i, steps[1:])
		}
	}
	// The cache lengths after each chunk: the short prompt's 1, then the
	// long one's cut as chunkAt cuts it (Text's cut).
	if !slices.Equal(lens, []int{1, 4, 8, 11, 14}) {
		t.Errorf("cache lengths after each chunk: %v; want [1 4 8 11 14]", lens)
	}
}

// TestBatcherQueue: a caller that gives up while its prompt waits behind
// another's is let go, the other still gets Text's tokens, and nothing is
// left counted as active; a window of one position slides to one.
func TestBatcherQueue(t *testing.T) {
	m := batchModel(t)
	defer func(was int) { prefillChunk = was }(prefillChunk)
	prefillChunk = 1
	long := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}
	want, err := Text(m, long, 6, &Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	chunks := 0
	afterChunk = func(*Batcher) {
		if chunks++; chunks == 3 {
			cancel()
		}
	}
	defer func() { afterChunk = nil }()
	b := NewBatcher(m, 2)
	defer b.Close()
	var wg sync.WaitGroup
	var got []int
	var gotErr, leftErr error
	wg.Go(func() { got, gotErr = b.Generate(context.Background(), long, 6, &Sampler{}, nil) })
	wg.Go(func() { _, leftErr = b.Generate(ctx, long, 6, &Sampler{}, nil) })
	wg.Wait()
	if gotErr != nil || !slices.Equal(got, want) || !errors.Is(leftErr, context.Canceled) {
		t.Errorf("the caller that stayed: %v, %v (Text: %v); the one that left: %v", got, gotErr, want, leftErr)
	}
	for deadline := time.Now().Add(5 * time.Second); b.Stats().Active != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if st := b.Stats(); st.Active != 0 {
		t.Errorf("Stats after both: %+v", st)
	}

	one, err := gpt.New(gpt.Config{VocabSize: 23, NPositions: 1, NEmbd: 16, NLayer: 1, NHead: 2, Eps: 1e-5}, 5)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Text(one, []int{1, 2}, 5, &Sampler{}, nil)
	if err != nil || len(alone) != 5 {
		t.Fatalf("a window of one: %v, %v", alone, err)
	}
	b1 := NewBatcher(one, 2)
	defer b1.Close()
	if got, err := b1.Generate(context.Background(), []int{1, 2}, 5, &Sampler{}, nil); err != nil || !slices.Equal(got, alone) {
		t.Errorf("a window of one in the batch: %v, %v; Text gives %v", got, err, alone)
	}
}

// BenchmarkBatcherLongPrompt measures what a long prompt costs the callers
// already decoding: four callers generate with a GPT-2-shaped model (124M,
// random weights) while a fifth arrives with a 1,000-token prompt. It
// reports the longest wait between two tokens of the four from the prompt's
// arrival until each has had two more tokens after it (stall-ms), and the
// new caller's time to its first token (first-ms), with prompts run in
// chunks (the default) and whole (as before chunks). A first round, not
// counted, warms the caches:
//
//	go test ./generate -run '^$' -bench LongPrompt -benchtime 3x
func BenchmarkBatcherLongPrompt(b *testing.B) {
	m, err := gpt.New(gpt.Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, Eps: 1e-5}, 1)
	if err != nil {
		b.Fatal(err)
	}
	long := make([]int, 1000)
	for i := range long {
		long[i] = (i * 7919) % 50257
	}
	for _, chunk := range []int{256, 1024} {
		b.Run(fmt.Sprintf("chunk=%d", chunk), func(b *testing.B) {
			defer func(was int) { prefillChunk = was }(prefillChunk)
			prefillChunk = chunk
			bt := NewBatcher(m, 8)
			defer bt.Close()
			var stall, first time.Duration
			for round := range b.N + 1 {
				s, f := longPromptRound(b, bt, long)
				if round > 0 {
					stall, first = stall+s, first+f
				}
			}
			b.ReportMetric(float64(stall.Milliseconds())/float64(b.N), "stall-ms")
			b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-ms")
		})
	}
}

// longPromptRound runs one round of BenchmarkBatcherLongPrompt.
func longPromptRound(b *testing.B, bt *Batcher, long []int) (stall, first time.Duration) {
	var mu sync.Mutex
	arrived, answered := false, false
	var started, after, wg sync.WaitGroup
	for i := range 4 {
		started.Add(1)
		after.Add(1)
		wg.Go(func() {
			n, since, last := 0, 0, time.Now()
			bt.Generate(context.Background(), []int{i + 1}, 1000, &Sampler{}, func(int) bool {
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				if arrived && since < 2 {
					stall = max(stall, now.Sub(last))
				}
				if answered {
					if since++; since == 2 {
						after.Done()
					}
				}
				if n++; n == 2 {
					started.Done()
				}
				last = now
				return since < 2
			})
		})
	}
	started.Wait()
	mu.Lock()
	arrived = true
	mu.Unlock()
	t0 := time.Now()
	if _, err := bt.Generate(context.Background(), long, 1, &Sampler{}, nil); err != nil {
		b.Fatal(err)
	}
	first = time.Since(t0)
	mu.Lock()
	answered = true
	mu.Unlock()
	after.Wait()
	wg.Wait()
	return stall, first
}

// TestWithWindow: a window cut shorter slides the context at the cut, in
// Text and in the Batcher alike, and a cut at or past the model's window
// changes nothing.
func TestWithWindow(t *testing.T) {
	m := batchModel(t) // a window of 12
	if WithWindow(m, 0) != lm.BatchModel(m) || WithWindow(m, 12) != lm.BatchModel(m) {
		t.Error("a cut at or past the window wraps the model")
	}
	cut := WithWindow(m, 6)
	if cut.Window() != 6 {
		t.Fatalf("window %d; want 6", cut.Window())
	}
	prompt := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3} // 10 tokens: the last 6 kept
	want, err := Text(m, prompt[4:], 20, &Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Text(cut, prompt, 20, &Sampler{}, nil)
	if err != nil || len(got) != 20 {
		t.Fatalf("Text with the window cut: %v, %v", got, err)
	}
	// The cut model's first token comes from the last 6 prompt tokens alone.
	if got[0] != want[0] {
		t.Errorf("first token %d; from the last 6 tokens alone %d", got[0], want[0])
	}
	b := NewBatcher(cut, 4)
	defer b.Close()
	if batched, err := b.Generate(context.Background(), prompt, 20, &Sampler{}, nil); err != nil || !slices.Equal(batched, got) {
		t.Errorf("Batcher with the window cut: %v, %v; Text gives %v", batched, err, got)
	}
}

// TestSlideKeepsStart: a context cut to the window, or slid, keeps the
// model's start token (Llama's <s>) in front when it began with it; Text
// and the Batcher cut alike.
func TestSlideKeepsStart(t *testing.T) {
	m := batchLlama(t)
	if got := lastOf(m, []int{1, 5, 6, 7, 8}, 3); !slices.Equal(got, []int{6, 7, 8}) {
		t.Errorf("no start token: %v", got)
	}
	m.Cfg.BOS, m.Cfg.HasBOS = 1, true
	for _, c := range []struct {
		ctx  []int
		n    int
		want []int
	}{
		{[]int{1, 5, 6, 7, 8}, 3, []int{1, 7, 8}},
		{[]int{2, 5, 6, 7, 8}, 3, []int{6, 7, 8}}, // does not start with it
		{[]int{1, 5, 6}, 3, []int{1, 5, 6}},
		{[]int{1, 5, 6, 7}, 1, []int{7}},
	} {
		if got := lastOf(m, c.ctx, c.n); !slices.Equal(got, c.want) {
			t.Errorf("lastOf(%v, %d) = %v; want %v", c.ctx, c.n, got, c.want)
		}
	}
	if got := lastOf(WithWindow(m, 6), []int{1, 5, 6, 7, 8}, 3); !slices.Equal(got, []int{1, 7, 8}) {
		t.Errorf("through WithWindow: %v", got)
	}
	prompt := []int{1, 3, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3} // longer than the window of 12
	want, err := Text(m, prompt, 30, &Sampler{}, nil)               // slides twice or more
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(m, 4)
	defer b.Close()
	if got, err := b.Generate(context.Background(), prompt, 30, &Sampler{}, nil); err != nil || !slices.Equal(got, want) {
		t.Errorf("Batcher: %v, %v; Text gives %v", got, err, want)
	}
}
