package generate

import (
	"errors"

	"github.com/attn-go/attn/model/gpt"
)

// Text generates up to maxNew tokens after prompt with a decoder-only model,
// calling emit with each new token as soon as it is chosen; emit returns
// false to stop (a stop string was seen, say). The model's end-of-text
// token (Cfg.EOS, when Cfg.HasEOS) is the last one generated, as in
// HuggingFace's generate. A KV cache makes each token
// cost the same whatever the length so far; when the context window fills,
// the cache is rebuilt from the last half of the window and generation goes
// on. It returns the new tokens.
func Text(m *gpt.Model, prompt []int, maxNew int, s *Sampler, emit func(id int) bool) ([]int, error) {
	if len(prompt) == 0 {
		return nil, errors.New("generate: the prompt has no tokens")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	window := m.Cfg.NPositions
	cache := m.NewCache(1)
	ctx := append([]int(nil), prompt...)
	if len(ctx) > window {
		ctx = ctx[len(ctx)-window:]
	}
	logits, err := m.StepLast(cache, ctx, 1)
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
		if len(out) == maxNew || m.Cfg.HasEOS && next == m.Cfg.EOS {
			break
		}
		if cache.Len() == window { // slide: keep the last half as context
			ctx = ctx[len(ctx)-window/2:]
			cache.Reset()
			logits, err = m.StepLast(cache, ctx, 1)
		} else {
			logits, err = m.StepLast(cache, ctx[len(ctx)-1:], 1)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
