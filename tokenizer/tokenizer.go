// Package tokenizer turns text into token ids and back, giving exactly the
// ids of HuggingFace's tokenizers library for byte-level BPE (GPT-2),
// WordPiece (BERT) and Unigram (T5, SentencePiece), and reads, writes and
// trains HuggingFace tokenizer.json files.
package tokenizer

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Tokenizer encodes text to ids and decodes ids to text.
type Tokenizer interface {
	// Encode tokenizes one text, adding the special tokens the tokenizer
	// defines (such as BERT's [CLS] and [SEP]).
	Encode(text string) (*Encoding, error)
	// EncodePair tokenizes two texts as one input, such as a question and
	// a passage.
	EncodePair(a, b string) (*Encoding, error)
	// Decode turns ids back into text.
	Decode(ids []int) (string, error)
	// VocabSize is the number of ids, added tokens included.
	VocabSize() int
	// TokenToID and IDToToken look single tokens up.
	TokenToID(token string) (int, bool)
	IDToToken(id int) (string, bool)
}

// Truncation limits the length of an encoding (HuggingFace's
// TruncationParams). MaxLength counts the special tokens too.
type Truncation struct {
	MaxLength int    `json:"max_length"`
	Strategy  string `json:"strategy"`  // LongestFirst, OnlyFirst or OnlySecond
	Direction string `json:"direction"` // Right or Left
	Stride    int    `json:"stride"`    // kept for saving; overflowing tokens are not returned
}

// Padding pads encodings to a fixed length or a multiple (HuggingFace's
// PaddingParams).
type Padding struct {
	// Fixed pads to this length; 0 means "batch longest", which for a single
	// encoding is its own length.
	Fixed         int
	PadToMultiple int
	Direction     string // Right or Left
	PadID         int
	PadTypeID     int
	PadToken      string
}

// Pipeline is a HuggingFace-style tokenizer: added tokens, normalizer,
// pre-tokenizer, model, post-processor and decoder, each optional but the
// model. It implements Tokenizer and is safe for concurrent use.
type Pipeline struct {
	added      *addedVocab
	normalizer normalizer
	pre        preTokenizer
	model      model
	post       postProcessor
	dec        decoder
	raw        rawParts // the components as JSON, for saving
	Truncation *Truncation
	Padding    *Padding
}

// rawParts keeps the JSON of the components other than the model.
type rawParts struct {
	normalizer, pre, post, dec json.RawMessage
}

var _ Tokenizer = (*Pipeline)(nil)

// Encode implements Tokenizer.
func (t *Pipeline) Encode(text string) (*Encoding, error) { return t.EncodeWith(text, nil, true) }

// EncodePair implements Tokenizer.
func (t *Pipeline) EncodePair(a, b string) (*Encoding, error) { return t.EncodeWith(a, &b, true) }

// EncodeWith tokenizes text and, when pair is not nil, a second text;
// addSpecial false leaves out the post-processor's special tokens. Invalid
// UTF-8 is first replaced by U+FFFD, so offsets then refer to that text.
func (t *Pipeline) EncodeWith(text string, pair *string, addSpecial bool) (*Encoding, error) {
	a, err := t.encodeSingle(text, 0)
	if err != nil {
		return nil, err
	}
	var b *Encoding
	if pair != nil {
		if b, err = t.encodeSingle(*pair, 1); err != nil {
			return nil, err
		}
	}
	if tr := t.Truncation; tr != nil {
		if tr.MaxLength < 0 {
			return nil, fmt.Errorf("truncation: max_length %d is negative", tr.MaxLength)
		}
		p := *tr
		if addSpecial && t.post != nil {
			p.MaxLength -= t.post.addedTokens(b != nil)
			if p.MaxLength < 0 {
				p.MaxLength = 0
			}
		}
		if err := truncatePair(a, b, &p); err != nil {
			return nil, err
		}
	}
	var e *Encoding
	if t.post != nil {
		e = t.post.process(a, b, addSpecial)
	} else {
		e = mergeDefault(a, b)
	}
	if p := t.Padding; p != nil {
		n := p.Fixed
		if n == 0 {
			n = e.Len()
		}
		if m := p.PadToMultiple; m > 0 && n%m != 0 {
			n += m - n%m
		}
		e.pad(n, p)
	}
	return e, nil
}

// encodeSingle runs one text through added tokens, normalizer,
// pre-tokenizer and model.
func (t *Pipeline) encodeSingle(text string, typeID int) (*Encoding, error) {
	if !utf8.ValidString(text) {
		text = lossyUTF8([]byte(text))
	}
	p := t.added.extractAndNormalize(t.normalizer, text)
	if t.pre != nil {
		t.pre.preTokenize(p)
	}
	total := 0
	for i := range p.pieces {
		pc := &p.pieces[i]
		if !pc.done {
			var err error
			if pc.tokens, err = t.model.tokenize(pc.n.norm); err != nil {
				return nil, err
			}
		}
		total += len(pc.tokens)
	}
	e := newEncoding(total)
	e.text = text
	for w, pc := range p.pieces {
		for _, tk := range pc.tokens {
			off := [2]int{tk.off.start, tk.off.end}
			if o, ok := pc.n.origRange(tk.off.start, tk.off.end); ok {
				off = [2]int{pc.n.shift + o.start, pc.n.shift + o.end}
			}
			e.appendToken(tk.id, tk.value, off, typeID, 0, w, 0)
		}
	}
	return e, nil
}

// truncatePair shortens a and b to p.MaxLength tokens in all.
func truncatePair(a, b *Encoding, p *Truncation) error {
	left := p.Direction == "Left"
	total := a.Len()
	if b != nil {
		total += b.Len()
	}
	if total <= p.MaxLength {
		return nil
	}
	remove := total - p.MaxLength
	switch p.Strategy {
	case "", "LongestFirst":
		if b == nil {
			a.truncate(p.MaxLength, left)
			return nil
		}
		n1, n2 := a.Len(), b.Len()
		swap := n1 > n2
		if swap {
			n1, n2 = n2, n1
		}
		if n1 > p.MaxLength {
			n2 = n1
		} else {
			n2 = max(n1, p.MaxLength-n1)
		}
		if n1+n2 > p.MaxLength {
			n1 = p.MaxLength / 2
			n2 = n1 + p.MaxLength%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		a.truncate(n1, left)
		b.truncate(n2, left)
	case "OnlyFirst", "OnlySecond":
		target := a
		if p.Strategy == "OnlySecond" {
			if b == nil {
				return fmt.Errorf("truncation: strategy OnlySecond needs a pair of texts")
			}
			target = b
		}
		if target.Len() <= remove {
			return fmt.Errorf("truncation: sequence of %d tokens is too short to remove %d (max_length %d)", target.Len(), remove, p.MaxLength)
		}
		target.truncate(target.Len()-remove, left)
	default:
		return fmt.Errorf("truncation: unknown strategy %q", p.Strategy)
	}
	return nil
}

// Decode implements Tokenizer, keeping special tokens.
func (t *Pipeline) Decode(ids []int) (string, error) { return t.DecodeWith(ids, false) }

// DecodeWith turns ids into text, leaving special tokens out if skipSpecial.
func (t *Pipeline) DecodeWith(ids []int, skipSpecial bool) (string, error) {
	toks := make([]string, 0, len(ids))
	for i, id := range ids {
		tok, ok := t.decodeToken(id)
		if !ok {
			return "", fmt.Errorf("decode: ids[%d] = %d is not in the vocabulary of %d", i, id, t.VocabSize())
		}
		if skipSpecial && t.added.special[tok] {
			if at, ok := t.added.byID[id]; ok && at.Special {
				continue
			}
		}
		toks = append(toks, tok)
	}
	return t.DecodeTokens(toks), nil
}

// DecodeTokens joins tokens (pieces) into text with the decoder, as
// HuggingFace's convert_tokens_to_string does; tokens need not be in the
// vocabulary.
func (t *Pipeline) DecodeTokens(tokens []string) string {
	if t.dec == nil {
		return strings.Join(tokens, " ")
	}
	return strings.Join(t.dec.decodeChain(tokens), "")
}

// decodeToken is IDToToken except that an added token matched in
// normalized text is spelled as normalized, so the decoder can undo the
// normalization (as HuggingFace does).
func (t *Pipeline) decodeToken(id int) (string, bool) {
	if at, ok := t.added.byID[id]; ok {
		if at.Normalized && t.normalizer != nil {
			n := newNormString(at.Content)
			t.normalizer.normalize(n)
			return n.norm, true
		}
		return at.Content, true
	}
	return t.model.idToToken(id)
}

// VocabSize implements Tokenizer: one more than the largest id of the model
// or the added tokens.
func (t *Pipeline) VocabSize() int {
	n := t.model.vocabSize()
	for id := range t.added.byID {
		n = max(n, id+1)
	}
	return n
}

// TokenToID implements Tokenizer; added tokens come first.
func (t *Pipeline) TokenToID(tok string) (int, bool) {
	if id, ok := t.added.byText[tok]; ok {
		return id, true
	}
	return t.model.tokenToID(tok)
}

// IDToToken implements Tokenizer; added tokens come first.
func (t *Pipeline) IDToToken(id int) (string, bool) {
	if at, ok := t.added.byID[id]; ok {
		return at.Content, true
	}
	return t.model.idToToken(id)
}

// AddedTokens returns the added tokens in the order they were added.
func (t *Pipeline) AddedTokens() []AddedToken { return append([]AddedToken(nil), t.added.tokens...) }

// AddTokens adds tokens that are matched before the model runs; it must not
// run while other goroutines encode with t. As in
// HuggingFace, the ID field is ignored: a token already in the vocabulary
// keeps its id and a new one gets the next free id. The tokens with their
// ids are returned.
func (t *Pipeline) AddTokens(tokens ...AddedToken) []AddedToken {
	var out []AddedToken
	for _, tk := range tokens {
		if tk.Content == "" {
			continue
		}
		if i := t.added.index(tk.Content); i >= 0 {
			tk.ID = t.added.tokens[i].ID
			t.added.tokens[i] = tk
		} else if id, ok := t.model.tokenToID(tk.Content); ok {
			tk.ID = id
			t.added.tokens = append(t.added.tokens, tk)
		} else {
			tk.ID = t.model.vocabSize()
			for _, a := range t.added.tokens {
				if a.ID >= tk.ID {
					tk.ID = a.ID + 1
				}
			}
			t.added.tokens = append(t.added.tokens, tk)
		}
		out = append(out, tk)
	}
	t.added.add(nil, t.normalizer)
	return out
}

// clone returns a shallow copy sharing the model, so that truncation and
// padding can differ.
func (t *Pipeline) clone() *Pipeline {
	c := *t
	return &c
}

// EncodeBatch encodes texts on all cores; addSpecial as in EncodeWith.
func (t *Pipeline) EncodeBatch(texts []string, addSpecial bool) ([]*Encoding, error) {
	out := make([]*Encoding, len(texts))
	errs := make([]error, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(texts) {
					return
				}
				out[i], errs[i] = t.EncodeWith(texts[i], nil, addSpecial)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("texts[%d]: %w", i, err)
		}
	}
	// Padding to the batch's longest (HF's BatchLongest): each encoding was
	// padded to its own length above.
	if p := t.Padding; p != nil && p.Fixed == 0 {
		n := 0
		for _, e := range out {
			n = max(n, e.Len())
		}
		if m := p.PadToMultiple; m > 0 && n%m != 0 {
			n += m - n%m
		}
		for _, e := range out {
			e.pad(n, p)
		}
	}
	return out, nil
}
