package tokenizer

import (
	"container/heap"
	"fmt"
	"sync"
	"unicode/utf8"
)

// model turns one pre-tokenized word into tokens (HuggingFace's models).
type model interface {
	tokenize(word string) ([]token, error)
	tokenToID(tok string) (int, bool)
	idToToken(id int) (string, bool)
	vocabSize() int
}

// vocabulary is a token↔id map shared by the models.
type vocabulary struct {
	ids    map[string]int
	tokens []string // by id; "" where an id is unused
}

func newVocabulary(m map[string]int) (vocabulary, error) {
	v := vocabulary{ids: m}
	maxID := -1
	for tok, id := range m {
		if id < 0 {
			return v, fmt.Errorf("vocab: token %q has negative id %d", tok, id)
		}
		if id > 1<<26 {
			return v, fmt.Errorf("vocab: token %q has id %d, too large", tok, id)
		}
		maxID = max(maxID, id)
	}
	v.tokens = make([]string, maxID+1)
	for tok, id := range m {
		v.tokens[id] = tok
	}
	return v, nil
}

func (v *vocabulary) tokenToID(t string) (int, bool) { id, ok := v.ids[t]; return id, ok }
func (v *vocabulary) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(v.tokens) {
		return "", false
	}
	t := v.tokens[id]
	if t == "" {
		if _, ok := v.ids[""]; !ok || v.ids[""] != id {
			return "", false
		}
	}
	return t, true
}
func (v *vocabulary) vocabSize() int { return len(v.ids) }

// bpeModel is byte-pair encoding (Sennrich et al. 2016, §3.2): a word starts as single
// characters and the pair with the lowest merge rank is merged until none
// applies.
type bpeModel struct {
	vocabulary
	merges       map[[2]int]bpeMerge
	mergeList    [][2]string // in rank order, for saving
	unk          string      // "" for none
	prefix       string      // continuing_subword_prefix
	suffix       string      // end_of_word_suffix
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	dropout      *float64

	mu    sync.RWMutex
	cache map[string][]token
}

type bpeMerge struct{ rank, id int }

const bpeCacheSize = 10000

func newBPE(vocab map[string]int, merges [][2]string, prefix string) (*bpeModel, error) {
	v, err := newVocabulary(vocab)
	if err != nil {
		return nil, err
	}
	m := &bpeModel{vocabulary: v, merges: make(map[[2]int]bpeMerge, len(merges)), mergeList: merges, prefix: prefix, cache: map[string][]token{}}
	for rank, p := range merges {
		a, ok := vocab[p[0]]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, p[0])
		}
		b, ok := vocab[p[1]]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, p[1])
		}
		// The merged token drops the continuing-subword prefix of the right part.
		right := p[1]
		if m.prefix != "" && len(right) >= len(m.prefix) && right[:len(m.prefix)] == m.prefix {
			right = right[len(m.prefix):]
		}
		id, ok := vocab[p[0]+right]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: merged token %q is not in the vocab", rank, p[0]+right)
		}
		m.merges[[2]int{a, b}] = bpeMerge{rank, id} // a repeated pair keeps its last rank, as in HuggingFace
	}
	return m, nil
}

type bpeSymbol struct {
	id, prev, next, len int
}

// mergeItem is a possible merge at symbol pos; mergeHeap pops the lowest
// rank first and, among equal ranks, the leftmost (as HuggingFace's queue).
type mergeItem struct{ pos, rank, id int }
type mergeHeap []mergeItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeItem)) }
func (h *mergeHeap) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

func (m *bpeModel) tokenize(w string) ([]token, error) {
	if w == "" {
		return nil, nil
	}
	if m.ignoreMerges {
		if id, ok := m.ids[w]; ok {
			return []token{{id, w, span{0, len(w)}}}, nil
		}
	}
	m.mu.RLock()
	cached, ok := m.cache[w]
	m.mu.RUnlock()
	if ok {
		return append([]token(nil), cached...), nil
	}
	syms, err := m.initialSymbols(w)
	if err != nil {
		return nil, err
	}
	syms = m.mergeAll(syms)
	out := make([]token, 0, len(syms))
	pos := 0
	for _, s := range syms {
		t, _ := m.idToToken(s.id)
		out = append(out, token{s.id, t, span{pos, pos + s.len}})
		pos += s.len
	}
	if len(w) < 256 {
		m.mu.Lock()
		if len(m.cache) < bpeCacheSize {
			m.cache[w] = append([]token(nil), out...)
		}
		m.mu.Unlock()
	}
	return out, nil
}

func (m *bpeModel) initialSymbols(w string) ([]bpeSymbol, error) {
	syms := make([]bpeSymbol, 0, len(w))
	add := func(id, n int) {
		prev := len(syms) - 1
		if prev >= 0 {
			syms[prev].next = len(syms)
		}
		syms = append(syms, bpeSymbol{id: id, prev: prev, next: -1, len: n})
	}
	unkID, unkLen, haveUnk := 0, 0, false
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		s := w[i : i+n]
		if i > 0 && m.prefix != "" {
			s = m.prefix + s
		}
		if i+n == len(w) && m.suffix != "" {
			s += m.suffix
		}
		i += n
		if id, ok := m.ids[s]; ok {
			if haveUnk {
				add(unkID, unkLen)
				haveUnk = false
			}
			add(id, n)
			continue
		}
		if m.byteFallback {
			ids := make([]int, 0, len(s))
			for k := 0; k < len(s); k++ {
				id, ok := m.ids[fmt.Sprintf("<0x%02X>", s[k])]
				if !ok {
					ids = nil
					break
				}
				ids = append(ids, id)
			}
			if ids != nil {
				for _, id := range ids {
					add(id, 1)
				}
				continue
			}
		}
		if m.unk != "" {
			id, ok := m.ids[m.unk]
			if !ok {
				return nil, fmt.Errorf("bpe: unk_token %q is not in the vocab", m.unk)
			}
			switch {
			case haveUnk && m.fuseUnk:
				unkLen += n
			case haveUnk:
				add(unkID, unkLen)
				unkID, unkLen = id, n
			default:
				unkID, unkLen, haveUnk = id, n, true
			}
		}
	}
	if haveUnk {
		add(unkID, unkLen)
	}
	return syms, nil
}

func (m *bpeModel) mergeAll(syms []bpeSymbol) []bpeSymbol {
	h := make(mergeHeap, 0, len(syms))
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := m.merges[[2]int{syms[i].id, syms[i+1].id}]; ok {
			h = append(h, mergeItem{i, mg.rank, mg.id})
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		top := heap.Pop(&h).(mergeItem)
		cur := &syms[top.pos]
		if cur.len == 0 || cur.next == -1 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		if mg, ok := m.merges[[2]int{cur.id, right.id}]; !ok || mg.id != top.id {
			continue
		}
		cur.id = top.id
		cur.len += right.len
		cur.next = right.next
		syms[nextPos].len = 0
		if right.next > -1 && right.next < len(syms) {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mg, ok := m.merges[[2]int{syms[cur.prev].id, cur.id}]; ok {
				heap.Push(&h, mergeItem{cur.prev, mg.rank, mg.id})
			}
		}
		if cur.next >= 0 && cur.next < len(syms) {
			if mg, ok := m.merges[[2]int{cur.id, syms[cur.next].id}]; ok {
				heap.Push(&h, mergeItem{top.pos, mg.rank, mg.id})
			}
		}
	}
	out := syms[:0]
	for _, s := range syms {
		if s.len != 0 {
			out = append(out, s)
		}
	}
	return out
}

// wordPieceModel is BERT's greedy longest-match-first subword model.
type wordPieceModel struct {
	vocabulary
	unk      string
	prefix   string
	maxChars int
}

func (m *wordPieceModel) unkToken(n int) ([]token, error) {
	id, ok := m.ids[m.unk]
	if !ok {
		return nil, fmt.Errorf("wordpiece: unk_token %q is not in the vocab", m.unk)
	}
	return []token{{id, m.unk, span{0, n}}}, nil
}

func (m *wordPieceModel) tokenize(w string) ([]token, error) {
	if utf8.RuneCountInString(w) > m.maxChars {
		return m.unkToken(len(w))
	}
	var out []token
	for start := 0; start < len(w); {
		end := len(w)
		found := false
		for start < end {
			sub := w[start:end]
			if start > 0 {
				sub = m.prefix + sub
			}
			if id, ok := m.ids[sub]; ok {
				out = append(out, token{id, sub, span{start, end}})
				found = true
				break
			}
			_, n := utf8.DecodeLastRuneInString(sub)
			end -= n
		}
		if !found {
			return m.unkToken(len(w))
		}
		start = end
	}
	return out, nil
}

// wordLevelModel maps each word to its id, or to the unknown token.
type wordLevelModel struct {
	vocabulary
	unk string
}

func (m *wordLevelModel) tokenize(w string) ([]token, error) {
	if id, ok := m.ids[w]; ok {
		return []token{{id, w, span{0, len(w)}}}, nil
	}
	if id, ok := m.ids[m.unk]; ok {
		return []token{{id, m.unk, span{0, len(w)}}}, nil
	}
	return nil, fmt.Errorf("wordlevel: %q is not in the vocab and unk_token %q is missing", w, m.unk)
}

// unigramModel is the unigram language model (Kudo 2018): the tokenization
// with the highest total log-probability, found by Viterbi.
type unigramModel struct {
	vocabulary
	pieces       []unigramPiece
	unkID        int // -1 for none
	byteFallback bool
	minScore     float64
	trie         byteTrie
}

// byteTrie finds the pieces that are prefixes of a string: node 0 is the
// root, edges are keyed by node<<8|byte, and ends holds the piece id a node
// completes (-1 for none).
type byteTrie struct {
	edges map[uint32]int32
	ends  []int32
}

func (t *byteTrie) insert(s string, id int) {
	if t.edges == nil {
		t.edges = map[uint32]int32{}
		t.ends = []int32{-1}
	}
	node := int32(0)
	for i := 0; i < len(s); i++ {
		k := uint32(node)<<8 | uint32(s[i])
		next, ok := t.edges[k]
		if !ok {
			next = int32(len(t.ends))
			t.ends = append(t.ends, -1)
			t.edges[k] = next
		}
		node = next
	}
	t.ends[node] = int32(id)
}

type unigramPiece struct {
	Piece string
	Score float64
}

const unkPenalty = 10.0

func newUnigram(pieces []unigramPiece, unkID int, byteFallback bool) (*unigramModel, error) {
	if unkID >= len(pieces) || unkID < -1 {
		return nil, fmt.Errorf("unigram: unk_id %d is outside the vocab of %d pieces", unkID, len(pieces))
	}
	if len(pieces) > 1<<23 {
		return nil, fmt.Errorf("unigram: %d pieces, too many", len(pieces))
	}
	m := &unigramModel{pieces: pieces, unkID: unkID, byteFallback: byteFallback}
	ids := make(map[string]int, len(pieces))
	m.minScore = 0
	for i, p := range pieces {
		ids[p.Piece] = i // a repeated piece resolves to its last id, as in HuggingFace
		if i == 0 || p.Score < m.minScore {
			m.minScore = p.Score
		}
	}
	for i, p := range pieces {
		if ids[p.Piece] == i {
			m.trie.insert(p.Piece, i)
		}
	}
	m.vocabulary = vocabulary{ids: ids, tokens: make([]string, len(pieces))}
	for i, p := range pieces {
		m.tokens[i] = p.Piece
	}
	return m, nil
}

func (m *unigramModel) vocabSize() int { return len(m.pieces) }

func (m *unigramModel) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.pieces) {
		return "", false
	}
	return m.pieces[id].Piece, true
}

func (m *unigramModel) tokenize(s string) ([]token, error) {
	if s == "" {
		return nil, nil
	}
	type node struct {
		id    int
		score float64
		start int // -1: unreached
	}
	best := make([]node, len(s)+1)
	for i := range best {
		best[i].start = -1
	}
	unkScore := m.minScore - unkPenalty
	for start := 0; start < len(s); {
		here := best[start].score
		_, mblen := utf8.DecodeRuneInString(s[start:])
		single := false
		cur := int32(0)
		for end := start + 1; end <= len(s); end++ {
			next, ok := m.trie.edges[uint32(cur)<<8|uint32(s[end-1])]
			if !ok {
				break
			}
			cur = next
			id := int(m.trie.ends[cur])
			if id < 0 {
				continue
			}
			c := m.pieces[id].Score + here
			if t := &best[end]; t.start < 0 || c > t.score {
				*t = node{id, c, start}
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			if m.unkID < 0 {
				return nil, fmt.Errorf("unigram: %q has no piece and the model has no unk_id", s[start:start+mblen])
			}
			c := unkScore + here
			if t := &best[start+mblen]; t.start < 0 || c > t.score {
				*t = node{m.unkID, c, start}
			}
		}
		start += mblen
	}
	// Walk back, fusing runs of unknown pieces.
	var rev []span
	var ids []int
	for end := len(s); end > 0; {
		nd := best[end]
		if nd.start < 0 {
			return nil, fmt.Errorf("unigram: no path through %q", s)
		}
		if nd.id == m.unkID && len(ids) > 0 && ids[len(ids)-1] == m.unkID && rev[len(rev)-1].start == end {
			rev[len(rev)-1].start = nd.start
		} else {
			rev = append(rev, span{nd.start, end})
			ids = append(ids, nd.id)
		}
		end = nd.start
	}
	out := make([]token, 0, len(rev))
	for i := len(rev) - 1; i >= 0; i-- {
		sp := rev[i]
		str := s[sp.start:sp.end]
		id := ids[i]
		if id == m.unkID {
			// A fused run of unknown characters may still spell a piece.
			if known, ok := m.ids[str]; ok {
				id = known
			} else if m.byteFallback {
				var bt []token
				for k := 0; k < len(str); k++ {
					bid, ok := m.ids[fmt.Sprintf("<0x%02X>", str[k])]
					if !ok {
						bt = nil
						break
					}
					bt = append(bt, token{bid, fmt.Sprintf("<0x%02X>", str[k]), sp})
				}
				if bt != nil {
					out = append(out, bt...)
					continue
				}
			}
		}
		out = append(out, token{id, str, sp})
	}
	return out, nil
}
