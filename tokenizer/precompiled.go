package tokenizer

import (
	"encoding/binary"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// precompiledNormalizer is SentencePiece's normalizer as shipped inside a
// model: a double-array trie (darts-clone) from UTF-8 byte strings to
// offsets of replacement strings in a blob. Like HuggingFace's Precompiled,
// it looks up each grapheme cluster shorter than 6 bytes whole, and
// otherwise each rune alone.
type precompiledNormalizer struct {
	raw   []byte // the charsmap as given, for saving
	trie  []uint32
	blob  []byte
	cache map[string]string
}

// parsePrecompiled reads a precompiled_charsmap: a little-endian uint32 trie
// size in bytes, the trie units, then the NUL-terminated replacement strings.
func parsePrecompiled(b []byte) (*precompiledNormalizer, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap: %d bytes, want at least 4", len(b))
	}
	size := binary.LittleEndian.Uint32(b)
	if size%4 != 0 || uint64(size) > uint64(len(b)-4) || size == 0 {
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d does not fit %d bytes", size, len(b)-4)
	}
	p := &precompiledNormalizer{raw: b, trie: make([]uint32, size/4), blob: b[4+size:]}
	for i := range p.trie {
		p.trie[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	return p, nil
}

// lookup returns the replacement for the shortest prefix of key in the trie,
// as spm_precompiled's transform does.
func (p *precompiledNormalizer) lookup(key string) (string, bool) {
	offset := func(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
	n := uint32(len(p.trie))
	pos := offset(p.trie[0])
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if pos >= n {
			return "", false
		}
		u := p.trie[pos]
		if u&((1<<31)|0xFF) != uint32(c) {
			return "", false
		}
		pos ^= offset(u)
		if pos >= n {
			return "", false
		}
		if (u>>8)&1 == 1 {
			v := int(p.trie[pos] & (1<<31 - 1))
			if v >= len(p.blob) {
				return "", false
			}
			end := v
			for end < len(p.blob) && p.blob[end] != 0 {
				end++
			}
			return string(p.blob[v:end]), true
		}
	}
	return "", false
}

func (p *precompiledNormalizer) normalize(n *normString) {
	if !p.changes(n.norm) {
		return
	}
	dest := make([]change, 0, len(n.norm))
	modified := false
	replace := func(old, repl string) {
		modified = true
		oldCount := utf8.RuneCountInString(old)
		start := len(dest)
		for _, r := range repl {
			dest = append(dest, change{r, 0})
		}
		diff := len(dest) - start - oldCount
		switch {
		case diff > 0:
			for k := 0; k < diff; k++ {
				dest[len(dest)-1-k].n = 1
			}
		case diff < 0 && len(dest) > 0:
			dest[len(dest)-1].n += diff
		}
	}
	s := n.norm
	for i := 0; i < len(s); {
		g := graphemeEnd(s, i)
		cluster := s[i:g]
		if len(cluster) < 6 {
			if repl, ok := p.lookup(cluster); ok {
				replace(cluster, repl)
				i = g
				continue
			}
		}
		for j := i; j < g; {
			r, w := decodeRune(cluster, j-i)
			part := s[j : j+w]
			if repl, ok := p.lookup(part); ok {
				replace(part, repl)
			} else {
				dest = append(dest, change{r, 0})
			}
			j += w
		}
		i = g
	}
	if modified {
		n.transform(dest, 0)
	}
}

// changes reports whether normalize would rewrite anything in s.
func (p *precompiledNormalizer) changes(s string) bool {
	for i := 0; i < len(s); {
		g := graphemeEnd(s, i)
		if g-i < 6 {
			if _, ok := p.lookup(s[i:g]); ok {
				return true
			}
		}
		for j := i; j < g; {
			_, w := decodeRune(s, j)
			if _, ok := p.lookup(s[j : j+w]); ok {
				return true
			}
			j += w
		}
		i = g
	}
	return false
}

// graphemeEnd returns the end of the extended grapheme cluster starting at
// byte i: CR LF, Hangul syllable sequences, regional-indicator pairs, and a
// base followed by extending marks, ZWJ sequences and spacing marks
// (UAX #29, without the Prepend and Indic conjunct rules).
func graphemeEnd(s string, i int) int {
	r, w := decodeRune(s, i)
	j := i + w
	if r == '\r' {
		if j < len(s) && s[j] == '\n' {
			return j + 1
		}
		return j
	}
	if isControlGB(r) {
		return j
	}
	prev := r
	riCount := 0
	if isRegional(r) {
		riCount = 1
	}
	for j < len(s) {
		c, cw := decodeRune(s, j)
		switch {
		case isExtendGB(c) || c == 0x200D || unicode.Is(unicode.Mc, c):
		case prev == 0x200D && isPictographic(c):
		case isRegional(prev) && isRegional(c) && riCount%2 == 1:
			riCount++
		case hangulJoins(prev, c):
		default:
			return j
		}
		prev = c
		j += cw
	}
	return j
}

func isControlGB(r rune) bool {
	return r == '\n' || r == '\r' || (unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp) ||
		unicode.Is(unicode.Cf, r) && r != 0x200C && r != 0x200D)
}

func isExtendGB(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Other_Grapheme_Extend) || r == 0x200C ||
		r >= 0x1F3FB && r <= 0x1F3FF || r >= 0xE0020 && r <= 0xE007F || r >= 0xFE00 && r <= 0xFE0F
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isPictographic(r rune) bool {
	return r >= 0x1F000 && r <= 0x1FAFF || r >= 0x2600 && r <= 0x27BF || r == 0x00A9 || r == 0x00AE ||
		r >= 0x2190 && r <= 0x21FF || r >= 0x2300 && r <= 0x23FF || r >= 0x2B00 && r <= 0x2BFF
}

// hangulType classifies Hangul jamo and syllables for UAX #29 rules GB6-GB8.
func hangulType(r rune) byte {
	switch {
	case r >= 0x1100 && r <= 0x115F || r >= 0xA960 && r <= 0xA97C:
		return 'L'
	case r >= 0x1160 && r <= 0x11A7 || r >= 0xD7B0 && r <= 0xD7C6:
		return 'V'
	case r >= 0x11A8 && r <= 0x11FF || r >= 0xD7CB && r <= 0xD7FB:
		return 'T'
	case r >= 0xAC00 && r <= 0xD7A3:
		if (r-0xAC00)%28 == 0 {
			return 'v' // LV
		}
		return 't' // LVT
	}
	return 0
}

func hangulJoins(a, b rune) bool {
	ta, tb := hangulType(a), hangulType(b)
	switch ta {
	case 'L':
		return tb == 'L' || tb == 'V' || tb == 'v' || tb == 't'
	case 'V', 'v':
		return tb == 'V' || tb == 'T'
	case 'T', 't':
		return tb == 'T'
	}
	return false
}
