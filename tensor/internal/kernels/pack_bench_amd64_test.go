//go:build !purego

package kernels

import (
	"fmt"
	"testing"
)

// BenchmarkPack times packing a 512×512 operand in each layout (A, B, and
// their transposes), in float32 and in bfloat16 pairs, from cache and
// evicted by a 64 MB sweep (cold); MB/s counts the float32 source's bytes.
func BenchmarkPack(b *testing.B) {
	const m, n, k = 512, 512, 512
	src := make([]float32, m*k)
	for i := range src {
		src[i] = float32(i%251) * 0.01
	}
	dst := make([]float32, 2*m*k)
	sweep := make([]float32, 16<<20)
	cases := []struct {
		name string
		f    func()
	}{
		{"A/fp32", func() { packA(dst, false, src, k, 0, m, 0, k, pwAVX512) }},
		{"At/fp32", func() { packA(dst, true, src, m, 0, m, 0, k, pwAVX512) }},
		{"B/fp32", func() { packB(dst, false, src, n, 0, k, 0, n, 64) }},
		{"Bt/fp32", func() { packB(dst, true, src, k, 0, k, 0, n, 64) }},
		{"A/bf16", func() { packABF16(dst, false, src, k, 0, m, 0, k, pwBF16) }},
		{"At/bf16", func() { packABF16(dst, true, src, m, 0, m, 0, k, pwBF16) }},
		{"B/bf16", func() { packBBF16(dst, false, src, n, 0, k, 0, n, 64) }},
		{"Bt/bf16", func() { packBBF16(dst, true, src, k, 0, k, 0, n, 64) }},
	}
	for _, c := range cases {
		for _, cold := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/cold=%v", c.name, cold), func(b *testing.B) {
				b.SetBytes(int64(4 * m * k))
				for b.Loop() {
					if cold {
						b.StopTimer()
						for i := range sweep {
							sweep[i]++
						}
						b.StartTimer()
					}
					c.f()
				}
			})
		}
	}
}
