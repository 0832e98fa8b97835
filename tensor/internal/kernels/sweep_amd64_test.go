//go:build !purego

package kernels

import (
	"testing"
	"time"
)

// BenchmarkKernelSweep times the AVX-512 micro-kernels alone, as the
// blocked GEMM's inner loops run them on one core: every strip of a packed
// 1,020-row A (k = blockK) across a packed block of B (blockK×blockN), into
// a C 1,024 wide (4 MB). It reports GFLOP/s and the fraction of the FMA
// peak loop timed right after, so a change to the kernels can be read
// against the machine's rate of the moment:
//
//	go test -run '^$' -bench KernelSweep -count 10 ./tensor/internal/kernels/
//
// The bfloat16 kernels sweep blockK pairs of steps (twice the steps in the
// same bytes), and their fraction is of twice the FMA peak.
func BenchmarkKernelSweep(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512")
	}
	b.Run("float32", func(b *testing.B) { kernelSweep(b, arch512) })
	if hasBF16 {
		b.Run("bf16", func(b *testing.B) { kernelSweep(b, arch512bf16) })
	}
}

func kernelSweep(b *testing.B, g *gemmArch) {
	const m, ldc = 1020, 1024
	mr, nr, pw := g.mr, g.nr, g.pw
	pa := make([]float32, m*blockK)
	pb := make([]float32, blockK*blockN)
	c := make([]float32, m*ldc)
	for i := range pa {
		pa[i] = float32(i%13) * 0.01
	}
	for i := range pb {
		pb[i] = float32(i%7) * 0.01
	}
	sweep := func() {
		for ir := 0; ir < m; ir += mr {
			ap := &pa[ir/pw*pw*blockK+ir%pw]
			for jr := 0; jr < blockN; jr += nr {
				g.kern[mr](blockK, ap, &pb[jr*blockK], nr, &c[ir*ldc+jr], ldc, 1, 1, 1)
			}
		}
	}
	sweep()
	b.ResetTimer()
	for range b.N {
		sweep()
	}
	elapsed := b.Elapsed()
	gflops := 2 * float64(m) * blockN * blockK * float64(b.N) / elapsed.Seconds() / 1e9
	b.StopTimer()
	t0 := time.Now()
	peak := PeakLoop(1<<20) / time.Since(t0).Seconds() / 1e9
	if g.bf16 {
		gflops, peak = 2*gflops, 2*peak
	}
	b.ReportMetric(gflops, "GFLOP/s")
	b.ReportMetric(100*gflops/peak, "%peak")
}
