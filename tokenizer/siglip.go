package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Siglip is HuggingFace's SiglipTokenizer, the tokenizer of the first SigLIP
// checkpoints, which ship its SentencePiece model (spiece.model) and no
// tokenizer.json. Before SentencePiece it lowercases the text as Python
// does (its do_lower_case), removes ASCII punctuation, collapses white space and
// strips it; it appends </s>. It encodes as HF's slow class does (v4.4x):
// "▁" put before the text, the model's dummy prefix turned off, and the
// text encoded after "<unk>", whose pieces are then dropped, so that
// SentencePiece keeps the leading "▁".
type Siglip struct {
	sp     *Pipeline // the model, its dummy prefix off
	lower  bool
	unkLen int // pieces of "<unk>" encoded
	eos    int
}

// LoadSiglip reads dir's spiece.model and, when there is one, its
// tokenizer_config.json's do_lower_case (true by default). The unknown and
// end tokens are SiglipTokenizer's <unk> and </s>.
func LoadSiglip(dir string) (*Siglip, error) {
	data, err := os.ReadFile(filepath.Join(dir, "spiece.model"))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	sp, err := parseSentencePiece(data, true)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", filepath.Join(dir, "spiece.model"), err)
	}
	s := &Siglip{sp: sp, lower: true}
	path := filepath.Join(dir, "tokenizer_config.json")
	cfg, err := readJSONObject(path)
	if err != nil {
		return nil, err
	}
	if raw, ok := cfg["do_lower_case"]; ok {
		if err := json.Unmarshal(raw, &s.lower); err != nil { // null leaves the default
			return nil, fmt.Errorf("tokenizer: %s: do_lower_case: %w", path, err)
		}
	}
	var ok bool
	if s.eos, ok = sp.TokenToID("</s>"); !ok {
		return nil, fmt.Errorf("tokenizer: %s: the SentencePiece model has no </s>", dir)
	}
	unk, err := sp.Encode("<unk>")
	if err != nil {
		return nil, err
	}
	s.unkLen = len(unk.IDs)
	return s, nil
}

// Encode returns text's ids, </s> last, at most maxLen of them (0: no
// limit; the text is cut, </s> kept, as HF's truncation cuts).
func (s *Siglip) Encode(text string, maxLen int) ([]int, error) {
	if s.lower {
		text = pyLower(text)
	}
	e, err := s.sp.Encode("<unk>" + canonicalize("▁"+strings.ReplaceAll(text, "▁", " ")))
	if err != nil {
		return nil, err
	}
	ids := e.IDs[min(s.unkLen, len(e.IDs)):]
	if maxLen > 0 && len(ids) > maxLen-1 {
		ids = ids[:max(maxLen-1, 0)]
	}
	return append(ids, s.eos), nil
}

// TokenToID returns the id of a piece.
func (s *Siglip) TokenToID(tok string) (int, bool) { return s.sp.TokenToID(tok) }

// VocabSize is the number of pieces.
func (s *Siglip) VocabSize() int { return s.sp.VocabSize() }

// canonicalize is SiglipTokenizer's canonicalize_text: ASCII punctuation
// (Python's string.punctuation) removed, runs of white space (Python's)
// made one space, the ends stripped.
func canonicalize(text string) string {
	var b strings.Builder
	space := false
	for _, r := range text {
		switch {
		case r < 0x80 && isPunctuation(r): // string.punctuation
		case pySpace(r):
			space = true
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
	}
	return b.String()
}
