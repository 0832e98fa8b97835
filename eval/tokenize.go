package eval

import (
	"strings"
	"unicode"
)

// Tokenize13a tokenizes a line as sacreBLEU's default tokenizer "13a" does
// (sacrebleu/tokenizers/tokenizer_13a.py), which reproduces the tokenization of NIST's
// mteval-v13a.pl that WMT scores with. BLEU is only comparable across papers when every
// system is tokenized this way, so this is the tokenizer BLEU uses.
//
// It removes "<skipped>" tags and end-of-line hyphenation ("-\n"), joins lines, decodes
// the entities &quot; &amp; &lt; &gt; (in that order, once each), splits off ASCII
// punctuation, splits periods and commas unless they sit between digits on that side,
// splits a hyphen after a digit, and joins the tokens with single spaces. Whitespace is
// Python's (str.split), which is Unicode's plus the separators U+001C–U+001F.
func Tokenize13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		line = strings.ReplaceAll(line, "&quot;", `"`)
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	line = splitDashAfterDigit(splitPeriodComma(splitPunct(" " + line + " ")))
	return strings.Join(fields(line), " ")
}

// isSpace reports whether r is whitespace to Python's str.isspace, which sacreBLEU's
// split() and rstrip() use: Unicode's White_Space (Go's unicode.IsSpace) plus the
// information separators U+001C–U+001F, which Python counts and Go does not.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// fields splits s around runs of whitespace as Python's str.split() does.
func fields(s string) []string {
	return strings.FieldsFunc(s, isSpace)
}

// rstrip removes trailing whitespace as Python's str.rstrip() does.
func rstrip(s string) string {
	return strings.TrimRightFunc(s, isSpace)
}

// The substitutions of mteval-v13a's "language-dependent part (assuming Western
// languages)", in sacreBLEU's order, as loops over bytes. Each is a regular expression
// replaced at leftmost, non-overlapping matches, as Python's re.sub does; the test file
// keeps those expressions (tokenize13aRegexp) and a fuzz test holds the loops to them.
// Working on bytes is exact for UTF-8: every pattern byte is ASCII, so a match can only
// start on the last byte of a multi-byte rune, where the rune ends.

// isPunct13a marks the bytes [{-~[-` -&(-+:-@/]: every ASCII symbol except the
// apostrophe, hyphen, period and comma, and the space.
var isPunct13a = func() (t [256]bool) {
	for _, r := range [][2]byte{{'{', '~'}, {'[', '`'}, {' ', '&'}, {'(', '+'}, {':', '@'}, {'/', '/'}} {
		for b := r[0]; b <= r[1]; b++ {
			t[b] = true
		}
	}
	return t
}()

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// splitPunct is s/([{-~[-` -&(-+:-@/])/ $1 /g: it surrounds each symbol with spaces.
func splitPunct(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		if isPunct13a[s[i]] {
			b.WriteByte(' ')
			b.WriteByte(s[i])
			b.WriteByte(' ')
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// splitPeriodComma is s/([^0-9])([.,])/$1 $2 /g then s/([.,])([^0-9])/ $1 $2/g: a period
// or comma is split off unless digits surround it.
func splitPeriodComma(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i++ {
		if i+1 < len(s) && !isDigit(s[i]) && (s[i+1] == '.' || s[i+1] == ',') {
			b.WriteByte(s[i])
			b.WriteByte(' ')
			b.WriteByte(s[i+1])
			b.WriteByte(' ')
			i++
		} else {
			b.WriteByte(s[i])
		}
	}
	s = b.String()
	b.Reset()
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i++ {
		if i+1 < len(s) && (s[i] == '.' || s[i] == ',') && !isDigit(s[i+1]) {
			b.WriteByte(' ')
			b.WriteByte(s[i])
			b.WriteByte(' ')
			b.WriteByte(s[i+1])
			i++
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// splitDashAfterDigit is s/([0-9])(-)/$1 $2 /g.
func splitDashAfterDigit(s string) string {
	if !strings.Contains(s, "-") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i++ {
		if i+1 < len(s) && isDigit(s[i]) && s[i+1] == '-' {
			b.WriteByte(s[i])
			b.WriteString(" - ")
			i++
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
