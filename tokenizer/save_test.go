package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestSaveRoundTrip saves each tokenizer, loads the file back and checks it
// still reproduces HuggingFace's ids. Set ATTN_TOKENIZER_SAVE_DIR to keep the
// files, e.g. to load them in tools/tokgolden/roundtrip.js.
func TestSaveRoundTrip(t *testing.T) {
	dir := os.Getenv("ATTN_TOKENIZER_SAVE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	var variants []variant
	if err := json.Unmarshal(readTestdata(t, "variants.json"), &variants); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(t *testing.T) []byte{}
	for _, set := range []struct{ name, file string }{{"gpt2", "gpt2.json"}, {"bert-base-uncased", "bert-base-uncased.json"}, {"t5", "t5.json"}, {"clip", "clip-tokenizer.json"}} {
		cases[set.name] = func(t *testing.T) []byte { return readTestdata(t, set.file) }
	}
	if !testing.Short() {
		for _, v := range variants {
			cases[v.Name] = func(t *testing.T) []byte { return applyVariant(t, readTestdata(t, v.Base), v.Patch) }
		}
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			tok, err := Parse(src(t))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name+".json")
			if err := tok.Save(path); err != nil {
				t.Fatal(err)
			}
			back, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := readGolden(t, "golden-"+name+".jsonl.gz")
			if len(lines) > 200 {
				lines = lines[:200]
			}
			checkGoldenLines(t, back, lines)
		})
	}
}
