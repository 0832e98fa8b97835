package tokenizer

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// splitBehavior says what split does with the delimiters it finds
// (HuggingFace's SplitDelimiterBehavior).
type splitBehavior int

const (
	splitRemoved splitBehavior = iota
	splitIsolated
	splitMergedWithPrevious
	splitMergedWithNext
	splitContiguous
)

var splitBehaviorNames = map[string]splitBehavior{
	"Removed":            splitRemoved,
	"Isolated":           splitIsolated,
	"MergedWithPrevious": splitMergedWithPrevious,
	"MergedWithNext":     splitMergedWithNext,
	"Contiguous":         splitContiguous,
}

// matchSpan is one piece of a string cut by a pattern: a match or the text
// between two matches.
type matchSpan struct {
	span
	match bool
}

// pattern finds matches in a string. findMatches returns pieces that cover
// the whole string in order; an empty string gives one empty non-match.
type pattern interface {
	findMatches(s string) []matchSpan
}

// runePattern matches every rune for which the function is true, one match
// per rune.
type runePattern func(rune) bool

func (f runePattern) findMatches(s string) []matchSpan {
	if s == "" {
		return []matchSpan{{span{0, 0}, false}}
	}
	var out []matchSpan
	last := 0
	for i, r := range s {
		if f(r) {
			w := utf8.RuneLen(r)
			if w < 0 {
				w = 1
			}
			if last < i {
				out = append(out, matchSpan{span{last, i}, false})
			}
			out = append(out, matchSpan{span{i, i + w}, true})
			last = i + w
		}
	}
	if last < len(s) {
		out = append(out, matchSpan{span{last, len(s)}, false})
	}
	return out
}

// fromLocs turns match locations into pieces covering s.
func fromLocs(s string, locs [][]int) []matchSpan {
	var m matchList
	for _, l := range locs {
		m.add(l[0], l[1])
	}
	return m.done(s)
}

// matchList collects matches in order and fills the gaps between them.
type matchList struct {
	out  []matchSpan
	prev int
}

func (m *matchList) add(start, end int) {
	if start == end {
		return
	}
	if m.prev != start {
		m.out = append(m.out, matchSpan{span{m.prev, start}, false})
	}
	m.out = append(m.out, matchSpan{span{start, end}, true})
	m.prev = end
}

func (m *matchList) done(s string) []matchSpan {
	if s == "" {
		return []matchSpan{{span{0, 0}, false}}
	}
	if m.prev != len(s) {
		m.out = append(m.out, matchSpan{span{m.prev, len(s)}, false})
	}
	return m.out
}

// stringPattern matches a literal string.
type stringPattern string

func (p stringPattern) findMatches(s string) []matchSpan {
	if p == "" {
		return []matchSpan{{span{0, len(s)}, false}}
	}
	var m matchList
	for i := 0; i <= len(s)-len(p); {
		j := strings.Index(s[i:], string(p))
		if j < 0 {
			break
		}
		m.add(i+j, i+j+len(p))
		i += j + len(p)
	}
	return m.done(s)
}

// regexPattern matches a regular expression (Go's RE2 syntax; HuggingFace
// uses Oniguruma, so look-arounds and back-references are rejected at load).
type regexPattern struct{ re *regexp.Regexp }

func (p regexPattern) findMatches(s string) []matchSpan {
	return fromLocs(s, p.re.FindAllStringIndex(s, -1))
}

// spaceRunRegex is the end of GPT-2's regex and of those that followed it
// (Llama 3's, Qwen2's, GPT-4o's o200k, GPT-OSS's): a run of white space
// that leaves its last character to the word after it, or the whole run
// before the end of the text or when it is a single character. RE2 has no
// look-ahead, so spaceRunPattern matches the run and cuts it.
const spaceRunRegex = `\s+(?!\S)|\s+`

// spaceRunWindow is the text spaceRunPattern first searches for a match
// in, in bytes (a variable for the tests).
var spaceRunWindow = 256

// spaceRunMargin is how far before the window's end a match must end to be
// taken (see spaceRunPattern): more than the longest optional suffix of
// the GPT-2 family's alternatives, 's to 'll (or 'ſ, which (?i:) also
// matches), in bytes.
const spaceRunMargin = 8

// spaceRunPattern matches a regex whose spaceRunRegex became the group
// run (\s+): a match of that group that stops before more text (the run
// is greedy, so a non-space follows) and holds more than one character
// gives its last character back, and matching resumes there, where the
// regex then sees that character and the word after it, as the
// look-ahead's backtracking would have left them.
type spaceRunPattern struct {
	re       *regexp.Regexp
	run      int  // the group's index
	windowed bool // one of windowSafe: search a window at a time
	// sharedEnd is o200k's window rule: its capitals-then-lower-case
	// alternatives' classes share Lm, Lo and M, so a match ending in one
	// of those, with only letters and marks after it to the window's end,
	// may end short of a lower-case letter past the window.
	sharedEnd bool
}

// windowSafe are the patterns (as tokenizer.json spells them) whose
// alternatives spaceRunPattern's window is known to leave unchanged (see
// TestSpaceRunWindow and FuzzSpaceRunWindow), each with whether it needs
// the sharedEnd rule: Llama 3's, Qwen2's and o200k's. Another pattern is
// searched over the whole text, which is slower but needs no such
// knowledge of its alternatives.
var windowSafe = map[string]bool{
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:                                                                                                                                                                false,
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:                                                                                                                                                                     false,
	`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`: true,
}

func (p spaceRunPattern) findMatches(s string) []matchSpan {
	var m matchList
	win := spaceRunWindow
	if !p.windowed {
		win = len(s)
	}
	for pos := 0; pos < len(s); {
		// Go's regexp backtracks quickly over short texts and runs an NFA
		// over long ones: match in a window of the text, widened while the
		// search finds nothing or a match ending less than spaceRunMargin
		// bytes before the window's end. A longer match of the whole text
		// could be cut short there, the window then ending inside a run
		// the match is of or inside an optional suffix (a contraction such
		// as 'll), when white space runs from the match to the window's
		// end (\s*[\r\n]+ reaches the last line break of a run), or, for
		// o200k, under the sharedEnd rule; otherwise each of these
		// patterns' alternatives matches in the window as in the whole
		// text. A match is searched again only when its own run (or
		// o200k's run of capitals) reaches the window's end, so the
		// search stays linear in the text.
		hi := min(len(s), pos+win)
		for hi < len(s) && !utf8.RuneStart(s[hi]) { // not within a character
			hi++
		}
		loc := p.re.FindStringIndex(s[pos:hi])
		if hi < len(s) && (loc == nil || hi-(pos+loc[1]) < spaceRunMargin || blank(s[pos+loc[0]:hi]) || p.sharedEnd && endsShared(s[pos+loc[0]:pos+loc[1]]) && lettersOnly(s[pos+loc[1]:hi])) {
			win *= 2
			continue
		}
		if p.windowed {
			win = spaceRunWindow
		}
		if loc == nil {
			break
		}
		start, end := pos+loc[0], pos+loc[1]
		if end < len(s) && blank(s[start:end]) {
			if sub := p.re.FindStringSubmatchIndex(s[pos:hi]); sub[2*p.run] >= 0 {
				if _, w := utf8.DecodeLastRuneInString(s[start:end]); end-w > start {
					end -= w
				}
			}
		}
		if end == start { // an empty match: step over a character
			_, w := utf8.DecodeRuneInString(s[start:])
			pos = start + max(w, 1)
			continue
		}
		m.add(start, end)
		pos = end
	}
	return m.done(s)
}

// endsShared reports whether s ends with a modifier letter, another letter
// (Lo) or a mark: a character both of o200k's letter classes hold.
func endsShared(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return unicode.In(r, unicode.Lm, unicode.Lo, unicode.M)
}

// lettersOnly reports whether s is all letters and marks.
func lettersOnly(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsMark(r) }) < 0
}

// blank reports whether s is all white space.
func blank(s string) bool { return strings.TrimFunc(s, unicode.IsSpace) == "" }

// invertPattern swaps matches and non-matches.
type invertPattern struct{ p pattern }

func (p invertPattern) findMatches(s string) []matchSpan {
	m := p.p.findMatches(s)
	for i := range m {
		m[i].match = !m[i].match
	}
	return m
}
