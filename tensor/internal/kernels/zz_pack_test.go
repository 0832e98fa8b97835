package kernels

import (
	"testing"
	"time"
)

// Temporary probe: packing speed with the panel stride padded.
func TestZZPack(t *testing.T) {
	const K, N, mats = 768, 2304, 48
	src := make([][]float32, mats)
	for i := range src {
		src[i] = make([]float32, K*N)
		for j := range src[i] {
			src[i][j] = float32(j)
		}
	}
	dst := make([]float32, 384*512+64*16)
	for round := 0; round < 2; round++ {
		for _, w := range []int{128, 512} {
			for _, pad := range []int{0, 16, 32} {
				for _, hot := range []bool{false, true} {
					start := time.Now()
					bytes := 0
					for rep := 0; rep < 3; rep++ {
						for i := range src {
							s := src[i]
							if hot {
								s = src[0]
							}
							for jc := 0; jc+w <= N; jc += w {
								for pc := 0; pc < K; pc += 384 {
									copyPanels32(&dst[0], 32*384+pad, &s[pc*N+jc], N, 384, w/32)
									bytes += 384 * w * 4
								}
							}
						}
					}
					el := time.Since(start)
					t.Logf("width %d pad %d hot %v: %.1f GB/s", w, pad, hot, float64(bytes)/el.Seconds()/1e9)
				}
			}
		}
	}
}
