package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// openChat reads a language model folder's chat template, with an error
// that says what to do when it has none (a base model).
func openChat(dir string) (*tokenizer.ChatTemplate, error) {
	c, err := tokenizer.OpenChatTemplate(dir)
	if errors.Is(err, tokenizer.ErrNoChatTemplate) {
		return nil, fmt.Errorf("%s has no chat template (tokenizer_config.json's chat_template or chat_template.jinja): it is a base model, not a chat model; attn generate continues text with it", dir)
	}
	return c, err
}

// encodeChat renders a conversation with the model's chat template, ready
// for the assistant's next turn, and tokenizes it as apply_chat_template
// does: without the special tokens the tokenizer adds to a text (the
// template writes its own, a Llama's <s> among them).
func encodeChat(tmpl *tokenizer.ChatTemplate, tok tokenizer.Tokenizer, messages []tokenizer.Message) ([]int, error) {
	return encodeChatTools(tmpl, tok, messages, nil)
}

// encodeChatTools is encodeChat with the tools the model may call.
func encodeChatTools(tmpl *tokenizer.ChatTemplate, tok tokenizer.Tokenizer, messages []tokenizer.Message, tools []json.RawMessage) ([]int, error) {
	ids, _, err := encodeChatVars(tmpl, tok, messages, tools, nil)
	return ids, err
}

// encodeChatVars is encodeChatTools with variables for the template
// (tokenizer.ChatTemplate.RenderWith); it returns the rendered text too.
func encodeChatVars(tmpl *tokenizer.ChatTemplate, tok tokenizer.Tokenizer, messages []tokenizer.Message, tools []json.RawMessage, vars map[string]json.RawMessage) ([]int, string, error) {
	text, err := tmpl.RenderWith(messages, tools, true, vars)
	if err != nil {
		return nil, "", err
	}
	if text == "" {
		return nil, "", errors.New("the chat template rendered the conversation as an empty text")
	}
	var enc *tokenizer.Encoding
	if p, ok := tok.(*tokenizer.Pipeline); ok {
		enc, err = p.EncodeWith(text, nil, false)
	} else {
		enc, err = tok.Encode(text)
	}
	if err != nil {
		return nil, "", fmt.Errorf("the conversation: %w", err)
	}
	if err := checkLossless(tok, text, enc.IDs); err != nil {
		// A SentencePiece-style tokenizer (Llama 2's) starts each text
		// between special tokens with a space, which decoding keeps: spaces
		// aside, the decoded conversation must still be the template's.
		back, derr := tok.Decode(enc.IDs)
		if derr != nil {
			return nil, "", fmt.Errorf("the conversation: %w", derr)
		}
		if r, ok := lostRune(back, text); ok {
			return nil, "", fmt.Errorf("the conversation: the tokenizer cannot encode character %q (it is not in the vocabulary)", r)
		}
	}
	return enc.IDs, text, nil
}

// chatInput is where attn chat reads its user turns when no file is named
// (a variable so that tests can type into it).
var chatInput io.Reader = os.Stdin

func runChat(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "a chat model's folder (Llama, Qwen2, Qwen3, Mistral, Gemma; a GPT-2 with a chat template)")
	system := fs.String("system", "", "a system message to begin the conversation with")
	maxNew := fs.Int("max-new-tokens", 1024, "tokens per reply at most (a reply also ends at the end of the context)")
	temp := fs.Float64("temperature", 1, "sampling temperature (0: greedy); default: generation_config.json's")
	greedy := fs.Bool("greedy", false, "always pick the most likely token (same as --temperature 0)")
	topK := fs.Int("top-k", 50, "sample among the k most likely tokens (0: all); default: generation_config.json's")
	topP := fs.Float64("top-p", 1, "sample among the most likely tokens covering this probability; default: generation_config.json's")
	seed := fs.Uint64("seed", 1, "random seed for sampling")
	var stops stringList
	fs.Var(&stops, "stop", "end a reply when this text appears (repeatable)")
	kwargs := fs.String("chat-template-kwargs", "", `variables for the chat template, a JSON object, as attn serve's field of that name takes them: '{"enable_thinking": false}' turns Qwen3's thinking off, '{"reasoning_effort": "high"}' sets GPT-OSS's`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: attn chat --model DIR [flags] [FILE|-]\n\nChats with a model through its chat template: each line of FILE (or standard input) is a user's turn, answered before the next is read. On a terminal, /reset starts the conversation again and Ctrl-C stops a reply (at the prompt, it ends the chat). The oldest turns are dropped when the conversation outgrows the model's context.\n\nflags:")
		fs.PrintDefaults()
	}
	quantize := quantizeFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("one input file at most, got %d", fs.NArg())
	}
	dir, typ, err := modelOfType(*model, "chat", "gpt2", "llama")
	if err != nil {
		return err
	}
	if err := checkQuantize(*quantize, typ); err != nil {
		return err
	}
	tmpl, err := openChat(dir)
	if err != nil {
		return err
	}
	var m lm.BatchModel
	var tok tokenizer.Tokenizer
	if typ == "gpt2" {
		m, tok, err = loadLM(dir, "chat")
	} else {
		m, tok, err = loadLlamaToRun(dir, *quantize)
	}
	if err != nil {
		return err
	}
	sampling, err := readSampling(dir)
	if err != nil {
		return err
	}
	set := setFlags(fs)
	if !set["temperature"] {
		*temp = sampling.temperature()
	}
	if !set["top-k"] {
		*topK = sampling.topK()
	}
	if !set["top-p"] {
		*topP = sampling.TopP
	}
	if *greedy {
		*temp = 0
	}
	if p := sampling.RepetitionPenalty; p != nil && *p != 1 {
		fmt.Fprintf(stderr, "attn chat: note: generation_config.json's repetition_penalty %v is not applied\n", *p)
	}
	sampler := &generate.Sampler{Temperature: *temp, TopK: nucleusTopK(*topK, *topP), TopP: *topP, Vocab: tok.VocabSize(), RNG: tensor.NewRNG(*seed)}
	if err := sampler.Validate(); err != nil {
		return err
	}
	if *maxNew < 1 {
		return fmt.Errorf("--max-new-tokens %d; want 1 or more", *maxNew)
	}
	var vars map[string]json.RawMessage
	if *kwargs != "" {
		if err := json.Unmarshal([]byte(*kwargs), &vars); err != nil || vars == nil {
			return fmt.Errorf(`--chat-template-kwargs %s: want a JSON object of variables, such as '{"enable_thinking": false}'`, *kwargs)
		}
		if err := tmpl.CheckVars(vars); err != nil {
			return fmt.Errorf("--chat-template-kwargs: %w", err)
		}
	}

	in := chatInput
	if path := fs.Arg(0); path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	interactive := isTerminal(in)
	c := &chat{m: m, tok: tok, tmpl: tmpl, vars: vars, session: generate.NewSession(m), sampler: sampler, maxNew: *maxNew, stops: stops}
	if interactive { // Ctrl-C stops the reply being written; at the prompt, the chat
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt)
		defer func() { signal.Stop(sigs); close(sigs) }() // the goroutine below ends
		go func() {
			for range sigs {
				if !c.interrupt() {
					fmt.Fprintln(stdout)
					os.Exit(130) // as the shell reports an interrupted program
				}
			}
		}()
	}
	if *system != "" {
		c.history = []tokenizer.Message{{Role: "system", Content: *system}}
	}
	first := len(c.history)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; ; line++ {
		if interactive {
			fmt.Fprint(w, "> ")
			w.Flush()
		}
		if !sc.Scan() {
			break
		}
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
			continue
		case interactive && text == "/reset":
			c.history = c.history[:first]
			continue
		}
		thought := false
		err := c.reply(text, func(chunk string) {
			fmt.Fprint(w, chunk)
			w.Flush()
		}, func(chunk string) {
			w.Flush()
			fmt.Fprint(stderr, chunk)
			thought = true
		})
		if thought {
			fmt.Fprintln(stderr)
		}
		fmt.Fprintln(w)
		if interactive {
			fmt.Fprintln(w)
		}
		w.Flush()
		if err != nil && !interactive {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err != nil {
			fmt.Fprintf(stderr, "attn chat: %v\n", err)
		}
	}
	return sc.Err()
}

// chat is one conversation of attn chat.
type chat struct {
	m       lm.Model
	tok     tokenizer.Tokenizer
	tmpl    *tokenizer.ChatTemplate
	vars    map[string]json.RawMessage // for the template (--chat-template-kwargs)
	session *generate.Session
	sampler *generate.Sampler
	maxNew  int
	stops   []string
	history []tokenizer.Message // the system message, if any, then the turns
	// replying is set while a reply is written, stop when it is to end
	// early (interrupt).
	replying, stop atomic.Bool
}

// interrupt ends the reply being written, keeping what it has so far, and
// reports whether there was one.
func (c *chat) interrupt() bool {
	if !c.replying.Load() {
		return false
	}
	c.stop.Store(true)
	return true
}

// reply answers a user's turn, streaming the reply's text to emit (and a
// reasoning model's reasoning, read as the chat endpoint reads it, to
// think, which may be nil), and adds both to the history (a reply
// interrupted, as much of it as was written). When the conversation no
// longer fits the context, its oldest turns (after the system message)
// are dropped until it does; a turn that does not fit alone is an error.
func (c *chat) reply(text string, emit, think func(string)) error {
	keep := 0 // the system message stays
	if len(c.history) > 0 && c.history[0].Role == "system" {
		keep = 1
	}
	msgs := append(c.history, tokenizer.Message{Role: "user", Content: text})
	var ids []int
	var prompt string
	for {
		var err error
		if ids, prompt, err = encodeChatVars(c.tmpl, c.tok, msgs, nil, c.vars); err != nil {
			return err
		}
		if len(ids) < c.m.Window() {
			break
		}
		if len(msgs) == keep+1 {
			return fmt.Errorf("the turn is %d tokens with the template (and the system message); the model's context holds %d", len(ids), c.m.Window())
		}
		// Drop the oldest turn, and the assistant's answer to it, so that
		// the conversation still starts with a user's turn.
		drop := 1
		if len(msgs) > keep+2 && msgs[keep+1].Role == "assistant" {
			drop = 2
		}
		msgs = append(msgs[:keep:keep], msgs[keep+drop:]...)
	}
	r := replyReasoning(c.tmpl, prompt)
	if think == nil {
		think = func(string) {}
	}
	var thought, answer strings.Builder
	split := newSplitter(r, func(chunk string) {
		thought.WriteString(chunk)
		think(chunk)
	}, func(chunk string) {
		answer.WriteString(chunk)
		emit(chunk)
	}, nil)
	c.stop.Store(false)
	c.replying.Store(true)
	defer c.replying.Store(false)
	_, _, rest, err := sampleText(continuingAs(c.m, c.tok, ids, r.channels), c.stops, c.m.EndsText, split.feed, func(each func(int) bool) ([]int, error) {
		return c.session.Generate(ids, c.maxNew, c.sampler, func(id int) bool { return !c.stop.Load() && each(id) })
	})
	if err != nil {
		return err
	}
	split.feed(rest)
	split.end()
	c.history = append(msgs, tokenizer.Message{Role: "assistant", Content: answer.String(), Reasoning: thought.String()})
	return nil
}

// sampling is what a generation_config.json says about sampling, with
// HF's GenerationConfig defaults for what it leaves out: greedy unless
// do_sample is true.
type sampling struct {
	DoSample          bool     `json:"do_sample"`
	Temperature       *float64 `json:"temperature"`
	TopK              *int     `json:"top_k"` // 50 when left out; null is none
	TopP              float64  `json:"top_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
}

// temperature is the sampler's temperature: 0 (greedy) without do_sample.
func (s sampling) temperature() float64 {
	if !s.DoSample {
		return 0
	}
	if s.Temperature == nil {
		return 1
	}
	return *s.Temperature
}

// topK is the sampler's top-k: 0 (all) for a null top_k, which HF's
// generate takes as no top-k.
func (s sampling) topK() int {
	if s.TopK == nil {
		return 0
	}
	return *s.TopK
}

// readSampling reads dir's generation_config.json, if it has one.
func readSampling(dir string) (sampling, error) {
	fifty := 50
	s := sampling{TopK: &fifty, TopP: 1}
	b, err := os.ReadFile(filepath.Join(dir, "generation_config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, "generation_config.json"), err)
	}
	return s, nil
}

// isTerminal reports whether r is a terminal (attn chat then prompts).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// lostRune returns the first character of text, spaces aside, that back
// (its decoding) lacks.
func lostRune(back, text string) (rune, bool) {
	b := []rune(strings.ReplaceAll(back, " ", ""))
	i := 0
	for _, r := range text {
		if r == ' ' {
			continue
		}
		if i >= len(b) || b[i] != r {
			return r, true
		}
		i++
	}
	return 0, false
}
