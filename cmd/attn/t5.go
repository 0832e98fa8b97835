package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/t5"
	"github.com/attn-go/attn/tokenizer"
)

// generateT5 answers a text-to-text prompt with a T5 folder (HuggingFace
// layout with tokenizer.json): the prompt is encoded with its end token, and
// the answer decoded with beam search (beam 1 is greedy).
func generateT5(dir, prompt string, beam, maxNew int, stdout io.Writer) error {
	m, err := t5.Load(dir)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Open(dir)
	if err != nil {
		return err
	}
	enc, err := tok.EncodeWith(prompt, nil, true) // T5's post-processor appends </s>
	if err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	ids := enc.IDs
	if len(ids) == 0 || ids[len(ids)-1] != m.Cfg.EOSTokenID {
		ids = append(ids, m.Cfg.EOSTokenID)
	}
	d, err := m.NewDecoder(ids, make([]bool, len(ids)), 1, len(ids), beam)
	if err != nil {
		return err
	}
	hs, err := generate.Beam(d, 1, generate.BeamOpts{Beam: beam, Alpha: 0.6, MaxLen: maxNew, BOS: m.Cfg.DecoderStartTokenID, EOS: m.Cfg.EOSTokenID})
	if err != nil {
		return err
	}
	text, err := tok.DecodeWith(hs[0].Tokens, true)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.TrimSpace(text))
	return nil
}
