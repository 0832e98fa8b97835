package main

import (
	"fmt"
	"io"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/marian"
	"github.com/attn-go/attn/model/transformer"
)

// marianMT is a HuggingFace Marian (opus-mt) folder: the model and its
// SentencePiece tokenizer (source.spm, target.spm, vocab.json).
type marianMT struct {
	m   *marian.Model
	tok *marian.Tokenizer
}

func loadMarian(dir string) (*marianMT, error) {
	m, err := marian.Load(dir)
	if err != nil {
		return nil, err
	}
	tok, err := marian.LoadTokenizer(dir)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > m.Cfg.VocabSize {
		return nil, fmt.Errorf("%s: vocab.json has %d tokens, the model %d", dir, tok.VocabSize(), m.Cfg.VocabSize)
	}
	if tok.PadID() != m.Cfg.PadTokenID || tok.EOSID() != m.Cfg.EOSTokenID {
		return nil, fmt.Errorf("%s: vocab.json's <pad> and </s> are %d and %d, config.json's pad_token_id and eos_token_id %d and %d",
			dir, tok.PadID(), tok.EOSID(), m.Cfg.PadTokenID, m.Cfg.EOSTokenID)
	}
	return &marianMT{m: m, tok: tok}, nil
}

// translate writes the translation of each line, decoding them together
// with beam search (beam 1: greedy) from decoder_start_token_id, as HF's
// generate does, with GNMT's length penalty (exponent alpha).
func (mt *marianMT) translate(lines []string, beam int, alpha float64, w io.Writer) error {
	srcs, err := mt.encode(lines)
	if err != nil {
		return err
	}
	out, err := mt.translateIDs(srcs, beam, alpha)
	if err != nil {
		return err
	}
	for _, s := range out {
		fmt.Fprintln(w, s)
	}
	return nil
}

// beamMarian decodes encoded sources together with beam search (beam 1:
// greedy) from decoder_start_token_id, each for at most its own length
// plus 50 tokens, as if alone; forced, when not negative, is the first
// token (Decoder.Forced), and vocab, when positive, bounds the tokens.
func beamMarian(m *marian.Model, srcs [][]int, forced, vocab, beam int, alpha float64) ([]generate.Hypothesis, error) {
	src := transformer.MakeBatch(srcs, m.Cfg.PadTokenID)
	d, err := m.NewDecoder(src.IDs, src.Pad, src.B, src.T, beam)
	if err != nil {
		return nil, err
	}
	d.Forced = forced
	maxLens := make([]int, len(srcs))
	for i, s := range srcs {
		maxLens[i] = min(len(s)+50, m.Cfg.MaxPositions)
	}
	return generate.Beam(d, src.B, generate.BeamOpts{
		Beam: beam, Alpha: alpha, MaxLens: maxLens, Vocab: vocab,
		BOS: m.Cfg.DecoderStartTokenID, EOS: m.Cfg.EOSTokenID,
	})
}

// encode tokenizes lines with their </s>, cut to the model's positions.
func (mt *marianMT) encode(lines []string) ([][]int, error) {
	srcs := make([][]int, len(lines))
	for i, line := range lines {
		ids, err := mt.tok.Encode(line)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		if limit := mt.m.Cfg.MaxPositions; len(ids) > limit { // keep </s> at the end
			ids = append(ids[:limit-1], mt.tok.EOSID())
		}
		srcs[i] = ids // never empty: </s> ends every source
	}
	return srcs, nil
}

// translateIDs decodes encoded sources together (see translate).
func (mt *marianMT) translateIDs(srcs [][]int, beam int, alpha float64) ([]string, error) {
	hs, err := beamMarian(mt.m, srcs, -1, 0, beam, alpha)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = mt.tok.Decode(h.Tokens)
	}
	return out, nil
}
