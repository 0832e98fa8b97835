package bert

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/tensor"
)

// Pooling says how Embed turns a sequence's hidden states into one vector.
type Pooling string

// The poolings of sentence-transformers (its Pooling module's modes).
const (
	PoolCLS         Pooling = "cls"           // the first token's hidden state (not the tanh pooler)
	PoolMean        Pooling = "mean"          // the mean over the non-padding tokens
	PoolMax         Pooling = "max"           // each dimension's largest value over the non-padding tokens
	PoolMeanSqrtLen Pooling = "mean_sqrt_len" // the sum over the non-padding tokens / √(their number)
	// PoolLastToken is the last non-padding token's hidden state: the
	// embedding of a decoder-only model (Qwen3-Embedding), whose last
	// token is the only one that has seen the whole text.
	PoolLastToken Pooling = "lasttoken"
)

// Poolings lists the poolings Embed computes.
var Poolings = []Pooling{PoolCLS, PoolMean, PoolMax, PoolMeanSqrtLen, PoolLastToken}

// Embed returns one vector per sequence of hidden [B, T, C] (Encode's), for
// sentence-transformers style use: pooled as pooling says, then divided by
// its L2 norm if normalize (torch's F.normalize, norm floored at 1e-12).
// pad (B·T entries, true at padding; nil for none) is what Encode was given;
// a sequence that is all padding has a zero mean and a zero last token.
func Embed(hidden *tensor.Tensor, pad []bool, pooling Pooling, normalize bool) ([][]float32, error) {
	return EmbedConcat(hidden, pad, []Pooling{pooling}, normalize)
}

// EmbedConcat is Embed with several poolings, their vectors concatenated in
// the order given (as sentence-transformers concatenates the modes its
// Pooling module has on) before the normalisation.
func EmbedConcat(hidden *tensor.Tensor, pad []bool, poolings []Pooling, normalize bool) ([][]float32, error) {
	if len(hidden.Shape) != 3 {
		return nil, fmt.Errorf("bert: Embed of a %v tensor; want [B, T, C]", hidden.Shape)
	}
	b, t, c := hidden.Shape[0], hidden.Shape[1], hidden.Shape[2]
	if pad != nil && len(pad) != b*t {
		return nil, fmt.Errorf("bert: padding mask of %d entries for %d tokens", len(pad), b*t)
	}
	if len(poolings) == 0 {
		return nil, errors.New("bert: Embed without a pooling")
	}
	for _, p := range poolings {
		if !slices.Contains(Poolings, p) {
			return nil, fmt.Errorf("bert: pooling %q is not one of %v", string(p), Poolings)
		}
	}
	out := make([][]float32, b)
	v := make([]float64, 0, c*len(poolings))
	for i := range b {
		v = v[:0]
		rows := hidden.Data[i*t*c : (i+1)*t*c]
		var keep []bool
		if pad != nil {
			keep = pad[i*t : (i+1)*t]
		}
		for _, p := range poolings {
			v = pool(v, rows, keep, t, c, p)
		}
		scale := 1.0
		if normalize {
			var ss float64
			for _, x := range v {
				ss += x * x
			}
			scale = 1 / math.Max(math.Sqrt(ss), 1e-12)
		}
		e := make([]float32, len(v))
		for k, x := range v {
			e[k] = float32(x * scale)
		}
		out[i] = e
	}
	return out, nil
}

// pool appends to v one sequence's vector: rows its T×C hidden states, pad
// (nil for none) true at its padding tokens.
func pool(v []float64, rows []float32, pad []bool, t, c int, p Pooling) []float64 {
	at := len(v)
	v = append(v, make([]float64, c)...)
	dst := v[at:]
	if p == PoolCLS {
		for k, x := range rows[:c] {
			dst[k] = float64(x)
		}
		return v
	}
	if p == PoolLastToken {
		last := t - 1
		for last > 0 && pad != nil && pad[last] {
			last--
		}
		if pad != nil && pad[last] { // all padding: zeros, as sentence-transformers' masked gather gives
			return v
		}
		for k, x := range rows[last*c : (last+1)*c] {
			dst[k] = float64(x)
		}
		return v
	}
	if p == PoolMax {
		// Padding counts as -1e9, as sentence-transformers sets it.
		for k := range dst {
			dst[k] = -1e9
		}
	}
	n := 0
	for j := range t {
		if pad != nil && pad[j] {
			continue
		}
		for k, x := range rows[j*c : (j+1)*c] {
			if p == PoolMax {
				dst[k] = math.Max(dst[k], float64(x))
			} else {
				dst[k] += float64(x)
			}
		}
		n++
	}
	switch p {
	case PoolMean:
		scale := 1 / math.Max(float64(n), 1e-9)
		for k := range dst {
			dst[k] *= scale
		}
	case PoolMeanSqrtLen:
		scale := 1 / math.Sqrt(math.Max(float64(n), 1e-9))
		for k := range dst {
			dst[k] *= scale
		}
	}
	return v
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
