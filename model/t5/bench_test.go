package t5

import (
	"fmt"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// BenchmarkDecodeStep measures one decoding step of a t5-small-shaped model
// (random weights) after a 32-token source, for N hypotheses, with the
// cache (Decoder.Step) and, as the baseline, without it (Forward on the
// whole prefix of 16 tokens).
func BenchmarkDecodeStep(b *testing.B) {
	m, err := New(DefaultConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	r := tensor.NewRNG(2)
	const s, prefix = 32, 16
	for _, n := range []int{1, 4} {
		src := make([]int, n*s)
		for i := range src {
			src[i] = 2 + r.Intn(m.Cfg.VocabSize-2)
		}
		tokens := make([]int, n)
		b.Run(fmt.Sprintf("cached/N=%d", n), func(b *testing.B) {
			d, err := m.NewDecoder(src, nil, n, s, 1)
			if err != nil {
				b.Fatal(err)
			}
			for range prefix {
				if _, err := d.Step(tokens); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if _, err := d.Step(tokens); err != nil {
					b.Fatal(err)
				}
				d.len--
				for l := range d.k {
					for i := range d.k[l] {
						d.k[l][i] = d.k[l][i][:prefix*m.Cfg.NumHeads*m.Cfg.DKV]
						d.v[l][i] = d.v[l][i][:prefix*m.Cfg.NumHeads*m.Cfg.DKV]
					}
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run(fmt.Sprintf("nocache/N=%d", n), func(b *testing.B) {
			tgt := make([]int, n*(prefix+1))
			for b.Loop() {
				if _, err := m.Forward(nil, src, nil, tgt, n, s, prefix+1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
