package generate

import (
	"fmt"

	"github.com/attn-go/attn/model/transformer"
)

// Translate decodes each source sequence with beam search (o.Beam 1 is
// greedy), the encoder run once per batch and a KV cache in the decoder.
// Sources are decoded batchSize at a time. MaxLens, when set, holds each
// source's bound; else MaxLen 0 means each source's own length + 50, so
// that a source's bound does not depend on the batch it is in (its numbers
// still may, by rounding: the products' kernels depend on their rows).
// Every bound is capped by the model's max_len − 1.
func Translate(m *transformer.Model, srcs [][]int, pad, batchSize int, o BeamOpts) ([]Hypothesis, error) {
	if o.MaxLens != nil && len(o.MaxLens) != len(srcs) {
		return nil, fmt.Errorf("generate: %d max lengths for %d sources", len(o.MaxLens), len(srcs))
	}
	out := make([]Hypothesis, 0, len(srcs))
	batchSize = max(batchSize, 1)
	for lo := 0; lo < len(srcs); lo += batchSize {
		chunk := srcs[lo:min(lo+batchSize, len(srcs))]
		src := transformer.MakeBatch(chunk, pad)
		d, err := m.NewDecoder(src, o.Beam)
		if err != nil {
			return nil, err
		}
		opts := o
		switch {
		case o.MaxLens != nil: // the caller's, this batch's share
			opts.MaxLens = make([]int, len(chunk))
			for i := range chunk {
				opts.MaxLens[i] = min(o.MaxLens[lo+i], m.Cfg.MaxLen-1)
			}
		case o.MaxLen == 0: // each source's own bound, as if decoded alone
			opts.MaxLens = make([]int, len(chunk))
			for i, s := range chunk {
				opts.MaxLens[i] = min(len(s)+50, m.Cfg.MaxLen-1)
			}
		default:
			opts.MaxLen = min(opts.MaxLen, m.Cfg.MaxLen-1)
		}
		hs, err := Beam(d, len(chunk), opts)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, nil
}
