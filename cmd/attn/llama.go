package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// loadLlama loads a Llama-family folder (llama and llamaLike's types) and
// its tokenizer.
func loadLlama(dir string) (*llama.Model, tokenizer.Tokenizer, error) {
	return generating(loadLlamaWith(dir, llama.Load))
}

// generating passes on a loaded model that generates, and refuses an
// encoder (EmbeddingGemma's) by name.
func generating(m *llama.Model, tok tokenizer.Tokenizer, err error) (*llama.Model, tokenizer.Tokenizer, error) {
	if err == nil && m.Cfg.Bidirectional {
		return nil, nil, errors.New("the model attends both ways (use_bidirectional_attention: an encoder, EmbeddingGemma): it embeds (attn embed, attn serve with its sentence-transformers modules.json), it does not generate")
	}
	return m, tok, err
}

// loadLlamaToRun is loadLlama for inference, loading as llamaLoader says.
func loadLlamaToRun(dir, quantize string) (*llama.Model, tokenizer.Tokenizer, error) {
	return generating(loadLlamaWith(dir, llamaLoader(quantize)))
}

// llamaLoader returns how a Llama-family folder loads for inference: a
// checkpoint stored in BF16 or F16 keeps its matrices so (llama.LoadHalf),
// read straight from the file into half the memory, decoding in about half
// the time, with the same numbers; with quantize "q8" the matrices are
// quantized to 8 bits as they load (llama.LoadQ8).
func llamaLoader(quantize string) func(dir string) (*llama.Model, error) {
	if quantize == "q8" {
		return llama.LoadQ8
	}
	return llama.LoadHalf
}

// quantizeFlag defines --quantize on fs.
func quantizeFlag(fs *flag.FlagSet) *string {
	return fs.String("quantize", "", "q8: a Llama-family or T5 model's (or, for translate and serve, a Marian's or NLLB's) matrices quantized to 8 bits as it loads (Q8_0: about 1.1 bytes a weight; decoding faster, the numbers slightly changed)")
}

// checkQuantize refuses a --quantize other than q8, or for a model that is
// neither of the Llama family, a T5 nor a Marian or NLLB translator.
func checkQuantize(quantize, typ string) error {
	switch {
	case quantize == "":
		return nil
	case quantize != "q8":
		return fmt.Errorf("--quantize %q; want q8", quantize)
	case family(typ) != "llama" && typ != "marian" && typ != "m2m_100" && typ != "t5" && typ != "mt5":
		return fmt.Errorf("--quantize is for Llama-family models (%s), T5, Marian and M2M100 (NLLB) translators; this is a %s model", llamaTypes(), typ)
	}
	return nil
}

func loadLlamaWith(dir string, load func(string) (*llama.Model, error)) (*llama.Model, tokenizer.Tokenizer, error) {
	m, err := load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := openTokenizer(dir, m.Cfg.VocabSize)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

// continuing returns the tokenizer that decodes a generation after the
// prompt ids: for a Llama-family model, as the continuation of the
// prompt's last token (see continuation); GPT-2's byte-level text decodes
// alone.
func continuing(m lm.Model, tok tokenizer.Tokenizer, ids []int) tokenizer.Tokenizer {
	return continuingAs(m, tok, ids, false)
}

// continuingAs is continuing, with the special tokens kept in the text
// when keepSpecial is set (a harmony reply's markers, which the chat
// endpoint reads).
func continuingAs(m lm.Model, tok tokenizer.Tokenizer, ids []int, keepSpecial bool) tokenizer.Tokenizer {
	if _, ok := m.(*llama.Model); !keepSpecial && (!ok || len(ids) == 0) {
		return tok
	}
	c := continuation{Tokenizer: tok, keepSpecial: keepSpecial}
	// The head is the prompt's last token, or as many of its last tokens
	// (up to 8) as it takes to end on a whole character: a trailing run of
	// byte tokens decodes with the bytes generated after it.
	for n := 1; n <= min(8, len(ids)); n++ {
		c.head = ids[len(ids)-n:]
		text, err := c.decode(c.head)
		if err == nil && !strings.HasSuffix(text, "\uFFFD") {
			break
		}
	}
	return c
}

// continuation decodes generated tokens as what follows the prompt's last
// token, special tokens skipped (unless keepSpecial): decode(last + ids)
// less decode(last), as
// HF's text-generation pipeline cuts the prompt's text off the whole
// decoding. A SentencePiece-style decoder (Llama 2's) drops the space that
// starts a text, so decoding the new tokens alone would glue the first
// word to the prompt.
type continuation struct {
	tokenizer.Tokenizer
	head        []int // the prompt's last tokens
	keepSpecial bool
}

// decode decodes ids, special tokens skipped where the tokenizer can
// (unless keepSpecial).
func (c continuation) decode(ids []int) (string, error) {
	if p, ok := c.Tokenizer.(*tokenizer.Pipeline); ok {
		return p.DecodeWith(ids, !c.keepSpecial)
	}
	return c.Tokenizer.Decode(ids)
}

// Decode implements tokenizer.Tokenizer.
func (c continuation) Decode(ids []int) (string, error) {
	head, err := c.decode(c.head)
	if err != nil {
		return "", err
	}
	all, err := c.decode(append(slices.Clip(c.head), ids...))
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(all, head); ok {
		return rest, nil
	}
	return c.decode(ids)
}

// llamaLoss scores every token of ids after the first, as meanLoss does for
// a GPT: the text is cut into windows of the model's context (at most
// llamaEvalWindow tokens), each predicting its tokens from the ones before
// it in the window, run through the cache a chunk at a time so that only a
// chunk's logits (a chunk × the vocabulary) are held at once.
func llamaLoss(m *llama.Model, ids []int) (float64, int, error) {
	if len(ids) < 2 {
		return 0, 0, errors.New("the text has fewer than 2 tokens")
	}
	window := min(m.Window(), llamaEvalWindow)
	v := m.Cfg.VocabSize
	var sum float64
	n := 0
	for start := 0; start+1 < len(ids); start += window {
		t := min(window, len(ids)-1-start)
		c := m.NewCache()
		for at := 0; at < t; at += llamaEvalChunk {
			k := min(llamaEvalChunk, t-at)
			logits, err := m.Step(c, ids[start+at:start+at+k])
			if err != nil {
				return 0, 0, err
			}
			for r := range k {
				row := logits.Data[r*v : (r+1)*v]
				sum += logSumExp(row) - float64(row[ids[start+at+r+1]])
			}
		}
		n += t
	}
	return sum / float64(n), n, nil
}

// The windows and chunks of llamaLoss (variables, so that tests can cut
// short texts).
var (
	llamaEvalWindow = 4096
	llamaEvalChunk  = 256
)

// logSumExp returns log Σ e^x, in float64.
func logSumExp(x []float32) float64 {
	mx := float64(slices.Max(x))
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

// runEmbedDecoder writes the embedding of each line of input (a file, or
// stdin for "" or "-") by a decoder-only model (see decoderEmbedder); pool
// and normalize, when set, override its folder's choice.
func runEmbedDecoder(dir string, pool bert.Pooling, normalize *bool, promptName string, prompt *string, dims int, input string, batch int, stdout io.Writer) error {
	d, err := loadDecoderEmbedder(dir, "")
	if err != nil {
		return err
	}
	e, err := d.e.with(promptName, prompt, pool, normalize)
	if err != nil {
		return err
	}
	if err := checkDims(dims, e.size(d.m.Cfg.Hidden)); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	n := 0
	return eachBatch(input, max(batch, 1), func(lines []string) error { // lines read, then written, together
		vecs := make([][]float32, 0, len(lines))
		for _, l := range lines {
			n++
			v, _, err := d.embed(l, e)
			if err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
			vecs = append(vecs, v)
		}
		return writeEmbeddings(w, shortenAll(vecs, dims, e.normalize))
	})
}

// decoderEmbedder embeds texts with a decoder-only model (Qwen3-Embedding):
// its last hidden states, after the final norm, pooled (by default from the
// last token, the one that has seen the whole text) and normalised as its
// sentence-transformers folder says, whose texts are also stripped,
// lowercased if it says so and cut to max_seq_length, as
// sentence-transformers does. Texts run one at a time.
type decoderEmbedder struct {
	m   *llama.Model
	tok tokenizer.Tokenizer
	e   embedding // the folder's way of embedding
}

// loadDecoderEmbedder loads a Llama-family folder to embed with (its
// matrices quantized as --quantize says), without its output layer, which
// an embedding model saved as its base model (Qwen3Model) does not have.
func loadDecoderEmbedder(dir, quantize string) (*decoderEmbedder, error) {
	load := llama.LoadEncoder
	if quantize == "q8" {
		load = llama.LoadEncoderQ8
	}
	m, tok, err := loadLlamaWith(dir, load)
	if err != nil {
		return nil, err
	}
	st, err := bert.LoadSentence(dir)
	if err != nil {
		return nil, err
	}
	e := embedding{poolings: []bert.Pooling{bert.PoolLastToken}, maxLen: m.Window()}
	if st != nil {
		if e, err = sentenceEmbedding(st, m.Window()); err != nil {
			return nil, err
		}
	}
	if p, ok := tok.(*tokenizer.Pipeline); ok {
		tok = truncatedOnly(p, &tokenizer.Truncation{MaxLength: e.maxLen, Strategy: "LongestFirst", Direction: "Right"})
	}
	return &decoderEmbedder{m: m, tok: tok, e: e}, nil
}

// embed returns text's embedding as e says, and its number of tokens.
func (d *decoderEmbedder) embed(text string, e embedding) ([]float32, int, error) {
	text = e.prompt + text
	if e.strip {
		text = strings.TrimSpace(text)
	}
	if e.lowercase {
		text = strings.ToLower(text)
	}
	enc, err := d.tok.Encode(text)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case len(enc.IDs) == 0: // an empty (or, stripped, blank) text, and a tokenizer that adds no token
		return nil, 0, errors.New("no tokens to embed: the text is empty or blank, and the tokenizer adds no special token")
	case len(enc.IDs) > e.maxLen:
		return nil, 0, fmt.Errorf("%d tokens; the model takes at most %d", len(enc.IDs), e.maxLen)
	}
	h, err := d.m.Hidden(enc.IDs)
	if err != nil {
		return nil, 0, err
	}
	v, err := e.vectors(tensor.FromSlice(h.Data, 1, h.Shape[0], h.Shape[1]), nil)
	if err != nil {
		return nil, 0, err
	}
	return v[0], len(enc.IDs), nil
}
