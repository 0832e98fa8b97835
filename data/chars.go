package data

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Chars is a character-level tokenizer: each distinct character of the
// training text is one token, numbered in sorted order (as nanoGPT's
// shakespeare_char does).
type Chars struct {
	runes []rune
	ids   map[rune]int
}

// NewChars builds the vocabulary of text.
func NewChars(text string) *Chars {
	seen := map[rune]bool{}
	for _, r := range text {
		seen[r] = true
	}
	runes := make([]rune, 0, len(seen))
	for r := range seen {
		runes = append(runes, r)
	}
	slices.Sort(runes)
	return charsFromRunes(runes)
}

func charsFromRunes(runes []rune) *Chars {
	c := &Chars{runes: runes, ids: make(map[rune]int, len(runes))}
	for i, r := range runes {
		c.ids[r] = i
	}
	return c
}

// VocabSize returns the number of tokens.
func (c *Chars) VocabSize() int { return len(c.runes) }

// Encode returns the token ids of text; a character outside the vocabulary
// is an error naming it and its position.
func (c *Chars) Encode(text string) ([]int, error) {
	ids := make([]int, 0, len(text))
	for i, r := range text {
		id, ok := c.ids[r]
		if !ok {
			return nil, fmt.Errorf("chars: character %q at byte %d is not in the vocabulary", r, i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Decode returns the text of ids; ids outside the vocabulary become U+FFFD.
func (c *Chars) Decode(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		if id >= 0 && id < len(c.runes) {
			sb.WriteRune(c.runes[id])
		} else {
			sb.WriteRune(utf8.RuneError)
		}
	}
	return sb.String()
}

// hfTokenizer is the subset of HuggingFace's tokenizer.json that describes a
// character vocabulary: a BPE model with no merges and no pre-tokenizer, so
// HuggingFace's library splits text into single characters too.
type hfTokenizer struct {
	Version string `json:"version"`
	Model   struct {
		Type   string         `json:"type"`
		Vocab  map[string]int `json:"vocab"`
		Merges []string       `json:"merges"`
	} `json:"model"`
	Decoder *struct {
		Type string `json:"type"`
	} `json:"decoder"`
}

// MarshalJSON writes the vocabulary as a HuggingFace tokenizer.json.
func (c *Chars) MarshalJSON() ([]byte, error) {
	var t hfTokenizer
	t.Version = "1.0"
	t.Model.Type = "BPE"
	t.Model.Vocab = make(map[string]int, len(c.runes))
	for i, r := range c.runes {
		t.Model.Vocab[string(r)] = i
	}
	t.Model.Merges = []string{}
	t.Decoder = &struct {
		Type string `json:"type"`
	}{"Fuse"}
	return json.Marshal(t)
}

// UnmarshalJSON reads a vocabulary written by MarshalJSON.
func (c *Chars) UnmarshalJSON(b []byte) error {
	var t hfTokenizer
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("chars: tokenizer.json: %w", err)
	}
	if t.Model.Type != "BPE" || len(t.Model.Merges) != 0 {
		return fmt.Errorf("chars: tokenizer.json: model is %q with %d merges; want a character vocabulary (BPE, no merges)", t.Model.Type, len(t.Model.Merges))
	}
	runes := make([]rune, len(t.Model.Vocab))
	filled := make([]bool, len(runes))
	for s, id := range t.Model.Vocab {
		r, size := utf8.DecodeRuneInString(s)
		if size != len(s) || id < 0 || id >= len(runes) || filled[id] {
			return fmt.Errorf("chars: tokenizer.json: vocabulary entry %q -> %d is not one character with a unique id below %d", s, id, len(runes))
		}
		runes[id], filled[id] = r, true
	}
	*c = *charsFromRunes(runes)
	return nil
}

// LoadChars reads a tokenizer.json written by a Chars.
func LoadChars(path string) (*Chars, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := new(Chars)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
