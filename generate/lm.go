package generate

import (
	"errors"
	"fmt"
	"slices"

	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/tensor"
)

// Text generates up to maxNew tokens after prompt with a decoder-only model
// (gpt.Model, llama.Model), calling emit with each new token as soon as it
// is chosen; emit returns false to stop (a stop string was seen, say). An
// end-of-text token of the model (m.EndsText) is the last one generated,
// as in HuggingFace's generate. A KV cache makes each token cost the same
// whatever the length so far; when the context window fills, the cache is
// rebuilt from the last half of the window and generation goes on. It
// returns the new tokens.
func Text(m lm.Model, prompt []int, maxNew int, s *Sampler, emit func(id int) bool) ([]int, error) {
	if err := checkPrompt(m, prompt); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	window := m.Window()
	cache := m.NewSequence()
	ctx := lastOf(m, prompt, window)
	logits, err := prefill(cache, ctx)
	if err != nil {
		return nil, err
	}
	var out []int
	for len(out) < maxNew {
		next := s.Next(logits.Data)
		out = append(out, next)
		ctx = append(ctx, next)
		if emit != nil && !emit(next) {
			break
		}
		if len(out) == maxNew || m.EndsText(next) {
			break
		}
		if cache.Len() == window { // slide: keep the last half as context
			ctx = lastOf(m, ctx, slideTo(window))
			cache.Reset()
			logits, err = prefill(cache, ctx)
		} else {
			logits, err = cache.Next(ctx[len(ctx)-1:])
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// checkPrompt reports an empty prompt or a token outside the model's
// vocabulary, naming its index in the prompt (the model, which sees the
// prompt a chunk at a time, would name its index in the chunk).
func checkPrompt(m lm.Model, prompt []int) error {
	if len(prompt) == 0 {
		return errors.New("generate: the prompt has no tokens")
	}
	for i, id := range prompt {
		if id < 0 || id >= m.VocabSize() {
			return fmt.Errorf("generate: token id %d at index %d is outside the vocabulary [0, %d)", id, i, m.VocabSize())
		}
	}
	return nil
}

// slideTo is how many positions of context a full window of window
// positions keeps when it slides: the last half (at least one).
func slideTo(window int) int { return max(1, window/2) }

// starter is a model whose texts begin with a token it needs to see
// (Llama's <s>, its bos_token_id).
type starter interface {
	StartToken() (int, bool)
}

// lastOf returns a copy of the last n tokens of ctx (all of them when
// there are no more): the context kept when a prompt is longer than the
// window or the window slides. When m has a start token that begins ctx,
// it is kept in front of the last n−1.
func lastOf(m lm.Model, ctx []int, n int) []int {
	if len(ctx) <= n {
		return slices.Clone(ctx)
	}
	if s, ok := m.(starter); ok && n > 1 {
		if bos, ok := s.StartToken(); ok && ctx[0] == bos {
			return append([]int{bos}, ctx[len(ctx)-(n-1):]...)
		}
	}
	return slices.Clone(ctx[len(ctx)-n:])
}

// prefillChunk is the most positions of a prompt run through the model in
// one pass. The Batcher runs a new caller's prompt a chunk at a time
// between its decoding steps, so that a long prompt holds up the others'
// next tokens for a chunk's time (about 0.3 s for GPT-2 small on two
// cores), not the whole prompt's; Text cuts its prompts the same way, so
// that both compute the same numbers (for prompts longer than a chunk,
// other numbers, to rounding, than a pass over the whole prompt). A
// variable so that tests can cut short prompts.
var prefillChunk = 256

// chunkAt returns the length of the chunk of a context of n positions that
// starts at position done: the context is cut into as few chunks as
// prefillChunk allows, of lengths differing by at most one.
func chunkAt(done, n int) int {
	k := (n + prefillChunk - 1) / prefillChunk
	base, longer := n/k, n%k // the first `longer` chunks have base+1
	if done < longer*(base+1) {
		return base + 1
	}
	return base
}

// prefill runs the positions of ctx that the cache does not hold (all of
// them when it is empty) through it, a chunk at a time, and returns the
// last position's logits.
func prefill(cache lm.Sequence, ctx []int) (*tensor.Tensor, error) {
	var logits *tensor.Tensor
	for cache.Len() < len(ctx) {
		done := cache.Len()
		var err error
		if logits, err = cache.Next(ctx[done:min(len(ctx), done+chunkAt(done, len(ctx)))]); err != nil {
			return nil, err
		}
	}
	return logits, nil
}
