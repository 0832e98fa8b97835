package generate

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// tableLM is a toy decoder whose next-token distribution depends on the
// last token only: probs[last][next].
type tableLM struct {
	probs [][]float64
	n     int
	steps int
}

func (m *tableLM) Step(tokens []int) (*tensor.Tensor, error) {
	m.steps++
	v := len(m.probs)
	out := tensor.New(m.n, v)
	for i, t := range tokens {
		for j, p := range m.probs[t] {
			out.Data[i*v+j] = float32(math.Log(p + 1e-12))
		}
	}
	return out, nil
}

func (m *tableLM) Reorder([]int) {}

// Tokens: 0 = BOS, 1 = EOS, 2 = a, 3 = b, 4 = c. Greedy takes "a" (0.6) and
// then gets a flat 0.34 for EOS; "b" (0.4) is followed by EOS with 0.95, so
// the best sequence is "b": log(0.4·0.95) > log(0.6·0.34).
func trapLM(n int) *tableLM {
	return &tableLM{n: n, probs: [][]float64{
		{0, 0, 0.6, 0.4, 0},
		{0, 1, 0, 0, 0},
		{0, 0.34, 0.33, 0, 0.33},
		{0, 0.95, 0, 0.05, 0},
		{0, 0.34, 0.33, 0, 0.33},
	}}
}

func TestBeamBeatsGreedyOnATrap(t *testing.T) {
	o := BeamOpts{Beam: 1, Alpha: 0, MaxLen: 10, BOS: 0, EOS: 1}
	greedy, err := Beam(trapLM(1), 1, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Beam = 2
	beam, err := Beam(trapLM(2), 1, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(greedy[0].Tokens, []int{2}) {
		t.Errorf("beam 1 = %v; want greedy's [2]", greedy[0].Tokens)
	}
	if !slices.Equal(beam[0].Tokens, []int{3}) {
		t.Errorf("beam 2 = %v (score %.3f); want [3]", beam[0].Tokens, beam[0].Score)
	}
	if want := math.Log(0.4 * 0.95); math.Abs(beam[0].Score-want) > 1e-6 {
		t.Errorf("beam 2 score = %v; want log(0.4·0.95) = %v", beam[0].Score, want)
	}
	if beam[0].Score <= greedy[0].Score {
		t.Errorf("beam score %v not above greedy's %v", beam[0].Score, greedy[0].Score)
	}
}

func TestBeamBatchesSourcesAndStopsAtMaxLen(t *testing.T) {
	// A model that never ends: every source stops at MaxLen with MaxLen tokens.
	m := &tableLM{n: 6, probs: [][]float64{{0, 0, 1}, {0, 1, 0}, {0, 0.1, 0.9}}}
	hs, err := Beam(m, 3, BeamOpts{Beam: 2, Alpha: 0.6, MaxLen: 4, BOS: 0, EOS: 1})
	if err != nil {
		t.Fatal(err)
	}
	for s, h := range hs {
		if len(h.Tokens) > 4 || len(h.Tokens) == 0 {
			t.Errorf("source %d: %v; want at most 4 tokens", s, h.Tokens)
		}
	}
	if m.steps > 4 {
		t.Errorf("decoded %d steps; want at most MaxLen 4", m.steps)
	}
	if _, err := Beam(m, 1, BeamOpts{Beam: 0, MaxLen: 3}); err == nil {
		t.Error("Beam with beam 0: want an error")
	}
}

// TestBeamVocab: with Vocab 4, token 4 ("c", which greedy would take after
// "a" half the time) is never continued, so "a" is followed by EOS or "a".
func TestBeamVocab(t *testing.T) {
	m := trapLM(1)
	m.probs[2] = []float64{0, 0.1, 0.2, 0, 0.7} // after "a": "c" most likely
	hs, err := Beam(m, 1, BeamOpts{Beam: 1, MaxLen: 5, BOS: 0, EOS: 1, Vocab: 4})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(hs[0].Tokens, 4) || len(hs[0].Tokens) == 0 || hs[0].Tokens[0] != 2 || hs[0].Tokens[1] != 2 {
		t.Errorf("greedy with Vocab 4: %v; want a, a, … without token 4", hs[0].Tokens)
	}
	m = trapLM(1)
	m.probs[2] = []float64{0, 0.1, 0.2, 0, 0.7}
	if hs, _ := Beam(m, 1, BeamOpts{Beam: 1, MaxLen: 5, BOS: 0, EOS: 1}); len(hs[0].Tokens) < 2 || hs[0].Tokens[1] != 4 {
		t.Errorf("greedy without Vocab: %v; want a, c, …", hs[0].Tokens)
	}
}

// forcedLM is tableLM whose first step allows one token only, the others
// at −Inf, as a forced first token (NLLB's target language) leaves them.
type forcedLM struct {
	tableLM
	forced int
}

func (m *forcedLM) Step(tokens []int) (*tensor.Tensor, error) {
	first := m.steps == 0
	out, err := m.tableLM.Step(tokens)
	if first {
		v := len(m.probs)
		for i := range tokens {
			for j := range v {
				if j != m.forced {
					out.Data[i*v+j] = float32(math.Inf(-1))
				}
			}
		}
	}
	return out, err
}

// TestBeamForcedFirstToken: a continuation at −Inf is no hypothesis, so
// end tokens beside a forced first token do not count towards the beam's
// finished ones. Beam 4, tokens 0 BOS, 1 EOS, 2 a, 3 the forced one, 4 b:
// step 1 keeps only [3]; step 2 finishes [3] (p 0.5) and keeps a, b and
// two unlikely ones; step 3 finishes "a EOS" (0.03) and "b EOS" (0.198);
// step 4 finishes "a b EOS" (0.1188), the fourth: four steps, and [3]
// the best with alpha 0. (Counting step 1's −Inf end token, the search
// stopped after three.)
func TestBeamForcedFirstToken(t *testing.T) {
	m := &forcedLM{tableLM: tableLM{n: 4, probs: [][]float64{
		{0, 0, 0, 1, 0},
		{0, 1, 0, 0, 0},
		{0, 0.1, 0.5, 0, 0.4},
		{0, 0.5, 0.3, 0, 0.2},
		{0, 0.99, 0.005, 0, 0.005},
	}}, forced: 3}
	hs, err := Beam(m, 1, BeamOpts{Beam: 4, Alpha: 0, MaxLen: 8, BOS: 0, EOS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.steps != 4 || !slices.Equal(hs[0].Tokens, []int{3}) || math.Abs(hs[0].Score-math.Log(0.5)) > 1e-6 {
		t.Errorf("%v in %d steps; want [3] (log 0.5) in 4", hs[0], m.steps)
	}
}

// TestBeamStopsWhenDone: a closed Done ends the search before its next
// step with context.Canceled; an open one changes nothing.
func TestBeamStopsWhenDone(t *testing.T) {
	o := BeamOpts{Beam: 2, MaxLen: 10, BOS: 0, EOS: 1}
	want, err := Beam(trapLM(2), 1, o)
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	o.Done = open
	got, err := Beam(trapLM(2), 1, o)
	if err != nil || !slices.Equal(got[0].Tokens, want[0].Tokens) {
		t.Errorf("with an open Done: %v, %v; want %v", got, err, want)
	}
	closed := make(chan struct{})
	close(closed)
	o.Done = closed
	lm := trapLM(2)
	if _, err := Beam(lm, 1, o); !errors.Is(err, context.Canceled) || lm.steps != 0 {
		t.Errorf("with a closed Done: %v after %d steps; want context.Canceled before any", err, lm.steps)
	}
}
