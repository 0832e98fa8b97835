package generate

import (
	"errors"
	"fmt"

	"github.com/attn-go/attn/model/lm"
)

// Session generates the turns of one conversation with a decoder-only
// model, keeping its KV cache from turn to turn. Each turn's prompt is the
// whole conversation so far (a chat template's text); the positions it
// shares with what the cache holds (the earlier turns, usually) are not
// run again, so that a turn costs its new tokens, not the conversation's
// length. A Session is one goroutine's.
type Session struct {
	m      lm.Model
	seq    lm.Sequence
	held   []int // the ids whose keys and values seq holds, in order
	reused int   // positions of the last prompt that were held already
}

// NewSession returns a Session with an empty cache.
func NewSession(m lm.Model) *Session {
	return &Session{m: m, seq: m.NewSequence()}
}

// ErrContextFull is returned by Session.Generate for a prompt that leaves
// no room in the model's context for a new token: the caller drops the
// conversation's oldest turns and tries again.
var ErrContextFull = errors.New("the conversation fills the model's context")

// Reused is how many positions of the last prompt were already in the cache.
func (s *Session) Reused() int { return s.reused }

// Generate generates up to maxNew tokens after prompt, as Text does, but
// never slides: it stops when the context is full (its last token is then
// not an end of text), since cutting a conversation belongs to whoever
// knows its turns. It returns ErrContextFull if prompt alone fills it.
func (s *Session) Generate(prompt []int, maxNew int, sampler *Sampler, emit func(id int) bool) ([]int, error) {
	if err := checkPrompt(s.m, prompt); err != nil {
		return nil, err
	}
	if err := sampler.Validate(); err != nil {
		return nil, err
	}
	window := s.m.Window()
	if len(prompt) >= window {
		return nil, fmt.Errorf("%w: %d tokens, the context holds %d", ErrContextFull, len(prompt), window)
	}
	// Keep what the cache shares with the prompt, less its last position
	// at least: the last prompt position's logits are needed anew.
	keep := 0
	for keep < len(s.held) && keep < len(prompt)-1 && s.held[keep] == prompt[keep] {
		keep++
	}
	keep = s.seq.Truncate(keep)
	s.reused = keep
	s.held = append(s.held[:keep], prompt[keep:]...)
	logits, err := prefill(s.seq, s.held)
	if err != nil {
		s.forget()
		return nil, err
	}
	var out []int
	for len(out) < maxNew {
		next := sampler.Next(logits.Data)
		out = append(out, next)
		if emit != nil && !emit(next) {
			break
		}
		if len(out) == maxNew || s.m.EndsText(next) || s.seq.Len() == window {
			break
		}
		s.held = append(s.held, next)
		if logits, err = s.seq.Next(s.held[len(s.held)-1:]); err != nil {
			s.forget()
			return out, err
		}
	}
	return out, nil
}

// forget empties the cache after a failure, which may have left it
// holding part of a chunk.
func (s *Session) forget() {
	s.seq.Reset()
	s.held = s.held[:0]
}
