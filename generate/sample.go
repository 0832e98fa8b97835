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
	// Sort token ids by logit, most likely first, then cut to top-k.
	s.idx = s.idx[:0]
	for i := range logits {
		s.idx = append(s.idx, i)
	}
	slices.SortStableFunc(s.idx, func(a, b int) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return 0
	})
	k := len(s.idx)
	if s.TopK > 0 && s.TopK < k {
		k = s.TopK
	}
	s.probs = s.probs[:0]
	top := float64(logits[s.idx[0]])
	var sum float64
	for _, id := range s.idx[:k] {
		p := math.Exp((float64(logits[id]) - top) / s.Temperature)
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
