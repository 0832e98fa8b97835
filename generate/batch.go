package generate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/attn-go/attn/model/lm"
)

// ErrClosed is returned by Batcher.Generate once the Batcher is closed.
var ErrClosed = errors.New("generate: the batcher is closed")

// Batcher generates text for many callers at once with one decoder-only
// model (continuous batching): each Generate call joins the sequences being
// decoded, and every step decodes one token for all of them together
// (gpt.Model.StepBatch, llama.Model.StepBatch). A decoding step is bound by reading the weights,
// which a step reads once for all its sequences, so eight callers are
// served for little more than the price of one. A new caller's prompt runs
// between steps, a chunk of up to 256 positions between two steps, so that
// a long prompt delays the others' next token by a chunk, not by the whole
// prompt; a caller that leaves (emit returns false, or its context ends)
// frees its place at the next step. Up to eight sequences a
// step (sixteen for a Llama-family model), the numbers, and so the tokens,
// are the same as Text's for each caller alone.
type Batcher struct {
	m    lm.BatchModel
	max  int
	join chan *sequence
	quit chan struct{} // closed by Close, or when the loop fails
	done chan struct{} // closed when the loop has returned
	once sync.Once
	err  error // why the loop failed, set before quit is closed

	free    []freeCache // caches of finished sequences, reused
	waiting []*sequence // sequences whose context is going into their cache, first come first
	reuse   int         // ReusePrefixes' least shared length; 0: off
	reused  atomic.Int64

	active, steps, tokens atomic.Int64 // for Stats
}

// freeCache is the cache of a finished sequence and the ids it holds.
type freeCache struct {
	cache lm.Sequence
	held  []int
}

// BatchStats is what a Batcher has done: the sequences it is decoding now,
// the decoding steps it has run, the tokens it has generated and the
// prompt positions it found in the cache of an earlier sequence
// (ReusePrefixes) instead of running them.
type BatchStats struct {
	Active                int
	Steps, Tokens, Reused int64
}

// Stats returns the Batcher's counts so far; it may be called from any
// goroutine (a server's /metrics).
func (b *Batcher) Stats() BatchStats {
	return BatchStats{Active: int(b.active.Load()), Steps: b.steps.Load(), Tokens: b.tokens.Load(), Reused: b.reused.Load()}
}

// BatcherOption changes how a Batcher works.
type BatcherOption func(*Batcher)

// ReusePrefixes makes a new prompt that begins with at least minShared of
// the positions an earlier sequence's cache still holds go on from that
// cache instead of running them again: a chat client sends the whole
// conversation every turn, and all but the newest turn is in the cache of
// the last answer. The Batcher keeps the caches of its last finished
// sequences (as many as it decodes at once) in any case; this only looks
// them up. The numbers are those of a prompt run in other chunks, equal to
// Text's to rounding rather than bit for bit. Of the free caches, the one
// that keeps the most when cut back to what it shares (lm.Sequence.Keeps)
// serves: one whose sliding-window layers have dropped what the shared
// part needs (a rewind far back in a long text), or a LongRoPE model's
// past its original context cut back within it, keeps nothing.
func ReusePrefixes(minShared int) BatcherOption {
	return func(b *Batcher) { b.reuse = max(1, minShared) }
}

// sequence is one Generate call as the loop sees it.
type sequence struct {
	ctx    context.Context
	tokens []int // the context: the prompt, then what was generated
	maxNew int
	s      *Sampler
	left   atomic.Bool // the caller has gone

	// The loop hands tokens over through made, never waiting for the
	// caller; ready (capacity 1) says there is news.
	mu    sync.Mutex
	made  []int
	ended bool
	err   error
	ready chan struct{}

	// The loop's own.
	cache  lm.Sequence
	logits []float32 // the next token's, a copy of its row
	n      int       // tokens generated
	failed error     // its prompt or step failed
}

// send hands the caller a token, or the end (with err) when end is set.
func (sq *sequence) send(id int, end bool, err error) {
	sq.mu.Lock()
	switch {
	case sq.ended: // a second end (the loop's recover after a panic) changes nothing
	case end:
		sq.ended, sq.err = true, err
	default:
		sq.made = append(sq.made, id)
	}
	sq.mu.Unlock()
	select {
	case sq.ready <- struct{}{}:
	default:
	}
}

// take returns the tokens made since the last take, and whether the
// sequence has ended, with its error.
func (sq *sequence) take(buf []int) ([]int, bool, error) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	buf = append(buf[:0], sq.made...)
	sq.made = sq.made[:0]
	return buf, sq.ended, sq.err
}

// NewBatcher starts a Batcher that decodes up to maxBatch sequences a step
// (at least 1); callers beyond that wait for a place. Close stops it.
func NewBatcher(m lm.BatchModel, maxBatch int, opts ...BatcherOption) *Batcher {
	b := &Batcher{m: m, max: max(1, maxBatch), join: make(chan *sequence), quit: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(b)
	}
	go b.loop()
	return b
}

// Close stops the Batcher: Generate calls still running return ErrClosed
// with the tokens they have, and so do later ones. It returns once the
// decoding goroutine has stopped (within a chunk of a prompt and a step).
func (b *Batcher) Close() {
	b.once.Do(func() { close(b.quit) })
	<-b.done
}

// Err returns nil while the Batcher runs, then why it stopped: ErrClosed,
// or (wrapping it) the failure that closed it.
func (b *Batcher) Err() error {
	select {
	case <-b.quit:
		return b.closedErr()
	default:
		return nil
	}
}

// closedErr is what a caller gets once quit is closed.
func (b *Batcher) closedErr() error { return cmp.Or(b.err, ErrClosed) }

// Generate is Text run in the batch: it continues prompt with up to maxNew
// tokens chosen by s (which it alone uses until it returns), calling emit
// with each as it comes, and returns them. It waits for a place in the
// batch, and returns ctx's error if ctx ends first or meanwhile.
func (b *Batcher) Generate(ctx context.Context, prompt []int, maxNew int, s *Sampler, emit func(id int) bool) (out []int, err error) {
	if err := checkPrompt(b.m, prompt); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if maxNew <= 0 {
		return nil, nil
	}
	sq := &sequence{ctx: ctx, tokens: lastOf(b.m, prompt, b.m.Window()), maxNew: maxNew, s: s, ready: make(chan struct{}, 1)}
	select {
	case b.join <- sq:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.quit:
		return nil, b.closedErr()
	}
	// Leaving early (emit says stop, ctx ends, emit panics) waits, at most
	// a step, for the loop to let go of the sequence, so that s is the
	// caller's again on return.
	ended := false
	defer func() {
		if ended {
			return
		}
		sq.left.Store(true)
		for !ended {
			<-sq.ready
			_, ended, _ = sq.take(nil)
		}
	}()
	var ids []int
	for {
		select {
		case <-sq.ready:
		case <-ctx.Done():
			return out, ctx.Err()
		}
		var serr error
		ids, ended, serr = sq.take(ids)
		for _, id := range ids {
			if ctx.Err() != nil { // gone: the tokens already made are dropped
				return out, ctx.Err()
			}
			out = append(out, id)
			if emit != nil && !emit(id) {
				return out, nil
			}
		}
		if ended {
			return out, serr
		}
	}
}

// loop owns the model's caches: it takes in new sequences, runs their
// prompts a chunk at a time, and steps all the others together until each
// is done. A panic
// (a bug) ends every sequence with an error and closes the Batcher rather
// than the program.
func (b *Batcher) loop() {
	defer close(b.done)
	var active []*sequence
	defer func() {
		err := ErrClosed
		if r := recover(); r != nil {
			err = fmt.Errorf("generate: the batch failed: %v (%w)", r, ErrClosed)
			b.once.Do(func() { b.err = err; close(b.quit) }) // written before quit closes, read after
		}
		for _, sq := range append(active, b.waiting...) {
			sq.send(0, true, err)
		}
		b.active.Store(0)
	}()
	step := b.m.NewBatchStep()
	for {
		// Wait for work when there is none; otherwise take in whoever is
		// waiting, as far as there is room.
		if len(active) == 0 && len(b.waiting) == 0 {
			select {
			case sq := <-b.join:
				b.admit(sq)
			case <-b.quit:
				return
			}
		}
		select {
		case <-b.quit:
			return
		default:
		}
	take:
		for len(active)+len(b.waiting) < b.max {
			select {
			case sq := <-b.join:
				b.admit(sq)
			default:
				break take
			}
		}
		if sq := b.prefillNext(); sq != nil {
			active = append(active, sq)
		}
		// Choose each sequence's next token; drop those that are done.
		kept := active[:0]
		for _, sq := range active {
			if sq.left.Load() {
				b.finish(sq, nil)
				continue
			}
			if err := sq.ctx.Err(); err != nil {
				b.finish(sq, err)
				continue
			}
			next := sq.s.Next(sq.logits)
			sq.tokens = append(sq.tokens, next)
			sq.n++
			b.tokens.Add(1)
			sq.send(next, false, nil)
			if sq.n == sq.maxNew || b.m.EndsText(next) {
				b.finish(sq, nil)
				continue
			}
			kept = append(kept, sq)
		}
		clear(active[len(kept):])
		active = kept
		// A sequence whose window is full starts again from the last half
		// of its context, as Text does; it goes first in the queue of
		// prompts (it is streaming already). The others step together.
		var caches []lm.Sequence
		var ids []int
		kept = active[:0]
		for _, sq := range active {
			if sq.cache.Len() == b.m.Window() {
				sq.tokens = lastOf(b.m, sq.tokens, slideTo(b.m.Window()))
				sq.cache.Reset()
				b.waiting = slices.Insert(b.waiting, 0, sq)
				continue
			}
			kept = append(kept, sq)
			caches = append(caches, sq.cache)
			ids = append(ids, sq.tokens[len(sq.tokens)-1])
		}
		clear(active[len(kept):])
		active = kept
		if len(active) == 0 {
			continue
		}
		logits, err := step(caches, ids)
		b.steps.Add(1)
		v := b.m.VocabSize()
		for i, sq := range active {
			if err != nil {
				sq.failed = err
				continue
			}
			sq.logits = append(sq.logits[:0], logits.Data[i*v:(i+1)*v]...)
		}
		active = b.dropFailed(active)
	}
}

// admit gives a new sequence a cache and puts it in the queue of contexts
// to run: with ReusePrefixes, the free cache that keeps the longest start
// of its context when cut back to what they share (less the last position,
// whose logits are needed; a sliding window's trimmed cache may keep
// nothing), if that is long enough; otherwise the most recently freed
// cache, emptied, or a new one.
func (b *Batcher) admit(sq *sequence) {
	b.active.Add(1) // finish takes it off
	n := len(b.free)
	if n == 0 {
		sq.cache = b.m.NewSequence()
		b.waiting = append(b.waiting, sq)
		return
	}
	pick, keep := n-1, 0
	if b.reuse > 0 {
		for i, f := range b.free {
			shared := 0
			for shared < len(f.held) && shared < len(sq.tokens)-1 && f.held[shared] == sq.tokens[shared] {
				shared++
			}
			if shared >= b.reuse && shared > keep {
				if kept := f.cache.Keeps(shared); kept >= b.reuse && kept > keep {
					pick, keep = i, kept
				}
			}
		}
	}
	sq.cache = b.free[pick].cache
	b.free = slices.Delete(b.free, pick, pick+1)
	keep = sq.cache.Truncate(keep)
	b.reused.Add(int64(keep))
	b.waiting = append(b.waiting, sq)
}

// prefillNext ends the waiting sequences whose callers have gone, then runs
// the next chunk of the first one's context through its cache. Once the
// whole context is in, it takes the sequence off the queue and returns it,
// with the last position's logits.
func (b *Batcher) prefillNext() *sequence {
	kept := b.waiting[:0]
	for _, sq := range b.waiting {
		if sq.left.Load() {
			b.finish(sq, nil)
			continue
		}
		if err := sq.ctx.Err(); err != nil {
			b.finish(sq, err)
			continue
		}
		kept = append(kept, sq)
	}
	clear(b.waiting[len(kept):])
	b.waiting = kept
	if len(b.waiting) == 0 {
		return nil
	}
	sq := b.waiting[0]
	done := sq.cache.Len()
	logits, err := sq.cache.Next(sq.tokens[done:min(len(sq.tokens), done+chunkAt(done, len(sq.tokens)))])
	if afterChunk != nil {
		afterChunk(b)
	}
	if err == nil && sq.cache.Len() < len(sq.tokens) {
		return nil // more to come after the next step
	}
	b.waiting = slices.Delete(b.waiting, 0, 1)
	if err != nil {
		b.finish(sq, err)
		return nil
	}
	sq.logits = append(sq.logits[:0], logits.Data...)
	return sq
}

// afterChunk, when set (by tests), is called after each chunk of a prompt.
var afterChunk func(*Batcher)

// dropFailed ends the sequences whose step failed.
func (b *Batcher) dropFailed(active []*sequence) []*sequence {
	kept := active[:0]
	for _, sq := range active {
		if sq.failed != nil {
			b.finish(sq, sq.failed)
			continue
		}
		kept = append(kept, sq)
	}
	clear(active[len(kept):])
	return kept
}

// finish ends a sequence: its caller gets err after the tokens sent, and
// its cache goes back to the pool, with the ids it holds (a failed step may
// have left it holding part of a chunk: it is emptied). The pool keeps one
// cache per place in the batch, the oldest making way.
func (b *Batcher) finish(sq *sequence, err error) {
	b.active.Add(-1) // before the caller can see the end
	sq.send(0, true, err)
	f := freeCache{cache: sq.cache}
	if sq.failed != nil || err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		f.cache.Reset()
	} else {
		f.held = sq.tokens[:f.cache.Len()] // the loop is done with sq.tokens
	}
	if len(b.free) == b.max {
		b.free = slices.Delete(b.free, 0, 1)
	}
	b.free = append(b.free, f)
	sq.cache = nil
}

// WithWindow returns m with its window cut to n positions when n is
// smaller (m itself when n <= 0 or n >= m.Window()): a bound on the memory
// and time one sequence may take (a Llama's
// window may be 131,072 positions, gigabytes of cache a sequence). A
// longer context is cut, and slides, as one past the model's own window.
func WithWindow(m lm.BatchModel, n int) lm.BatchModel {
	if n <= 0 || n >= m.Window() {
		return m
	}
	return windowed{m, n}
}

// windowed is WithWindow's model.
type windowed struct {
	lm.BatchModel
	n int
}

// Window implements lm.Model.
func (w windowed) Window() int { return w.n }

// StartToken is the model's own (see starter).
func (w windowed) StartToken() (int, bool) {
	if s, ok := w.BatchModel.(starter); ok {
		return s.StartToken()
	}
	return 0, false
}
