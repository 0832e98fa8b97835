package tokenizer

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// spmNormalizer is SentencePiece's Normalizer: it rewrites the text chunk by
// chunk (a user-defined piece, kept as it is; else the longest key of the
// precompiled rules; else one character), drops leading, trailing and
// repeated spaces (remove_extra_whitespaces), adds the dummy ▁ in front (or
// behind, when whitespace is a suffix) and writes spaces as ▁.
//
// Unlike HuggingFace's Precompiled normalizer, which looks up grapheme
// clusters, it matches the rules' keys the way SentencePiece does, so that
// keys spanning several characters apply exactly where SentencePiece applies
// them.
type spmNormalizer struct {
	rules                 *precompiledNormalizer // nil: no rules
	user                  *byteTrie              // user-defined pieces; nil for none
	addDummyPrefix        bool
	removeExtraWhitespace bool
	escapeWhitespace      bool
	suffix                bool // treat_whitespace_as_suffix: the dummy ▁ goes at the end
}

func newSPMNormalizer(spec *normalizerSpec, user *byteTrie, suffix bool) (*spmNormalizer, error) {
	z := &spmNormalizer{user: user, addDummyPrefix: spec.addDummyPrefix, removeExtraWhitespace: spec.removeExtraWhitespaces,
		escapeWhitespace: spec.escapeWhitespaces, suffix: suffix}
	if len(spec.precompiledCharsmap) > 0 {
		var err error
		if z.rules, err = parsePrecompiled(spec.precompiledCharsmap); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// maxRuleMatches is how many matching keys SentencePiece collects when it
// looks for the longest one (Normalizer::kMaxTrieResultsSize).
const maxRuleMatches = 32

// longestMatch returns the replacement of the longest key of the rules that
// s starts with and that key's length, or n == 0. It is darts-clone's
// commonPrefixSearch; out-of-range units of a corrupt trie end the search.
func (p *precompiledNormalizer) longestMatch(s string) (repl string, n int) {
	offset := func(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
	size := uint32(len(p.trie))
	pos := offset(p.trie[0])
	found := 0
	value := -1
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		pos ^= c
		if pos >= size {
			break
		}
		u := p.trie[pos]
		if u&((1<<31)|0xFF) != c {
			break
		}
		pos ^= offset(u)
		if pos >= size {
			break
		}
		if (u>>8)&1 == 1 {
			if found < maxRuleMatches {
				n, value = i+1, int(p.trie[pos]&(1<<31-1))
			}
			found++
		}
	}
	if n == 0 || value >= len(p.blob) {
		return "", 0
	}
	end := value
	for end < len(p.blob) && p.blob[end] != 0 {
		end++
	}
	return string(p.blob[value:end]), n
}

// chunk returns the normalized form of the start of s and how many bytes of
// s it consumes (SentencePiece's NormalizePrefix).
func (z *spmNormalizer) chunk(s string) (string, int) {
	if z.user != nil {
		if n := z.user.longestPrefix(s); n > 0 {
			return s[:n], n
		}
	}
	if z.rules != nil {
		if repl, n := z.rules.longestMatch(s); n > 0 {
			return repl, n
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		return "\uFFFD", 1
	}
	return s[:n], n
}

// run normalizes s. from has one entry per byte of out and one more: the
// position in s of the chunk that byte came from, which is where
// SentencePiece's norm_to_orig points (a removed character belongs to the
// byte after it).
func (z *spmNormalizer) run(s string) (out []byte, from []int) {
	consumed := 0
	if z.removeExtraWhitespace {
		for consumed < len(s) {
			c, n := z.chunk(s[consumed:])
			if c != " " {
				break
			}
			consumed += n
		}
	}
	if consumed == len(s) {
		return nil, []int{consumed}
	}
	out = make([]byte, 0, 3*len(s))
	from = make([]int, 0, 3*len(s)+1)
	space := " "
	if z.escapeWhitespace {
		space = spaceSymbol
	}
	addSpace := func() {
		out = append(out, space...)
		for range len(space) {
			from = append(from, consumed)
		}
	}
	if z.addDummyPrefix && !z.suffix {
		addSpace()
	}
	prevSpace := z.removeExtraWhitespace
	for consumed < len(s) {
		c, n := z.chunk(s[consumed:])
		if prevSpace {
			c = strings.TrimLeft(c, " ")
		}
		if c != "" {
			for i := 0; i < len(c); i++ {
				if c[i] == ' ' && z.escapeWhitespace {
					out = append(out, spaceSymbol...)
					from = append(from, consumed, consumed, consumed)
				} else {
					out = append(out, c[i])
					from = append(from, consumed)
				}
			}
			prevSpace = c[len(c)-1] == ' '
		}
		consumed += n
		if !z.removeExtraWhitespace {
			prevSpace = false
		}
	}
	if z.removeExtraWhitespace {
		for bytes.HasSuffix(out, []byte(space)) {
			cut := len(out) - len(space)
			consumed = from[cut]
			out, from = out[:cut], from[:cut]
		}
	}
	if z.addDummyPrefix && z.suffix {
		addSpace()
	}
	return out, append(from, consumed)
}

// normalize implements normalizer. Byte i of the result aligns with the
// original bytes from chunk start from[i] to from[i+1], so that a token's
// offsets are SentencePiece's begin and end.
func (z *spmNormalizer) normalize(n *normString) {
	out, from := z.run(n.norm)
	orig := func(k int) int {
		switch {
		case k < len(n.norm):
			return n.alignAt(k).start
		case len(n.norm) == 0:
			return 0
		}
		return n.alignAt(len(n.norm) - 1).end
	}
	align := make([]span, len(out))
	for i := range align {
		align[i] = span{orig(from[i]), orig(from[i+1])}
	}
	n.norm = string(out)
	n.align = align
	n.ident = false
}

// normalizeString is normalize without alignments (the denormalizer).
func (z *spmNormalizer) normalizeString(s string) string {
	out, _ := z.run(s)
	return string(out)
}
