package marian

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/attn-go/attn/tokenizer"
)

// The special tokens of MarianTokenizer, with its defaults.
const (
	unkToken = "<unk>"
	eosToken = "</s>"
	padToken = "<pad>"
)

// languageCode matches target-language tokens such as >>fra<< that
// multilingual opus-mt models read at the start of the source text.
var languageCode = regexp.MustCompile(`>>.+<<`)

// Tokenizer is HuggingFace's MarianTokenizer for an opus-mt folder: the
// source text is split by source.spm, the pieces are looked up in
// vocab.json (one vocabulary for both sides) and </s> ends the sequence;
// target ids are turned back into pieces by vocab.json and into text by
// target.spm. It is safe for concurrent use.
type Tokenizer struct {
	source, target *tokenizer.Pipeline
	vocab          map[string]int // piece -> id
	pieces         map[int]string // id -> piece
	unk, eos, pad  int
	special        []string // split out of the text before SentencePiece runs
}

// LoadTokenizer reads source.spm, target.spm and vocab.json from dir. The
// vocabulary must hold <unk>, </s> and <pad>.
func LoadTokenizer(dir string) (*Tokenizer, error) {
	t := &Tokenizer{special: []string{eosToken, unkToken, padToken}}
	var err error
	for _, f := range []struct {
		name string
		p    **tokenizer.Pipeline
	}{{"source.spm", &t.source}, {"target.spm", &t.target}} {
		path := filepath.Join(dir, f.name)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("marian: tokenizer: %s is missing: %w", f.name, err)
		}
		if *f.p, err = tokenizer.LoadSentencePiece(path); err != nil {
			return nil, fmt.Errorf("marian: %w", err)
		}
	}
	path := filepath.Join(dir, "vocab.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("marian: tokenizer: vocab.json is missing: %w", err)
	}
	if err := json.Unmarshal(b, &t.vocab); err != nil {
		return nil, fmt.Errorf("marian: tokenizer: %s: want an object of piece to id: %w", path, err)
	}
	t.pieces = make(map[int]string, len(t.vocab))
	for p, id := range t.vocab {
		if id < 0 {
			return nil, fmt.Errorf("marian: tokenizer: %s: %q has negative id %d", path, p, id)
		}
		if q, dup := t.pieces[id]; dup {
			return nil, fmt.Errorf("marian: tokenizer: %s: %q and %q share id %d", path, p, q, id)
		}
		t.pieces[id] = p
	}
	for _, s := range []struct {
		tok string
		id  *int
	}{{unkToken, &t.unk}, {eosToken, &t.eos}, {padToken, &t.pad}} {
		id, ok := t.vocab[s.tok]
		if !ok {
			return nil, fmt.Errorf("marian: tokenizer: %s has no %s token", path, s.tok)
		}
		*s.id = id
	}
	return t, nil
}

// PadID is the id of <pad>, which pads batches and, in opus-mt models,
// starts decoding.
func (t *Tokenizer) PadID() int { return t.pad }

// EOSID is the id of </s>, which ends every encoded sequence.
func (t *Tokenizer) EOSID() int { return t.eos }

// UnkID is the id pieces missing from vocab.json get.
func (t *Tokenizer) UnkID() int { return t.unk }

// VocabSize is the number of entries in vocab.json.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// Encode returns the ids of text followed by </s>, as MarianTokenizer's
// tokenizer(text).input_ids: the special tokens written in the text are
// split out first (nothing around them is stripped); in each part between
// them a leading language code such as >>fra<< becomes one token and every
// language code is removed from the text, which source.spm then splits into
// pieces; pieces missing from vocab.json become <unk>.
func (t *Tokenizer) Encode(text string) ([]int, error) {
	var ids []int
	for len(text) > 0 {
		start, tok := t.nextSpecial(text)
		if start > 0 {
			var err error
			if ids, err = t.encodePart(ids, text[:start]); err != nil {
				return nil, err
			}
		}
		if tok == "" {
			break
		}
		ids = append(ids, t.vocab[tok])
		text = text[start+len(tok):]
	}
	return append(ids, t.eos), nil
}

// nextSpecial returns where the first special token in s starts and which
// one it is (the longest there), or len(s) and "".
func (t *Tokenizer) nextSpecial(s string) (int, string) {
	best, tok := len(s), ""
	for _, sp := range t.special {
		if i := strings.Index(s, sp); i >= 0 && (i < best || i == best && len(sp) > len(tok)) {
			best, tok = i, sp
		}
	}
	return best, tok
}

// encodePart is MarianTokenizer's _tokenize and _convert_token_to_id.
func (t *Tokenizer) encodePart(ids []int, text string) ([]int, error) {
	if loc := languageCode.FindStringIndex(text); loc != nil && loc[0] == 0 {
		ids = append(ids, t.id(text[:loc[1]]))
	}
	text = languageCode.ReplaceAllLiteralString(text, "")
	e, err := t.source.EncodeWith(text, nil, false)
	if err != nil {
		return nil, fmt.Errorf("marian: tokenizer: %w", err)
	}
	for _, p := range e.Tokens {
		ids = append(ids, t.id(p))
	}
	return ids, nil
}

func (t *Tokenizer) id(piece string) int {
	if id, ok := t.vocab[piece]; ok {
		return id
	}
	return t.unk
}

// Decode turns target ids into text as MarianTokenizer's decode(ids,
// skip_special_tokens=True) does: <pad>, </s>, <unk> and ids outside
// vocab.json are left out, the pieces of the others are joined by
// target.spm's decoder (▁ becomes a space, the leading one is dropped, and a
// piece target.spm does not know is kept as it is, its ▁ turned into
// spaces), and surrounding whitespace is trimmed.
func (t *Tokenizer) Decode(ids []int) string {
	pieces := make([]string, 0, len(ids))
	for _, id := range ids {
		p, ok := t.pieces[id]
		if !ok || id == t.pad || id == t.eos || id == t.unk {
			continue
		}
		pieces = append(pieces, p)
	}
	if len(pieces) == 0 {
		return ""
	}
	s := strings.ReplaceAll(t.target.DecodeTokens(pieces), "\u2581", " ")
	return strings.TrimFunc(s, isPySpace)
}

// isPySpace is Python's str.isspace, which str.strip trims: Go's
// unicode.IsSpace and the separators U+001C to U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1C && r <= 0x1F }
