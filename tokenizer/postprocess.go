package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// postProcessor adds special tokens around the encoded sequences
// (HuggingFace's post-processors).
type postProcessor interface {
	// addedTokens is how many tokens process adds, for truncation.
	addedTokens(pair bool) int
	process(a, b *Encoding, addSpecial bool) *Encoding
}

// mergeDefault joins a and b as they are.
func mergeDefault(a, b *Encoding) *Encoding {
	a.setSequence(0)
	if b == nil {
		return a
	}
	b.setSequence(1)
	out := &Encoding{}
	out.appendEncoding(a, 0, false)
	out.appendEncoding(b, 0, false)
	return out
}

// templatePiece is one element of a template: a sequence ("A" or "B") or a
// special token, with its type id.
type templatePiece struct {
	Sequence string // "A" or "B"; empty for a special token
	Special  string
	TypeID   int
}

// specialEntry is a special token of a template: one name for one or more ids.
type specialEntry struct {
	ID     string   `json:"id"`
	IDs    []int    `json:"ids"`
	Tokens []string `json:"tokens"`
}

// templateProcessor is HuggingFace's TemplateProcessing, e.g. "[CLS] $A [SEP]".
type templateProcessor struct {
	single, pair []templatePiece
	special      map[string]specialEntry
}

func (t *templateProcessor) addedTokens(pair bool) int {
	tpl := t.single
	if pair {
		tpl = t.pair
	}
	n := 0
	for _, p := range tpl {
		if p.Sequence == "" {
			n += len(t.special[p.Special].IDs)
		}
	}
	return n
}

func (t *templateProcessor) process(a, b *Encoding, addSpecial bool) *Encoding {
	tpl := t.single
	if b != nil {
		tpl = t.pair
	}
	a.setSequence(0)
	n := a.Len() + t.addedTokens(b != nil)
	if b != nil {
		b.setSequence(1)
		n += b.Len()
	}
	out := newEncoding(n)
	for _, p := range tpl {
		switch {
		case p.Sequence == "A":
			out.appendEncoding(a, p.TypeID, true)
		case p.Sequence == "B":
			if b != nil {
				out.appendEncoding(b, p.TypeID, true)
			}
		case addSpecial:
			s := t.special[p.Special]
			for i, id := range s.IDs {
				out.appendToken(id, s.Tokens[i], [2]int{0, 0}, p.TypeID, 1, -1, -1)
			}
		}
	}
	return out
}

func (t *templateProcessor) validate() error {
	for _, tpl := range [][]templatePiece{t.single, t.pair} {
		for _, p := range tpl {
			if p.Sequence != "" {
				continue
			}
			s, ok := t.special[p.Special]
			if !ok {
				return fmt.Errorf("post_processor: template uses special token %q missing from special_tokens", p.Special)
			}
			if len(s.IDs) != len(s.Tokens) {
				return fmt.Errorf("post_processor: special token %q has %d ids but %d tokens", p.Special, len(s.IDs), len(s.Tokens))
			}
		}
	}
	return nil
}

// specialPair is a (token, id) pair as BertProcessing stores them.
type specialPair struct {
	Token string
	ID    int
}

// bertProcessor is "[CLS] A [SEP]" and "[CLS] A [SEP] B [SEP]" with type
// ids 0 then 1.
type bertProcessor struct{ sep, cls specialPair }

func (p *bertProcessor) addedTokens(pair bool) int {
	if pair {
		return 3
	}
	return 2
}

func (p *bertProcessor) process(a, b *Encoding, addSpecial bool) *Encoding {
	if !addSpecial {
		return mergeDefault(a, b)
	}
	a.setSequence(0)
	out := &Encoding{}
	out.appendToken(p.cls.ID, p.cls.Token, [2]int{}, 0, 1, -1, -1)
	out.appendEncoding(a, 0, true)
	out.appendToken(p.sep.ID, p.sep.Token, [2]int{}, 0, 1, -1, -1)
	if b != nil {
		b.setSequence(1)
		out.appendEncoding(b, 1, true)
		out.appendToken(p.sep.ID, p.sep.Token, [2]int{}, 1, 1, -1, -1)
	}
	return out
}

// robertaProcessor is "<s> A </s>" and "<s> A </s></s> B </s>", trimming
// byte-level offsets first if asked.
type robertaProcessor struct {
	sep, cls       specialPair
	trimOffsets    bool
	addPrefixSpace bool
}

func (p *robertaProcessor) addedTokens(pair bool) int {
	if pair {
		return 4
	}
	return 2
}

func (p *robertaProcessor) process(a, b *Encoding, addSpecial bool) *Encoding {
	if p.trimOffsets {
		trimByteLevelOffsets(a, p.addPrefixSpace)
		if b != nil {
			trimByteLevelOffsets(b, p.addPrefixSpace)
		}
	}
	if !addSpecial { // RoBERTa gives every token type id 0, with or without its specials
		for _, e := range []*Encoding{a, b} {
			if e != nil {
				clear(e.TypeIDs)
			}
		}
		return mergeDefault(a, b)
	}
	a.setSequence(0)
	out := &Encoding{}
	out.appendToken(p.cls.ID, p.cls.Token, [2]int{}, 0, 1, -1, -1)
	out.appendEncoding(a, 0, true)
	out.appendToken(p.sep.ID, p.sep.Token, [2]int{}, 0, 1, -1, -1)
	if b != nil {
		b.setSequence(1)
		out.appendToken(p.sep.ID, p.sep.Token, [2]int{}, 0, 1, -1, -1)
		out.appendEncoding(b, 0, true)
		out.appendToken(p.sep.ID, p.sep.Token, [2]int{}, 0, 1, -1, -1)
	}
	return out
}

// byteLevelProcessor only trims offsets, if asked.
type byteLevelProcessor struct{ cfg byteLevelPre }

func (p *byteLevelProcessor) addedTokens(bool) int { return 0 }

func (p *byteLevelProcessor) process(a, b *Encoding, _ bool) *Encoding {
	if p.cfg.TrimOffsets {
		trimByteLevelOffsets(a, p.cfg.AddPrefixSpace)
		if b != nil {
			trimByteLevelOffsets(b, p.cfg.AddPrefixSpace)
		}
	}
	return mergeDefault(a, b)
}

// trimByteLevelOffsets moves offsets past the spaces a byte-level token
// starts or ends with (HuggingFace's process_offsets).
func trimByteLevelOffsets(e *Encoding, addPrefixSpace bool) {
	isSpace := func(r rune) bool { return r == byteRune[' '] || isWhitespace(r) }
	for i, t := range e.Tokens {
		r := []rune(t)
		lead, trail := 0, 0
		for lead < len(r) && isSpace(r[lead]) {
			lead++
		}
		for trail < len(r) && isSpace(r[len(r)-1-trail]) {
			trail++
		}
		// HuggingFace trims offsets counted in characters; ours are bytes
		// into e.text, so step over whole characters.
		off := &e.Offsets[i]
		if lead > 0 {
			if (i == 0 || off[0] == 0) && addPrefixSpace && lead == 1 {
				lead = 0
			}
			off[0] = min(skipRunes(e.text, off[0], lead), off[1])
		}
		if trail > 0 && utf8.RuneCountInString(e.text[:min(off[1], len(e.text))]) >= trail {
			off[1] = max(backRunes(e.text, off[1], trail), off[0])
		}
	}
}

type sequenceProcessor []postProcessor

func (s sequenceProcessor) addedTokens(pair bool) int {
	n := 0
	for _, p := range s {
		n += p.addedTokens(pair)
	}
	return n
}

// process runs the processors as HuggingFace does, which hands the
// sequences along unmerged from one to the next: ByteLevel processors only
// trim offsets, and the one other processor (Template, Bert or Roberta
// processing; parsePostProcessor allows at most one) adds the special
// tokens and merges. The trims all run first: a ByteLevel after the other
// processor can give other offsets than HF's (never other ids).
func (s sequenceProcessor) process(a, b *Encoding, addSpecial bool) *Encoding {
	var adder postProcessor
	for _, p := range s {
		bp, ok := p.(*byteLevelProcessor)
		if !ok {
			adder = p
			continue
		}
		if bp.cfg.TrimOffsets {
			trimByteLevelOffsets(a, bp.cfg.AddPrefixSpace)
			if b != nil {
				trimByteLevelOffsets(b, bp.cfg.AddPrefixSpace)
			}
		}
	}
	if adder != nil {
		return adder.process(a, b, addSpecial)
	}
	return mergeDefault(a, b)
}

// skipRunes returns the byte offset n runes after byte i of s.
func skipRunes(s string, i, n int) int {
	for ; n > 0 && i < len(s); n-- {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	if n > 0 {
		i += n
	}
	return i
}

// backRunes returns the byte offset n runes before byte i of s.
func backRunes(s string, i, n int) int {
	i = min(i, len(s))
	for ; n > 0 && i > 0; n-- {
		_, w := utf8.DecodeLastRuneInString(s[:i])
		i -= w
	}
	return i
}
