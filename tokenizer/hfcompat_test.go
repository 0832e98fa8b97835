package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRegexMeansWhatHFMeans runs four tokenizers whose Split and Replace
// patterns use \s, \d, \w, \S, \W, ^, $, {,n} and nested classes (as CLIP's,
// DeepSeek's and BLOOM's do) on
// texts with non-ASCII spaces and digits, accented letters and several
// lines, and compares the ids with HuggingFace's tokenizers library
// (testdata/regex-unicode.json, which names the version that made them).
func TestRegexMeansWhatHFMeans(t *testing.T) {
	b, err := os.ReadFile("testdata/regex-unicode.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Texts      []string
		Tokenizers map[string]json.RawMessage
		Expected   map[string][]struct {
			IDs    []int
			Tokens []string
		}
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	for name, raw := range spec.Tokenizers {
		tok, err := Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, text := range spec.Texts {
			e, err := tok.EncodeWith(text, nil, false)
			if err != nil {
				t.Fatalf("%s, %q: %v", name, text, err)
			}
			if want := spec.Expected[name][i]; !slices.Equal(e.IDs, want.IDs) {
				t.Errorf("%s, %q: tokens %q; HF's %q", name, text, e.Tokens, want.Tokens)
			}
		}
	}
}

func TestRewriteRegex(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`\s+`, `(?m)[` + unicodeSpace + `]+`},
		{`[^\s\p{L}]`, `(?m)[^` + unicodeSpace + `\p{L}]`},
		{`\d\D\w`, `(?m)\p{Nd}\P{Nd}[` + unicodeWord + `]`},
		{`\S\W`, `(?m)[^` + unicodeSpace + `][^` + unicodeWord + `]`},
		{`[]a]\.(?:x)(?<n>y)(?i:z)`, `(?m)[]a]\.(?:x)(?<n>y)(?i:z)`},
		{`[^(\s|[.,!])]+`, `(?m)[^(` + unicodeSpace + `|.,!)]+`}, // BLOOM's nested class
		{`a{,2}b{,}c{,x}`, `(?m)a{0,2}b{,}c{,x}`},
		{`\h+\u00e9`, `(?m)[0-9a-fA-F]+\x{00e9}`},
		{`[a\-[b]]`, `(?m)[a\-b]`},
	} {
		if got, err := rewriteRegex(c.in); err != nil || got != c.want {
			t.Errorf("rewriteRegex(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, says string }{
		{`[\S]`, `\S inside a character class`},
		{`[[:alpha:]]`, "nested class"},
		{`[a-z&&[^e]]`, "intersection"},
		{`[a-z&&b]`, "intersection"},
		{`\bx`, `\b has no RE2 equivalent`},
		{`[a[-c]]`, "beside a nested class"},
		{`[a[b]-z]`, "beside a nested class"},
		{`[x-[y]]`, "beside a nested class"},
		{`\u12}a`, "four hexadecimal digits"},
		{`a(?=b)`, "look-around"},
		{`(?m)a`, "options"},
	} {
		if _, err := rewriteRegex(c.in); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("rewriteRegex(%q): %v; want an error naming %q", c.in, err, c.says)
		}
	}
}

// TestPostProcessAndPadAsHF compares with HuggingFace's tokenizers library
// (testdata/postprocess.json): a RoBERTa post-processor gives a pair type
// id 0 throughout even without its special tokens; a Sequence whose
// template precedes a ByteLevel processor still adds the template's
// tokens; batch-longest padding pads a batch to its longest encoding.
func TestPostProcessAndPadAsHF(t *testing.T) {
	b, err := os.ReadFile("testdata/postprocess.json")
	if err != nil {
		t.Fatal(err)
	}
	type enc struct {
		IDs           []int `json:"ids"`
		TypeIDs       []int `json:"type_ids"`
		AttentionMask []int `json:"attention_mask"`
	}
	var spec struct {
		Texts      [][2]*string
		Tokenizers map[string]json.RawMessage
		Expected   map[string]struct {
			WithSpecial    []enc `json:"with_special"`
			WithoutSpecial []enc `json:"without_special"`
			Batch          []enc
		}
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	same := func(what string, e *Encoding, want enc) {
		t.Helper()
		if !slices.Equal(e.IDs, want.IDs) || !slices.Equal(e.TypeIDs, want.TypeIDs) || !slices.Equal(e.AttentionMask, want.AttentionMask) {
			t.Errorf("%s: ids %v types %v mask %v; HF's %v %v %v", what, e.IDs, e.TypeIDs, e.AttentionMask, want.IDs, want.TypeIDs, want.AttentionMask)
		}
	}
	for name, raw := range spec.Tokenizers {
		tok, err := Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := spec.Expected[name]
		var singles []string
		for i, pair := range spec.Texts {
			if pair[1] == nil {
				singles = append(singles, *pair[0])
			}
			for special, w := range map[bool]enc{true: want.WithSpecial[i], false: want.WithoutSpecial[i]} {
				e, err := tok.EncodeWith(*pair[0], pair[1], special)
				if err != nil {
					t.Fatal(err)
				}
				same(fmt.Sprintf("%s, text %d, special tokens %v", name, i, special), e, w)
			}
		}
		encs, err := tok.EncodeBatch(singles, true)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range encs {
			same(fmt.Sprintf("%s, batch item %d", name, i), e, want.Batch[i])
		}
	}
}

// TestBPEDropoutRefused: HF's tokenizers skip merges at random when a BPE
// model has dropout, so such a file cannot give HF's ids; it is refused.
func TestBPEDropoutRefused(t *testing.T) {
	file := func(dropout string) []byte {
		return []byte(`{"model": {"type": "BPE", "dropout": ` + dropout + `, "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}`)
	}
	if _, err := Parse(file("0.1")); err == nil || !strings.Contains(err.Error(), "BPE dropout 0.1 is not supported") {
		t.Errorf("dropout 0.1: %v", err)
	}
	for _, d := range []string{"null", "0"} {
		if _, err := Parse(file(d)); err != nil {
			t.Errorf("dropout %s: %v", d, err)
		}
	}
}

// TestClassicCasedVocab: a vocab.txt whose tokenizer_config.json says
// do_lower_case false keeps case and accents, as transformers'
// BertTokenizer does ("Olá Mundo" stays two known tokens); without the file
// it is lowercased and stripped of accents.
func TestClassicCasedVocab(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\nOlá\nMundo\nola\nmundo\n"), 0o644)
	encode := func() []int {
		t.Helper()
		tok, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		e, err := tok.Encode("Olá Mundo")
		if err != nil {
			t.Fatal(err)
		}
		return e.IDs
	}
	if got := encode(); !slices.Equal(got, []int{2, 6, 7, 3}) {
		t.Errorf("uncased (no tokenizer_config.json): %v; want [2 6 7 3]", got)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"do_lower_case": false}`), 0o644)
	if got := encode(); !slices.Equal(got, []int{2, 4, 5, 3}) {
		t.Errorf("do_lower_case false: %v; want [2 4 5 3]", got)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"do_lower_case": true, "strip_accents": false}`), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "strip_accents false with do_lower_case true is not supported") {
		t.Errorf("strip_accents false with lowercasing: %v", err)
	}
}
