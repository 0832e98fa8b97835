package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCharsSaveLoad: a character vocabulary saved as tokenizer.json loads as
// a Pipeline that encodes and decodes exactly as the Chars did.
func TestCharsSaveLoad(t *testing.T) {
	text := "First Citizen:\nBefore we proceed any further, hear me speak.\nÀ bientôt!\n"
	c := NewChars(text)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.Encode(text)
	got, err := p.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.IDs, want.IDs) || !slices.Equal(got.Offsets, want.Offsets) {
		t.Errorf("loaded ids %v; Chars gives %v", got.IDs, want.IDs)
	}
	if s, err := p.Decode(want.IDs); err != nil || s != text {
		t.Errorf("loaded Decode = %q, %v; want the text back", s, err)
	}
	if p.VocabSize() != c.VocabSize() {
		t.Errorf("VocabSize %d; want %d", p.VocabSize(), c.VocabSize())
	}
}
