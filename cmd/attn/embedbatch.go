package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// The most texts, and padded tokens, an embedBatcher runs at once
// (variables so that a benchmark can compare requests run one at a time).
var (
	embedBatchTexts  = 64
	embedBatchTokens = 16384
)

// errEmbedClosed is what a request gets once the server has stopped;
// errEmbedFailed wraps what a batch's panic (a bug) gives its requests.
var (
	errEmbedClosed = errors.New("the server is shutting down")
	errEmbedFailed = errors.New("the batch failed")
)

// embedBatcher runs a text encoder's embed requests (or a sequence
// classifier's classify requests) together: while a
// batch runs, requests queue, and the next batch takes them in order,
// encoded as one padded batch and pooled each as its request asks. A
// request of a sentence or two leaves the encoder's products a few rows,
// too few to keep the cores busy: many clients' sentences in one batch
// cost little more than one's. A request that would take the batch past
// embedBatchTexts texts or embedBatchTokens padded tokens, or pad it to
// more than twice its real tokens (a long text among short ones), starts
// the next batch instead. Each request is tokenized on its own goroutine,
// so its errors are its own.
type embedBatcher struct {
	m    *bert.Model
	tok  *tokenizer.Pipeline
	jobs chan *embedJob
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// embedJob is one request in an embedBatcher: texts to embed, or (a
// sequence classifier's) to label.
type embedJob struct {
	ctx    context.Context
	seqs   [][]int
	types  [][]int // a classifier's token types (pairs have two segments)
	e      embedding
	topK   int
	out    [][]float32
	labels [][]label
	err    error
	done   chan struct{}
}

func newEmbedBatcher(m *bert.Model, tok *tokenizer.Pipeline) *embedBatcher {
	b := &embedBatcher{m: m, tok: tok, jobs: make(chan *embedJob), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// close stops the loop once the batch running is done; closing twice is
// fine.
func (b *embedBatcher) close() {
	b.once.Do(func() { close(b.quit) })
	<-b.done
}

// embed returns one embedding per line, computed in a batch with other
// requests' lines.
func (b *embedBatcher) embed(ctx context.Context, lines []string, e embedding) ([][]float32, error) {
	if b.m.Labels() > 0 { // run() classifies every batch of a classifier
		return nil, errors.New("this model is a sequence classifier: it classifies, it does not embed")
	}
	seqs, err := embedSeqs(b.m, b.tok, lines, e)
	if err != nil {
		return nil, err
	}
	var out [][]float32
	for _, r := range pieces(seqs) {
		j := &embedJob{ctx: ctx, seqs: seqs[r[0]:r[1]], e: e, done: make(chan struct{})}
		if err := b.wait(j); err != nil {
			return nil, err
		}
		if j.err != nil {
			return nil, j.err
		}
		out = append(out, j.out...)
	}
	return out, nil
}

// classify returns the k best labels of each text (a tab makes a pair) of
// a sequence classifier, computed in a batch with other requests' texts.
func (b *embedBatcher) classify(ctx context.Context, texts []string, k int) ([][]label, error) {
	if b.m.Labels() == 0 {
		return nil, errors.New("this model has no sequence classifier")
	}
	seqs, types, err := encodeTexts(b.tok, texts, b.m.Cfg.MaxLen(), 1)
	if err != nil {
		return nil, err
	}
	var out [][]label
	for _, r := range pieces(seqs) {
		j := &embedJob{ctx: ctx, seqs: seqs[r[0]:r[1]], types: types[r[0]:r[1]], topK: k, done: make(chan struct{})}
		if err := b.wait(j); err != nil {
			return nil, err
		}
		if j.err != nil {
			return nil, j.err
		}
		out = append(out, j.labels...)
	}
	return out, nil
}

// pieces cuts a request's sequences into runs that a batch can take
// (embedBatchTexts texts, embedBatchTokens padded tokens), in order: a
// request of 256 long texts runs as several batches rather than one that
// would hold their activations all at once.
func pieces(seqs [][]int) [][2]int {
	if len(seqs) == 0 {
		return nil
	}
	var out [][2]int
	lo, t := 0, 0
	for i, s := range seqs {
		if nt := max(t, len(s)); i > lo && (i+1-lo > embedBatchTexts || (i+1-lo)*nt > embedBatchTokens) {
			out = append(out, [2]int{lo, i})
			lo, t = i, 0
		}
		t = max(t, len(s))
	}
	return append(out, [2]int{lo, len(seqs)})
}

// wait queues j and waits until its batch has run.
func (b *embedBatcher) wait(j *embedJob) error {
	select {
	case b.jobs <- j:
	case <-j.ctx.Done():
		return j.ctx.Err()
	case <-b.quit:
		return errEmbedClosed
	}
	<-j.done // at most a batch away
	return nil
}

func (b *embedBatcher) loop() {
	defer close(b.done)
	var next *embedJob // held back from the last batch: it starts this one
	for {
		batch := []*embedJob{next}
		if next == nil {
			select {
			case j := <-b.jobs:
				batch[0] = j
			case <-b.quit:
				return
			}
		}
		next = nil
		n, t, real := len(batch[0].seqs), longest(batch[0].seqs), tokens(batch[0].seqs)
	more:
		for n < embedBatchTexts {
			select {
			case j := <-b.jobs:
				if !joins(n, t, real, j.seqs) {
					next = j
					break more
				}
				batch = append(batch, j)
				n, t, real = n+len(j.seqs), max(t, longest(j.seqs)), real+tokens(j.seqs)
			default:
				break more
			}
		}
		b.run(batch)
	}
}

// joins reports whether a request of seqs may join a batch of n texts,
// the longest t tokens, real tokens in all: not past embedBatchTexts texts
// or embedBatchTokens padded tokens, and not padded to more than twice its
// real tokens.
func joins(n, t, real int, seqs [][]int) bool {
	n, t, real = n+len(seqs), max(t, longest(seqs)), real+tokens(seqs)
	return n <= embedBatchTexts && n*t <= embedBatchTokens && n*t <= 2*real
}

// longest returns the length of the longest of seqs.
func longest(seqs [][]int) (t int) {
	for _, s := range seqs {
		t = max(t, len(s))
	}
	return t
}

// tokens returns the number of tokens in seqs.
func tokens(seqs [][]int) (n int) {
	for _, s := range seqs {
		n += len(s)
	}
	return n
}

// run encodes the batch's texts together and hands each job its
// embeddings; a panic (a bug) fails the batch's jobs, not the server.
func (b *embedBatcher) run(batch []*embedJob) {
	defer func() {
		r := recover()
		for _, j := range batch {
			if r != nil && j.out == nil && j.labels == nil && j.err == nil {
				j.err = fmt.Errorf("%w: %v", errEmbedFailed, r)
			}
			select {
			case <-j.done:
			default:
				close(j.done)
			}
		}
	}()
	var live []*embedJob
	var seqs, types [][]int
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil { // the client has gone
			j.err = err
			continue
		}
		live = append(live, j)
		seqs, types = append(seqs, j.seqs...), append(types, j.types...)
	}
	if len(live) == 0 {
		return
	}
	if b.m.Labels() > 0 { // a sequence classifier: every job is a classify
		ids, ty, pad, n, t := batchTexts(b.m, seqs, types)
		logits, err := b.m.Classify(ids, ty, pad, n, t)
		at, labels := 0, b.m.Labels()
		for _, j := range live {
			if err != nil {
				j.err = err
				continue
			}
			k := len(j.seqs)
			j.labels = labelsOf(b.m, logits.Data[at*labels:(at+k)*labels], k, j.topK)
			at += k
		}
		return
	}
	ids, pad, n, t := bert.Batch(seqs, b.m.Cfg.PadID)
	hidden, _, err := b.m.Encode(ids, nil, pad, n, t)
	c := b.m.Cfg.Hidden
	at := 0
	for _, j := range live {
		if err != nil {
			j.err = err
			continue
		}
		k := len(j.seqs)
		h := tensor.FromSlice(hidden.Data[at*t*c:(at+k)*t*c], k, t, c)
		j.out, j.err = j.e.vectors(h, pad[at*t:(at+k)*t])
		at += k
	}
}
