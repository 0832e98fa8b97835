package marian

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const tokenizerDir = "testdata/tokenizer"

// TestTokenizerGolden compares Encode and Decode with
// tools/spmgolden/marian_golden.py's reimplementation of HuggingFace's
// MarianTokenizer on every line of its golden file.
func TestTokenizerGolden(t *testing.T) {
	tok, err := LoadTokenizer(tokenizerDir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(tokenizerDir, "golden.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var encoded, decoded int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var g struct {
			Text      *string `json:"text"`
			IDs       []int   `json:"ids"`
			DecodeIDs []int   `json:"decode_ids"`
			Decoded   string  `json:"decoded"`
		}
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		ids := g.DecodeIDs
		if g.Text != nil {
			encoded++
			got, err := tok.Encode(*g.Text)
			if err != nil || !slices.Equal(got, g.IDs) {
				t.Errorf("line %d: Encode(%q) = %v, %v\nwant %v", line, *g.Text, got, err, g.IDs)
			}
			ids = g.IDs
		} else {
			decoded++
		}
		if got := tok.Decode(ids); got != g.Decoded {
			t.Errorf("line %d: Decode(%v) = %q, want %q", line, ids, got, g.Decoded)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if encoded < 300 || decoded < 100 {
		t.Fatalf("golden has %d texts and %d id sequences: too few", encoded, decoded)
	}
	t.Logf("%d texts encoded and decoded, %d random id sequences decoded", encoded, decoded)
}

func TestTokenizerIDs(t *testing.T) {
	tok, err := LoadTokenizer(tokenizerDir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.EOSID() != 0 || tok.UnkID() != 1 || tok.PadID() != tok.VocabSize()-1 {
		t.Errorf("eos %d, unk %d, pad %d of %d; want 0, 1 and the last id", tok.EOSID(), tok.UnkID(), tok.PadID(), tok.VocabSize())
	}
	// "." is left out of vocab.json on purpose.
	ids, err := tok.Encode("A dog.")
	if err != nil || len(ids) < 3 || ids[len(ids)-2] != tok.UnkID() || ids[len(ids)-1] != tok.EOSID() {
		t.Errorf(`Encode("A dog.") = %v, %v; want <unk> for "." and </s> last`, ids, err)
	}
}

func TestLoadTokenizerErrors(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(tokenizerDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	files := map[string][]byte{"source.spm": read("source.spm"), "target.spm": read("target.spm"), "vocab.json": read("vocab.json")}
	for _, c := range []struct {
		name    string
		replace map[string][]byte // nil content removes the file
		want    string
	}{
		{"no source", map[string][]byte{"source.spm": nil}, "source.spm is missing"},
		{"no target", map[string][]byte{"target.spm": nil}, "target.spm is missing"},
		{"no vocab", map[string][]byte{"vocab.json": nil}, "vocab.json is missing"},
		{"bad vocab", map[string][]byte{"vocab.json": []byte(`["a"]`)}, "want an object of piece to id"},
		{"no unk", map[string][]byte{"vocab.json": []byte(`{"</s>": 0, "<pad>": 1}`)}, "no <unk> token"},
		{"no pad", map[string][]byte{"vocab.json": []byte(`{"</s>": 0, "<unk>": 1}`)}, "no <pad> token"},
		{"shared id", map[string][]byte{"vocab.json": []byte(`{"</s>": 0, "<unk>": 0, "<pad>": 1}`)}, "share id 0"},
		{"negative id", map[string][]byte{"vocab.json": []byte(`{"</s>": -1}`)}, "negative id"},
		{"corrupt spm", map[string][]byte{"target.spm": []byte("not a model")}, "target.spm"},
	} {
		dir := t.TempDir()
		for name, b := range files {
			if r, ok := c.replace[name]; ok {
				if r == nil {
					continue
				}
				b = r
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadTokenizer(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
