// Package generate picks tokens from a model's logits: greedy, or sampled
// with temperature, top-k and top-p (nucleus) filtering, and stops on
// stop strings.
package generate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/attn-go/attn/tensor"
)

// Sampler chooses the next token from a row of logits.
type Sampler struct {
	// Temperature divides the logits; 0 means greedy (always the most likely
	// token).
	Temperature float64
	// TopK keeps only the K most likely tokens (0 = all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// adds up to at least P (0 or 1 = all); Holtzman et al. 2020.
	TopP float64
	// Vocab, if positive, limits the choice to ids below it: a model's
	// embedding table may be larger than its tokenizer's vocabulary
	// (padded, or shared by several tokenizers), and an id the tokenizer
	// cannot decode is no use.
	Vocab int
	RNG   *tensor.RNG

	idx   []int
	probs []float64
}

// Validate reports settings out of range.
func (s *Sampler) Validate() error {
	switch {
	case s.Temperature < 0 || math.IsNaN(s.Temperature):
		return fmt.Errorf("generate: temperature %v must be >= 0", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("generate: top-k %d must be >= 0", s.TopK)
	case s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.TopP):
		return fmt.Errorf("generate: top-p %v must be in [0, 1]", s.TopP)
	case s.Temperature > 0 && s.RNG == nil:
		return errors.New("generate: sampling needs an RNG")
	}
	return nil
}

// Next returns the chosen token id for logits (one row, length V).
func (s *Sampler) Next(logits []float32) int {
	if s.Vocab > 0 && s.Vocab < len(logits) {
		logits = logits[:s.Vocab]
	}
	if s.Temperature == 0 || s.TopK == 1 {
		return tensor.Argmax(logits)
	}
	k := len(logits)
	top := float64(slices.Max(logits)) // the most likely token's logit
	if math.IsInf(top, 0) || math.IsNaN(top) {
		return tensor.Argmax(logits) // no distribution to draw from
	}
	if s.TopK <= 0 { // no top-k: nothing to sort for
		if s.TopP > 0 && s.TopP < 1 {
			return s.nucleus(logits, top)
		}
		return s.any(logits, top)
	}
	// A top-k, even one past the vocabulary (a character model's 65 tokens
	// under the default 200), draws in rank order, so that a seed gives
	// the tokens it always gave.
	k = min(s.TopK, k)
	s.idx = mostLikely(s.idx[:0], logits, k)
	s.probs = s.probs[:0]
	var sum float64
	for _, id := range s.idx[:k] {
		p := s.weight(logits[id], top)
		s.probs = append(s.probs, p)
		sum += p
	}
	if s.TopP > 0 && s.TopP < 1 {
		acc := 0.0
		for i, p := range s.probs {
			acc += p / sum
			if acc >= s.TopP {
				k = i + 1
				break
			}
		}
		sum = 0
		for _, p := range s.probs[:k] {
			sum += p
		}
	}
	u := s.RNG.Float64() * sum
	for i, p := range s.probs[:k] {
		u -= p
		if u < 0 {
			return s.idx[i]
		}
	}
	return s.idx[k-1]
}

// weight returns the unnormalised probability of a logit at temperature
// s.Temperature, given the largest logit top.
func (s *Sampler) weight(logit float32, top float64) float64 {
	return math.Exp((float64(logit) - top) / s.Temperature)
}

// any samples from every token in id order: temperature alone needs no
// ranking.
func (s *Sampler) any(logits []float32, top float64) int {
	var sum float64
	for _, l := range logits {
		sum += s.weight(l, top)
	}
	u := s.RNG.Float64() * sum
	last := 0 // the last token that can be drawn, should rounding leave u >= 0
	for id, l := range logits {
		w := s.weight(l, top)
		if u -= w; u < 0 {
			return id
		}
		if w > 0 {
			last = id
		}
	}
	return last
}

// nucleus samples from the smallest set of most likely tokens whose
// probability adds up to TopP, ranking only as many as it needs: the top
// 64, then eight times as many, and so on.
func (s *Sampler) nucleus(logits []float32, top float64) int {
	var z float64
	for _, l := range logits {
		z += s.weight(l, top)
	}
	for n := min(64, len(logits)); ; n = min(8*n, len(logits)) {
		s.idx = mostLikely(s.idx[:0], logits, n)
		acc, kept := 0.0, 0
		for i, id := range s.idx {
			if acc += s.weight(logits[id], top) / z; acc >= s.TopP {
				kept = i + 1
				break
			}
		}
		if kept == 0 && n < len(logits) {
			continue
		}
		if kept == 0 { // rounding: the whole vocabulary
			kept = n
		}
		var sum float64
		for _, id := range s.idx[:kept] {
			sum += s.weight(logits[id], top)
		}
		u := s.RNG.Float64() * sum
		for _, id := range s.idx[:kept] {
			if u -= s.weight(logits[id], top); u < 0 {
				return id
			}
		}
		return s.idx[kept-1]
	}
}

// mostLikely appends to idx the ids of the k largest logits, largest first,
// a tie going to the lower id (the order of a stable sort of all ids). A
// heap of the best k so far finds them in one pass: sorting GPT-2's 50,257
// logits for every token took longer than the model's step.
func mostLikely(idx []int, logits []float32, k int) []int {
	// worse reports whether id a ranks below id b.
	worse := func(a, b int) bool {
		return logits[a] < logits[b] || logits[a] == logits[b] && a > b
	}
	byRank := func(a, b int) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	}
	if 8*k >= len(logits) { // most of them: a sort is faster than the heap
		for id := range logits {
			idx = append(idx, id)
		}
		slices.SortFunc(idx, byRank)
		return idx[:k]
	}
	// h is a min-heap: h[0] is the worst of the best k so far.
	h := idx
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && worse(h[c+1], h[c]) {
				c++
			}
			if !worse(h[c], h[i]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for id := range logits {
		switch {
		case len(h) < k:
			h = append(h, id)
			for i := len(h) - 1; i > 0 && worse(h[i], h[(i-1)/2]); i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		case worse(h[0], id):
			h[0] = id
			down(0)
		}
	}
	slices.SortFunc(h, byRank)
	return h
}

// StopAt returns the length of text up to the first stop string and whether
// one was found.
func StopAt(text string, stops []string) (int, bool) {
	cut, found := len(text), false
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && i < cut {
			cut, found = i, true
		}
	}
	return cut, found
}
