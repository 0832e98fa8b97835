package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
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
	f, err := os.Open(filepath.Join("testdata", "spm", "unigram-nmt.model.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	model, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join("testdata", "siglip", "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "spiece.model"), model, 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644)
	return dir
}

// TestSiglipGolden compares Siglip's ids with SiglipTokenizer's
// (reimplemented over python3-sentencepiece in
// tools/spmgolden/siglip_golden.py) on 25 texts, whole and cut to 8 ids:
// lowercasing, punctuation removed, white space collapsed (tabs, newlines,
// no-break and em spaces), the leading "▁" kept where a text starts with
// white space or punctuation, "▁" in the text, empty texts, </s> kept when
// cut.
func TestSiglipGolden(t *testing.T) {
	s, err := LoadSiglip(siglipFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "siglip", "golden.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var g struct {
			Text      string `json:"text"`
			MaxLength int    `json:"max_length"`
			IDs       []int  `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		got, err := s.Encode(g.Text, g.MaxLength)
		if err != nil || !slices.Equal(got, g.IDs) {
			t.Errorf("%q (max %d): %v, %v; want %v", g.Text, g.MaxLength, got, err, g.IDs)
		}
		n++
	}
	if n != 50 {
		t.Fatalf("%d golden lines", n)
	}
	if id, ok := s.TokenToID("</s>"); !ok || id != s.eos {
		t.Errorf("</s>: %d, %v", id, ok)
	}
}
