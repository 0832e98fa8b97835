package tokenizer

import "unicode"

// byteRune and runeByte are GPT-2's reversible map between the 256 byte
// values and printable runes: printable Latin-1 bytes map to themselves, the
// others to U+0100 onwards in byte order (GPT-2's bytes_to_unicode).
var (
	byteRune [256]rune
	runeByte = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			byteRune[b] = rune(b)
		} else {
			byteRune[b] = rune(256 + n)
			n++
		}
		runeByte[byteRune[b]] = byte(b)
	}
}

// gpt2Split finds the pieces of GPT-2's pre-tokenization regex
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// by hand, since Go's regexp has no look-ahead.
type gpt2Split struct{}

func isL(r rune) bool { return unicode.IsLetter(r) }
func isN(r rune) bool { return unicode.IsNumber(r) }
func isOtherClass(r rune) bool {
	return !isWhitespace(r) && !isL(r) && !isN(r)
}

func (gpt2Split) findMatches(s string) []matchSpan {
	m := matchList{out: make([]matchSpan, 0, len(s)/4+1)}
	for i := 0; i < len(s); {
		j := gpt2Next(s, i)
		m.add(i, j)
		i = j
	}
	return m.done(s)
}

// gpt2Next returns the end of the regex match that starts at i.
func gpt2Next(s string, i int) int {
	r, w := decodeRune(s, i)
	if r == '\'' {
		rest := s[i+1:]
		for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if len(rest) >= len(c) && rest[:len(c)] == c {
				return i + 1 + len(c)
			}
		}
	}
	// ` ?X+` for the three classes: an optional space then a run.
	start := i
	if r == ' ' {
		if r2, _ := decodeRune(s, i+1); r2 >= 0 && !isWhitespace(r2) {
			start = i + 1
			r, w = decodeRune(s, start)
		}
	}
	var class func(rune) bool
	switch {
	case isL(r):
		class = isL
	case isN(r):
		class = isN
	case !isWhitespace(r):
		class = isOtherClass
	}
	if class != nil {
		j := start + w
		for j < len(s) {
			r2, w2 := decodeRune(s, j)
			if !class(r2) {
				break
			}
			j += w2
		}
		return j
	}
	// Whitespace: \s+(?!\S) then \s+.
	j, last := i, i
	for j < len(s) {
		r2, w2 := decodeRune(s, j)
		if !isWhitespace(r2) {
			break
		}
		last = j
		j += w2
	}
	if j == len(s) || last == i {
		return j
	}
	return last
}

// decodeRune decodes the rune at byte i of s; -1 past the end. Invalid bytes
// decode as U+FFFD of width 1.
func decodeRune(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	if c := s[i]; c < 0x80 {
		return rune(c), 1
	}
	for _, r := range s[i:] {
		w := len(string(r))
		if r == 0xFFFD && (len(s)-i < 3 || s[i:i+3] != "\uFFFD") {
			w = 1
		}
		return r, w
	}
	return -1, 0
}
