package eval

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// tokenize13aRegexp is the reference for Tokenize13a: sacreBLEU's tokenizer_13a.py and
// tokenizer_re.py step by step, with the regular expressions of mteval-v13a.pl. Go's
// regexp replaces leftmost, non-overlapping matches as Python's re.sub does, and [^0-9]
// matches any rune, newline included, in both.
func tokenize13aRegexp(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		line = strings.ReplaceAll(line, "&quot;", `"`)
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	line = " " + line + " "
	for _, sub := range tok13aRegexps {
		line = sub.re.ReplaceAllString(line, sub.repl)
	}
	return strings.Join(fields(line), " ")
}

var tok13aRegexps = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile("([{-~\\[-` -&(-+:-@/])"), " ${1} "}, // punctuation
	{regexp.MustCompile(`([^0-9])([.,])`), "${1} ${2} "},     // period, comma unless after a digit
	{regexp.MustCompile(`([.,])([^0-9])`), " ${1} ${2}"},     // period, comma unless before a digit
	{regexp.MustCompile(`([0-9])(-)`), "${1} ${2} "},         // dash after a digit
}

func TestTokenize13a(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"Hello, world.", "Hello , world ."},
		{"It wasn't surprising.", "It wasn't surprising ."},
		{"3.14, 1,000 and 5.", "3.14 , 1,000 and 5 ."},
		{"5-10 a-b", "5 - 10 a-b"},
		// End-of-line hyphenation joins the word; other newlines become spaces.
		{"hyphen-\nated two\nlines", "hyphenated two lines"},
		{"<skipped>a<skipped>", "a"},
		// Entities are decoded once each, in order: &amp;lt; becomes < .
		{"&amp;lt; &quot;", `< "`},
		{"&apos; &#39;", "& apos ; & # 39 ;"},
		// Python's whitespace: Unicode spaces and U+001C–U+001F separate tokens ...
		{"a\u00a0b\u2003c\u3000d\x1ce\x1ff\u2028g\u0085h\ti\rj\vk\fl", "a b c d e f g h i j k l"},
		// ... but the zero-width space and the byte-order mark do not.
		{"\ufeffa\u200bb", "\ufeffa\u200bb"},
		// Non-ASCII letters next to periods and commas.
		{"Über.ä,1 1.ä", "Über . ä , 1 1 . ä"},
		{"„gut“, sagte er.", "„gut“ , sagte er ."},
	}
	for _, tt := range tests {
		if got := Tokenize13a(tt.in); got != tt.want {
			t.Errorf("Tokenize13a(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if got := tokenize13aRegexp(tt.in); got != tt.want {
			t.Errorf("tokenize13aRegexp(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestIsSpace checks isSpace against every rune: the whitespace of Python's str.isspace,
// as listed by Python 3.11 with [hex(c) for c in range(0x110000) if chr(c).isspace()].
func TestIsSpace(t *testing.T) {
	python := map[rune]bool{}
	for _, r := range []rune{0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
		0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000} {
		python[r] = true
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if isSpace(r) != python[r] {
			t.Errorf("isSpace(%U) = %v; Python says %v", r, isSpace(r), python[r])
		}
	}
}

// TestTokenize13aMteval compares with NIST's own tokenization: testdata/tok13a_mteval.tsv
// holds the inputs of tok13a_inputs.txt and the output of mteval-v14.pl's `tokenization`
// subroutine (mteval-v13a's), written by testdata/mteval13a_tok.pl.
func TestTokenize13aMteval(t *testing.T) {
	b, err := os.ReadFile("testdata/tok13a_mteval.tsv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 30 {
		t.Fatalf("tok13a_mteval.tsv has %d lines; want at least 30", len(lines))
	}
	for i, l := range lines {
		in, want, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("tok13a_mteval.tsv:%d: no tab", i+1)
		}
		if got := Tokenize13a(in); got != want {
			t.Errorf("Tokenize13a(%q) = %q; mteval gives %q", in, got, want)
		}
	}
}

// TestPunct13a checks the punctuation class byte by byte against the regular expression.
func TestPunct13a(t *testing.T) {
	re := tok13aRegexps[0].re
	for b := 0; b < 256; b++ {
		s := string(rune(b))
		if b >= utf8.RuneSelf {
			s = string([]byte{byte(b)})
		}
		if got, want := isPunct13a[b], re.MatchString(s); got != want {
			t.Errorf("isPunct13a[%q] = %v; regexp says %v", byte(b), got, want)
		}
	}
}

// FuzzTokenize13a holds the byte loops of Tokenize13a to the regular expressions they
// replace, on any input, UTF-8 or not.
func FuzzTokenize13a(f *testing.F) {
	b, err := os.ReadFile("testdata/tok13a_inputs.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f.Add(l)
	}
	for _, s := range []string{"-\n", "1-\n2", "a\xff.b", ".\xe2\x80", "\xe2\x80.,1", "5.\u00a0,x", "&amp;quot;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Tokenize13a(s), tokenize13aRegexp(s); got != want {
			t.Errorf("Tokenize13a(%q) = %q; regexp gives %q", s, got, want)
		}
	})
}

func BenchmarkTokenize13a(b *testing.B) {
	const line = `„Das ist gut“, sagte er (am 3.10.2017) über die 1.234,56-Euro-Frage; "wirklich?"`
	for _, impl := range []struct {
		name string
		f    func(string) string
	}{{"loops", Tokenize13a}, {"regexp", tokenize13aRegexp}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				impl.f(line)
			}
		})
	}
}
