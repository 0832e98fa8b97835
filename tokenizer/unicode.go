package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// isWhitespace is Unicode White_Space, Rust's char::is_whitespace.
func isWhitespace(r rune) bool { return unicode.IsSpace(r) }

// isPunctuation is HuggingFace's is_punc (BertPreTokenizer, Punctuation):
// ASCII punctuation, or Unicode category P as of Unicode 8.0, the version
// of the tables HuggingFace uses.
func isPunctuation(r rune) bool {
	if r < 0x80 {
		return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
	}
	return unicode.IsPunct(r) && inUnicode8(r)
}

// isNonspacingMark is category Mn as of Unicode 8.0 (BertNormalizer's
// accent stripping).
func isNonspacingMark(r rune) bool { return unicode.Is(unicode.Mn, r) && inUnicode8(r) }

// isCombiningMark is category M as of Unicode 9.0 (the StripAccents
// normalizer).
func isCombiningMark(r rune) bool { return unicode.IsMark(r) && inUnicode9(r) }

func inUnicode8(r rune) bool { return inList(assignedIn8, r) }
func inUnicode9(r rune) bool { return inList(assignedIn9, r) }

// inList reports whether r is in the set an inversion list describes.
func inList(l []uint32, r rune) bool {
	i := sort.Search(len(l), func(i int) bool { return l[i] > uint32(r) })
	return i%2 == 1
}

// isAlnumWord is the regex class \w of Rust's regex crate: alphabetic,
// marks, decimal digits, connector punctuation and join controls.
func isAlnumWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Other_Alphabetic, r) || unicode.IsMark(r) ||
		unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D ||
		unicode.Is(unicode.Nl, r)
}

// isOther is what BertNormalizer drops as a control character: categories
// Cc, Co, Cs, and Cf as of Unicode 8.0. Unassigned code points (Cn) are
// kept, as HuggingFace does.
func isOther(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Co, unicode.Cs) || unicode.Is(unicode.Cf, r) && inUnicode8(r)
}

// isChineseChar reports whether r is in a CJK ideograph block, as BERT's
// original tokenizer defines it.
func isChineseChar(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF || r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B920 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}

// toLower is Rust's char::to_lowercase: like unicode.ToLower except that
// U+0130 becomes two runes.
func toLower(r rune, out []rune) []rune {
	if r == 0x130 {
		return append(out, 'i', 0x307)
	}
	return append(out, unicode.ToLower(r))
}

// pyLower is Python's str.lower, which SiglipTokenizer lowercases with:
// each rune's full lowercase mapping (toLower: U+0130 becomes two runes),
// and capital sigma lowered to final sigma where it ends a word (Unicode's
// Final_Sigma context, as CPython tests it).
func pyLower(s string) string {
	rs := []rune(s)
	out := make([]rune, 0, len(rs))
	for i, r := range rs {
		if r == 'Σ' {
			out = append(out, lowerSigma(rs, i))
			continue
		}
		out = toLower(r, out)
	}
	return string(out)
}

// lowerSigma returns ς when the capital sigma rs[i] follows a cased letter
// and no cased letter follows it (case-ignorable runes skipped both ways),
// else σ.
func lowerSigma(rs []rune, i int) rune {
	j := i - 1
	for j >= 0 && caseIgnorable(rs[j]) {
		j--
	}
	final := j >= 0 && cased(rs[j])
	if final {
		for j = i + 1; j < len(rs) && caseIgnorable(rs[j]); j++ {
		}
		final = j == len(rs) || !cased(rs[j])
	}
	if final {
		return 'ς'
	}
	return 'σ'
}

// cased is Unicode's Cased property.
func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// caseIgnorable is Unicode's Case_Ignorable property: categories Mn, Me,
// Cf, Lm and Sk, and the word-break classes MidLetter, MidNumLet and
// Single_Quote.
func caseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) ||
		strings.ContainsRune("'.:\u00b7\u0387\u055f\u05f4\u2018\u2019\u2024\u2027\ufe13\ufe52\ufe55\uff07\uff0e\uff1a", r)
}

// lossyUTF8 decodes b like Rust's String::from_utf8_lossy: each maximal
// invalid subsequence becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, w := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || w > 1 {
			out = append(out, b[i:i+w]...)
			i += w
			continue
		}
		// Skip the longest prefix of a valid sequence starting at i.
		n := invalidPrefixLen(b[i:])
		out = append(out, "\uFFFD"...)
		i += n
	}
	return string(out)
}

// invalidPrefixLen returns how many bytes at the start of b form the maximal
// prefix of a well-formed UTF-8 sequence (at least 1).
func invalidPrefixLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 {
			if x < lo || x > hi {
				return n
			}
		} else if x < 0x80 || x > 0xBF {
			return n
		}
		n++
	}
	return n
}
