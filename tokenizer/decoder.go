package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder turns tokens back into text (HuggingFace's decoders). decodeChain
// maps tokens to tokens so decoders can be chained; the results are joined.
type decoder interface {
	decodeChain(tokens []string) []string
}

// byteLevelDecoder maps byte-level runes back to bytes.
type byteLevelDecoder struct{ cfg byteLevelPre }

func (byteLevelDecoder) decodeChain(tokens []string) []string {
	var b []byte
	for _, t := range tokens {
		start := len(b)
		ok := true
		for _, r := range t {
			c, in := runeByte[r]
			if !in {
				ok = false
				break
			}
			b = append(b, c)
		}
		if !ok {
			b = append(b[:start], t...)
		}
	}
	return []string{lossyUTF8(b)}
}

// wordPieceDecoder joins WordPiece tokens, gluing continuation pieces.
type wordPieceDecoder struct {
	Prefix  string `json:"prefix"`
	Cleanup bool   `json:"cleanup"`
}

var cleanupReplacer = []string{" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'", " n't", "n't", " 'm", "'m", " do not", " don't", " 's", "'s", " 've", "'ve", " 're", "'re"}

// cleanupText undoes the spaces tokenization puts before punctuation and
// English contractions (HuggingFace's cleanup), one rule after another.
func cleanupText(s string) string {
	for i := 0; i < len(cleanupReplacer); i += 2 {
		s = strings.ReplaceAll(s, cleanupReplacer[i], cleanupReplacer[i+1])
	}
	return s
}

func (d *wordPieceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		if i != 0 {
			if strings.HasPrefix(t, d.Prefix) {
				t = strings.Replace(t, d.Prefix, "", 1)
			} else {
				t = " " + t
			}
		}
		if d.Cleanup {
			t = cleanupText(t)
		}
		out[i] = t
	}
	return out
}

// metaspaceDecoder turns the replacement rune back into spaces, dropping
// the one the pre-tokenizer added in front.
type metaspaceDecoder struct{ cfg metaspacePre }

func (d *metaspaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		var b strings.Builder
		for _, r := range t {
			if r == d.cfg.Replacement {
				if i == 0 && d.cfg.PrependScheme != prependNever {
					continue
				}
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		}
		out[i] = b.String()
	}
	return out
}

// byteFallbackDecoder turns runs of <0xXX> tokens back into text; a run that
// is not valid UTF-8 becomes one U+FFFD per byte.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decodeChain(tokens []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if s := string(pending); utf8.ValidString(s) {
			out = append(out, s)
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if len(t) == 6 && strings.HasPrefix(t, "<0x") && t[5] == '>' {
			if v, err := strconv.ParseUint(t[3:5], 16, 8); err == nil {
				pending = append(pending, byte(v))
				continue
			}
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// fuseDecoder joins all tokens into one.
type fuseDecoder struct{}

func (fuseDecoder) decodeChain(tokens []string) []string { return []string{strings.Join(tokens, "")} }

// stripDecoder removes up to Start leading and Stop trailing copies of Content
// from each token.
type stripDecoder struct {
	Content string `json:"content"`
	Start   int    `json:"start"`
	Stop    int    `json:"stop"`
}

func (d *stripDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		r := []rune(t)
		c := []rune(d.Content)
		lo, hi := 0, len(r)
		if len(c) == 1 {
			for k := 0; k < d.Start && lo < hi && r[lo] == c[0]; k++ {
				lo++
			}
			for k := 0; k < d.Stop && hi > lo && r[hi-1] == c[0]; k++ {
				hi--
			}
		}
		out[i] = string(r[lo:hi])
	}
	return out
}

// replaceDecoder replaces a pattern in each token.
type replaceDecoder struct {
	pat     pattern
	content string
}

func (d *replaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		var b strings.Builder
		for _, m := range d.pat.findMatches(t) {
			if m.match {
				b.WriteString(d.content)
			} else {
				b.WriteString(t[m.start:m.end])
			}
		}
		out[i] = b.String()
	}
	return out
}

// bpeDecoder turns an end-of-word suffix into a space.
type bpeDecoder struct{ Suffix string }

func (d *bpeDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		rep := " "
		if i == len(tokens)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.Suffix, rep)
	}
	return out
}

type sequenceDecoder []decoder

func (s sequenceDecoder) decodeChain(tokens []string) []string {
	for _, d := range s {
		tokens = d.decodeChain(tokens)
	}
	return tokens
}
