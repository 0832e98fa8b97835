package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// siglipFolder makes a SigLIP tokenizer folder: testdata/siglip's
// tokenizer_config.json and the unigram-nmt SentencePiece model as
// spiece.model (tools/spmgolden/siglip_golden.py).
func siglipFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "spiece.model"), readTestdata(t, spmModels["unigram-nmt"]), 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), readTestdata(t, "siglip/tokenizer_config.json"), 0o644)
	return dir
}

// TestSiglipGolden compares Siglip's ids with SiglipTokenizer's
// (reimplemented over python3-sentencepiece in
// tools/spmgolden/siglip_golden.py) on 29 texts, whole and cut to 8 ids:
// lowercasing as Python's str.lower (checked on its own too: İ, and
// Greek's final sigma, which the model's ids cannot show), punctuation removed, white space collapsed (tabs, newlines,
// no-break and em spaces), the leading "▁" kept where a text starts with
// white space or punctuation, "▁" in the text, empty texts, </s> kept when
// cut.
func TestSiglipGolden(t *testing.T) {
	s, err := LoadSiglip(siglipFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, "siglip/golden.jsonl")))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var g struct {
			Text      string `json:"text"`
			MaxLength int    `json:"max_length"`
			IDs       []int  `json:"ids"`
			Lower     string `json:"lower"` // Python's str.lower
		}
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		got, err := s.Encode(g.Text, g.MaxLength)
		if err != nil || !slices.Equal(got, g.IDs) {
			t.Errorf("%q (max %d): %v, %v; want %v", g.Text, g.MaxLength, got, err, g.IDs)
		}
		if l := pyLower(g.Text); l != g.Lower {
			t.Errorf("%q lowercased: %q; want Python's %q", g.Text, l, g.Lower)
		}
		n++
	}
	if n != 58 {
		t.Fatalf("%d golden lines", n)
	}
	if id, ok := s.TokenToID("</s>"); !ok || id != s.eos {
		t.Errorf("</s>: %d, %v", id, ok)
	}
}
