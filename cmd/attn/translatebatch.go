package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// translateBatchSentences is the most sentences a translateBatcher decodes
// at once (a variable so that a benchmark can compare requests run one at
// a time).
var translateBatchSentences = 64

// translateBatcher runs a translation model's requests together: while a
// batch is being translated, requests queue, and the next batch takes the
// queued ones that ask for the same beam, length penalty and forced first
// token (an NLLB model's target language; −1 for none), in order, up to
// translateBatchSentences sentences (a request of more runs alone).
// Beam search over one sentence leaves the products a few rows each step,
// too few to keep the cores busy; many clients' sentences decoded together
// cost little more than one's. Each request encodes its sentences on its
// own goroutine before it joins, so a sentence the tokenizer refuses fails
// its own request only.
type translateBatcher struct {
	run  func(srcs [][]int, forced, beam int, alpha float64) ([]string, error)
	jobs chan *translateJob
	quit chan struct{}
	done chan struct{}
	once sync.Once

	batches atomic.Int64 // batches run, for tests
}

// beforeTranslateBatch, when set (by tests), is called before each batch.
var beforeTranslateBatch func()

// translateJob is one request in a translateBatcher.
type translateJob struct {
	ctx    context.Context
	srcs   [][]int
	forced int
	beam   int
	alpha  float64
	out    []string
	err    error
	done   chan struct{}
}

// newTranslateBatcher starts the loop that decodes batches with run.
func newTranslateBatcher(run func(srcs [][]int, forced, beam int, alpha float64) ([]string, error)) *translateBatcher {
	b := &translateBatcher{run: run, jobs: make(chan *translateJob), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// translate queues srcs and waits for their translations, or for ctx.
func (b *translateBatcher) translate(ctx context.Context, srcs [][]int, forced, beam int, alpha float64) ([]string, error) {
	j := &translateJob{ctx: ctx, srcs: srcs, forced: forced, beam: beam, alpha: alpha, done: make(chan struct{})}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.quit:
		return nil, errEmbedClosed
	}
	select {
	case <-j.done:
		return j.out, j.err
	case <-ctx.Done(): // the loop skips or finishes the job; nobody reads it
		return nil, ctx.Err()
	}
}

// close stops the loop once the batch running has finished; queued and
// later requests get errEmbedClosed.
func (b *translateBatcher) close() {
	b.once.Do(func() { close(b.quit) })
	<-b.done
}

func (b *translateBatcher) loop() {
	defer close(b.done)
	var queue []*translateJob
	for {
		if len(queue) == 0 {
			select {
			case j := <-b.jobs:
				queue = append(queue, j)
			case <-b.quit:
				return
			}
		}
	drain: // whoever has arrived meanwhile
		for {
			select {
			case j := <-b.jobs:
				queue = append(queue, j)
			default:
				break drain
			}
		}
		select {
		case <-b.quit:
			for _, j := range queue {
				j.err = errEmbedClosed
				close(j.done)
			}
			return
		default:
		}
		var batch []*translateJob
		batch, queue = nextTranslateBatch(queue)
		b.runBatch(batch)
	}
}

// nextTranslateBatch takes from the queue the first request still wanted
// and, in order, the later ones with its beam, alpha and forced token that
// fit beside it;
// it returns them and the rest of the queue, whose requests whose callers
// have gone are dropped.
func nextTranslateBatch(queue []*translateJob) (batch, rest []*translateJob) {
	n := 0
	for _, j := range queue {
		switch {
		case j.ctx.Err() != nil:
			j.err = j.ctx.Err()
			close(j.done)
		case len(batch) == 0 || j.beam == batch[0].beam && j.alpha == batch[0].alpha && j.forced == batch[0].forced && n+len(j.srcs) <= translateBatchSentences:
			batch = append(batch, j)
			n += len(j.srcs)
		default:
			rest = append(rest, j)
		}
	}
	return batch, rest
}

// runBatch translates the sentences of a batch's requests together and
// hands each its own; a panic (a bug) fails the batch's requests, not the
// server.
func (b *translateBatcher) runBatch(batch []*translateJob) {
	if len(batch) == 0 {
		return
	}
	if beforeTranslateBatch != nil {
		beforeTranslateBatch()
	}
	b.batches.Add(1)
	var srcs [][]int
	for _, j := range batch {
		srcs = append(srcs, j.srcs...)
	}
	out, err := func() (out []string, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", errEmbedFailed, r)
			}
		}()
		return b.run(srcs, batch[0].forced, batch[0].beam, batch[0].alpha)
	}()
	if err == nil && len(out) != len(srcs) {
		err = fmt.Errorf("%w: %d translations of %d sentences", errEmbedFailed, len(out), len(srcs))
	}
	for _, j := range batch {
		if err != nil {
			j.err = err
		} else {
			j.out, out = out[:len(j.srcs):len(j.srcs)], out[len(j.srcs):]
		}
		close(j.done)
	}
}
