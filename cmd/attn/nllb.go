package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/marian"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/tokenizer"
)

// nllbMT is an M2M100 folder (NLLB-200) with its tokenizer.json: a source
// is its language's token, the text's tokens and </s>, as NllbTokenizer
// encodes it; the translation's first token is forced to the target
// language's (HF's forced_bos_token_id).
type nllbMT struct {
	m        *marian.Model
	tok      *tokenizer.Pipeline
	src, tgt int // the language tokens
}

// loadNLLB loads an M2M100 folder to translate from language src to tgt,
// named by their tokens (NLLB's eng_Latn, fra_Latn, …).
func loadNLLB(dir, src, tgt string) (*nllbMT, error) {
	if src == "" || tgt == "" {
		return nil, errors.New("an M2M100 (NLLB) model translates between the languages --src-lang and --tgt-lang name, by their tokens (NLLB's eng_Latn, fra_Latn, deu_Latn, …)")
	}
	m, err := marian.Load(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "tokenizer.json")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: an M2M100 folder's tokenizer is read from its tokenizer.json (NLLB's folders have one): %w", dir, err)
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > m.Cfg.VocabSize {
		return nil, fmt.Errorf("%s: tokenizer.json has %d tokens, the model %d", dir, tok.VocabSize(), m.Cfg.VocabSize)
	}
	mt := &nllbMT{m: m, tok: tok}
	for _, l := range []struct {
		flag, code string
		id         *int
	}{{"--src-lang", src, &mt.src}, {"--tgt-lang", tgt, &mt.tgt}} {
		id, ok := tok.TokenToID(l.code)
		if !ok {
			return nil, fmt.Errorf("%s %q is not a token of %s (NLLB's languages are tokens such as eng_Latn and fra_Latn)", l.flag, l.code, path)
		}
		*l.id = id
	}
	return mt, nil
}

// encode tokenizes lines as [source language] text </s>, cut to the
// model's positions.
func (mt *nllbMT) encode(lines []string) ([][]int, error) {
	srcs := make([][]int, len(lines))
	eos := mt.m.Cfg.EOSTokenID
	for i, line := range lines {
		enc, err := mt.tok.EncodeWith(line, nil, false)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		ids := enc.IDs[:min(len(enc.IDs), mt.m.Cfg.MaxPositions-2)]
		srcs[i] = append(append([]int{mt.src}, ids...), eos)
	}
	return srcs, nil
}

// translate writes the translation of each line, decoding them together
// with beam search (beam 1: greedy) from decoder_start_token_id, the first
// token forced to the target language, with GNMT's length penalty
// (exponent alpha); special tokens are left out of the text.
func (mt *nllbMT) translate(lines []string, beam int, alpha float64, w io.Writer) error {
	srcs, err := mt.encode(lines)
	if err != nil {
		return err
	}
	src := transformer.MakeBatch(srcs, mt.m.Cfg.PadTokenID)
	d, err := mt.m.NewDecoder(src.IDs, src.Pad, src.B, src.T, beam)
	if err != nil {
		return err
	}
	d.Forced = mt.tgt
	maxLens := make([]int, len(srcs)) // each source's own, as if alone
	for i, s := range srcs {
		maxLens[i] = min(len(s)+50, mt.m.Cfg.MaxPositions)
	}
	hs, err := generate.Beam(d, src.B, generate.BeamOpts{
		Beam: beam, Alpha: alpha, MaxLens: maxLens,
		BOS: mt.m.Cfg.DecoderStartTokenID, EOS: mt.m.Cfg.EOSTokenID,
	})
	if err != nil {
		return err
	}
	for _, h := range hs {
		s, err := mt.tok.DecodeWith(h.Tokens, true)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, s)
	}
	return nil
}
