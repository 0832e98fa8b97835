package tokenizer

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// BPETrainer learns a BPE vocabulary and merges from text (Sennrich et al.
// 2016, §3.2), step for step as HuggingFace's BpeTrainer does, so that the
// same corpus and settings give the same merges.
type BPETrainer struct {
	// VocabSize is the vocabulary size to reach, special tokens and
	// alphabet included (HuggingFace's default is 30000).
	VocabSize int
	// MinFrequency stops training when the best pair is rarer than this.
	MinFrequency int
	// SpecialTokens get the first ids and become special added tokens.
	SpecialTokens []string
	// LimitAlphabet keeps only the most frequent characters (0: all).
	LimitAlphabet int
	// InitialAlphabet is kept whether seen or not; use ByteLevelAlphabet
	// with ByteLevel so that every input can be encoded.
	InitialAlphabet []rune
	// ContinuingSubwordPrefix and EndOfWordSuffix mark word-inner and
	// word-final pieces (such as "##" and "</w>").
	ContinuingSubwordPrefix string
	EndOfWordSuffix         string
	// MaxTokenLength caps merged tokens, in characters (0: no cap).
	MaxTokenLength int
	// ByteLevel selects GPT-2's byte-level pre-tokenizer and decoder;
	// otherwise text is split with the Whitespace pre-tokenizer
	// (\w+|[^\w\s]+) and tokens are joined with spaces when decoding.
	ByteLevel bool
	// Workers is the number of goroutines counting words (0: all cores).
	Workers int
}

// ByteLevelAlphabet returns the 256 runes byte-level BPE spells bytes with.
func ByteLevelAlphabet() []rune { return append([]rune(nil), byteRune[:]...) }

// TrainFiles trains on the given files, read line by line.
func (tr *BPETrainer) TrainFiles(paths ...string) (*Pipeline, error) {
	var all []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: train: %w", err)
		}
		all = append(all, b...)
	}
	return tr.Train(bytes.NewReader(all))
}

// Train trains on text read from r. Lines keep their line endings, as in
// HuggingFace's train_from_files.
func (tr *BPETrainer) Train(r io.Reader) (*Pipeline, error) {
	if tr.VocabSize <= 0 {
		return nil, fmt.Errorf("tokenizer: train: VocabSize %d must be positive", tr.VocabSize)
	}
	shell, err := tr.shell(map[string]int{}, nil)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: train: %w", err)
	}
	counts := countWords(shell, data, tr.Workers)
	vocab, merges := tr.learn(counts)
	t, err := tr.shell(vocab, merges)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// shell builds the trained tokenizer around a vocabulary and merges.
func (tr *BPETrainer) shell(vocab map[string]int, merges [][2]string) (*Pipeline, error) {
	f := fileJSON{}
	if tr.ByteLevel {
		bl := json.RawMessage(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`)
		f.PreTokenizer, f.Decoder = bl, bl
		f.PostProcessor = json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}`)
	} else {
		f.PreTokenizer = json.RawMessage(`{"type":"Whitespace"}`)
	}
	m := bpeJSON(vocab, merges, nil)
	if tr.ContinuingSubwordPrefix != "" {
		m["continuing_subword_prefix"] = tr.ContinuingSubwordPrefix
	}
	if tr.EndOfWordSuffix != "" {
		m["end_of_word_suffix"] = tr.EndOfWordSuffix
		if !tr.ByteLevel {
			f.Decoder = mustJSON(map[string]any{"type": "BPEDecoder", "suffix": tr.EndOfWordSuffix})
		}
	}
	m["vocab"] = orderedVocab(vocab)
	f.Model = mustJSON(m)
	for _, s := range tr.SpecialTokens {
		f.AddedTokens = append(f.AddedTokens, AddedToken{ID: vocab[s], Content: s, Special: true})
	}
	return build(f)
}

// words returns the pre-tokenized words of one line of training text: the
// pipeline's normalizer and pre-tokenizer, without added-token matching.
func (t *Pipeline) words(line string, emit func(string)) {
	if t.normalizer == nil {
		// Fast paths for the trainer's own pre-tokenizers: no alignment.
		switch pre := t.pre.(type) {
		case *byteLevelPre:
			if pre.UseRegex && !pre.AddPrefixSpace {
				var b []byte
				for _, m := range (gpt2Split{}).findMatches(line) {
					b = b[:0]
					for i := m.start; i < m.end; i++ {
						b = utf8.AppendRune(b, byteRune[line[i]])
					}
					if len(b) > 0 {
						emit(string(b))
					}
				}
				return
			}
		case whitespacePre:
			for _, m := range (wordRuns{}).findMatches(line) {
				if m.match {
					emit(line[m.start:m.end])
				}
			}
			return
		}
	}
	n := newNormString(line)
	if t.normalizer != nil {
		t.normalizer.normalize(n)
	}
	p := &preTokenized{pieces: []piece{{n: n}}}
	if t.pre != nil {
		t.pre.preTokenize(p)
	}
	for _, pc := range p.pieces {
		if pc.n.norm != "" {
			emit(pc.n.norm)
		}
	}
}

// countWords counts the words of data, line by line, on several cores.
func countWords(t *Pipeline, data []byte, workers int) map[string]int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunks := splitLines(data, workers*4)
	results := make([]map[string]int, len(chunks))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				m := map[string]int{}
				sc := bufio.NewReader(bytes.NewReader(chunks[i]))
				for {
					line, err := sc.ReadString('\n')
					if line != "" {
						if !utf8.ValidString(line) {
							line = lossyUTF8([]byte(line))
						}
						t.words(line, func(w string) { m[w]++ })
					}
					if err != nil {
						break
					}
				}
				results[i] = m
			}
		}()
	}
	for i := range chunks {
		next <- i
	}
	close(next)
	wg.Wait()
	total := results[0]
	if total == nil {
		total = map[string]int{}
	}
	for _, m := range results[1:] {
		for k, v := range m {
			total[k] += v
		}
	}
	return total
}

// splitLines cuts data into about n pieces at line ends.
func splitLines(data []byte, n int) [][]byte {
	var out [][]byte
	size := len(data)/n + 1
	for len(data) > 0 {
		end := min(size, len(data))
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		out = append(out, data[:end])
		data = data[end:]
	}
	if len(out) == 0 {
		out = append(out, nil)
	}
	return out
}

type pair struct{ a, b int32 }

// trainWord is a distinct word of the corpus as a sequence of symbol ids.
type trainWord struct {
	syms  []int32
	lens  []int // length of each symbol in characters
	count int
}

// mergeCand is a queued pair: its count when queued and the words it is in.
type mergeCand struct {
	p     pair
	count int
	pos   map[int]struct{}
}

type candHeap []*mergeCand

func (h candHeap) Len() int { return len(h) }
func (h candHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	if h[i].p.a != h[j].p.a {
		return h[i].p.a < h[j].p.a
	}
	return h[i].p.b < h[j].p.b
}
func (h candHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)   { *h = append(*h, x.(*mergeCand)) }
func (h *candHeap) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

// learn runs the merge loop over word counts.
func (tr *BPETrainer) learn(counts map[string]int) (map[string]int, [][2]string) {
	vocab := map[string]int{}
	var tokens []string
	add := func(s string) int {
		if id, ok := vocab[s]; ok {
			return id
		}
		vocab[s] = len(tokens)
		tokens = append(tokens, s)
		return len(tokens) - 1
	}
	for _, s := range tr.SpecialTokens {
		add(s)
	}
	// Alphabet: characters by frequency, the initial ones always kept,
	// then in code point order.
	freq := map[rune]int{}
	for w, c := range counts {
		for _, r := range w {
			freq[r] += c
		}
	}
	const always = int(^uint(0) >> 1)
	for _, r := range tr.InitialAlphabet {
		freq[r] = always
	}
	alpha := make([]rune, 0, len(freq))
	for r := range freq {
		alpha = append(alpha, r)
	}
	if tr.LimitAlphabet > 0 && len(alpha) > tr.LimitAlphabet {
		sort.Slice(alpha, func(i, j int) bool {
			if freq[alpha[i]] != freq[alpha[j]] {
				return freq[alpha[i]] < freq[alpha[j]]
			}
			return alpha[i] < alpha[j]
		})
		alpha = alpha[len(alpha)-tr.LimitAlphabet:]
	}
	sort.Slice(alpha, func(i, j int) bool { return alpha[i] < alpha[j] })
	inAlpha := map[rune]bool{}
	for _, r := range alpha {
		add(string(r))
		inAlpha[r] = true
	}
	// Words as symbol ids, in a fixed order.
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	words := make([]trainWord, len(keys))
	for i, w := range keys {
		runes := []rune(w)
		tw := trainWord{count: counts[w]}
		for k, r := range runes {
			if !inAlpha[r] {
				continue
			}
			s := string(r)
			if k > 0 && tr.ContinuingSubwordPrefix != "" {
				s = tr.ContinuingSubwordPrefix + s
			}
			if k == len(runes)-1 && tr.EndOfWordSuffix != "" {
				s += tr.EndOfWordSuffix
			}
			tw.syms = append(tw.syms, int32(add(s)))
			tw.lens = append(tw.lens, 1)
		}
		words[i] = tw
	}
	// Pair counts and where each pair occurs.
	pairCounts := map[pair]int{}
	where := map[pair]map[int]struct{}{}
	for i, w := range words {
		for k := 0; k+1 < len(w.syms); k++ {
			p := pair{w.syms[k], w.syms[k+1]}
			pairCounts[p] += w.count
			if where[p] == nil {
				where[p] = map[int]struct{}{}
			}
			where[p][i] = struct{}{}
		}
	}
	h := candHeap{}
	pushAll := func() {
		for p, pos := range where {
			if c := pairCounts[p]; c > 0 {
				h = append(h, &mergeCand{p, c, pos})
			}
		}
		where = map[pair]map[int]struct{}{}
	}
	pushAll()
	heap.Init(&h)
	maxLen := tr.MaxTokenLength
	if maxLen <= 0 {
		maxLen = int(^uint(0) >> 1)
	}
	var merges [][2]string
	for len(vocab) < tr.VocabSize && h.Len() > 0 {
		top := heap.Pop(&h).(*mergeCand)
		if c := pairCounts[top.p]; top.count != c {
			top.count = c
			heap.Push(&h, top)
			continue
		}
		if top.count < 1 || tr.MinFrequency > top.count {
			break
		}
		a, b := tokens[top.p.a], tokens[top.p.b]
		if tr.ContinuingSubwordPrefix != "" {
			b = strings.TrimPrefix(b, tr.ContinuingSubwordPrefix)
		}
		newID := int32(add(a + b))
		merges = append(merges, [2]string{tokens[top.p.a], tokens[top.p.b]})
		pos := make([]int, 0, len(top.pos))
		for i := range top.pos {
			pos = append(pos, i)
		}
		sort.Ints(pos)
		for _, i := range pos {
			w := &words[i]
			for _, ch := range w.merge(top.p, newID, maxLen) {
				pairCounts[ch.p] += ch.delta * w.count
				if ch.delta > 0 {
					if where[ch.p] == nil {
						where[ch.p] = map[int]struct{}{}
					}
					where[ch.p][i] = struct{}{}
				}
			}
		}
		for p, pos := range where {
			if c := pairCounts[p]; c > 0 {
				heap.Push(&h, &mergeCand{p, c, pos})
			}
		}
		where = map[pair]map[int]struct{}{}
	}
	return vocab, merges
}

type pairChange struct {
	p     pair
	delta int
}

// merge replaces each occurrence of p in w with id, left to right,
// returning how the counts of neighbouring pairs change.
func (w *trainWord) merge(p pair, id int32, maxLen int) []pairChange {
	var ch []pairChange
	for i := 0; i < len(w.syms); i++ {
		if w.syms[i] != p.a || i+1 >= len(w.syms) || w.syms[i+1] != p.b {
			continue
		}
		first, second := w.syms[i], w.syms[i+1]
		newLen := w.lens[i] + w.lens[i+1]
		if i > 0 {
			ch = append(ch, pairChange{pair{w.syms[i-1], first}, -1})
			if w.lens[i-1]+newLen < maxLen {
				ch = append(ch, pairChange{pair{w.syms[i-1], id}, 1})
			}
		}
		w.syms = append(w.syms[:i+1], w.syms[i+2:]...)
		w.lens = append(w.lens[:i+1], w.lens[i+2:]...)
		w.syms[i], w.lens[i] = id, newLen
		if i < len(w.syms)-1 {
			ch = append(ch, pairChange{pair{second, w.syms[i+1]}, -1})
			if w.lens[i+1]+newLen < maxLen {
				ch = append(ch, pairChange{pair{id, w.syms[i+1]}, 1})
			}
		}
	}
	return ch
}
