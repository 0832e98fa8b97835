package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// embedBatchTexts is the most texts an embedBatcher runs at once (a
// variable so that a benchmark can compare requests run one at a time).
var embedBatchTexts = 64

// errEmbedClosed is what a request gets once the server has stopped.
var errEmbedClosed = errors.New("the server is shutting down")

// embedBatcher runs a text encoder's embed requests together: while a
// batch runs, requests queue, and the next batch takes all of them (up to
// embedBatchTexts texts), encoded as one padded batch and pooled each as
// its request asks. A request of a sentence or two leaves the encoder's
// products a few rows, too few to keep the cores busy: many clients'
// sentences in one batch cost little more than one's. Each request is
// tokenized on its own goroutine, so its errors are its own.
type embedBatcher struct {
	m    *bert.Model
	tok  *tokenizer.Pipeline
	jobs chan *embedJob
	quit chan struct{}
	done chan struct{}
}

// embedJob is one request in an embedBatcher.
type embedJob struct {
	ctx  context.Context
	seqs [][]int
	e    embedding
	out  [][]float32
	err  error
	done chan struct{}
}

func newEmbedBatcher(m *bert.Model, tok *tokenizer.Pipeline) *embedBatcher {
	b := &embedBatcher{m: m, tok: tok, jobs: make(chan *embedJob), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// close stops the loop once the batch running is done.
func (b *embedBatcher) close() {
	close(b.quit)
	<-b.done
}

// embed returns one embedding per line, computed in a batch with other
// requests' lines.
func (b *embedBatcher) embed(ctx context.Context, lines []string, e embedding) ([][]float32, error) {
	seqs, err := embedSeqs(b.m, b.tok, lines, e)
	if err != nil {
		return nil, err
	}
	j := &embedJob{ctx: ctx, seqs: seqs, e: e, done: make(chan struct{})}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.quit:
		return nil, errEmbedClosed
	}
	<-j.done // at most a batch away
	return j.out, j.err
}

func (b *embedBatcher) loop() {
	defer close(b.done)
	for {
		var batch []*embedJob
		select {
		case j := <-b.jobs:
			batch = append(batch, j)
		case <-b.quit:
			return
		}
		n := len(batch[0].seqs)
	more:
		for n < embedBatchTexts {
			select {
			case j := <-b.jobs:
				batch = append(batch, j)
				n += len(j.seqs)
			default:
				break more
			}
		}
		b.run(batch)
	}
}

// run encodes the batch's texts together and hands each job its
// embeddings; a panic (a bug) fails the batch's jobs, not the server.
func (b *embedBatcher) run(batch []*embedJob) {
	defer func() {
		r := recover()
		for _, j := range batch {
			if r != nil && j.out == nil && j.err == nil {
				j.err = fmt.Errorf("the batch failed: %v", r)
			}
			select {
			case <-j.done:
			default:
				close(j.done)
			}
		}
	}()
	var live []*embedJob
	var seqs [][]int
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil { // the client has gone
			j.err = err
			continue
		}
		live = append(live, j)
		seqs = append(seqs, j.seqs...)
	}
	if len(live) == 0 {
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
		j.out, j.err = bert.EmbedConcat(h, pad[at*t:(at+k)*t], j.e.poolings, j.e.normalize)
		at += k
	}
}
