package autograd

import (
	"fmt"
	"testing"

	"github.com/attn-go/attn/tensor"
)

// BenchmarkAttention times causal self-attention forward + backward, batch 1,
// 8 heads of 64, for the streaming kernel ("flash") and the materialising
// reference ("ref"):
//
//	go test ./autograd -run '^$' -bench Attention -benchtime 3x
//
// GFLOP/s counts the algorithmic multiply-adds of the six products (Q·Kᵀ
// and P·V forward; dV, dP, dQ, dK backward), 2 FLOPs each, halved for the
// causal mask: B·H·(4 + 8)·T²·D / 2 (the convention of cmd/attn's bench
// attention). The streaming kernel's recomputation of Q·Kᵀ in the backward
// pass, and the tiles on the diagonal computed in full, are not counted.
// B/op is the bytes allocated per forward + backward: linear in T for flash,
// T² for ref (680 MB at T = 4096). cpu-ms/op is the process's CPU time per
// forward + backward (where the OS reports it), steadier than ns/op when
// other work shares the cores.
func BenchmarkAttention(b *testing.B) {
	const heads, d = 8, 64
	for _, impl := range []string{"flash", "ref"} {
		for _, t := range []int{256, 1024, 4096} {
			b.Run(fmt.Sprintf("%s/T=%d", impl, t), func(b *testing.B) {
				r := tensor.NewRNG(1)
				q, k, v := NewParam(randTensor(r, 1, t, heads*d)), NewParam(randTensor(r, 1, t, heads*d)), NewParam(randTensor(r, 1, t, heads*d))
				grad := randTensor(r, 1, t, heads*d)
				b.ReportAllocs()
				cpu0 := cpuTime()
				b.ResetTimer()
				for range b.N {
					tp := NewTape(nil)
					var y *Var
					if impl == "flash" {
						y = tp.Attention(q, k, v, heads, AttentionOpts{Causal: true})
					} else {
						y = tp.attentionRef(q, k, v, heads, AttentionOpts{Causal: true})
					}
					y.Grad = grad // seed dO directly: only attention is timed
					tp.steps[len(tp.steps)-1]()
				}
				b.StopTimer()
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
				flops := float64(heads) * 12 * float64(t) * float64(t) * d / 2
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkAttentionDecode times inference attention of one new query over
// a cache of T keys (nil tape, causal), 8 heads of 64: the decoding step.
func BenchmarkAttentionDecode(b *testing.B) {
	const heads, d = 8, 64
	for _, impl := range []string{"flash", "ref"} {
		for _, t := range []int{256, 4096} {
			b.Run(fmt.Sprintf("%s/T=%d", impl, t), func(b *testing.B) {
				r := tensor.NewRNG(1)
				q, k, v := Const(randTensor(r, 1, 1, heads*d)), Const(randTensor(r, 1, t, heads*d)), Const(randTensor(r, 1, t, heads*d))
				var tp *Tape
				b.ReportAllocs()
				for range b.N {
					if impl == "flash" {
						tp.Attention(q, k, v, heads, AttentionOpts{Causal: true})
					} else {
						tp.attentionRef(q, k, v, heads, AttentionOpts{Causal: true})
					}
				}
			})
		}
	}
}

// BenchmarkAttentionSmall times forward + backward at the training shapes
// of issue 3's nn.Transformer "small" config: batch 32, length 32, 4 heads
// of 64, causal self-attention, without and with dropout 0.1: the heads
// computed whole ("flash", what Attention runs), the streaming kernel
// forced ("streaming") and the materialising reference ("ref").
func BenchmarkAttentionSmall(b *testing.B) {
	const bsz, t, heads, d = 32, 32, 4, 64
	defer func() { attnShort = true }()
	for _, impl := range []string{"flash", "streaming", "ref"} {
		for _, dropout := range []float32{0, 0.1} {
			b.Run(fmt.Sprintf("%s/dropout=%v", impl, dropout), func(b *testing.B) {
				attnShort = impl != "streaming"
				r := tensor.NewRNG(1)
				q, k, v := NewParam(randTensor(r, bsz, t, heads*d)), NewParam(randTensor(r, bsz, t, heads*d)), NewParam(randTensor(r, bsz, t, heads*d))
				grad := randTensor(r, bsz, t, heads*d)
				opt := AttentionOpts{Causal: true, Dropout: dropout}
				b.ReportAllocs()
				for range b.N {
					tp := NewTape(tensor.NewRNG(5))
					var y *Var
					if impl == "ref" {
						y = tp.attentionRef(q, k, v, heads, opt)
					} else {
						y = tp.Attention(q, k, v, heads, opt)
					}
					y.Grad = grad
					tp.steps[len(tp.steps)-1]()
				}
			})
		}
	}
}
