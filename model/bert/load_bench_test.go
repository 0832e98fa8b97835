package bert

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoad times Load of a BERT-base shaped checkpoint (random weights,
// 110M parameters, 438 MB of F32 with the MLM head and pooler) from a warm
// page cache: mapping, checking, and converting every tensor once into the
// model's buffers.
func BenchmarkLoad(b *testing.B) {
	for _, size := range []struct {
		name string
		cfg  func() Config
	}{
		{"tiny", tinyConfig},
		{"base", DefaultConfig},
	} {
		b.Run(size.name, func(b *testing.B) {
			m, err := New(size.cfg(), Parts{Pooler: true, Head: true}, 1)
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			if err := Save(dir, m); err != nil {
				b.Fatal(err)
			}
			m = nil
			st, err := os.Stat(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ResetTimer()
			for range b.N {
				if _, err := Load(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode times Encode (what attn embed runs) of a BERT-base shaped
// model with random weights on a batch of 8 sequences of 128 tokens.
func BenchmarkEncode(b *testing.B) {
	m, err := New(DefaultConfig(), Parts{Pooler: true}, 1)
	if err != nil {
		b.Fatal(err)
	}
	const bs, t = 8, 128
	ids := make([]int, bs*t)
	for i := range ids {
		ids[i] = 1000 + i%5000
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Encode(ids, nil, nil, bs, t); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bs*t*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
