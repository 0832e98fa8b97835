package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// StepDecoder decodes N hypotheses in lockstep: Step feeds one token per
// hypothesis and returns next-token logits [N, V]; Reorder makes hypothesis
// i continue hypothesis from[i]. transformer.Decoder is one.
type StepDecoder interface {
	Step(tokens []int) (*tensor.Tensor, error)
	Reorder(from []int)
}

// BeamOpts configures Beam.
type BeamOpts struct {
	// Beam is the number of hypotheses kept per source (the paper uses 4).
	Beam int
	// Alpha is the length penalty exponent (the paper uses 0.6): scores are
	// divided by ((5+|Y|)/6)^α (Wu et al. 2016), where |Y| counts the
	// tokens generated, end token included.
	Alpha float64
	// MaxLen bounds the tokens generated per hypothesis, end token included.
	MaxLen int
	// MaxLens, when set, bounds each source's hypotheses instead (one per
	// source): a source's own length + 50, say, so that a source's bound in
	// a batch is the one it has alone, whatever the others' lengths.
	MaxLens  []int
	BOS, EOS int
	// Vocab, if positive, limits the continuations to token ids below it:
	// T5's embedding table has more rows (32,128) than its tokenizer has
	// tokens (32,100), and an id the tokenizer cannot decode is no use.
	Vocab int
	// Done, when set, ends the search as soon as it is closed, before the
	// next step, with context.Canceled: a server's client that has gone
	// (ctx.Done()) stops its search instead of holding the model.
	Done <-chan struct{}
}

// Hypothesis is a finished translation.
type Hypothesis struct {
	Tokens []int   // without BOS and EOS
	Score  float64 // sum of token log-probabilities over the length penalty
}

// Beam runs beam search for b sources at once on d, which must decode
// b·o.Beam hypotheses, those of source s being s·Beam … s·Beam+Beam−1. At
// each step every source keeps its Beam best continuations by total
// log-probability; a hypothesis ending in EOS among them is finished, with
// its length-penalised score. A source is done when it has Beam finished
// hypotheses; at MaxLen (its MaxLens) the open ones are finished as they are. It returns
// the best finished hypothesis of each source. With Beam 1 it is greedy
// decoding.
func Beam(d StepDecoder, b int, o BeamOpts) ([]Hypothesis, error) {
	k := o.Beam
	limit := func(int) int { return o.MaxLen }
	steps := o.MaxLen
	if o.MaxLens != nil {
		if len(o.MaxLens) != b {
			return nil, fmt.Errorf("generate: %d max lengths for %d sources", len(o.MaxLens), b)
		}
		limit = func(s int) int { return o.MaxLens[s] }
		steps = slices.Min(o.MaxLens)
		for _, l := range o.MaxLens {
			steps = max(steps, l)
		}
	}
	if k <= 0 || b <= 0 || steps <= 0 || o.MaxLens != nil && slices.Min(o.MaxLens) <= 0 {
		return nil, fmt.Errorf("generate: beam %d, %d sources, max length %d; all must be positive", k, b, steps)
	}
	n := b * k
	tokens := make([]int, n)
	scores := make([]float64, n)
	seqs := make([][]int, n)
	for i := range tokens {
		tokens[i] = o.BOS
		if i%k != 0 {
			scores[i] = math.Inf(-1) // only one open hypothesis at the start
		}
	}
	finished := make([][]Hypothesis, b)
	done := make([]bool, b)
	from := make([]int, n)
	var cands []cand
	logp := []float64{}
	for step := 1; step <= steps; step++ {
		select {
		case <-o.Done: // a nil channel never is
			return nil, context.Canceled
		default:
		}
		logits, err := d.Step(tokens)
		if err != nil {
			return nil, err
		}
		vocab := logits.Shape[len(logits.Shape)-1]
		if len(logp) != n*vocab {
			logp = make([]float64, n*vocab)
		}
		logSoftmax(logp, logits.Data, vocab)
		newTokens := make([]int, n)
		newScores := make([]float64, n)
		newSeqs := make([][]int, n)
		allDone := true
		for s := 0; s < b; s++ {
			lo := s * k
			if done[s] {
				for i := lo; i < lo+k; i++ {
					from[i], newTokens[i], newScores[i] = i, o.EOS, math.Inf(-1)
				}
				continue
			}
			// The 2k best (hypothesis, token) continuations of this source.
			cands = cands[:0]
			for h := lo; h < lo+k; h++ {
				if math.IsInf(scores[h], -1) {
					continue
				}
				row := logp[h*vocab : (h+1)*vocab]
				if o.Vocab > 0 && o.Vocab < vocab {
					row = row[:o.Vocab]
				}
				for t, lp := range row {
					c := cand{scores[h] + lp, h, t}
					if len(cands) < 2*k {
						cands = append(cands, c)
						if len(cands) == 2*k {
							slices.SortFunc(cands, byScore)
						}
						continue
					}
					if c.score > cands[len(cands)-1].score {
						at, _ := slices.BinarySearchFunc(cands, c, byScore)
						copy(cands[at+1:], cands[at:len(cands)-1])
						cands[at] = c
					}
				}
			}
			slices.SortFunc(cands, byScore)
			open := 0
			for rank, c := range cands {
				if open == k || math.IsInf(c.score, -1) { // −Inf (a forced token's rivals): no hypothesis
					break
				}
				if c.tok == o.EOS || step == limit(s) {
					if rank < k {
						toks := seqs[c.hyp]
						if c.tok != o.EOS {
							toks = append(append([]int(nil), toks...), c.tok)
						}
						finished[s] = append(finished[s], Hypothesis{Tokens: toks, Score: c.score / lengthPenalty(step, o.Alpha)})
					}
					continue
				}
				i := lo + open
				from[i], newTokens[i], newScores[i] = c.hyp, c.tok, c.score
				newSeqs[i] = append(append(make([]int, 0, len(seqs[c.hyp])+1), seqs[c.hyp]...), c.tok)
				open++
			}
			for i := lo + open; i < lo+k; i++ { // fewer open than k: pad with dead ones
				from[i], newTokens[i], newScores[i] = lo, o.EOS, math.Inf(-1)
			}
			if len(finished[s]) >= k || open == 0 || step == limit(s) {
				done[s] = true
			} else {
				allDone = false
			}
		}
		if allDone {
			break
		}
		d.Reorder(from)
		tokens, scores, seqs = newTokens, newScores, newSeqs
	}
	best := make([]Hypothesis, b)
	for s, fs := range finished {
		if len(fs) == 0 {
			return nil, errors.New("generate: beam search finished a source with no hypothesis")
		}
		best[s] = fs[0]
		for _, h := range fs[1:] {
			if h.Score > best[s].Score {
				best[s] = h
			}
		}
	}
	return best, nil
}

// cand is a possible continuation: hypothesis hyp extended by token tok.
type cand struct {
	score float64
	hyp   int
	tok   int
}

// byScore orders candidates best first; ties go to the lower hypothesis
// index, then the lower token id, so results do not depend on sort order.
func byScore(a, b cand) int {
	switch {
	case a.score > b.score:
		return -1
	case a.score < b.score:
		return 1
	case a.hyp != b.hyp:
		return a.hyp - b.hyp
	}
	return a.tok - b.tok
}

// lengthPenalty is GNMT's ((5+length)/6)^α.
func lengthPenalty(length int, alpha float64) float64 {
	return math.Pow((5+float64(length))/6, alpha)
}

// logSoftmax writes the log-softmax of each row of logits (rows of width v)
// into dst, in float64.
func logSoftmax(dst []float64, logits []float32, v int) {
	scratch := make([]float32, v)
	for r := 0; r < len(logits)/v; r++ {
		row, out := logits[r*v:(r+1)*v], dst[r*v:(r+1)*v]
		lse := autograd.LogSumExp(row, scratch)
		for i, x := range row {
			out[i] = float64(x) - lse
		}
	}
}
