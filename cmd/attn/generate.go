package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/attn-go/attn/eval"
	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// loadLM loads a GPT model and its tokenizer from dir: a model folder (ours
// or a HuggingFace GPT-2 folder), or a run folder whose checkpoint is in
// ckpt/.
func loadLM(dir, command string) (*gpt.Model, tokenizer.Tokenizer, error) {
	dir, _, err := modelOfType(dir, command, "gpt2")
	if err != nil {
		return nil, nil, err
	}
	m, err := gpt.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := openTokenizer(dir, m.Cfg.VocabSize)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

// openTokenizer opens the tokenizer of the model folder dir and checks
// that the model's vocabulary of vocab ids holds all of its ids.
func openTokenizer(dir string, vocab int) (*tokenizer.Pipeline, error) {
	tok, err := tokenizer.Open(dir)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > vocab {
		return nil, fmt.Errorf("%s: tokenizer has %d tokens, the model only %d", dir, tok.VocabSize(), vocab)
	}
	return tok, nil
}

// checkLossless fails if ids do not decode back to text: a tokenizer with no
// unknown token (a character vocabulary, say) drops characters it does not
// know, as HuggingFace's does, which would make a loss or a prompt silently
// wrong.
func checkLossless(tok tokenizer.Tokenizer, text string, ids []int) error {
	back, err := tok.Decode(ids)
	if err != nil {
		return err
	}
	if back == text {
		return nil
	}
	common := func(a string) int { // bytes text and a share at the start
		i := 0
		for i < len(a) && i < len(text) && a[i] == text[i] {
			i++
		}
		return i
	}
	i := common(back)
	if p, ok := tok.(*tokenizer.Pipeline); ok { // the special tokens it added (Llama's <s>) left out
		if plain, err := p.DecodeWith(ids, true); err == nil {
			if plain == text {
				return nil
			}
			i = max(i, common(plain))
		}
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return fmt.Errorf("the tokenizer cannot encode character %q at byte %d (it is not in the vocabulary)", r, i)
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model folder (or a run folder from attn train)")
	prompt := fs.String("prompt", "\n", "text to continue")
	maxNew := fs.Int("max-new-tokens", 500, "tokens to generate at most")
	temp := fs.Float64("temperature", 0.8, "sampling temperature (0: greedy)")
	greedy := fs.Bool("greedy", false, "always pick the most likely token (same as --temperature 0)")
	topK := fs.Int("top-k", 200, "sample among the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 1, "sample among the most likely tokens covering this probability")
	seed := fs.Uint64("seed", 1, "random seed for sampling")
	var stops stringList
	fs.Var(&stops, "stop", "stop when this text appears (repeatable)")
	beam := fs.Int("beam", 1, "encoder-decoder models (T5): beam size (1: greedy)")
	promptFile := fs.String("prompts", "", "GPT: a file of prompts, one a line (- for standard input), each answered with a JSON line; the first line samples with --seed, the next with --seed+1, ...")
	batch := fs.Int("batch", 8, "with --prompts: prompts generated together (their tokens decoded in one step)")
	quantize := quantizeFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if fs.NArg() > 0 {
		*prompt = strings.Join(fs.Args(), " ")
	}
	dir, typ, err := modelOfType(*model, "generate", "gpt2", "llama", "t5", "mt5")
	if err != nil {
		return err
	}
	if err := checkQuantize(*quantize, typ); err != nil {
		return err
	}
	t5 := typ == "t5" || typ == "mt5"
	switch {
	case *promptFile != "" && t5:
		return fmt.Errorf("--prompts is for GPT-2 and Llama models, not a %s model", typ)
	case *promptFile != "" && *batch < 1:
		return fmt.Errorf("--batch %d; want 1 or more", *batch)
	case *beam != 1 && !t5:
		return fmt.Errorf("--beam is for T5 models; a %s model samples (--temperature, --top-k, --top-p)", typ)
	}
	set := setFlags(fs)
	if *promptFile != "" && (fs.NArg() > 0 || set["prompt"]) {
		return errors.New("give the prompts in --prompts, or one with --prompt, not both")
	}
	if *promptFile == "" && set["batch"] {
		return errors.New("--batch is for --prompts")
	}
	if typ == "t5" || typ == "mt5" {
		return generateT5(dir, *prompt, *quantize, *beam, *maxNew, stdout)
	}
	var m lm.BatchModel
	var tok tokenizer.Tokenizer
	if typ == "gpt2" {
		var g *gpt.Model
		if g, tok, err = loadLM(dir, "generate"); err == nil {
			if *promptFile != "" && *batch > 1 { // prompts decoded together
				g.BatchLayout()
			}
			m = g
		}
	} else {
		m, tok, err = loadLlamaToRun(dir, *quantize)
	}
	if err != nil {
		return err
	}
	if *greedy {
		*temp = 0
	}
	if _, err := tokenizer.OpenChatTemplate(dir); err == nil {
		// An instruct model continues a bare text oddly; its turns have a form.
		fmt.Fprintf(stderr, "attn generate: note: %s is a chat model: attn chat puts your text in its chat template\n", dir)
	}
	if *promptFile != "" {
		sampler := func(i int) *generate.Sampler {
			return &generate.Sampler{Temperature: *temp, TopK: nucleusTopK(*topK, *topP), TopP: *topP, Vocab: tok.VocabSize(), RNG: tensor.NewRNG(*seed + uint64(i))}
		}
		if err := sampler(0).Validate(); err != nil { // once, not for every line
			return err
		}
		return generateLines(m, tok, *promptFile, *batch, *maxNew, sampler, stops, stdout)
	}
	ids, err := encodePrompt(tok, *prompt)
	if err != nil {
		return err
	}
	tok = continuing(m, tok, ids)
	s := &generate.Sampler{Temperature: *temp, TopK: nucleusTopK(*topK, *topP), TopP: *topP, Vocab: tok.VocabSize(), RNG: tensor.NewRNG(*seed)}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprint(w, *prompt)
	_, _, rest, err := sampleText(tok, stops, m.EndsText, func(chunk string) {
		fmt.Fprint(w, chunk)
		w.Flush()
	}, func(each func(int) bool) ([]int, error) { return generate.Text(m, ids, *maxNew, s, each) })
	fmt.Fprintln(w, rest)
	return err
}

// generatedLine is one answer of attn generate --prompts.
type generatedLine struct {
	Prompt    string `json:"prompt"`
	Text      string `json:"text"`
	Tokens    int    `json:"tokens"`
	StopFound bool   `json:"stop_found"`
}

// generateLines answers each line of path (a prompt) with a JSON line, in
// order, generating up to batch of them at once through a Batcher.
func generateLines(m lm.BatchModel, tok tokenizer.Tokenizer, path string, batch, maxNew int, sampler func(line int) *generate.Sampler, stops []string, stdout io.Writer) error {
	b := generate.NewBatcher(m, batch)
	defer b.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	done := 0 // lines answered
	return eachBatch(path, batch, func(lines []string) error {
		// Every prompt of the batch is checked before any is generated.
		prompts := make([][]int, len(lines))
		for i, prompt := range lines {
			ids, err := encodePrompt(tok, prompt)
			if err == nil && len(ids) == 0 {
				err = errors.New("the prompt is empty")
			}
			if err != nil {
				return fmt.Errorf("line %d: %w", done+i+1, err)
			}
			prompts[i] = ids
		}
		out := make([]generatedLine, len(lines))
		errs := make([]error, len(lines))
		var wg sync.WaitGroup
		for i, prompt := range lines {
			ids := prompts[i]
			wg.Go(func() {
				var text strings.Builder
				n, stopped, rest, err := sampleText(continuing(m, tok, ids), stops, m.EndsText, func(c string) { text.WriteString(c) }, func(each func(int) bool) ([]int, error) {
					return b.Generate(context.Background(), ids, maxNew, sampler(done+i), each)
				})
				text.WriteString(rest)
				out[i], errs[i] = generatedLine{prompt, text.String(), n, stopped}, err
			})
		}
		wg.Wait()
		for i := range lines {
			if errs[i] != nil {
				return fmt.Errorf("line %d: %w", done+i+1, errs[i])
			}
			if err := enc.Encode(out[i]); err != nil {
				return err
			}
		}
		done += len(lines)
		return nil
	})
}

// encodePrompt tokenizes a prompt, failing if the tokenizer cannot encode
// all of it (see checkLossless).
func encodePrompt(tok tokenizer.Tokenizer, prompt string) ([]int, error) {
	enc, err := tok.Encode(prompt)
	if err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	if err := checkLossless(tok, prompt, enc.IDs); err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	return enc.IDs, nil
}

// sampleText runs a generation (generate.Text, or a Batcher's Generate)
// and hands emit the text as it becomes final (see textStream), ending
// early at a stop string or at an end-of-text token (ends; it is not part
// of the text). It returns the tokens sampled (the end-of-text token
// included), whether a stop string or end of text ended the text, and the
// text held back at the end, which is the caller's to send.
func sampleText(tok tokenizer.Tokenizer, stops []string, ends func(id int) bool, emit func(string), run func(each func(id int) bool) ([]int, error)) (n int, stopped bool, rest string, err error) {
	var out []int
	var st textStream
	var decodeErr error
	_, err = run(func(id int) bool {
		n++
		if ends(id) {
			stopped = true
			return false
		}
		out = append(out, id)
		var text string
		if text, decodeErr = tok.Decode(out); decodeErr != nil {
			return false
		}
		var chunk string
		chunk, stopped = st.next(text, stops)
		if chunk != "" {
			emit(chunk)
		}
		return !stopped
	})
	return n, stopped, st.rest(stops), cmp.Or(err, decodeErr)
}

// nucleusTopK returns the top-k to sample with under a top_p the user gave:
// 0, the narrowest nucleus, is the most likely token alone, as OpenAI's API
// and HuggingFace read it (generate.Sampler, whose zero value means unset,
// reads 0 as no nucleus at all).
func nucleusTopK(topK int, topP float64) int {
	if topP == 0 {
		return 1
	}
	return topK
}

// textStream hands out generated text as it becomes final: the text decoded
// so far is cut at the first stop string, and a character still being
// assembled from byte tokens, or text that could be the start of a stop
// string, is held back until the next token settles it.
type textStream struct {
	text string
	sent int // bytes of text handed out
}

// next takes the text decoded so far and returns the part newly final, and
// whether a stop string has appeared.
func (s *textStream) next(text string, stops []string) (string, bool) {
	s.text = text
	cut, stop := generate.StopAt(text, stops)
	safe := cut
	if !stop {
		safe = len(strings.TrimRight(text, "\uFFFD"))
		for _, st := range stops {
			safe = min(safe, max(s.sent, len(text)-len(st)+1))
		}
		// Held back by a stop string's length, the cut can fall inside a
		// character: it moves back to the character's start (a half sent
		// as JSON became U+FFFD).
		for safe > s.sent && safe < len(text) && !utf8.RuneStart(text[safe]) {
			safe--
		}
	}
	if safe <= s.sent {
		return "", stop
	}
	chunk := text[s.sent:safe]
	s.sent = safe
	return chunk, stop
}

// rest returns what was held back, once generation has ended.
func (s *textStream) rest(stops []string) string {
	cut, _ := generate.StopAt(s.text, stops)
	if cut <= s.sent {
		return ""
	}
	chunk := s.text[s.sent:cut]
	s.sent = cut
	return chunk
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model folder (or a run folder from attn train)")
	file := fs.String("data", "", "text file to score (a GPT or a Llama), a folder of labelled images, <label>/<image> (a ViT classifier), or labelled texts, text<TAB>label per line (a BERT classifier)")
	asJSON := fs.Bool("json", false, `print one JSON line ({"loss":...,"perplexity":...,"tokens":...} for a model; sacreBLEU's fields for --bleu)`)
	bleu := fs.Bool("bleu", false, "score the translations in the file argument against --ref files: corpus BLEU as sacreBLEU computes it (13a, case-sensitive)")
	chrf := fs.Bool("chrf", false, "like --bleu, but chrF2")
	var refs stringList
	fs.Var(&refs, "ref", "reference translations, one per line (repeatable; plain or .gz)")
	quantize := quantizeFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if *bleu || *chrf {
		if len(refs) == 0 || fs.NArg() != 1 {
			return errors.New("usage: attn eval --bleu --ref REF [--ref REF2 ...] HYP")
		}
		if *chrf {
			return eval.RunChrF(refs, fs.Arg(0), *asJSON, stdout)
		}
		return eval.RunBLEU(refs, fs.Arg(0), *asJSON, stdout)
	}
	if *file == "" {
		return errors.New("--data is required")
	}
	dir, typ, err := modelOfType(*model, "eval", "gpt2", "llama", "vit", "deit", "bert")
	if err != nil {
		return err
	}
	if err := checkQuantize(*quantize, typ); err != nil {
		return err
	}
	switch family(typ) {
	case "vit", "deit":
		return evalImages(dir, *file, *asJSON, stdout)
	case "bert":
		return evalTexts(dir, *file, *asJSON, stdout)
	}
	var m *gpt.Model
	var ll *llama.Model
	var tok tokenizer.Tokenizer
	if typ == "gpt2" {
		m, tok, err = loadLM(dir, "eval")
	} else {
		ll, tok, err = loadLlamaToRun(dir, *quantize)
	}
	if err != nil {
		return err
	}
	text, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	enc, err := tok.Encode(string(text))
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if err := checkLossless(tok, string(text), enc.IDs); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	var loss float64
	var n int
	if m != nil {
		loss, n, err = meanLoss(m, enc.IDs)
	} else {
		loss, n, err = llamaLoss(ll, enc.IDs)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"loss": loss, "perplexity": math.Exp(loss), "tokens": n})
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	fmt.Fprintf(stdout, "loss %.4f nats/token, perplexity %.3f over %d tokens\n", loss, math.Exp(loss), n)
	return nil
}

// meanLoss scores every token of ids after the first: the text is cut into
// windows of the model's context, each window predicting its tokens from
// the ones before it in the window.
func meanLoss(m *gpt.Model, ids []int) (float64, int, error) {
	if len(ids) < 2 {
		return 0, 0, errors.New("the text has fewer than 2 tokens")
	}
	window := m.Cfg.NPositions
	var sum float64
	n := 0
	for start := 0; start+1 < len(ids); start += window {
		t := min(window, len(ids)-1-start)
		loss, err := m.Loss(nil, ids[start:start+t], ids[start+1:start+t+1], 1, t)
		if err != nil {
			return 0, 0, err
		}
		sum += float64(loss.Item()) * float64(t)
		n += t
	}
	return sum / float64(n), n, nil
}
