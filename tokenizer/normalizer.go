package tokenizer

import (
	"sort"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites text before it is split, keeping offsets into the
// original (HuggingFace's normalizers).
type normalizer interface {
	normalize(n *normString)
}

// bertNormalizer is BERT's text cleaning: drop control characters, turn
// whitespace into spaces, put spaces around CJK ideographs, strip accents
// and lowercase.
type bertNormalizer struct {
	CleanText          bool  `json:"clean_text"`
	HandleChineseChars bool  `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          bool  `json:"lowercase"`
}

func (b *bertNormalizer) normalize(n *normString) {
	if b.CleanText {
		n.mapRunes(func(r rune, out []rune) []rune {
			if r == 0 || r == 0xFFFD || (r != '\t' && r != '\n' && r != '\r' && isOther(r)) {
				return out
			}
			if isWhitespace(r) {
				return append(out, ' ')
			}
			return append(out, r)
		})
	}
	if b.HandleChineseChars {
		n.mapRunes(func(r rune, out []rune) []rune {
			if isChineseChar(r) {
				return append(out, ' ', r, ' ')
			}
			return append(out, r)
		})
	}
	strip := b.Lowercase
	if b.StripAccents != nil {
		strip = *b.StripAccents
	}
	if strip {
		unicodeNormalize(n, norm.NFD)
		stripMarks(n)
	}
	if b.Lowercase {
		n.mapRunes(toLower)
	}
}

// stripMarks removes nonspacing marks (Unicode Mn), as BERT does after NFD.
func stripMarks(n *normString) {
	n.filter(func(r rune) bool { return !isNonspacingMark(r) })
}

// unicodeNormalize applies a Unicode normalization form the way
// HuggingFace's alignment-keeping normalization (Unicode 9.0 tables; newer
// characters are left alone) does: every rune is
// decomposed on its own (its first output rune replaces it, the others are
// inserted), marks are put in canonical order carrying their alignment, and
// for the composed forms a starter absorbs the marks it composes with.
func unicodeNormalize(n *normString, form norm.Form) {
	if form.IsNormalString(n.norm) {
		return // also normal under Unicode 9.0: fewer characters decompose there
	}
	decomp := norm.NFD
	if form == norm.NFKC || form == norm.NFKD {
		decomp = norm.NFKD
	}
	dest := make([]change, 0, len(n.norm))
	// Below fast, no rune decomposes (Latin-1 letters do canonically, and
	// U+00A0 onwards may under compatibility).
	fast := rune(0xC0)
	if decomp == norm.NFKD {
		fast = 0xA0
	}
	var tmp [utf8.UTFMax]byte
	var scratch []byte
	for _, r := range n.norm {
		if r < fast || !inUnicode9(r) {
			dest = append(dest, change{r, 0})
			continue
		}
		w := utf8.EncodeRune(tmp[:], r)
		scratch = decomp.Append(scratch[:0], tmp[:w]...)
		k := 0
		for _, d := range string(scratch) {
			dest = append(dest, change{d, k})
			k = 1
		}
	}
	// Canonical ordering: stable sort of each run of non-starters by class.
	for i := 0; i < len(dest); {
		if ccc(dest[i].r) == 0 {
			i++
			continue
		}
		j := i
		for j < len(dest) && ccc(dest[j].r) != 0 {
			j++
		}
		run := dest[i:j]
		sort.SliceStable(run, func(a, b int) bool { return ccc(run[a].r) < ccc(run[b].r) })
		i = j
	}
	if form == norm.NFC || form == norm.NFKC {
		dest = compose(dest)
	}
	n.transform(dest, 0)
}

func ccc(r rune) uint8 {
	if r < 0x300 || !inUnicode9(r) {
		return 0
	}
	var tmp [utf8.UTFMax]byte
	w := utf8.EncodeRune(tmp[:], r)
	return norm.NFD.Properties(tmp[:w]).CCC()
}

// compose is Unicode's canonical composition over decomposed runes; a
// composed rune consumes the sources of both its parts.
func compose(d []change) []change {
	out := d[:0:0]
	starter := -1 // index in out of the last starter
	lastCCC := -1
	for _, c := range d {
		cc := int(ccc(c.r))
		if starter >= 0 && (lastCCC < cc || lastCCC == 0 && cc == 0 && starter == len(out)-1) {
			if p, ok := composePair(out[starter].r, c.r); ok {
				out[starter].r = p
				out[starter].n += c.n - 1
				continue
			}
		}
		if cc == 0 {
			starter = len(out)
			lastCCC = 0
		} else {
			lastCCC = cc
		}
		out = append(out, c)
	}
	return out
}

// composePair returns the primary composite of a and b, if there is one.
func composePair(a, b rune) (rune, bool) {
	s := norm.NFC.String(string(a) + string(b))
	r, w := utf8.DecodeRuneInString(s)
	if w == len(s) && r != a && inUnicode9(r) {
		return r, true
	}
	return 0, false
}

type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(n *normString) { unicodeNormalize(n, u.form) }

type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(n *normString) { n.mapRunes(toLower) }

// stripAccentsNormalizer removes every combining mark (Unicode M). Unlike
// BertNormalizer it does not decompose first, so it is usually put after NFD.
type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(n *normString) {
	n.filter(func(r rune) bool { return !isCombiningMark(r) })
}

// stripNormalizer removes leading and/or trailing whitespace.
type stripNormalizer struct {
	Left  bool `json:"strip_left"`
	Right bool `json:"strip_right"`
}

func (s *stripNormalizer) normalize(n *normString) {
	runes := []rune(n.norm)
	lead, trail := 0, 0
	if s.Left {
		for lead < len(runes) && isWhitespace(runes[lead]) {
			lead++
		}
	}
	if s.Right {
		for trail < len(runes)-lead && isWhitespace(runes[len(runes)-1-trail]) {
			trail++
		}
	}
	if lead == 0 && trail == 0 {
		return
	}
	var dest []change
	for i := lead; i < len(runes)-trail; i++ {
		k := 0
		if i == len(runes)-trail-1 {
			k = -trail
		}
		dest = append(dest, change{runes[i], k})
	}
	n.transform(dest, lead)
}

// replaceNormalizer replaces every match of a pattern.
type replaceNormalizer struct {
	pat     pattern
	content string
}

func (r *replaceNormalizer) normalize(n *normString) { n.replaceMatches(r.pat, r.content) }

// prependNormalizer puts a string before non-empty text.
type prependNormalizer struct{ Prepend string }

func (p *prependNormalizer) normalize(n *normString) {
	if n.norm != "" {
		n.prepend(p.Prepend)
	}
}

// nmtNormalizer is SentencePiece's nmt_nfkc rule set without the NFKC part:
// drop some control characters and map odd spaces to a space.
type nmtNormalizer struct{}

func (nmtNormalizer) normalize(n *normString) {
	n.mapRunes(func(r rune, out []rune) []rune {
		switch {
		case r >= 0x0001 && r <= 0x0008, r == 0x000B, r >= 0x000E && r <= 0x001F, r == 0x007F, r == 0x008F, r == 0x009F:
			return out
		case r == 0x0009, r == 0x000A, r == 0x000C, r == 0x000D, r == 0x1680,
			r >= 0x200B && r <= 0x200F, r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			return append(out, ' ')
		}
		return append(out, r)
	})
}

type sequenceNormalizer []normalizer

func (s sequenceNormalizer) normalize(n *normString) {
	for _, x := range s {
		x.normalize(n)
	}
}
