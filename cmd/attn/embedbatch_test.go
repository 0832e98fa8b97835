package main

import (
	"context"
	"math"
	"testing"

	"github.com/attn-go/attn/model/bert"
)

// TestEmbedBatcherRun: one batch of requests of several texts each, with
// different poolings and normalisation, gives each what it gets alone.
func TestEmbedBatcherRun(t *testing.T) {
	m, tok, err := loadBERT(bertFolder(t), "serve")
	if err != nil {
		t.Fatal(err)
	}
	b := &embedBatcher{m: m, tok: tok}
	reqs := []struct {
		lines []string
		e     embedding
	}{
		{[]string{"paris is the capital of france .", "is"}, embedding{poolings: []bert.Pooling{bert.PoolMean}}},
		{[]string{"the capital", "of france .", "the the the"}, embedding{poolings: []bert.Pooling{bert.PoolCLS}, normalize: true}},
		{[]string{"france"}, embedding{poolings: []bert.Pooling{bert.PoolMax, bert.PoolMeanSqrtLen}}},
	}
	var batch []*embedJob
	for _, r := range reqs {
		seqs, err := embedSeqs(m, tok, r.lines, r.e)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &embedJob{ctx: context.Background(), seqs: seqs, e: r.e, done: make(chan struct{})})
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	batch = append(batch[:1], append([]*embedJob{{ctx: gone, seqs: [][]int{{2, 5, 3}}, e: reqs[0].e, done: make(chan struct{})}}, batch[1:]...)...)
	b.run(batch)
	if batch[1].err != context.Canceled || batch[1].out != nil {
		t.Errorf("cancelled job: %v, %v", batch[1].out, batch[1].err)
	}
	live := []*embedJob{batch[0], batch[2], batch[3]}
	for i, r := range reqs {
		<-live[i].done
		want, err := embedLines(m, tok, r.lines, r.e)
		if err != nil || live[i].err != nil {
			t.Fatal(err, live[i].err)
		}
		if len(live[i].out) != len(want) {
			t.Fatalf("request %d: %d vectors, want %d", i, len(live[i].out), len(want))
		}
		for k := range want {
			if len(live[i].out[k]) != len(want[k]) {
				t.Fatalf("request %d text %d: %d values, want %d", i, k, len(live[i].out[k]), len(want[k]))
			}
			for d := range want[k] {
				if math.Abs(float64(live[i].out[k][d]-want[k][d])) > 1e-5 {
					t.Fatalf("request %d text %d value %d: %v batched, %v alone", i, k, d, live[i].out[k][d], want[k][d])
				}
			}
		}
	}
}

// TestEmbedJoins: a request joins a batch unless it takes it past the texts
// or padded tokens a batch runs, or pads it to more than twice its real
// tokens (a long text among short ones, which would slow every short one).
func TestEmbedJoins(t *testing.T) {
	seqs := func(n, l int) [][]int {
		s := make([][]int, n)
		for i := range s {
			s[i] = make([]int, l)
		}
		return s
	}
	for _, c := range []struct {
		n, t, real int
		seqs       [][]int
		want       bool
	}{
		{1, 14, 14, seqs(1, 14), true},
		{7, 14, 98, seqs(1, 12), true},
		{8, 14, 112, seqs(1, 480), false},      // 9×480 padded for 592 real
		{1, 480, 480, seqs(1, 14), true},       // 2×480 for 494: just under twice
		{63, 10, 630, seqs(2, 10), false},      // 65 texts
		{40, 300, 12000, seqs(20, 300), false}, // 18,000 padded tokens
	} {
		if got := joins(c.n, c.t, c.real, c.seqs); got != c.want {
			t.Errorf("joins(%d, %d, %d, %d×%d) = %v; want %v", c.n, c.t, c.real, len(c.seqs), len(c.seqs[0]), got, c.want)
		}
	}
}

// TestPieces: a request is cut into runs of at most embedBatchTexts texts
// and embedBatchTokens padded tokens, in order, none empty.
func TestPieces(t *testing.T) {
	seqs := make([][]int, 150)
	for i := range seqs {
		seqs[i] = make([]int, 10+i%7*70) // 10 to 430 tokens
	}
	rs := pieces(seqs)
	at := 0
	for _, r := range rs {
		n, longest := r[1]-r[0], 0
		for _, s := range seqs[r[0]:r[1]] {
			longest = max(longest, len(s))
		}
		if r[0] != at || n < 1 || n > embedBatchTexts || n > 1 && n*longest > embedBatchTokens {
			t.Fatalf("pieces %v: %v breaks the rules", rs, r)
		}
		at = r[1]
	}
	if at != len(seqs) {
		t.Errorf("pieces %v end at %d of %d", rs, at, len(seqs))
	}
	if got := pieces(seqs[:3]); len(got) != 1 || got[0] != [2]int{0, 3} {
		t.Errorf("three short texts: %v", got)
	}
	if got := pieces(nil); got != nil {
		t.Errorf("no texts: %v", got)
	}
}
