package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/attn-go/attn/model/marian"
	"github.com/attn-go/attn/tokenizer"
)

// nllbMT is an M2M100 folder (NLLB-200) with its tokenizer.json: a source
// is its language's token, the text's tokens and </s>, as NllbTokenizer
// encodes it; the translation's first token is forced to the target
// language's (HF's forced_bos_token_id). Languages are named by their
// tokens (NLLB's eng_Latn, fra_Latn, deu_Latn, …).
type nllbMT struct {
	m   *marian.Model
	tok *tokenizer.Pipeline
}

// loadNLLB loads an M2M100 folder with its tokenizer.json.
func loadNLLB(dir string) (*nllbMT, error) {
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
	return &nllbMT{m: m, tok: tok}, nil
}

// langs returns the tokens of the source and target languages, named
// (what) by --src-lang and --tgt-lang or a request's src_lang and
// tgt_lang.
func (mt *nllbMT) langs(src, tgt string, what [2]string) (int, int, error) {
	if src == "" || tgt == "" {
		return 0, 0, fmt.Errorf("an M2M100 (NLLB) model translates between the languages %s and %s name, by their tokens (NLLB's eng_Latn, fra_Latn, deu_Latn, …)", what[0], what[1])
	}
	var ids [2]int
	for i, code := range []string{src, tgt} {
		id, ok := mt.tok.TokenToID(code)
		if !ok || !mt.language(code) {
			return 0, 0, fmt.Errorf("%s %q is not a language token of the tokenizer (NLLB's are special tokens such as eng_Latn and fra_Latn)", what[i], code)
		}
		ids[i] = id
	}
	return ids[0], ids[1], nil
}

// language reports whether tok is a special added token of the tokenizer
// other than its pad, start, end and unknown ones: NLLB's languages are.
func (mt *nllbMT) language(tok string) bool {
	for _, a := range mt.tok.AddedTokens() {
		if a.Content == tok {
			id, _ := mt.tok.TokenToID(tok)
			c := mt.m.Cfg
			// NLLB's other special tokens: <s>, <pad>, </s>, <unk>, <mask>.
			return a.Special && id != c.PadTokenID && id != c.EOSTokenID && id != c.DecoderStartTokenID && tok != "<unk>" && tok != "<s>" && tok != "<mask>"
		}
	}
	return false
}

// encode tokenizes lines as [source language] text </s>, cut to the
// model's positions.
func (mt *nllbMT) encode(lines []string, src int) ([][]int, error) {
	srcs := make([][]int, len(lines))
	eos := mt.m.Cfg.EOSTokenID
	for i, line := range lines {
		enc, err := mt.tok.EncodeWith(line, nil, false)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		ids := enc.IDs[:min(len(enc.IDs), mt.m.Cfg.MaxPositions-2)]
		srcs[i] = append(append([]int{src}, ids...), eos)
	}
	return srcs, nil
}

// translate writes the translation of each line from language src to tgt
// (their tokens), decoded together (see translateIDs).
func (mt *nllbMT) translate(lines []string, src, tgt, beam int, alpha float64, w io.Writer) error {
	srcs, err := mt.encode(lines, src)
	if err != nil {
		return err
	}
	out, err := mt.translateIDs(srcs, tgt, beam, alpha)
	if err != nil {
		return err
	}
	for _, s := range out {
		fmt.Fprintln(w, s)
	}
	return nil
}

// translateIDs decodes encoded sources together with beam search (beam 1:
// greedy) from decoder_start_token_id, the first token forced to tgt, with
// GNMT's length penalty (exponent alpha); special tokens are left out of
// the text.
func (mt *nllbMT) translateIDs(srcs [][]int, tgt, beam int, alpha float64) ([]string, error) {
	// NLLB's embeddings have rows past its tokenizer's ids.
	hs, err := beamMarian(mt.m, srcs, tgt, mt.tok.VocabSize(), beam, alpha)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		if out[i], err = mt.tok.DecodeWith(h.Tokens, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}
