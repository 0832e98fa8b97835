package tokenizer

import (
	"unicode/utf8"
)

// span is a half-open byte range [start, end).
type span struct{ start, end int }

// change pairs a rune of a new normalized string with how it relates to the
// runes it replaces, as HuggingFace's NormalizedString::transform defines it:
// 0 replaces one rune, 1 is an inserted rune, -n replaces one rune and removes
// the n runes after it.
type change struct {
	r rune
	n int
}

// normString is a piece of input text being normalized. It keeps the original
// text, the normalized text and, for every normalized byte, the range of
// original bytes it came from, so that token offsets can always point into the
// caller's text (HuggingFace's NormalizedString).
type normString struct {
	orig  string
	norm  string
	align []span // one per byte of norm, in orig's bytes; nil while ident
	// ident means the alignment is the identity: norm has orig's rune
	// boundaries and each byte maps to the whole rune it is in. Most text
	// stays so through most steps, which saves building align.
	ident bool
	shift int // where orig starts in the whole input
}

// newNormString wraps s with the identity alignment.
func newNormString(s string) *normString {
	return &normString{orig: s, norm: s, ident: true}
}

// runeSpan returns the rune of orig containing byte i, as a byte range.
func (n *normString) runeSpan(i int) span {
	s := n.orig
	start := i
	for start > 0 && start > i-3 && !utf8.RuneStart(s[start]) {
		start--
	}
	_, w := utf8.DecodeRuneInString(s[start:])
	if start+w <= i { // i is a stray continuation byte
		return span{i, i + 1}
	}
	return span{start, start + w}
}

// materialize builds align for an identity alignment.
func (n *normString) materialize() {
	if !n.ident {
		return
	}
	n.align = make([]span, len(n.norm))
	for i := 0; i < len(n.norm); {
		sp := n.runeSpan(i)
		for k := sp.start; k < sp.end; k++ {
			n.align[k] = sp
		}
		i = sp.end
	}
	n.ident = false
}

// alignAt returns the original range of normalized byte i.
func (n *normString) alignAt(i int) span {
	if n.ident {
		return n.runeSpan(i)
	}
	return n.align[i]
}

// origRange maps a range of normalized bytes to original bytes.
func (n *normString) origRange(start, end int) (span, bool) {
	if start == end {
		return span{start, end}, true
	}
	if start > end || start < 0 || end > len(n.norm) {
		return span{}, false
	}
	return span{n.alignAt(start).start, n.alignAt(end - 1).end}, true
}

// normRangeOfWholeOriginal maps the whole original text to normalized bytes,
// as HuggingFace's convert_offsets does for Range::Original(..).
func (n *normString) normRangeOfWholeOriginal() (span, bool) {
	if n.ident {
		return span{0, len(n.norm)}, true
	}
	target := span{0, len(n.orig)}
	if target.start == target.end {
		return target, true
	}
	start, end := -1, -1
	for i, a := range n.align {
		if target.end < a.end {
			break
		}
		if start < 0 && target.start <= a.start && a.start != a.end {
			start = i
		}
		end = i + 1
	}
	switch {
	case start >= 0 && end >= 0:
		return span{start, end}, true
	case start >= 0:
		return span{start, start}, true
	case end >= 0:
		return span{end, end}, true
	}
	return span{}, false
}

// transform replaces the whole normalized text (HuggingFace's transform).
func (n *normString) transform(dest []change, initialOffset int) {
	r, ok := n.normRangeOfWholeOriginal()
	if !ok {
		return
	}
	n.transformRange(r, dest, initialOffset)
}

// transformRange replaces the normalized bytes in r with dest, updating the
// alignments as HuggingFace's transform_range does.
func (n *normString) transformRange(r span, dest []change, initialOffset int) {
	old := n.norm[r.start:r.end]
	if initialOffset == 0 && sameShape(old, dest) {
		// Each rune replaced by one of the same size: the alignment stays.
		buf := make([]byte, 0, len(n.norm))
		buf = append(buf, n.norm[:r.start]...)
		for _, c := range dest {
			buf = utf8.AppendRune(buf, c.r)
		}
		buf = append(buf, n.norm[r.end:]...)
		n.norm = string(buf)
		return
	}
	n.materialize()
	// Runes being replaced, consumed as dest asks.
	pos := 0 // byte position in old
	next := func() int {
		if pos >= len(old) {
			return 0
		}
		_, w := utf8.DecodeRuneInString(old[pos:])
		pos += w
		return w
	}
	removed := 0
	for k := 0; k < initialOffset; k++ {
		removed += next()
	}
	offset := r.start + removed
	buf := make([]byte, 0, len(old))
	aligns := make([]span, 0, len(old))
	for _, c := range dest {
		var a span
		if c.n > 0 {
			if offset >= 1 && offset-1 < len(n.align) {
				a = n.align[offset-1]
			}
		} else if offset < len(n.align) {
			a = n.align[offset]
		} else if len(n.align) > 0 {
			a = n.align[len(n.align)-1]
		}
		size := 0
		if c.n <= 0 {
			size = next()
		}
		if c.n < 0 {
			for k := 0; k < -c.n; k++ {
				size += next()
			}
		}
		offset += size
		w := len(buf)
		buf = utf8.AppendRune(buf, c.r)
		for k := w; k < len(buf); k++ {
			aligns = append(aligns, a)
		}
	}
	newAlign := make([]span, 0, len(n.align)-len(old)+len(aligns))
	newAlign = append(newAlign, n.align[:r.start]...)
	newAlign = append(newAlign, aligns...)
	newAlign = append(newAlign, n.align[r.end:]...)
	n.align = newAlign
	n.norm = n.norm[:r.start] + string(buf) + n.norm[r.end:]
}

// sameShape reports whether dest replaces the runes of old one for one with
// runes of the same UTF-8 length.
func sameShape(old string, dest []change) bool {
	i := 0
	for _, c := range dest {
		if c.n != 0 || i >= len(old) {
			return false
		}
		r, w := utf8.DecodeRuneInString(old[i:])
		if utf8.RuneLen(c.r) != w || r == utf8.RuneError && w == 1 {
			return false
		}
		i += w
	}
	return i == len(old)
}

// slice returns the part of n covering normalized bytes [start, end).
func (n *normString) slice(start, end int) *normString {
	o, ok := n.origRange(start, end)
	if !ok || o.start > o.end || o.end > len(n.orig) {
		o = span{0, 0}
	}
	if n.ident && o.start == start && o.end == end {
		return &normString{orig: n.orig[start:end], norm: n.norm[start:end], ident: true, shift: n.shift + start}
	}
	n.materialize()
	s := &normString{
		orig:  n.orig[o.start:o.end],
		norm:  n.norm[start:end],
		align: make([]span, end-start),
		shift: n.shift + o.start,
	}
	for i, a := range n.align[start:end] {
		s.align[i] = span{a.start - o.start, a.end - o.start}
	}
	return s
}

// mapRunes applies f to every rune, each output rune sequence replacing one
// input rune; an empty output removes the rune.
func (n *normString) mapRunes(f func(r rune, out []rune) []rune) {
	var out []rune
	same := true
	for _, r := range n.norm {
		out = f(r, out[:0])
		if len(out) != 1 || out[0] != r {
			same = false
			break
		}
	}
	if same {
		return
	}
	dest := make([]change, 0, len(n.norm))
	removedAtStart := 0
	for _, r := range n.norm {
		out = f(r, out[:0])
		if len(out) == 0 {
			if len(dest) == 0 {
				removedAtStart++
			} else {
				dest[len(dest)-1].n--
			}
			continue
		}
		for i, o := range out {
			k := 0
			if i > 0 {
				k = 1
			}
			dest = append(dest, change{o, k})
		}
	}
	n.transform(dest, removedAtStart)
}

// filter keeps the runes for which keep is true (HuggingFace's filter).
func (n *normString) filter(keep func(rune) bool) {
	n.mapRunes(func(r rune, out []rune) []rune {
		if keep(r) {
			return append(out, r)
		}
		return out
	})
}

// prepend inserts s before the first rune, aligned with that rune.
func (n *normString) prepend(s string) {
	if n.norm == "" {
		return
	}
	first, w := utf8.DecodeRuneInString(n.norm)
	var dest []change
	i := 0
	for _, r := range s {
		k := 1
		if i == 0 {
			k = 0
		}
		dest = append(dest, change{r, k})
		i++
	}
	dest = append(dest, change{first, 1})
	n.transformRange(span{0, w}, dest, 0)
}

// replaceMatches replaces every match of p with content (HuggingFace's
// replace). The new runes take the alignment of the last byte they replace,
// as HuggingFace's transform_range gives them; doing all matches in one pass
// keeps this linear.
func (n *normString) replaceMatches(p pattern, content string) {
	matches := p.findMatches(n.norm)
	any := false
	for _, m := range matches {
		any = any || m.match
	}
	if !any {
		return
	}
	n.materialize()
	buf := make([]byte, 0, len(n.norm))
	align := make([]span, 0, len(n.align))
	for _, m := range matches {
		if !m.match {
			buf = append(buf, n.norm[m.start:m.end]...)
			align = append(align, n.align[m.start:m.end]...)
			continue
		}
		a := n.align[m.end-1]
		buf = append(buf, content...)
		for k := 0; k < len(content); k++ {
			align = append(align, a)
		}
	}
	n.norm = string(buf)
	n.align = align
}

// split cuts n where p matches, treating the matches as behavior says
// (HuggingFace's NormalizedString::split).
func (n *normString) split(p pattern, behavior splitBehavior) []*normString {
	matches := p.findMatches(n.norm)
	type piece struct {
		span
		remove bool
	}
	var pieces []piece
	switch behavior {
	case splitIsolated:
		for _, m := range matches {
			pieces = append(pieces, piece{m.span, false})
		}
	case splitRemoved:
		for _, m := range matches {
			pieces = append(pieces, piece{m.span, m.match})
		}
	case splitContiguous:
		prev := false
		for _, m := range matches {
			if m.match == prev && len(pieces) > 0 {
				pieces[len(pieces)-1].end = m.end
			} else {
				pieces = append(pieces, piece{m.span, false})
			}
			prev = m.match
		}
	case splitMergedWithPrevious:
		prev := false
		for _, m := range matches {
			if m.match && !prev && len(pieces) > 0 {
				pieces[len(pieces)-1].end = m.end
			} else {
				pieces = append(pieces, piece{m.span, false})
			}
			prev = m.match
		}
	case splitMergedWithNext:
		prev := false
		for i := len(matches) - 1; i >= 0; i-- {
			m := matches[i]
			if m.match && !prev && len(pieces) > 0 {
				pieces[len(pieces)-1].start = m.start
			} else {
				pieces = append(pieces, piece{m.span, false})
			}
			prev = m.match
		}
		for i, j := 0, len(pieces)-1; i < j; i, j = i+1, j-1 {
			pieces[i], pieces[j] = pieces[j], pieces[i]
		}
	}
	out := make([]*normString, 0, len(pieces))
	for _, p := range pieces {
		if !p.remove {
			out = append(out, n.slice(p.start, p.end))
		}
	}
	return out
}
