package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/attn-go/attn/tensor"
)

// Multi30k holds Multi30k's German-English files (see SOURCES.md), gzipped:
// multi30k/{train,val,test_2016_flickr}.{de,en}.gz.
//
//go:embed multi30k/*.gz
var Multi30k embed.FS

// ReadLines reads one segment per line from r, gunzipping it first if it
// starts with the gzip magic bytes. A final newline does not make an extra
// empty segment; carriage returns before newlines are dropped.
func ReadLines(r io.Reader) ([]string, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			lines = append(lines, strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
		}
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadLinesFile reads a text file (plain or .gz) with ReadLines.
func ReadLinesFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lines, err := ReadLines(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return lines, nil
}

// ReadParallel reads aligned source and target files; differing line counts
// are an error naming both files.
func ReadParallel(srcPath, tgtPath string) (src, tgt []string, err error) {
	if src, err = ReadLinesFile(srcPath); err != nil {
		return nil, nil, err
	}
	if tgt, err = ReadLinesFile(tgtPath); err != nil {
		return nil, nil, err
	}
	if len(src) != len(tgt) {
		return nil, nil, fmt.Errorf("%s has %d lines but %s has %d; parallel files must align line by line", srcPath, len(src), tgtPath, len(tgt))
	}
	return src, tgt, nil
}

// Multi30kSplit returns the German and English sentences of a split: train,
// val or test_2016_flickr.
func Multi30kSplit(split string) (de, en []string, err error) {
	read := func(lang string) ([]string, error) {
		b, err := Multi30k.ReadFile("multi30k/" + split + "." + lang + ".gz")
		if err != nil {
			return nil, fmt.Errorf("multi30k: no split %q (want train, val or test_2016_flickr)", split)
		}
		return ReadLines(bytes.NewReader(b))
	}
	if de, err = read("de"); err != nil {
		return nil, nil, err
	}
	if en, err = read("en"); err != nil {
		return nil, nil, err
	}
	if len(de) != len(en) {
		return nil, nil, fmt.Errorf("multi30k %s: %d German and %d English lines", split, len(de), len(en))
	}
	return de, en, nil
}

// Pair is one tokenized sentence pair.
type Pair struct{ Src, Tgt []int }

// Batches groups pairs of similar length into batches of at most MaxTokens
// source tokens and MaxTokens target tokens, padding counted ("sentence pairs
// were batched together by approximate sequence length", §5.1), and visits
// the batches in a new random order each epoch. Its position (epoch, batch,
// RNG) can be saved and restored to continue exactly.
type Batches struct {
	batches [][]int // indices into pairs, by length
	pairs   []Pair
	order   []int
	Epoch   int
	Pos     int
	rng     *tensor.RNG
	// shuffledFrom is the RNG state this epoch's shuffle started from, so
	// a saved position can rebuild the same order.
	shuffledFrom uint64
}

// NewBatches sorts pairs by length and cuts them into batches under the
// token budget; a pair longer than the budget gets a batch of its own.
func NewBatches(pairs []Pair, maxTokens int, seed uint64) *Batches {
	idx := make([]int, len(pairs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if d := len(pairs[a].Src) - len(pairs[b].Src); d != 0 {
			return d
		}
		return len(pairs[a].Tgt) - len(pairs[b].Tgt)
	})
	bs := &Batches{pairs: pairs, rng: tensor.NewRNG(seed)}
	var cur []int
	maxS, maxT := 0, 0
	for _, i := range idx {
		s, t := max(maxS, len(pairs[i].Src)), max(maxT, len(pairs[i].Tgt)+1) // +1: BOS or EOS
		if len(cur) > 0 && ((len(cur)+1)*s > maxTokens || (len(cur)+1)*t > maxTokens) {
			bs.batches = append(bs.batches, cur)
			cur, s, t = nil, len(pairs[i].Src), len(pairs[i].Tgt)+1
		}
		cur = append(cur, i)
		maxS, maxT = s, t
	}
	if len(cur) > 0 {
		bs.batches = append(bs.batches, cur)
	}
	bs.shuffle()
	return bs
}

// Len returns the number of batches per epoch.
func (b *Batches) Len() int { return len(b.batches) }

func (b *Batches) shuffle() {
	b.shuffledFrom = b.rng.State
	b.order = b.rng.Perm(len(b.batches))
}

// Next returns the next batch's pairs, starting a new epoch (reshuffled)
// after the last.
func (b *Batches) Next() []Pair {
	if b.Pos == len(b.order) {
		b.Epoch++
		b.Pos = 0
		b.shuffle()
	}
	batch := b.batches[b.order[b.Pos]]
	b.Pos++
	out := make([]Pair, len(batch))
	for i, j := range batch {
		out[i] = b.pairs[j]
	}
	return out
}

// BatchesState is the position of a Batches.
type BatchesState struct {
	Epoch   int    `json:"epoch"`
	Pos     int    `json:"pos"`
	Shuffle uint64 `json:"shuffle"` // RNG state this epoch's order was drawn from
}

// State returns the current position.
func (b *Batches) State() BatchesState { return BatchesState{b.Epoch, b.Pos, b.shuffledFrom} }

// SetState restores a position saved by State (on batches built from the
// same pairs with the same budget).
func (b *Batches) SetState(s BatchesState) error {
	if s.Pos < 0 || s.Pos > len(b.batches) || s.Epoch < 0 {
		return fmt.Errorf("data: batch position %d of epoch %d is outside %d batches", s.Pos, s.Epoch, len(b.batches))
	}
	b.rng.State = s.Shuffle
	b.shuffle()
	b.Epoch, b.Pos = s.Epoch, s.Pos
	return nil
}
