package tokenizer

// Encoding is the result of tokenizing a text or a text pair: parallel
// slices, one entry per token (HuggingFace's Encoding).
type Encoding struct {
	IDs    []int
	Tokens []string
	// Offsets are byte ranges [start, end) into the input text the token came
	// from (the first or the second text of a pair); special tokens have [0, 0).
	Offsets [][2]int
	// TypeIDs tell the segments of a pair apart (0 for the first, 1 for the
	// second, as the post-processor says).
	TypeIDs []int
	// SpecialTokensMask is 1 for tokens the post-processor or padding added.
	SpecialTokensMask []int
	// AttentionMask is 0 for padding.
	AttentionMask []int
	// WordIDs is the index of the pre-tokenized word each token belongs to, or -1.
	WordIDs []int
	// SequenceIDs is 0 or 1 for the text of a pair each token came from, or -1.
	SequenceIDs []int

	text string // the input, while post-processing
}

// newEncoding returns an empty encoding with room for n tokens.
func newEncoding(n int) *Encoding {
	return &Encoding{
		IDs: make([]int, 0, n), Tokens: make([]string, 0, n), Offsets: make([][2]int, 0, n),
		TypeIDs: make([]int, 0, n), SpecialTokensMask: make([]int, 0, n), AttentionMask: make([]int, 0, n),
		WordIDs: make([]int, 0, n), SequenceIDs: make([]int, 0, n),
	}
}

// Len returns the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

func (e *Encoding) appendToken(id int, tok string, off [2]int, typeID, special, word, seq int) {
	e.IDs = append(e.IDs, id)
	e.Tokens = append(e.Tokens, tok)
	e.Offsets = append(e.Offsets, off)
	e.TypeIDs = append(e.TypeIDs, typeID)
	e.SpecialTokensMask = append(e.SpecialTokensMask, special)
	e.AttentionMask = append(e.AttentionMask, 1)
	e.WordIDs = append(e.WordIDs, word)
	e.SequenceIDs = append(e.SequenceIDs, seq)
}

func (e *Encoding) appendEncoding(o *Encoding, typeID int, setType bool) {
	for i := range o.IDs {
		t := o.TypeIDs[i]
		if setType {
			t = typeID
		}
		e.appendToken(o.IDs[i], o.Tokens[i], o.Offsets[i], t, o.SpecialTokensMask[i], o.WordIDs[i], o.SequenceIDs[i])
		e.AttentionMask[len(e.AttentionMask)-1] = o.AttentionMask[i]
	}
}

func (e *Encoding) setSequence(seq int) {
	for i := range e.SequenceIDs {
		e.SequenceIDs[i] = seq
	}
}

// truncate keeps n tokens, dropping from the right or the left.
func (e *Encoding) truncate(n int, left bool) {
	if n >= len(e.IDs) {
		return
	}
	lo, hi := 0, n
	if left {
		lo, hi = len(e.IDs)-n, len(e.IDs)
	}
	e.IDs = e.IDs[lo:hi]
	e.Tokens = e.Tokens[lo:hi]
	e.Offsets = e.Offsets[lo:hi]
	e.TypeIDs = e.TypeIDs[lo:hi]
	e.SpecialTokensMask = e.SpecialTokensMask[lo:hi]
	e.AttentionMask = e.AttentionMask[lo:hi]
	e.WordIDs = e.WordIDs[lo:hi]
	e.SequenceIDs = e.SequenceIDs[lo:hi]
}

// pad grows the encoding to n tokens with the padding token.
func (e *Encoding) pad(n int, p *Padding) {
	k := n - len(e.IDs)
	if k <= 0 {
		return
	}
	var pe Encoding
	for i := 0; i < k; i++ {
		pe.appendToken(p.PadID, p.PadToken, [2]int{0, 0}, p.PadTypeID, 1, -1, -1)
		pe.AttentionMask[i] = 0
	}
	if p.Direction == "Left" {
		pe.appendEncoding(e, 0, false)
		*e = pe
		return
	}
	e.appendEncoding(&pe, 0, false)
}
