package tokenizer

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// spmModel is a SentencePiece model (unigram or BPE) that segments a whole
// normalized sentence at once, as SentencePiece's models do. It follows
// SentencePiece's code rather than HuggingFace's conversion of it: pieces
// may span spaces, BPE merges by piece score, user-defined pieces win, and
// scores are float32.
type spmModel struct {
	bpe          bool
	pieces       []spmPiece
	normal       map[string]int // NORMAL, USER_DEFINED and UNUSED pieces: the ones text can match
	reserved     map[string]int // CONTROL, UNKNOWN and BYTE pieces
	unkID        int
	byteFallback bool
	byteIDs      [256]int
	trie         byteTrie  // the normal pieces, for the unigram lattice
	user         *byteTrie // the user-defined pieces, never split; nil for none
	// minScore and maxScore range over the NORMAL pieces (FLT_MAX and FLT_MIN
	// when there are none, as SentencePiece starts them).
	minScore, maxScore float32
}

const (
	spmUnkPenalty = 10 // the unknown piece scores this below the lowest piece
	fltMax        = float32(math.MaxFloat32)
	fltMin        = float32(0x1p-126)
	spaceSymbol   = "\u2581" // ▁, SentencePiece's escaped space
)

// newSPMModel checks the pieces as SentencePiece's InitializePieces does and
// indexes them.
func newSPMModel(mp *modelProto) (*spmModel, error) {
	switch mp.trainer.modelType {
	case modelUnigram, modelBPE:
	case modelWord:
		return nil, errors.New("trainer_spec.model_type WORD is not supported (only UNIGRAM and BPE)")
	case modelChar:
		return nil, errors.New("trainer_spec.model_type CHAR is not supported (only UNIGRAM and BPE)")
	default:
		return nil, fmt.Errorf("trainer_spec.model_type: unknown model type %d", mp.trainer.modelType)
	}
	if len(mp.pieces) == 0 {
		return nil, errors.New("the model has no pieces")
	}
	m := &spmModel{
		bpe:          mp.trainer.modelType == modelBPE,
		pieces:       mp.pieces,
		normal:       make(map[string]int, len(mp.pieces)),
		reserved:     map[string]int{},
		unkID:        -1,
		byteFallback: mp.trainer.byteFallback,
		minScore:     fltMax,
		maxScore:     fltMin,
	}
	var haveByte [256]bool
	var user byteTrie
	total := 0
	for i, p := range mp.pieces {
		if p.piece == "" {
			return nil, fmt.Errorf("pieces[%d]: empty piece", i)
		}
		if total += len(p.piece); total >= 1<<24 {
			return nil, fmt.Errorf("pieces: more than %d bytes of piece text", 1<<24)
		}
		index := m.reserved
		if p.typ == pieceNormal || p.typ == pieceUserDefined || p.typ == pieceUnused {
			index = m.normal
		}
		if _, dup := index[p.piece]; dup {
			return nil, fmt.Errorf("pieces[%d]: %q is already defined", i, p.piece)
		}
		index[p.piece] = i
		switch p.typ {
		case pieceNormal:
			m.minScore = min(m.minScore, p.score)
			m.maxScore = max(m.maxScore, p.score)
		case pieceUserDefined:
			user.insert(p.piece, i)
		case pieceUnknown:
			if m.unkID >= 0 {
				return nil, fmt.Errorf("pieces[%d]: a second unknown piece %q (the first is pieces[%d])", i, p.piece, m.unkID)
			}
			m.unkID = i
		case pieceByte:
			if !m.byteFallback {
				return nil, fmt.Errorf("pieces[%d]: byte piece %q, but trainer_spec.byte_fallback is false", i, p.piece)
			}
			b, ok := pieceByteValue(p.piece)
			if !ok {
				return nil, fmt.Errorf("pieces[%d]: byte piece %q is not of the form <0xNN>", i, p.piece)
			}
			haveByte[b] = true
			m.byteIDs[b] = i
		}
	}
	if m.unkID < 0 {
		return nil, errors.New("the model has no unknown piece (type UNKNOWN)")
	}
	if m.byteFallback {
		for b, ok := range haveByte {
			if !ok {
				return nil, fmt.Errorf("trainer_spec.byte_fallback is true but the byte piece <0x%02X> is missing", b)
			}
		}
	}
	if len(m.normal) == 0 {
		return nil, errors.New("the model has no pieces text can match (NORMAL, USER_DEFINED or UNUSED)")
	}
	for s, id := range m.normal {
		m.trie.insert(s, id)
	}
	if user.edges != nil {
		m.user = &user
	}
	return m, nil
}

// pieceByteValue parses a byte piece, <0x00> to <0xFF> (upper-case hex).
func pieceByteValue(p string) (byte, bool) {
	if len(p) != 6 || p[:3] != "<0x" || p[5] != '>' || strings.ContainsAny(p[3:5], "abcdef") {
		return 0, false
	}
	v, err := strconv.ParseUint(p[3:5], 16, 8)
	return byte(v), err == nil
}

// pieceID is SentencePiece's PieceToId: reserved pieces first, then the
// others, and the unknown piece for anything else.
func (m *spmModel) pieceID(s string) int {
	if id, ok := m.reserved[s]; ok {
		return id
	}
	if id, ok := m.normal[s]; ok {
		return id
	}
	return m.unkID
}

func (m *spmModel) tokenToID(s string) (int, bool) {
	if id, ok := m.reserved[s]; ok {
		return id, true
	}
	id, ok := m.normal[s]
	return id, ok
}

func (m *spmModel) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.pieces) {
		return "", false
	}
	return m.pieces[id].piece, true
}

func (m *spmModel) vocabSize() int { return len(m.pieces) }

// spmSegment is a piece the model chose: bytes [start, end) of the
// normalized text and its id.
type spmSegment struct{ start, end, id int }

// tokenize segments a normalized sentence and turns the segments into
// tokens as SentencePiece's PopulateSentencePieceText does: an unknown
// piece becomes its UTF-8 bytes with byte fallback, and runs of unknown
// pieces are merged otherwise.
func (m *spmModel) tokenize(s string) ([]token, error) {
	if s == "" {
		return nil, nil
	}
	var segs []spmSegment
	var err error
	if m.bpe {
		segs = m.encodeBPE(s)
	} else if segs, err = m.encodeUnigram(s); err != nil {
		return nil, err
	}
	out := make([]token, 0, len(segs))
	prevUnk := false
	for _, g := range segs {
		w := s[g.start:g.end]
		unk := g.id == m.unkID
		switch {
		case m.pieces[g.id].typ == pieceControl:
			// SentencePiece's Encode fails here too (its Python wrapper
			// returns no pieces): a control piece covers no text.
			return nil, fmt.Errorf("sentencepiece: the text %q matches the control piece %q", w, m.pieces[g.id].piece)
		case unk && m.byteFallback:
			for k := 0; k < len(w); k++ {
				id := m.byteIDs[w[k]]
				out = append(out, token{id, m.pieces[id].piece, span{g.start, g.end}})
			}
		case unk && prevUnk:
			last := &out[len(out)-1]
			last.value += w
			last.off.end = g.end
		default:
			out = append(out, token{g.id, w, span{g.start, g.end}})
		}
		prevUnk = unk
	}
	return out, nil
}

// oneCharLen is the length of the UTF-8 sequence a lead byte announces, as
// SentencePiece's OneCharLen reads it (without checking the sequence).
func oneCharLen(b byte) int {
	return int("\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x02\x02\x03\x04"[b>>4])
}

// encodeUnigram is SentencePiece's optimized Viterbi search for the most
// likely segmentation, with its float32 (and, for user-defined pieces,
// float64) arithmetic and its tie-breaking, so that near-ties resolve alike.
func (m *spmModel) encodeUnigram(s string) ([]spmSegment, error) {
	type node struct {
		id    int
		score float32
		start int // -1 until a path reaches this position
	}
	best := make([]node, len(s)+1)
	for i := range best {
		best[i] = node{id: -1, start: -1}
	}
	unkScore := m.minScore - spmUnkPenalty
	for start := 0; start < len(s); {
		here := best[start].score
		mblen := min(oneCharLen(s[start]), len(s)-start)
		single := false
		cur := int32(0)
		for end := start + 1; end <= len(s); end++ {
			next, ok := m.trie.edges[uint32(cur)<<8|uint32(s[end-1])]
			if !ok {
				break
			}
			cur = next
			id := int(m.trie.ends[cur])
			if id < 0 || m.pieces[id].typ == pieceUnused {
				continue
			}
			length := end - start
			var score float64
			if m.pieces[id].typ == pieceUserDefined {
				// A bonus that makes user-defined pieces always win.
				score = float64(float32(length)*m.maxScore) - 0.1
			} else {
				score = float64(m.pieces[id].score)
			}
			c := score + float64(here)
			if t := &best[end]; t.start < 0 || c > float64(t.score) {
				*t = node{id, float32(c), start}
			}
			if length == mblen {
				single = true
			}
		}
		if !single {
			c := unkScore + here
			if t := &best[start+mblen]; t.start < 0 || c > t.score {
				*t = node{m.unkID, c, start}
			}
		}
		start += mblen
	}
	var segs []spmSegment
	for end := len(s); end > 0; {
		nd := best[end]
		if nd.start < 0 {
			return nil, fmt.Errorf("sentencepiece: no segmentation reaches byte %d of %q", end, s)
		}
		segs = append(segs, spmSegment{nd.start, end, nd.id})
		end = nd.start
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return segs, nil
}

// spmPair is a possible BPE merge of symbols left and right into a piece of
// size bytes with the given score.
type spmPair struct {
	left, right int
	score       float32
	size        int
}

// spmAgenda pops the highest score first and, among equal scores, the
// leftmost pair (SentencePiece's priority queue).
type spmAgenda []spmPair

func (h spmAgenda) Len() int { return len(h) }
func (h spmAgenda) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score > h[j].score
	}
	return h[i].left < h[j].left
}
func (h spmAgenda) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *spmAgenda) Push(x any)   { *h = append(*h, x.(spmPair)) }
func (h *spmAgenda) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

// push and pop are heap.Push and heap.Pop without boxing each pair in an
// interface, which costs an allocation per pair.
func (h *spmAgenda) push(p spmPair) {
	*h = append(*h, p)
	heap.Fix(h, len(*h)-1)
}

func (h *spmAgenda) pop() spmPair {
	old := *h
	top, last := old[0], len(old)-1
	old[0] = old[last]
	*h = old[:last]
	if last > 0 {
		heap.Fix(h, 0)
	}
	return top
}

// encodeBPE is SentencePiece's BPE: start from characters (user-defined
// pieces whole and frozen), repeatedly merge the adjacent pair that forms
// the best-scoring piece, then split unused pieces back into the pieces they
// were merged from.
func (m *spmModel) encodeBPE(s string) []spmSegment {
	type symbol struct {
		start, end, prev, next int
		freeze                 bool
	}
	syms := make([]symbol, 0, len(s))
	for i := 0; i < len(s); {
		n, freeze := 0, false
		if m.user != nil {
			n = m.user.longestPrefix(s[i:])
			freeze = n > 0
		}
		if n == 0 {
			n = min(oneCharLen(s[i]), len(s)-i)
		}
		next := len(syms) + 1
		if i+n == len(s) {
			next = -1
		}
		syms = append(syms, symbol{start: i, end: i + n, prev: len(syms) - 1, next: next, freeze: freeze})
		i += n
	}
	// revMerge remembers how each unused piece was formed, for resegmenting.
	revMerge := map[string][2]string{}
	var agenda spmAgenda
	tryPair := func(left, right int) {
		if left < 0 || right < 0 || syms[left].freeze || syms[right].freeze {
			return
		}
		piece := s[syms[left].start:syms[right].end]
		id, ok := m.normal[piece]
		if !ok {
			return
		}
		agenda.push(spmPair{left, right, m.pieces[id].score, len(piece)})
		if m.pieces[id].typ == pieceUnused {
			revMerge[piece] = [2]string{s[syms[left].start:syms[left].end], s[syms[right].start:syms[right].end]}
		}
	}
	for i := 1; i < len(syms); i++ {
		tryPair(i-1, i)
	}
	for agenda.Len() > 0 {
		top := agenda.pop()
		l, r := &syms[top.left], &syms[top.right]
		if l.start == l.end || r.start == r.end || (l.end-l.start)+(r.end-r.start) != top.size {
			continue // a symbol changed since the pair was queued
		}
		l.end = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.start, r.end = 0, 0
		tryPair(l.prev, top.left)
		tryPair(top.left, l.next)
	}
	var segs []spmSegment
	var resegment func(start int, w string)
	resegment = func(start int, w string) {
		id := m.pieceID(w)
		if m.pieces[id].typ == pieceUnused {
			if p, ok := revMerge[w]; ok {
				resegment(start, p[0])
				resegment(start+len(p[0]), p[1])
				return
			}
		}
		segs = append(segs, spmSegment{start, start + len(w), id})
	}
	for i := 0; i >= 0; i = syms[i].next {
		resegment(syms[i].start, s[syms[i].start:syms[i].end])
	}
	return segs
}

// longestPrefix returns the length of the longest string in t that s
// starts with, or 0.
func (t *byteTrie) longestPrefix(s string) int {
	node, best := int32(0), 0
	for i := 0; i < len(s); i++ {
		next, ok := t.edges[uint32(node)<<8|uint32(s[i])]
		if !ok {
			break
		}
		node = next
		if t.ends[node] >= 0 {
			best = i + 1
		}
	}
	return best
}

// spmDecoder turns pieces back into text as SentencePiece's Decode does:
// control pieces vanish, the unknown piece becomes the unknown surface (other
// pieces SentencePiece does not know are kept as they are), runs of byte
// pieces become the characters they spell (U+FFFD for each byte of an invalid
// sequence), ▁ becomes a space, the first one of the text is dropped, and the
// denormalizer, if any, runs last. It looks pieces up by their text, as
// SentencePiece does, so that DecodeTokens and Decode agree.
type spmDecoder struct {
	m          *spmModel
	unkSurface string
	// stripSpace drops the ▁ that starts the first piece (when the
	// normalizer adds a dummy prefix or removes extra whitespace); stripAll
	// (removing extra whitespace) keeps dropping it until some text is out.
	stripSpace, stripAll bool
	denorm               *spmNormalizer
}

func (d *spmDecoder) decodeChain(tokens []string) []string {
	var text strings.Builder
	var pending []byte // a run of byte pieces
	flush := func() {
		for len(pending) > 0 {
			r, n := utf8.DecodeRune(pending)
			if r == utf8.RuneError && n == 1 {
				text.WriteString("\uFFFD")
			} else {
				text.Write(pending[:n])
			}
			pending = pending[n:]
		}
	}
	atStart, strippedSpace := true, false
	for _, piece := range tokens {
		id := d.m.pieceID(piece)
		typ := d.m.pieces[id].typ
		if typ == pieceByte {
			b, _ := pieceByteValue(piece)
			pending = append(pending, b)
			continue
		}
		flush()
		if strippedSpace || text.Len() > 0 {
			atStart = false
		}
		strippedSpace = false
		switch {
		case typ == pieceControl:
		case id == d.m.unkID && piece == d.m.pieces[id].piece:
			text.WriteString(d.unkSurface)
		case id == d.m.unkID:
			text.WriteString(piece)
		default:
			if atStart && d.stripSpace {
				if rest, ok := strings.CutPrefix(piece, spaceSymbol); ok {
					piece = rest
					strippedSpace = !d.stripAll
				}
			}
			text.WriteString(strings.ReplaceAll(piece, spaceSymbol, " "))
		}
	}
	flush()
	out := text.String()
	if d.denorm != nil {
		out = d.denorm.normalizeString(out)
	}
	return []string{out}
}
