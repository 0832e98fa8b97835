package generate

import (
	"github.com/attn-go/attn/model/transformer"
)

// Translate decodes each source sequence with beam search (o.Beam 1 is
// greedy), the encoder run once per batch and a KV cache in the decoder.
// Sources are decoded batchSize at a time; MaxLen 0 means source length + 50
// (capped by the model's max_len − 1).
func Translate(m *transformer.Model, srcs [][]int, pad, batchSize int, o BeamOpts) ([]Hypothesis, error) {
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
		if opts.MaxLen == 0 {
			opts.MaxLen = src.T + 50
		}
		opts.MaxLen = min(opts.MaxLen, m.Cfg.MaxLen-1)
		hs, err := Beam(d, len(chunk), opts)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, nil
}
