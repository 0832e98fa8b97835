package bert

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/tensor"
)

// Pooling says how Embed turns a sequence's hidden states into one vector.
type Pooling string

// The poolings of sentence-transformers.
const (
	PoolCLS  Pooling = "cls"  // the first token's hidden state (not the tanh pooler)
	PoolMean Pooling = "mean" // the mean over the non-padding tokens
)

// Embed returns one vector per sequence of hidden [B, T, C] (Encode's), for
// sentence-transformers style use: pooled as pooling says, then divided by
// its L2 norm if normalize (torch's F.normalize, norm floored at 1e-12).
// pad (B·T entries, true at padding; nil for none) is what Encode was given;
// a sequence that is all padding has a zero mean.
func Embed(hidden *tensor.Tensor, pad []bool, pooling Pooling, normalize bool) ([][]float32, error) {
	if len(hidden.Shape) != 3 {
		return nil, fmt.Errorf("bert: Embed of a %v tensor; want [B, T, C]", hidden.Shape)
	}
	b, t, c := hidden.Shape[0], hidden.Shape[1], hidden.Shape[2]
	if pad != nil && len(pad) != b*t {
		return nil, fmt.Errorf("bert: padding mask of %d entries for %d tokens", len(pad), b*t)
	}
	if pooling != PoolCLS && pooling != PoolMean {
		return nil, fmt.Errorf("bert: pooling %q is not cls or mean", string(pooling))
	}
	out := make([][]float32, b)
	sum := make([]float64, c)
	for i := range b {
		clear(sum)
		n := 0
		for j := range t {
			if pooling == PoolCLS && j > 0 {
				break
			}
			if pooling == PoolMean && pad != nil && pad[i*t+j] {
				continue
			}
			for k, v := range hidden.Data[(i*t+j)*c : (i*t+j+1)*c] {
				sum[k] += float64(v)
			}
			n++
		}
		scale := 1 / math.Max(float64(n), 1e-9)
		if normalize {
			var ss float64
			for _, v := range sum {
				ss += v * v
			}
			scale = 1 / math.Max(math.Sqrt(ss), 1e-12) // the mean's norm is the sum's norm / n
		}
		v := make([]float32, c)
		for k := range v {
			v[k] = float32(sum[k] * scale)
		}
		out[i] = v
	}
	return out, nil
}

// Prediction is a token and its probability.
type Prediction struct {
	ID   int
	Prob float32
}

// TopK returns the k most probable tokens of one row of logits (softmax
// over the row), most probable first, as a fill-mask pipeline reports them.
func TopK(logits []float32, k int) []Prediction {
	if len(logits) == 0 {
		return nil
	}
	mx := slices.Max(logits)
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v - mx))
	}
	ids := make([]int, len(logits))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(logits[b], logits[a]) })
	k = min(max(k, 0), len(ids))
	out := make([]Prediction, k)
	for i, id := range ids[:k] {
		out[i] = Prediction{ID: id, Prob: float32(math.Exp(float64(logits[id]-mx)) / z)}
	}
	return out
}

// Batch packs token sequences into one row-major batch for Encode: B rows
// of T tokens, T the longest length, shorter rows padded on the right with
// padID (as HF tokenizers pad BERT's input) and marked in pad.
func Batch(seqs [][]int, padID int) (ids []int, pad []bool, b, t int) {
	for _, s := range seqs {
		t = max(t, len(s))
	}
	b = len(seqs)
	ids, pad = make([]int, b*t), make([]bool, b*t)
	for i, s := range seqs {
		copy(ids[i*t:], s)
		for j := len(s); j < t; j++ {
			ids[i*t+j], pad[i*t+j] = padID, true
		}
	}
	return ids, pad, b, t
}

// Scores reads one row of classifier logits as problem_type says and
// returns the k highest, highest first: softmax probabilities for a
// single-label classifier (the default with more than one output), a
// sigmoid per label for a multi-label one, and the raw outputs of a
// regression (HF's default with one output).
func (c Config) Scores(logits []float32, k int) []Prediction {
	kind := c.ProblemType
	if kind == "" && len(logits) == 1 {
		kind = "regression"
	}
	if kind == "" || kind == "single_label_classification" {
		return TopK(logits, k)
	}
	out := make([]Prediction, len(logits))
	for i, v := range logits {
		out[i] = Prediction{ID: i, Prob: v}
		if kind == "multi_label_classification" {
			out[i].Prob = float32(1 / (1 + math.Exp(-float64(v))))
		}
	}
	slices.SortStableFunc(out, func(a, b Prediction) int { return cmp.Compare(b.Prob, a.Prob) })
	return out[:min(max(k, 0), len(out))]
}
