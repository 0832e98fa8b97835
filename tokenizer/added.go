package tokenizer

import (
	"sort"
	"unicode/utf8"
)

// AddedToken is a token matched in the text before the model runs, such as
// a special token like "[CLS]" or "<|endoftext|>" (HuggingFace's AddedToken).
type AddedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	// SingleWord matches only when no word character touches either side.
	SingleWord bool `json:"single_word"`
	// LStrip and RStrip make the token swallow the whitespace on that side.
	LStrip bool `json:"lstrip"`
	RStrip bool `json:"rstrip"`
	// Normalized matches the token in the normalized text rather than the raw text.
	Normalized bool `json:"normalized"`
	// Special tokens are dropped when decoding with skipSpecial.
	Special bool `json:"special"`
}

// addedVocab holds the added tokens and matches them in text.
type addedVocab struct {
	tokens  []AddedToken // in the order they were added
	byID    map[int]*AddedToken
	byText  map[string]int
	raw     matcher // tokens matched in the raw text
	normed  matcher // tokens matched in the normalized text
	special map[string]bool
}

// matcher finds the leftmost-longest occurrences of a set of strings.
type matcher struct {
	pats  []string
	toks  []*AddedToken
	first map[byte][]int // indices into pats by first byte, longest first
}

func newMatcher(pats []string, toks []*AddedToken) matcher {
	m := matcher{pats: pats, toks: toks, first: map[byte][]int{}}
	for i, p := range pats {
		if p != "" {
			m.first[p[0]] = append(m.first[p[0]], i)
		}
	}
	for _, l := range m.first {
		sort.SliceStable(l, func(a, b int) bool { return len(pats[l[a]]) > len(pats[l[b]]) })
	}
	return m
}

// next returns the first match at or after i.
func (m *matcher) next(s string, i int) (start, end, idx int, ok bool) {
	for ; i < len(s); i++ {
		for _, k := range m.first[s[i]] {
			p := m.pats[k]
			if len(s)-i >= len(p) && s[i:i+len(p)] == p {
				return i, i + len(p), k, true
			}
		}
	}
	return 0, 0, 0, false
}

func newAddedVocab(tokens []AddedToken, norm normalizer) *addedVocab {
	a := &addedVocab{byID: map[int]*AddedToken{}, byText: map[string]int{}, special: map[string]bool{}}
	a.add(tokens, norm)
	return a
}

// add appends tokens and rebuilds the matchers. Special tokens are matched
// before the others, as in HuggingFace.
func (a *addedVocab) add(tokens []AddedToken, norm normalizer) {
	for _, t := range tokens {
		if t.Content == "" {
			continue
		}
		a.tokens = append(a.tokens, t)
	}
	a.byID = map[int]*AddedToken{}
	a.byText = map[string]int{}
	a.special = map[string]bool{}
	for i := range a.tokens {
		t := &a.tokens[i]
		a.byID[t.ID] = t
		a.byText[t.Content] = t.ID
		if t.Special {
			a.special[t.Content] = true
		}
	}
	var rawP, normP []string
	var rawT, normT []*AddedToken
	for _, special := range []bool{true, false} {
		for i := range a.tokens {
			t := &a.tokens[i]
			if t.Special != special {
				continue
			}
			if t.Normalized {
				n := newNormString(t.Content)
				if norm != nil {
					norm.normalize(n)
				}
				normP, normT = append(normP, n.norm), append(normT, t)
			} else {
				rawP, rawT = append(rawP, t.Content), append(rawT, t)
			}
		}
	}
	a.raw = newMatcher(rawP, rawT)
	a.normed = newMatcher(normP, normT)
}

// split cuts n at the added tokens m finds, honouring single_word, lstrip
// and rstrip (HuggingFace's find_matches and split_with_indices).
func (a *addedVocab) split(n *normString, m *matcher) []piece {
	s := n.norm
	if s == "" {
		return nil
	}
	if len(m.pats) == 0 {
		// HuggingFace still re-slices the text, which moves its start in the
		// original past anything the normalizer removed there (Metaspace's
		// "first" scheme looks at that start).
		return []piece{{n: n.slice(0, len(s))}}
	}
	var out []piece
	last := 0
	for i := 0; i < len(s); {
		start, end, k, ok := m.next(s, i)
		if !ok {
			break
		}
		i = end
		t := m.toks[k]
		if t.SingleWord {
			startOK := start == 0 || !endsWithWord(s[:start])
			endOK := end == len(s) || !startsWithWord(s[end:])
			if !startOK || !endOK {
				continue
			}
		}
		if t.LStrip {
			j := start
			for j > 0 {
				r, w := utf8.DecodeLastRuneInString(s[:j])
				if !isWhitespace(r) {
					break
				}
				j -= w
			}
			start = max(j, last)
		}
		if t.RStrip {
			for end < len(s) {
				r, w := decodeRune(s, end)
				if !isWhitespace(r) {
					break
				}
				end += w
			}
			i = end
		}
		if last < start {
			out = append(out, piece{n: n.slice(last, start)})
		}
		sl := n.slice(start, end)
		out = append(out, piece{n: sl, done: true, tokens: []token{{t.ID, sl.norm, span{0, len(sl.norm)}}}})
		last = end
	}
	if last < len(s) {
		out = append(out, piece{n: n.slice(last, len(s))})
	}
	return out
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isAlnumWord(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isAlnumWord(r)
}

// extractAndNormalize finds raw added tokens, normalizes the text between
// them, then finds normalized added tokens (HuggingFace's
// extract_and_normalize).
func (a *addedVocab) extractAndNormalize(norm normalizer, text string) *preTokenized {
	p := &preTokenized{pieces: []piece{{n: newNormString(text)}}}
	p.splitPieces(func(n *normString) []piece { return a.split(n, &a.raw) })
	p.splitPieces(func(n *normString) []piece {
		if norm != nil {
			norm.normalize(n)
		}
		return a.split(n, &a.normed)
	})
	return p
}

// splitPieces is splitEach for functions that may also produce finished pieces.
func (p *preTokenized) splitPieces(f func(n *normString) []piece) {
	out := make([]piece, 0, len(p.pieces))
	for _, pc := range p.pieces {
		if pc.done {
			out = append(out, pc)
			continue
		}
		for _, q := range f(pc.n) {
			if q.n.norm != "" {
				out = append(out, q)
			}
		}
	}
	p.pieces = out
}

// index returns the position of the token with this content, or -1.
func (a *addedVocab) index(content string) int {
	for i := range a.tokens {
		if a.tokens[i].Content == content {
			return i
		}
	}
	return -1
}
