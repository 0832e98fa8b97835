package main

import (
	"strings"
	"unicode"
)

// A reasoning model (Qwen3, QwQ, DeepSeek-R1 and its distillations) writes
// its thinking in a <think> block before its answer. /v1/chat/completions
// returns that block's text as the message's reasoning_content and the
// rest as its content, as vLLM's and DeepSeek's APIs do, so that a chat
// client shows the answer, and sends the reasoning back apart (the
// templates read reasoning_content, and drop earlier turns' reasoning).

// reasoning says how to tell a reply's reasoning from its answer: the
// template's tags (tokenizer.ChatTemplate.ReasoningTags; none: the whole
// reply is the answer) and whether the prompt left a block open, so that
// the reply starts inside it (DeepSeek-R1's generation prompt ends in
// <think>; Qwen3's with enable_thinking false closes an empty block, and
// the reply is then all answer unless it opens one itself).
type reasoning struct {
	open, close string
	opened      bool
}

// reasoningIn returns how replies to a prompt, rendered as text, are read.
func reasoningIn(open, close, prompt string) reasoning {
	if open == "" {
		return reasoning{}
	}
	return reasoning{open: open, close: close, opened: strings.LastIndex(prompt, open) > strings.LastIndex(prompt, close)}
}

// What a reasoningSplit is reading.
const (
	undecided = iota // the reply so far could still open a block
	thinking         // inside the block
	answering        // after it, or a reply without one
)

// reasoningSplit separates one reply, fed in pieces as it is generated,
// into reasoning and answer. Its reasoning is the block's text without
// the line breaks around it, its answer what follows the block without
// the line breaks it starts with (the template's own strip('\n') and
// lstrip('\n')). A reply that does not begin with the open tag (spaces
// aside) is all answer; a block that never closes (the reply ran out of
// tokens) is all reasoning. Text that could still be part of a tag, or
// line breaks that could end the block, is held until the next piece
// tells.
type reasoningSplit struct {
	r      reasoning
	state  int
	held   string
	begun  bool // some reasoning has gone out
	strip  bool // the answer's leading line breaks are still to drop
	think  func(string)
	answer func(string)
}

func newReasoningSplit(r reasoning, think, answer func(string)) *reasoningSplit {
	s := &reasoningSplit{r: r, think: think, answer: answer}
	if r.opened {
		s.state = thinking
	}
	return s
}

// feed reads the next piece of the reply.
func (s *reasoningSplit) feed(text string) {
	switch s.state {
	case undecided:
		s.held += text
		t := strings.TrimLeftFunc(s.held, unicode.IsSpace)
		switch {
		case strings.HasPrefix(t, s.r.open):
			s.state, s.held = thinking, ""
			s.feed(t[len(s.r.open):])
		case !strings.HasPrefix(s.r.open, t): // t == "" is a prefix too
			s.state = answering
			text, s.held = s.held, ""
			s.feed(text)
		}
	case thinking:
		s.held += text
		if i := strings.Index(s.held, s.r.close); i >= 0 {
			rest := s.held[i+len(s.r.close):]
			s.sendThought(s.held[:i], true)
			s.state, s.held, s.strip = answering, "", true
			s.feed(rest)
			return
		}
		// Hold what could begin the close tag, and the line breaks before it.
		j := len(s.held) - partialSuffix(s.held, s.r.close)
		for j > 0 && s.held[j-1] == '\n' {
			j--
		}
		s.sendThought(s.held[:j], false)
		s.held = s.held[j:]
	case answering:
		if s.strip {
			if text = strings.TrimLeft(text, "\n"); text == "" {
				return
			}
			s.strip = false
		}
		s.answer(text)
	}
}

// end sends what is held when the reply is complete.
func (s *reasoningSplit) end() {
	held := s.held
	s.held = ""
	switch s.state {
	case undecided:
		if held != "" {
			s.answer(held)
		}
	case thinking:
		s.sendThought(held, true)
	}
}

// sendThought sends reasoning, without the block's leading line breaks
// (and its trailing ones, when last).
func (s *reasoningSplit) sendThought(text string, last bool) {
	if !s.begun {
		text = strings.TrimLeft(text, "\n")
	}
	if last {
		text = strings.TrimRight(text, "\n")
	}
	if text != "" {
		s.think(text)
		s.begun = true
	}
}

// partialSuffix returns the length of the longest end of text that begins
// tag (shorter than tag).
func partialSuffix(text, tag string) int {
	for k := min(len(tag)-1, len(text)); k > 0; k-- {
		if strings.HasSuffix(text, tag[:k]) {
			return k
		}
	}
	return 0
}

// splitReasoning returns a whole reply's reasoning and answer.
func splitReasoning(r reasoning, reply string) (thought, answer string) {
	if r.open == "" {
		return "", reply
	}
	var t, a strings.Builder
	s := newReasoningSplit(r, func(x string) { t.WriteString(x) }, func(x string) { a.WriteString(x) })
	s.feed(reply)
	s.end()
	return t.String(), a.String()
}

// reasoningStreams wraps a stream's chunk function (which sends answer
// text, or a choice's finish) for replies that may reason: each choice's
// reasoning goes to thought as it comes, its answer to chunk.
func reasoningStreams(n int, r reasoning, chunk func(i int, text string, finish *string), thought func(i int, text string)) func(i int, text string, finish *string) {
	splits := make([]*reasoningSplit, n) // each choice's, used by its own goroutine only
	for i := range splits {
		splits[i] = newReasoningSplit(r, func(x string) { thought(i, x) }, func(x string) { chunk(i, x, nil) })
	}
	return func(i int, text string, finish *string) {
		if finish == nil {
			splits[i].feed(text)
			return
		}
		splits[i].end()
		chunk(i, "", finish)
	}
}
