package tokenizer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Chars is a character-level tokenizer: one id per distinct character of a
// training text, in code point order, as nanoGPT's shakespeare_char uses.
// It has no special tokens; a pair is encoded as the two texts in a row.
type Chars struct {
	runes []rune
	ids   map[rune]int
}

var _ Tokenizer = (*Chars)(nil)

// NewChars builds the vocabulary from the characters of text. Invalid UTF-8
// counts as U+FFFD.
func NewChars(text string) *Chars {
	seen := map[rune]bool{}
	for _, r := range text {
		seen[r] = true
	}
	c := &Chars{ids: map[rune]int{}}
	for r := range seen {
		c.runes = append(c.runes, r)
	}
	sort.Slice(c.runes, func(i, j int) bool { return c.runes[i] < c.runes[j] })
	for i, r := range c.runes {
		c.ids[r] = i
	}
	return c
}

// Encode implements Tokenizer; a character outside the vocabulary is an error.
func (c *Chars) Encode(text string) (*Encoding, error) {
	e := newEncoding(utf8.RuneCountInString(text))
	if err := c.appendText(e, text, 0); err != nil {
		return nil, err
	}
	return e, nil
}

// EncodePair implements Tokenizer.
func (c *Chars) EncodePair(a, b string) (*Encoding, error) {
	e := newEncoding(utf8.RuneCountInString(a) + utf8.RuneCountInString(b))
	if err := c.appendText(e, a, 0); err != nil {
		return nil, err
	}
	if err := c.appendText(e, b, 1); err != nil {
		return nil, err
	}
	return e, nil
}

func (c *Chars) appendText(e *Encoding, text string, seq int) error {
	for i, r := range text {
		id, ok := c.ids[r]
		if !ok {
			return fmt.Errorf("chars: character %q at byte %d is not in the vocabulary", r, i)
		}
		e.appendToken(id, string(r), [2]int{i, i + utf8.RuneLen(r)}, seq, 0, len(e.IDs), seq)
	}
	return nil
}

// Decode implements Tokenizer.
func (c *Chars) Decode(ids []int) (string, error) {
	var b strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(c.runes) {
			return "", fmt.Errorf("chars: ids[%d] = %d is not in the vocabulary of %d", i, id, len(c.runes))
		}
		b.WriteRune(c.runes[id])
	}
	return b.String(), nil
}

// VocabSize implements Tokenizer.
func (c *Chars) VocabSize() int { return len(c.runes) }

// TokenToID implements Tokenizer; the token must be one character.
func (c *Chars) TokenToID(tok string) (int, bool) {
	r, n := utf8.DecodeRuneInString(tok)
	if n != len(tok) || n == 0 {
		return 0, false
	}
	id, ok := c.ids[r]
	return id, ok
}

// IDToToken implements Tokenizer.
func (c *Chars) IDToToken(id int) (string, bool) {
	if id < 0 || id >= len(c.runes) {
		return "", false
	}
	return string(c.runes[id]), true
}

// MarshalJSON writes the vocabulary as a HuggingFace tokenizer.json: a BPE
// model with no merges and no pre-tokenizer, which splits text into single
// characters, and a Fuse decoder. Load (and HuggingFace's library) read it
// back as a Pipeline that encodes and decodes exactly as c does.
func (c *Chars) MarshalJSON() ([]byte, error) {
	vocab := make(map[string]int, len(c.runes))
	for i, r := range c.runes {
		vocab[string(r)] = i
	}
	type model struct {
		Type   string         `json:"type"`
		Vocab  map[string]int `json:"vocab"`
		Merges []string       `json:"merges"`
	}
	type kind struct {
		Type string `json:"type"`
	}
	return json.Marshal(struct {
		Version string `json:"version"`
		Model   model  `json:"model"`
		Decoder kind   `json:"decoder"`
	}{"1.0", model{"BPE", vocab, []string{}}, kind{"Fuse"}})
}
