package main

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode"

	"github.com/attn-go/attn/tokenizer"
)

// A reasoning model (Qwen3, QwQ, DeepSeek-R1 and its distillations) writes
// its thinking in a <think> block before its answer; gpt-oss writes it as
// a message on the analysis channel of OpenAI's harmony format, before
// one on the final channel. /v1/chat/completions returns the reasoning as
// the message's reasoning_content and the rest as its content, as vLLM's
// and DeepSeek's APIs do, so that a chat client shows the answer, and
// sends the reasoning back apart (the templates read reasoning_content,
// and drop earlier turns' reasoning).

// reasoning says how to tell a reply's reasoning from its answer: the
// template's tags (tokenizer.ChatTemplate.ReasoningTags; none: the whole
// reply is the answer) and whether the prompt left a block open, so that
// the reply starts inside it (DeepSeek-R1's generation prompt ends in
// <think>; Qwen3's with enable_thinking false closes an empty block, and
// the reply is then all answer unless it opens one itself).
type reasoning struct {
	open, close string
	opened      bool
	channels    bool // harmony's channels instead (see harmonySplit)
	calls       bool // with channels: read messages to functions as tool calls
}

// none reports whether replies are all answer.
func (r reasoning) none() bool { return r.open == "" && !r.channels }

// splitter reads one reply fed in pieces (feed), then ends it (end),
// sending its reasoning and its answer on as they are settled.
type splitter interface {
	feed(text string)
	end()
}

// newSplitter returns the splitter of replies read as r says; call, used
// with r.calls, receives the tool calls.
func newSplitter(r reasoning, think, answer func(string), call func(tokenizer.ToolCall)) splitter {
	switch {
	case r.channels:
		s := &harmonySplit{think: think, answer: answer}
		if r.calls {
			s.call = call
		}
		return s
	case r.none():
		return plainReply(answer)
	}
	return &reasoningSplit{r: r, think: think, answer: answer}
}

// plainReply is the splitter of a reply that is all answer.
type plainReply func(string)

func (p plainReply) feed(text string) {
	if text != "" {
		p(text)
	}
}

func (p plainReply) end() {}

// replyReasoning returns how replies to a prompt rendered with tmpl are read.
func replyReasoning(tmpl *tokenizer.ChatTemplate, prompt string) reasoning {
	if tmpl.Channels() {
		return reasoning{channels: true}
	}
	open, close := tmpl.ReasoningTags()
	return reasoningIn(open, close, prompt)
}

// reasoningIn returns how replies to a prompt, rendered as text, are read:
// the reply starts inside a block when the prompt ends with its open tag
// (a tag typed in a message is not a block).
func reasoningIn(open, close, prompt string) reasoning {
	if open == "" {
		return reasoning{}
	}
	return reasoning{open: open, close: close, opened: strings.HasSuffix(strings.TrimRightFunc(prompt, unicode.IsSpace), open)}
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
// aside) is all answer, unless the prompt opened the block (where an open
// tag the reply begins with anyway is dropped, as vLLM's DeepSeek-R1
// parser does); a block that never closes (the reply ran out of tokens)
// is all reasoning. Text that could still be part of a tag, or
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

// feed reads the next piece of the reply.
func (s *reasoningSplit) feed(text string) {
	switch s.state {
	case undecided:
		s.held += text
		t := strings.TrimLeftFunc(s.held, unicode.IsSpace)
		switch {
		case strings.HasPrefix(t, s.r.open): // inside an opened block too, the tag is dropped
			s.state, s.held = thinking, ""
			s.feed(t[len(s.r.open):])
		case !strings.HasPrefix(s.r.open, t): // t == "" is a prefix too
			s.state = answering
			if s.r.opened {
				s.state = thinking
			}
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
		switch {
		case held == "":
		case s.r.opened:
			s.sendThought(held, true)
		default:
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

// splitReasoning returns a whole reply's reasoning, answer and (with
// r.calls) tool calls.
func splitReasoning(r reasoning, reply string) (thought, answer string, calls []tokenizer.ToolCall) {
	if r.none() {
		return "", reply, nil
	}
	var t, a strings.Builder
	s := newSplitter(r, func(x string) { t.WriteString(x) }, func(x string) { a.WriteString(x) }, func(c tokenizer.ToolCall) { calls = append(calls, c) })
	s.feed(reply)
	s.end()
	return t.String(), a.String(), calls
}

// reasoningStreams wraps a stream's chunk function (which sends answer
// text, or a choice's finish) for replies that may reason: each choice's
// reasoning goes to thought as it comes, its answer to chunk; with r.calls,
// a choice that called tools ends by sending its calls to calls instead of
// its finish to chunk.
func reasoningStreams(n int, r reasoning, chunk func(i int, text string, finish *string), thought func(i int, text string), calls func(i int, calls []tokenizer.ToolCall)) func(i int, text string, finish *string) {
	splits := make([]splitter, n) // each choice's, used by its own goroutine only
	made := make([][]tokenizer.ToolCall, n)
	for i := range splits {
		splits[i] = newSplitter(r, func(x string) { thought(i, x) }, func(x string) { chunk(i, x, nil) }, func(c tokenizer.ToolCall) { made[i] = append(made[i], c) })
	}
	return func(i int, text string, finish *string) {
		if finish == nil {
			splits[i].feed(text)
			return
		}
		splits[i].end()
		if len(made[i]) > 0 && calls != nil {
			calls(i, made[i])
			return
		}
		chunk(i, "", finish)
	}
}

// harmonySplit separates a reply in OpenAI's harmony format (gpt-oss's),
// decoded with its markers, fed in pieces: each message is a header (the
// reply's first one follows the prompt's <|start|>assistant) ending in
// <|message|>, then text up to <|end|>, <|call|> or <|return|> (or the
// next header). The text of messages on the analysis channel is
// reasoning; that of any other (final, commentary's preambles) is answer,
// but for a message to a function (a header with to=functions.NAME, on
// whatever channel; gpt-oss writes them on commentary), which, when call
// is set, is a tool call, its text the arguments (a JSON object, or none,
// read as {}; anything else is sent, trimmed, as its channel says).
// Messages to gpt-oss's built-in tools (to=browser.search, to=python),
// which attn does not run, are read as their channel says. The reply is
// decoded with its markers, so a request's stop strings are matched
// against the headers too ("." stops inside "functions.f").
// Headers and markers are dropped; text that could begin a marker is held
// until the next piece tells; text before a header's <|message|> is held
// as the header, so a reply without headers is sent at its end. A reply
// with no header at all is all answer, as is text after its last message;
// a header cut off (the reply ran out of tokens) is dropped.
type harmonySplit struct {
	inBody  bool
	channel string // the current message's
	to      string // the function the current message calls ("" for none)
	args    strings.Builder
	held    string
	think   func(string)
	answer  func(string)
	call    func(tokenizer.ToolCall)
}

// harmonyBreaks end a message's text: its own end, or a next header;
// harmonyMarks are every marker a piece may end partway through.
var (
	harmonyBreaks = []string{"<|end|>", "<|call|>", "<|return|>", "<|start|>", "<|channel|>"}
	harmonyMarks  = append(slices.Clip(harmonyBreaks), "<|message|>")
)

func (s *harmonySplit) feed(text string) {
	s.held += text
	for {
		if !s.inBody {
			i := strings.Index(s.held, "<|message|>")
			if i < 0 {
				return
			}
			s.channel, s.to = harmonyHeader(s.held[:i])
			if s.call == nil {
				s.to = ""
			}
			s.held, s.inBody = s.held[i+len("<|message|>"):], true
			continue
		}
		at, skip := -1, 0
		for _, m := range harmonyBreaks {
			if i := strings.Index(s.held, m); i >= 0 && (at < 0 || i < at) {
				at, skip = i, len(m)
				if m == "<|start|>" || m == "<|channel|>" {
					skip = 0 // the next header's
				}
			}
		}
		if at < 0 {
			keep := 0
			for _, m := range harmonyMarks {
				keep = max(keep, partialSuffix(s.held, m))
			}
			s.send(s.held[:len(s.held)-keep])
			s.held = s.held[len(s.held)-keep:]
			return
		}
		s.send(s.held[:at])
		s.endMessage()
		s.held, s.inBody = s.held[at+skip:], false
	}
}

func (s *harmonySplit) end() {
	switch {
	case s.inBody:
		s.send(s.held)
		s.endMessage()
	case !strings.Contains(s.held, "<|"):
		s.channel = ""
		s.send(s.held) // no header at all, or text after the last message: answer
	}
	s.held = ""
}

func (s *harmonySplit) send(text string) {
	switch {
	case text == "":
	case s.to != "":
		s.args.WriteString(text)
	case s.channel == "analysis":
		s.think(text)
	default:
		s.answer(text)
	}
}

// endMessage ends a message to a function: a call, or, when its text is
// not a JSON object, answer text.
func (s *harmonySplit) endMessage() {
	if s.to == "" {
		return
	}
	args := strings.TrimSpace(s.args.String())
	s.args.Reset()
	to := s.to
	s.to = ""
	if args == "" || args == "null" { // no arguments, as the other formats read them
		args = "{}"
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(args), &obj) != nil || obj == nil {
		s.send(args)
		return
	}
	s.call(tokenizer.ToolCall{Name: to, Arguments: json.RawMessage(args)})
}

// harmonyHeader returns the channel a message's header names and the
// function it is addressed to, if any: "<|start|>assistant<|channel|>final"
// is final, "<|channel|>commentary to=functions.f <|constrain|>json"
// commentary to f (the recipient may also follow the role); "" for none.
func harmonyHeader(header string) (channel, function string) {
	word := func(s string) string {
		if i := strings.IndexFunc(s, func(r rune) bool { return r == '<' || unicode.IsSpace(r) }); i >= 0 {
			return s[:i]
		}
		return s
	}
	if _, after, ok := strings.Cut(header, "<|channel|>"); ok {
		channel = word(after)
	}
	if _, after, ok := strings.Cut(header, "to=functions."); ok {
		function = word(after)
	}
	return channel, function
}
