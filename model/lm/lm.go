// Package lm says what generating text needs of a decoder-only language
// model, so that package generate serves every family alike (gpt.Model,
// llama.Model).
package lm

import (
	"fmt"

	"github.com/attn-go/attn/tensor"
)

// Model is a decoder-only language model that generates with a KV cache.
type Model interface {
	// NewSequence returns an empty cache for one sequence.
	NewSequence() Sequence
	// Window is the most positions a sequence's cache holds.
	Window() int
	// VocabSize is the number of token ids.
	VocabSize() int
	// EndsText reports whether id is one of the model's end-of-text tokens,
	// which end a generation (HF's eos_token_id).
	EndsText(id int) bool
}

// Sequence is one sequence's KV cache.
type Sequence interface {
	// Len is the number of positions held.
	Len() int
	// Reset empties the cache.
	Reset()
	// Truncate forgets every position from n on (0 <= n <= Len): a
	// conversation goes on from the part of its text that did not change.
	// It returns the positions kept: n, or fewer where the cache no longer
	// holds what going on from n needs (a sliding window's older positions
	// dropped); the caller runs the rest again.
	Truncate(n int) int
	// Keeps returns what Truncate(n) would keep, changing nothing: which
	// of several caches a rewind leaves the most of.
	Keeps(n int) int
	// Next runs ids after the positions held (a prompt, or the token just
	// chosen), appends their keys and values, and returns the logits of the
	// last of them, [1, V].
	Next(ids []int) (*tensor.Tensor, error)
}

// Caches returns seqs as the cache type C of one model (appended to dst),
// or an error naming the first sequence that is not one: what a
// BatchModel's step does before it steps them.
func Caches[C Sequence](dst []C, seqs []Sequence) ([]C, error) {
	for i, s := range seqs {
		c, ok := s.(C)
		if !ok {
			var want C
			return nil, fmt.Errorf("sequence %d is a %T, not a %T", i, s, want)
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// BatchModel is a Model that decodes one token for each of several
// sequences in one step, reading its weights once for all of them (what
// continuous batching needs).
type BatchModel interface {
	Model
	// NewBatchStep returns a step function with buffers of its own (one
	// goroutine's): it runs ids[i] after the positions held in seqs[i]
	// (each a Sequence of this model, at its own length), appends their
	// keys and values, and returns the new positions' logits, [len(seqs),
	// V], valid until its next call.
	NewBatchStep() func(seqs []Sequence, ids []int) (*tensor.Tensor, error)
}
