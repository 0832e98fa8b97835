package generate

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestGreedyAndFilters(t *testing.T) {
	logits := []float32{1, 3, 2, 0.5}
	if got := (&Sampler{}).Next(logits); got != 1 {
		t.Errorf("greedy Next = %d; want 1", got)
	}
	s := &Sampler{Temperature: 1, TopK: 2, RNG: tensor.NewRNG(1)}
	counts := map[int]int{}
	for range 4000 {
		counts[s.Next(logits)]++
	}
	if counts[0] != 0 || counts[3] != 0 {
		t.Errorf("top-k 2 drew tokens outside the top two: %v", counts)
	}
	// Within the top two, token 1 is e^(3-2) = 2.72 times as likely as token 2.
	if r := float64(counts[1]) / float64(counts[2]); math.Abs(r-math.E) > 0.3 {
		t.Errorf("top-k 2 ratio of token 1 to token 2 = %.2f; want about %.2f", r, math.E)
	}
	// Softmax of [1,3,2,0.5] is about [.086 .638 .235 .052]: top-p 0.7 keeps tokens 1 and 2.
	s = &Sampler{Temperature: 1, TopP: 0.7, RNG: tensor.NewRNG(2)}
	for range 2000 {
		if id := s.Next(logits); id != 1 && id != 2 {
			t.Fatalf("top-p 0.7 drew token %d; want 1 or 2", id)
		}
	}
	// A very low temperature is nearly greedy.
	s = &Sampler{Temperature: 0.01, RNG: tensor.NewRNG(3)}
	for range 100 {
		if id := s.Next(logits); id != 1 {
			t.Fatalf("temperature 0.01 drew %d; want 1", id)
		}
	}
}

// TestSamplerVocab: ids at or past Vocab (a model's rows beyond its
// tokenizer's tokens) are never drawn, greedy or sampled.
func TestSamplerVocab(t *testing.T) {
	logits := []float32{1, 2, 0, 5, 4}
	if got := (&Sampler{Vocab: 3}).Next(logits); got != 1 {
		t.Errorf("greedy Next with Vocab 3 = %d; want 1", got)
	}
	if got := (&Sampler{Vocab: 9}).Next(logits); got != 3 {
		t.Errorf("greedy Next with Vocab 9 = %d; want 3", got)
	}
	s := &Sampler{Temperature: 2, Vocab: 3, RNG: tensor.NewRNG(4)}
	seen := map[int]bool{}
	for range 1000 {
		id := s.Next(logits)
		if id >= 3 {
			t.Fatalf("Vocab 3 drew token %d", id)
		}
		seen[id] = true
	}
	if len(seen) != 3 {
		t.Errorf("Vocab 3 at temperature 2 drew only %v", seen)
	}
}

func TestSamplerValidate(t *testing.T) {
	for _, s := range []Sampler{{Temperature: -1}, {TopK: -2}, {TopP: 1.5}, {Temperature: 0.8}} {
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", s)
		}
	}
}

func TestStopAt(t *testing.T) {
	if n, ok := StopAt("ROMEO:\nhello\n\nJULIET", []string{"\n\n", "JU"}); !ok || n != 12 {
		t.Errorf("StopAt = %d, %v; want 12, true", n, ok)
	}
	if n, ok := StopAt("abc", []string{"x", ""}); ok || n != 3 {
		t.Errorf("StopAt without a match = %d, %v; want 3, false", n, ok)
	}
}

// TestMostLikely checks the heap's top k against a stable sort of every id,
// on logits with many ties, for k from 1 to all of them.
func TestMostLikely(t *testing.T) {
	r := tensor.NewRNG(3)
	for _, v := range []int{1, 2, 7, 100, 1000} {
		logits := make([]float32, v)
		for i := range logits {
			logits[i] = float32(r.Intn(v/3 + 1)) // ties everywhere
		}
		all := make([]int, v)
		for i := range all {
			all[i] = i
		}
		slices.SortStableFunc(all, func(a, b int) int { return cmp.Compare(logits[b], logits[a]) })
		for _, k := range []int{1, 2, 3, v / 2, v - 1, v} {
			if k < 1 || k > v {
				continue
			}
			if got := mostLikely(nil, logits, k); !slices.Equal(got, all[:k]) {
				t.Errorf("V=%d, k=%d: %v; want %v", v, k, got, all[:k])
			}
		}
	}
}

// TestSamplingWithoutTopK draws from every token (temperature alone) and
// from a nucleus that needs more than the first 64 ranked tokens, and
// checks the frequencies against the probabilities they should have.
func TestSamplingWithoutTopK(t *testing.T) {
	const draws = 40000
	logits := []float32{0.5, 2, -1, 1.5, 0}
	s := &Sampler{Temperature: 0.7, RNG: tensor.NewRNG(5)}
	counts := make([]int, len(logits))
	for range draws {
		counts[s.Next(logits)]++
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(float64(l) / 0.7)
	}
	for id, l := range logits {
		want := math.Exp(float64(l)/0.7) / z
		if got := float64(counts[id]) / draws; math.Abs(got-want) > 0.01 {
			t.Errorf("temperature 0.7: token %d drawn %.3f of the time; want %.3f", id, got, want)
		}
	}
	// 300 tokens: 100 of logit 1 scattered among 200 of logit -3. The 100
	// hold e/(e+2e^-3) = 93% of the probability, so top-p 0.9 keeps 97 of
	// them (the lowest ids, ties going to them) and nothing else.
	logits = make([]float32, 300)
	var high []int
	for id := range logits {
		logits[id] = -3
		if id%3 == 1 {
			logits[id] = 1
			high = append(high, id)
		}
	}
	p := math.Exp(1) / (100*math.Exp(1) + 200*math.Exp(-3))
	keep := int(math.Ceil(0.9/p - 1e-9))
	s = &Sampler{Temperature: 1, TopP: 0.9, RNG: tensor.NewRNG(6)}
	seen := map[int]int{}
	for range draws {
		seen[s.Next(logits)]++
	}
	for id, n := range seen {
		if !slices.Contains(high[:keep], id) {
			t.Fatalf("top-p 0.9 drew token %d (%d times), outside the nucleus of the first %d high tokens", id, n, keep)
		}
	}
	if len(seen) != keep {
		t.Errorf("top-p 0.9 drew %d distinct tokens; want all %d of the nucleus", len(seen), keep)
	}
}

// TestTopKDrawsInRankOrder: with a top-k, even one past the vocabulary (a
// character model under the default 200), Next draws exactly what ranking
// every token and walking them most likely first draws, for the same
// seed: generations keep their seeds' texts.
func TestTopKDrawsInRankOrder(t *testing.T) {
	r := tensor.NewRNG(8)
	logits := make([]float32, 65)
	for i := range logits {
		logits[i] = float32(r.Intn(40)) / 10 // ties too
	}
	reference := func(rng *tensor.RNG, k int, temp float64) int {
		ids := make([]int, len(logits))
		for i := range ids {
			ids[i] = i
		}
		slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(logits[b], logits[a]) })
		ids = ids[:min(k, len(ids))]
		var probs []float64
		var sum float64
		for _, id := range ids {
			p := math.Exp((float64(logits[id]) - float64(logits[ids[0]])) / temp)
			probs = append(probs, p)
			sum += p
		}
		u := rng.Float64() * sum
		for i, p := range probs {
			if u -= p; u < 0 {
				return ids[i]
			}
		}
		return ids[len(ids)-1]
	}
	for _, k := range []int{5, 65, 200} {
		s := &Sampler{Temperature: 0.8, TopK: k, RNG: tensor.NewRNG(7)}
		ref := tensor.NewRNG(7)
		for i := range 500 {
			if got, want := s.Next(logits), reference(ref, k, 0.8); got != want {
				t.Fatalf("top-k %d, draw %d: %d; ranking every token gives %d", k, i, got, want)
			}
		}
	}
}
