package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestRegexMeansWhatHFMeans runs three tokenizers whose Split and Replace
// patterns use \s, \d, \w, \S, \W, ^ and $ (as CLIP's and DeepSeek's do) on
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
		{`a(?=b)`, "look-around"},
		{`(?m)a`, "options"},
	} {
		if _, err := rewriteRegex(c.in); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("rewriteRegex(%q): %v; want an error naming %q", c.in, err, c.says)
		}
	}
}
