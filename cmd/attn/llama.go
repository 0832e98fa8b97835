package main

import (
	"fmt"
	"strings"

	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/tokenizer"
)

// loadLlama loads a Llama-family folder (llama, qwen2) and its tokenizer.
func loadLlama(dir string) (*llama.Model, tokenizer.Tokenizer, error) {
	m, err := llama.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > m.Cfg.VocabSize {
		return nil, nil, fmt.Errorf("%s: tokenizer has %d tokens, the model only %d", dir, tok.VocabSize(), m.Cfg.VocabSize)
	}
	return m, tok, nil
}

// continuing returns the tokenizer that decodes a generation after the
// prompt ids: for a Llama-family model, as the continuation of the
// prompt's last token (see continuation); GPT-2's byte-level text decodes
// alone.
func continuing(m lm.Model, tok tokenizer.Tokenizer, ids []int) tokenizer.Tokenizer {
	if _, ok := m.(*llama.Model); ok && len(ids) > 0 {
		return continuation{tok, ids[len(ids)-1]}
	}
	return tok
}

// continuation decodes generated tokens as what follows the prompt's last
// token, special tokens skipped: decode(last + ids) less decode(last), as
// HF's text-generation pipeline cuts the prompt's text off the whole
// decoding. A SentencePiece-style decoder (Llama 2's) drops the space that
// starts a text, so decoding the new tokens alone would glue the first
// word to the prompt.
type continuation struct {
	tokenizer.Tokenizer
	last int
}

// Decode implements tokenizer.Tokenizer.
func (c continuation) Decode(ids []int) (string, error) {
	decode := c.Tokenizer.Decode
	if p, ok := c.Tokenizer.(*tokenizer.Pipeline); ok {
		decode = func(ids []int) (string, error) { return p.DecodeWith(ids, true) }
	}
	head, err := decode([]int{c.last})
	if err != nil {
		return "", err
	}
	all, err := decode(append([]int{c.last}, ids...))
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(all, head); ok {
		return rest, nil
	}
	return decode(ids)
}
