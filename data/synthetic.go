// Package data turns text and synthetic tasks into token sequences and
// batches for training.
package data

import "github.com/attn-go/attn/tensor"

// Special token ids of the synthetic tasks.
const (
	Pad   = 0
	BOS   = 1
	EOS   = 2
	First = 3 // the first symbol id
)

// CopyTask makes random sequences of Len symbols drawn from Symbols symbols
// (ids First..First+Symbols-1); the target is the sequence itself or, with
// Reverse, the sequence reversed. It is the classic sanity check that an
// encoder-decoder can learn to attend: solving it needs attention from each
// output position to the right input position.
type CopyTask struct {
	Symbols, Len int
	Reverse      bool
}

// Vocab returns the vocabulary size the task needs, specials included.
func (c CopyTask) Vocab() int { return First + c.Symbols }

// Sample returns one source sequence and its target.
func (c CopyTask) Sample(rng *tensor.RNG) (src, tgt []int) {
	src = make([]int, c.Len)
	tgt = make([]int, c.Len)
	for i := range src {
		src[i] = First + rng.Intn(c.Symbols)
	}
	for i := range tgt {
		if c.Reverse {
			tgt[i] = src[c.Len-1-i]
		} else {
			tgt[i] = src[i]
		}
	}
	return src, tgt
}

// Samples returns n (source, target) pairs.
func (c CopyTask) Samples(rng *tensor.RNG, n int) (src, tgt [][]int) {
	for range n {
		s, t := c.Sample(rng)
		src, tgt = append(src, s), append(tgt, t)
	}
	return src, tgt
}
