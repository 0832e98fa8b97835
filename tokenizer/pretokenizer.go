package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// token is one model output: id, text and byte offsets in its split's
// normalized text.
type token struct {
	id    int
	value string
	off   span
}

// piece is a part of the input that is either still text or already
// turned into tokens (an added token, or after the model ran).
type piece struct {
	n      *normString
	tokens []token
	done   bool
}

// preTokenized is the input cut into pieces (HuggingFace's
// PreTokenizedString).
type preTokenized struct {
	pieces []piece
}

// splitEach replaces each unfinished piece with the non-empty pieces f returns.
func (p *preTokenized) splitEach(f func(n *normString) []*normString) {
	out := make([]piece, 0, len(p.pieces))
	for _, pc := range p.pieces {
		if pc.done {
			out = append(out, pc)
			continue
		}
		for _, n := range f(pc.n) {
			if n.norm != "" {
				out = append(out, piece{n: n})
			}
		}
	}
	p.pieces = out
}

// preTokenizer cuts normalized text into words (HuggingFace's pre-tokenizers).
type preTokenizer interface {
	preTokenize(p *preTokenized)
}

// byteLevelPre is GPT-2's pre-tokenizer: optionally add a leading space,
// split with GPT-2's regex, then spell every byte as a printable rune.
type byteLevelPre struct {
	AddPrefixSpace bool `json:"add_prefix_space"`
	TrimOffsets    bool `json:"trim_offsets"`
	UseRegex       bool `json:"use_regex"`
}

func (b *byteLevelPre) preTokenize(p *preTokenized) {
	p.splitEach(func(n *normString) []*normString {
		if b.AddPrefixSpace && (n.norm == "" || n.norm[0] != ' ') {
			n.prepend(" ")
		}
		if b.UseRegex {
			return n.split(gpt2Split{}, splitIsolated)
		}
		return []*normString{n}
	})
	for _, pc := range p.pieces {
		if !pc.done {
			byteLevelTransform(pc.n)
		}
	}
}

// byteLevelTransform rewrites each byte of n as its byte-level rune. As in
// HuggingFace's transform, the rune for a character's first byte takes that
// byte's alignment and the runes for its other bytes take the alignment of
// its last byte.
func byteLevelTransform(n *normString) {
	s := n.norm
	buf := make([]byte, 0, 2*len(s))
	align := make([]span, 0, 2*len(s))
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		first, rest := n.alignAt(i), n.alignAt(i+w-1)
		for k := 0; k < w; k++ {
			a := rest
			if k == 0 {
				a = first
			}
			before := len(buf)
			buf = utf8.AppendRune(buf, byteRune[s[i+k]])
			for ; before < len(buf); before++ {
				align = append(align, a)
			}
		}
		i += w
	}
	n.norm = string(buf)
	n.align = align
	n.ident = false
}

// bertPre splits on whitespace (dropped) and punctuation (kept alone).
type bertPre struct{}

func (bertPre) preTokenize(p *preTokenized) {
	p.splitEach(func(n *normString) []*normString { return n.split(runePattern(isWhitespace), splitRemoved) })
	p.splitEach(func(n *normString) []*normString { return n.split(runePattern(isPunctuation), splitIsolated) })
}

// whitespacePre keeps the runs matching \w+|[^\w\s]+.
type whitespacePre struct{}

func (whitespacePre) preTokenize(p *preTokenized) {
	p.splitEach(func(n *normString) []*normString { return n.split(invertPattern{wordRuns{}}, splitRemoved) })
}

// wordRuns matches \w+|[^\w\s]+.
type wordRuns struct{}

func (wordRuns) findMatches(s string) []matchSpan {
	var m matchList
	for i := 0; i < len(s); {
		r, w := decodeRune(s, i)
		if isWhitespace(r) {
			i += w
			continue
		}
		word := isAlnumWord(r)
		j := i + w
		for j < len(s) {
			r2, w2 := decodeRune(s, j)
			if isWhitespace(r2) || isAlnumWord(r2) != word {
				break
			}
			j += w2
		}
		m.add(i, j)
		i = j
	}
	return m.done(s)
}

// whitespaceSplitPre splits on whitespace.
type whitespaceSplitPre struct{}

func (whitespaceSplitPre) preTokenize(p *preTokenized) {
	p.splitEach(func(n *normString) []*normString { return n.split(runePattern(isWhitespace), splitRemoved) })
}

// prependScheme says when Metaspace adds the replacement before a piece.
type prependScheme string

const (
	prependAlways prependScheme = "always"
	prependNever  prependScheme = "never"
	prependFirst  prependScheme = "first"
)

// metaspacePre is SentencePiece's pre-tokenizer: spaces become the
// replacement rune (▁), which is added in front and splits the text.
type metaspacePre struct {
	Replacement   rune
	PrependScheme prependScheme
	Split         bool
}

func (m *metaspacePre) preTokenize(p *preTokenized) {
	rep := string(m.Replacement)
	p.splitEach(func(n *normString) []*normString {
		n.replaceMatches(stringPattern(" "), rep)
		starts := len(n.norm) >= len(rep) && n.norm[:len(rep)] == rep
		switch m.PrependScheme {
		case prependAlways:
			if !starts {
				n.prepend(rep)
			}
		case prependFirst:
			if !starts && n.shift == 0 {
				n.prepend(rep)
			}
		}
		if m.Split {
			return n.split(stringPattern(rep), splitMergedWithNext)
		}
		return []*normString{n}
	})
}

// splitPre splits on a string or regex.
type splitPre struct {
	pat      pattern
	behavior splitBehavior
	invert   bool
}

func (s *splitPre) preTokenize(p *preTokenized) {
	var pat pattern = s.pat
	if s.invert {
		pat = invertPattern{s.pat}
	}
	p.splitEach(func(n *normString) []*normString { return n.split(pat, s.behavior) })
}

// punctuationPre splits on punctuation.
type punctuationPre struct{ behavior splitBehavior }

func (u *punctuationPre) preTokenize(p *preTokenized) {
	p.splitEach(func(n *normString) []*normString { return n.split(runePattern(isPunctuation), u.behavior) })
}

// digitsPre splits numeric characters (Unicode N) off, alone or in runs.
type digitsPre struct{ Individual bool }

func (d *digitsPre) preTokenize(p *preTokenized) {
	b := splitContiguous
	if d.Individual {
		b = splitIsolated
	}
	p.splitEach(func(n *normString) []*normString { return n.split(runePattern(unicode.IsNumber), b) })
}

type sequencePre []preTokenizer

func (s sequencePre) preTokenize(p *preTokenized) {
	for _, x := range s {
		x.preTokenize(p)
	}
}
