package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/tokenizer"
)

// TestNextTranslateBatch: a batch is the first request still wanted and
// the later ones with its beam and alpha that fit, in order; requests
// whose callers have gone leave the queue.
func TestNextTranslateBatch(t *testing.T) {
	defer func(n int) { translateBatchSentences = n }(translateBatchSentences)
	translateBatchSentences = 5
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	job := func(ctx context.Context, n, beam int) *translateJob {
		return &translateJob{ctx: ctx, srcs: make([][]int, n), beam: beam, alpha: 0.6, done: make(chan struct{})}
	}
	bg := context.Background()
	q := []*translateJob{job(gone, 1, 4), job(bg, 2, 4), job(bg, 1, 2), job(bg, 2, 4), job(bg, 2, 4), job(bg, 1, 4), job(gone, 1, 2)}
	batch, rest := nextTranslateBatch(q)
	if len(batch) != 3 || batch[0] != q[1] || batch[1] != q[3] || batch[2] != q[5] {
		t.Errorf("batch %v; want requests 1, 3 and 5 (beam 4, 5 sentences)", batch)
	}
	if len(rest) != 2 || rest[0] != q[2] || rest[1] != q[4] {
		t.Errorf("rest %v; want requests 2 and 4", rest)
	}
	for _, i := range []int{0, 6} {
		select {
		case <-q[i].done:
			if q[i].err != context.Canceled {
				t.Errorf("request %d: %v; want its context's error", i, q[i].err)
			}
		default:
			t.Errorf("request %d, whose caller has gone, is not ended", i)
		}
	}
	if batch, _ := nextTranslateBatch([]*translateJob{job(bg, 9, 4)}); len(batch) != 1 {
		t.Errorf("a request of more sentences than a batch holds: %v; want it alone", batch)
	}
	// NLLB's requests to another target language (forced token) wait.
	fra, deu := job(bg, 1, 4), job(bg, 1, 4)
	fra.forced, deu.forced = 60, 62
	if batch, rest := nextTranslateBatch([]*translateJob{fra, deu}); len(batch) != 1 || batch[0] != fra || len(rest) != 1 {
		t.Errorf("two targets: batch %v, rest %v; want them apart", batch, rest)
	}
}

// TestServeTranslateTogether: requests that arrive while a batch runs are
// translated together, those with another beam in a batch of their own,
// and each gets the translations its sentences get alone (attn's own
// model and a Marian folder).
func TestServeTranslateTogether(t *testing.T) {
	for _, dir := range []string{mtFolder(t), marianFolder(t, 718)} {
		s, err := newServer(dir, 8, 0)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s.handler())
		sentences := []string{"zwei hunde.", "ein mann.", "katze.", "ein hund.", "zwei männer.", "eine frau.", "ein kind."}
		alone := func(input []string, beam int) []string {
			t.Helper()
			encode := func(in []string) ([][]int, error) { return s.mt.encode(in) }
			if s.marian != nil {
				encode = s.marian.encode
			}
			srcs, err := encode(input)
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.translator.run(srcs, -1, beam, 0.6)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		release := make(chan struct{})
		var first sync.Once
		beforeTranslateBatch = func() { first.Do(func() { <-release }) } // hold the first batch while the others queue
		var wg sync.WaitGroup
		got := make([][]string, len(sentences))
		for i := range sentences {
			wg.Go(func() {
				input := sentences[i : i+1+i%2]
				body, _ := json.Marshal(map[string]any{"input": input, "beam": 2 + 2*(i%3/2)})
				_, v := post(t, ts.URL+"/v1/translate", string(body))
				for _, x := range v["translations"].([]any) {
					got[i] = append(got[i], x.(string))
				}
			})
			if i == 0 {
				time.Sleep(50 * time.Millisecond) // the first request runs first
			}
		}
		time.Sleep(200 * time.Millisecond)
		close(release)
		wg.Wait()
		beforeTranslateBatch = nil
		for i := range sentences {
			input := sentences[i : i+1+i%2]
			if want := alone(input, 2+2*(i%3/2)); fmt.Sprint(got[i]) != fmt.Sprint(want) {
				t.Errorf("%s: request %d %q: %q; alone %q", dir, i, input, got[i], want)
			}
		}
		// The first request alone, then the beam-2 and beam-4 requests
		// queued behind it, a batch each.
		if n := s.translator.batches.Load(); n != 3 {
			t.Errorf("%s: %d batches for 7 requests; want 3", dir, n)
		}
		ts.Close()
		s.close()
	}
}

// TestServeTranslateEmpty: an empty text translates as an empty text, alone
// or beside others, whose translations are those they get alone (it had
// failed its request alone, and been translated from padding beside
// others).
func TestServeTranslateEmpty(t *testing.T) {
	ts := serveDir(t, mtFolder(t))
	translations := func(input ...string) []string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"input": input})
		code, v := post(t, ts.URL+"/v1/translate", string(body))
		if code != 200 {
			t.Fatalf("POST /v1/translate %q: %d %v", input, code, v)
		}
		var out []string
		for _, x := range v["translations"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	if got := translations(""); !slices.Equal(got, []string{""}) {
		t.Errorf("an empty text: %q; want [\"\"]", got)
	}
	alone := translations("ein hund.")[0]
	if got, want := translations("", "ein hund.", ""), []string{"", alone, ""}; !slices.Equal(got, want) {
		t.Errorf("empty texts around a sentence: %q; want %q", got, want)
	}
}

// BenchmarkServeTranslate: eight clients each sending two one-sentence
// translate requests (beam 4) to the paper's base model (random weights, a
// character vocabulary, so every translation runs to its length bound),
// translated together as they queue and one at a time.
//
//	go test ./cmd/attn -run '^$' -bench ServeTranslate -benchtime 2x
func BenchmarkServeTranslate(b *testing.B) {
	dir := b.TempDir()
	chars := tokenizer.NewChars("abcdefghijklmnopqrstuvwxyz .")
	c := transformer.DefaultConfig() // d_model 512, 8 heads, 6+6 layers, d_ff 2048
	c.SrcVocab, c.TgtVocab = chars.VocabSize(), chars.VocabSize()
	m, err := transformer.New(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	if err := transformer.Save(dir, m); err != nil {
		b.Fatal(err)
	}
	tok, _ := json.Marshal(chars)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644)
	for _, batch := range []int{64, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			defer func(was int) { translateBatchSentences = was }(translateBatchSentences)
			translateBatchSentences = batch
			s, err := newServer(dir, 8, 0)
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewServer(s.handler())
			defer func() { ts.Close(); s.close() }()
			start := time.Now()
			for range b.N {
				var wg sync.WaitGroup
				for i := range 8 {
					wg.Go(func() {
						for range 2 {
							body := fmt.Sprintf(`{"input": ["ein mann spielt fussball %c."], "beam": 4}`, 'a'+i)
							if code, v := post(b, ts.URL+"/v1/translate", body); code != 200 {
								b.Errorf("POST /v1/translate: %d %v", code, v)
							}
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(16*b.N)/time.Since(start).Seconds(), "requests/s")
		})
	}
}

// TestTranslateBatcherStops: a request whose caller leaves while it queues
// returns at once and is never run; a panic or a short answer fails its
// batch's requests only; close lets the running batch finish, fails the
// queued requests and later ones, and leaves no goroutine waiting.
func TestTranslateBatcherStops(t *testing.T) {
	started, release := make(chan struct{}, 8), make(chan struct{})
	var ran sync.Mutex
	var seen [][]int
	b := newTranslateBatcher(func(srcs [][]int, _, beam int, alpha float64) ([]string, error) {
		ran.Lock()
		seen = append(seen, srcs...)
		ran.Unlock()
		started <- struct{}{}
		<-release
		switch srcs[0][0] {
		case 13:
			panic("a bug")
		case 14:
			return []string{"one"}, nil
		}
		out := make([]string, len(srcs))
		for i, s := range srcs {
			out[i] = fmt.Sprint(s[0])
		}
		return out, nil
	})
	type result struct {
		out []string
		err error
	}
	send := func(ctx context.Context, srcs ...[]int) chan result {
		ch := make(chan result, 1)
		go func() {
			out, err := b.translate(ctx, srcs, -1, 1, 0.6)
			ch <- result{out, err}
		}()
		return ch
	}
	bg := context.Background()
	first := send(bg, []int{1})
	<-started // the first batch runs; the next requests queue behind it
	leaving, leave := context.WithCancel(bg)
	gone := send(leaving, []int{2})
	kept := send(bg, []int{3}, []int{4})
	time.Sleep(50 * time.Millisecond)
	leave()
	if r := <-gone; r.err != context.Canceled {
		t.Errorf("a request whose caller left: %v; want context.Canceled", r.err)
	}
	release <- struct{}{}
	if r := <-first; r.err != nil || fmt.Sprint(r.out) != "[1]" {
		t.Errorf("the first request: %v, %v", r.out, r.err)
	}
	<-started
	release <- struct{}{}
	if r := <-kept; r.err != nil || fmt.Sprint(r.out) != "[3 4]" {
		t.Errorf("the queued request: %v, %v", r.out, r.err)
	}
	for _, src := range []int{13, 14} {
		ch := send(bg, []int{src}, []int{5})
		<-started
		release <- struct{}{}
		if r := <-ch; !errors.Is(r.err, errEmbedFailed) {
			t.Errorf("a batch that fails (%d): %v; want errEmbedFailed", src, r.err)
		}
	}
	// close while a batch runs, with a request queued behind it.
	running := send(bg, []int{6})
	<-started
	queued := send(bg, []int{7})
	time.Sleep(50 * time.Millisecond)
	closed := make(chan struct{})
	go func() { b.close(); close(closed) }()
	select {
	case <-closed:
		t.Error("close returned while a batch was running")
	case <-time.After(50 * time.Millisecond):
	}
	release <- struct{}{}
	<-closed
	if r := <-running; r.err != nil || fmt.Sprint(r.out) != "[6]" {
		t.Errorf("the batch running at close: %v, %v", r.out, r.err)
	}
	if r := <-queued; r.err != errEmbedClosed {
		t.Errorf("a request queued at close: %v; want errEmbedClosed", r.err)
	}
	if r := <-send(bg, []int{8}); r.err != errEmbedClosed {
		t.Errorf("a request after close: %v; want errEmbedClosed", r.err)
	}
	b.close() // twice is fine
	ran.Lock()
	defer ran.Unlock()
	for _, s := range seen {
		if s[0] == 2 || s[0] == 7 || s[0] == 8 {
			t.Errorf("request %d was run", s[0])
		}
	}
}
