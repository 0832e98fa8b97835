package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/t5"
	"github.com/attn-go/attn/tokenizer"
)

// t5Model is a T5 folder loaded for text-to-text generation.
type t5Model struct {
	m   *t5.Model
	tok *tokenizer.Pipeline
}

func loadT5(dir string) (*t5Model, error) {
	m, err := t5.Load(dir)
	if err != nil {
		return nil, err
	}
	tok, err := t5Tokenizer(dir)
	if err != nil {
		return nil, err
	}
	return &t5Model{m: m, tok: tok}, nil
}

// t5Tokenizer opens the folder's tokenizer.json or, in the folders of the
// first T5s and of mT5 that ship only spiece.model, the SentencePiece model
// as T5Tokenizer runs it (its legacy encoding; answer appends </s>, the
// one token T5Tokenizer adds).
func t5Tokenizer(dir string) (*tokenizer.Pipeline, error) {
	_, errJSON := os.Stat(filepath.Join(dir, "tokenizer.json"))
	sp := filepath.Join(dir, "spiece.model")
	if _, errSP := os.Stat(sp); errJSON != nil && errSP == nil {
		return tokenizer.LoadSentencePiece(sp)
	}
	return tokenizer.Open(dir)
}

// answer encodes a prompt with its end token and decodes the answer with
// beam search (beam 1 is greedy), at most maxNew tokens; it returns the
// text and its number of tokens. A prompt of more than maxPrompt tokens
// (0: no limit) is refused: the encoder's memory grows with its square.
func (tm *t5Model) answer(prompt string, beam, maxNew, maxPrompt int, done <-chan struct{}) (string, int, error) {
	// The file's padding would put pads before </s>.
	enc, err := truncatedOnly(tm.tok, nil).EncodeWith(prompt, nil, true) // T5's post-processor appends </s>
	if err != nil {
		return "", 0, fmt.Errorf("prompt: %w", err)
	}
	ids := enc.IDs
	if len(ids) == 0 || ids[len(ids)-1] != tm.m.Cfg.EOSTokenID {
		ids = append(ids, tm.m.Cfg.EOSTokenID)
	}
	if maxPrompt > 0 && len(ids) > maxPrompt {
		return "", 0, fmt.Errorf("the prompt is %d tokens; want at most %d", len(ids), maxPrompt)
	}
	d, err := tm.m.NewDecoder(ids, make([]bool, len(ids)), 1, len(ids), beam)
	if err != nil {
		return "", 0, err
	}
	hs, err := generate.Beam(d, 1, generate.BeamOpts{Beam: beam, Alpha: 0.6, MaxLen: maxNew, BOS: tm.m.Cfg.DecoderStartTokenID, EOS: tm.m.Cfg.EOSTokenID, Vocab: tm.tok.VocabSize(), Done: done})
	if err != nil {
		return "", 0, err
	}
	text, err := tm.tok.DecodeWith(hs[0].Tokens, true)
	return strings.TrimSpace(text), len(hs[0].Tokens), err
}

// generateT5 answers a text-to-text prompt with a T5 folder (HuggingFace
// layout with tokenizer.json).
func generateT5(dir, prompt, quantize string, beam, maxNew int, stdout io.Writer) error {
	tm, err := loadT5(dir)
	if err != nil {
		return err
	}
	if quantize == "q8" {
		tm.m.QuantizeQ8()
	}
	text, _, err := tm.answer(prompt, beam, maxNew, 0, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, text)
	return nil
}
