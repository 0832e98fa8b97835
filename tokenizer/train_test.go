package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainMatchesHF trains on testdata/train-corpus.txt.gz with
// HuggingFace's default settings and compares the first 1,000 merges and
// the vocabulary size with those HuggingFace's trainer learned
// (tools/tokgolden/train.js).
func TestTrainMatchesHF(t *testing.T) {
	corpus := readTestdata(t, "train-corpus.txt.gz")
	for _, kind := range []string{"bytelevel", "whitespace"} {
		t.Run(kind, func(t *testing.T) {
			var want struct {
				VocabSize int         `json:"vocab_size"`
				NMerges   int         `json:"n_merges"`
				Merges    [][2]string `json:"merges"`
			}
			if err := json.Unmarshal(readTestdata(t, "golden-train-"+kind+".json"), &want); err != nil {
				t.Fatal(err)
			}
			tr := &BPETrainer{VocabSize: 30000, ByteLevel: kind == "bytelevel"}
			tok, err := tr.Train(bytes.NewReader(corpus))
			if err != nil {
				t.Fatal(err)
			}
			bpe := tok.model.(*bpeModel)
			got := bpe.mergeList
			for i, m := range want.Merges {
				if i >= len(got) || got[i] != m {
					g := [2]string{}
					if i < len(got) {
						g = got[i]
					}
					t.Fatalf("merge %d = %q; want %q", i, g, m)
				}
			}
			if len(got) != want.NMerges || tok.model.vocabSize() != want.VocabSize {
				t.Errorf("%d merges, vocab %d; want %d merges, vocab %d", len(got), tok.model.vocabSize(), want.NMerges, want.VocabSize)
			}
		})
	}
}

// TestTrainedRoundTrip trains small tokenizers, saves them and checks the
// files load back with the same ids; with ATTN_TOKENIZER_SAVE_DIR set it
// leaves the files and their encodings there for tools/tokgolden/roundtrip.js,
// which checks that HuggingFace loads them and gives the same ids.
func TestTrainedRoundTrip(t *testing.T) {
	dir := os.Getenv("ATTN_TOKENIZER_SAVE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	corpus := readTestdata(t, "train-corpus.txt.gz")
	var c struct {
		Single []string    `json:"single"`
		Pairs  [][2]string `json:"pairs"`
	}
	if err := json.Unmarshal(readTestdata(t, "corpus.json"), &c); err != nil {
		t.Fatal(err)
	}
	for name, tr := range map[string]*BPETrainer{
		"trained-bytelevel": {VocabSize: 2000, MinFrequency: 2, ByteLevel: true, InitialAlphabet: ByteLevelAlphabet(), SpecialTokens: []string{"<|endoftext|>", "<pad>"}},
		"trained-char":      {VocabSize: 1500, SpecialTokens: []string{"[UNK]", "[SEP]"}, ContinuingSubwordPrefix: "##", LimitAlphabet: 120},
		"trained-suffix":    {VocabSize: 1500, EndOfWordSuffix: "</w>", MaxTokenLength: 6},
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := tr.Train(bytes.NewReader(corpus))
			if err != nil {
				t.Fatal(err)
			}
			if tr.ContinuingSubwordPrefix == "" && tok.VocabSize() != tr.VocabSize {
				t.Errorf("vocab size %d; want %d", tok.VocabSize(), tr.VocabSize)
			}
			path := filepath.Join(dir, name+".json")
			if err := tok.Save(path); err != nil {
				t.Fatal(err)
			}
			back, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, s := range c.Single {
				e1, err1 := tok.Encode(s)
				e2, err2 := back.Encode(s)
				if err1 != nil || err2 != nil || !sameInts(e1.IDs, e2.IDs) {
					t.Fatalf("Encode(%q) = %v, %v after saving; want %v, %v", s, e2, err2, e1, err1)
				}
				if tr.ByteLevel {
					if d, _ := tok.Decode(e1.IDs); d != s {
						t.Errorf("Decode(Encode(%q)) = %q", s, d)
					}
				}
				g, _ := json.Marshal(map[string]any{"text": s, "ids": nonNil(e1.IDs), "offsets": charOffsetsAll(s, e1.Offsets)})
				lines = append(lines, string(g))
			}
			if os.Getenv("ATTN_TOKENIZER_SAVE_DIR") != "" {
				if err := os.WriteFile(filepath.Join(dir, "golden-"+name+".jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func nonNil(a []int) []int {
	if a == nil {
		return []int{}
	}
	return a
}

func charOffsetsAll(s string, offs [][2]int) [][2]int {
	out := make([][2]int, len(offs))
	for i, o := range offs {
		out[i] = charOffsets(s, o)
	}
	return out
}
