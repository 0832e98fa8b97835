package tokenizer

import (
	"strings"
	"testing"
)

// clipSpecialAlternatives begins the Split pattern of the tokenizer.json
// files openai's CLIP checkpoints ship (the slow tokenizer's pattern, as it
// stands, JSON-escaped); transformers' CLIPConverter no longer writes it.
const clipSpecialAlternatives = `<\\|startoftext\\|>|<\\|endoftext\\|>|`

// TestCLIPGolden encodes and decodes texts with testdata/clip-tokenizer.json,
// a small tokenizer laid out as openai/clip-vit-base-patch32's (NFC,
// whitespace runs to one space and lowercase; CLIP's Split with "Removed"
// and invert, then ByteLevel; BPE with end_of_word_suffix "</w>" and unk
// <|endoftext|>; RobertaProcessing with <|startoftext|> and <|endoftext|>;
// ByteLevel decoding), and compares ids, tokens, offsets, masks and decoded
// text, special tokens added and not, with HuggingFace's tokenizers library
// (testdata/golden-clip.jsonl.gz, written by tools/tokgolden/clip.js). The
// file is loaded as shipped, as the library saves it today
// (clip-tokenizer.modern.json.gz) and with the Split pattern today's
// CLIPConverter writes; the library gives all three the same encodings.
func TestCLIPGolden(t *testing.T) {
	lines := readGolden(t, "golden-clip.jsonl.gz")
	for _, l := range []goldenLoader{
		parseFile("clip-tokenizer.json"),
		parseFile("clip-tokenizer.modern.json.gz"),
		{"converter pattern", func(t testing.TB) (*Pipeline, error) {
			raw := string(readTestdata(t, "clip-tokenizer.json"))
			if n := strings.Count(raw, clipSpecialAlternatives); n != 1 {
				t.Fatalf("clip-tokenizer.json has the special tokens' alternatives %d times; want once", n)
			}
			return Parse([]byte(strings.Replace(raw, clipSpecialAlternatives, "", 1)))
		}},
	} {
		t.Run(l.name, func(t *testing.T) {
			tok, err := l.load(t)
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenLines(t, tok, lines)
		})
	}
}
