package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpen loads each kind of file Open accepts, from a file or its folder.
func TestOpen(t *testing.T) {
	write := func(dir, name, src string) string {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, readTestdata(t, src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := t.TempDir()
	gpt2 := filepath.Join(root, "gpt2")
	write(gpt2, "vocab.json", "gpt2-vocab.json.gz")
	write(gpt2, "merges.txt", "gpt2-merges.txt.gz")
	bert := filepath.Join(root, "bert")
	vocabTxt := write(bert, "vocab.txt", "bert-base-uncased-vocab.txt.gz")
	t5 := filepath.Join(root, "t5")
	write(t5, "tokenizer.json", "t5.json")
	tests := []struct {
		path string
		want []int
	}{
		{gpt2, []int{15496, 11, 995, 0}},
		{filepath.Join(gpt2, "vocab.json"), []int{15496, 11, 995, 0}},
		{bert, []int{101, 7592, 1010, 2088, 999, 102}},
		{vocabTxt, []int{101, 7592, 1010, 2088, 999, 102}},
		{t5, []int{435, 8564, 3, 2960, 524, 1}},
	}
	for _, tt := range tests {
		tok, err := Open(tt.path)
		if err != nil {
			t.Errorf("Open(%s): %v", tt.path, err)
			continue
		}
		e, err := tok.Encode("Hello, world!")
		if err != nil || !sameInts(e.IDs, tt.want) {
			t.Errorf("Open(%s).Encode(Hello, world!) = %v, %v; want %v", tt.path, e.IDs, err, tt.want)
		}
	}
	if _, err := Open(root); err == nil {
		t.Errorf("Open(%s) of a folder without tokenizer files: no error", root)
	}
}

// TestEncodeBatch checks that encoding on all cores gives the same ids.
func TestEncodeBatch(t *testing.T) {
	tok, err := Parse(readTestdata(t, "gpt2.json"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a", "", "Hello there", "日本語", "<|endoftext|> x"}
	got, err := tok.EncodeBatch(texts, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		want, _ := tok.Encode(s)
		if !sameInts(got[i].IDs, want.IDs) {
			t.Errorf("EncodeBatch[%d] = %v; want %v", i, got[i].IDs, want.IDs)
		}
	}
}
