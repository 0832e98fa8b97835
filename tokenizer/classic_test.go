package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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

// TestBertConfigOverride: a folder's tokenizer_config.json overrides its
// tokenizer.json's BertNormalizer as transformers' BertTokenizerFast does
// (do_lower_case, strip_accents, tokenize_chinese_chars), for the BERT and
// DistilBERT tokenizer classes only.
func TestBertConfigOverride(t *testing.T) {
	file := readTestdata(t, "bert-base-uncased.json") // lowercases
	var f map[string]any
	if err := json.Unmarshal(file, &f); err != nil {
		t.Fatal(err)
	}
	f["normalizer"].(map[string]any)["lowercase"] = false
	f["normalizer"].(map[string]any)["strip_accents"] = false
	cased, _ := json.Marshal(f)
	tokens := func(b []byte, files map[string]string) []string {
		t.Helper()
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
		for name, content := range files {
			os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		}
		tok, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		e, err := tok.Encode("Héllo Paris")
		if err != nil {
			t.Fatal(err)
		}
		return e.Tokens
	}
	lower, keep := tokens(file, nil), tokens(cased, nil)
	if slices.Equal(lower, keep) {
		t.Fatalf("the cased file tokenizes as the uncased one: %v", lower)
	}
	for _, c := range []struct {
		name  string
		b     []byte
		files map[string]string
		want  []string
	}{
		{"do_lower_case false", file, map[string]string{"tokenizer_config.json": `{"tokenizer_class": "BertTokenizer", "do_lower_case": false, "strip_accents": false}`}, keep},
		{"the class by model_type", file, map[string]string{"tokenizer_config.json": `{"do_lower_case": false, "strip_accents": false}`, "config.json": `{"model_type": "distilbert"}`}, keep},
		{"do_lower_case absent: true", cased, map[string]string{"tokenizer_config.json": `{"tokenizer_class": "BertTokenizerFast"}`}, lower},
		{"another class", file, map[string]string{"tokenizer_config.json": `{"tokenizer_class": "RobertaTokenizer", "do_lower_case": false}`}, lower},
		{"no class, no model_type", file, map[string]string{"tokenizer_config.json": `{"do_lower_case": false}`}, lower},
	} {
		if got := tokens(c.b, c.files); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
	}
}
