// Command q8quality measures what quantizing a Llama's matrices to 8 bits
// (llama.Model.QuantizeQ8) costs a trained model, which no checkpoint here
// can show: it trains a small Llama from scratch on Tiny Shakespeare's
// characters, then compares its validation loss in float32, with its
// matrices rounded to BF16 (the format most checkpoints ship in) and
// quantized to Q8, each through the generation path (Step, a KV cache).
//
//	go run ./tools/bench/q8quality              # about 5 minutes on 2 cores
//	go run ./tools/bench/q8quality -steps 2000  # longer
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/train"
)

func main() {
	steps := flag.Int("steps", 800, "training steps (batch 16 of 128 characters)")
	windows := flag.Int("windows", 64, "validation windows of 128 characters")
	flag.Parse()
	if err := run(*steps, *windows); err != nil {
		fmt.Fprintln(os.Stderr, "q8quality:", err)
		os.Exit(1)
	}
}

func run(steps, windows int) error {
	text := []rune(data.Shakespeare)
	chars := slices.Compact(slices.Sorted(slices.Values(slices.Clone(text))))
	index := map[rune]int{}
	for i, c := range chars {
		index[c] = i
	}
	ids := make([]int, len(text))
	for i, c := range text {
		ids[i] = index[c]
	}
	cut := len(ids) * 9 / 10
	trainIDs, valIDs := ids[:cut], ids[cut:]
	const T, B = 128, 16
	cfg := llama.Config{Type: "llama", VocabSize: len(chars), Hidden: 192, Intermediate: 512, Layers: 4, Heads: 6, KVHeads: 2,
		HeadDim: 32, Act: "silu", MaxPositions: T, Eps: 1e-5, RopeTheta: 10000, Tied: true}
	m, err := llama.New(cfg, 1)
	if err != nil {
		return err
	}
	rng := tensor.NewRNG(2)
	loop := &train.Loop{
		Params:   nn.Unique(m.Params()),
		Opt:      train.NewAdamW(0.1),
		Schedule: train.WarmupCosine{Peak: 2e-3, Min: 2e-4, Warmup: 50, Total: steps},
		Steps:    steps,
		ClipNorm: 1,
		Log:      os.Stderr,
		LogEvery: 100,
	}
	loop.Opt.NoDecay = m.NoDecay()
	start := time.Now()
	err = loop.Run(context.Background(), func(tp *autograd.Tape, _, _ int) (*autograd.Var, int, error) {
		in, out := make([]int, 0, B*T), make([]int, 0, B*T)
		for range B {
			at := rng.Intn(len(trainIDs) - T - 1)
			in = append(in, trainIDs[at:at+T]...)
			out = append(out, trainIDs[at+1:at+T+1]...)
		}
		loss, err := m.Loss(tp, in, out, B, T)
		return loss, B * T, err
	})
	if err != nil {
		return err
	}
	fmt.Printf("trained %d steps in %s: %d parameters\n", steps, time.Since(start).Round(time.Second), nn.Count(m.Params()))
	eval := func() (float64, error) {
		r := tensor.NewRNG(3) // the same windows for every form
		var sum float64
		for range windows {
			at := r.Intn(len(valIDs) - T - 1)
			logits, err := m.Step(m.NewCache(), valIDs[at:at+T])
			if err != nil {
				return 0, err
			}
			v := len(chars)
			for p := range T {
				row := logits.Data[p*v : (p+1)*v]
				mx := slices.Max(row)
				var z float64
				for _, x := range row {
					z += math.Exp(float64(x - mx))
				}
				sum += math.Log(z) + float64(mx) - float64(row[valIDs[at+p+1]])
			}
		}
		return sum / float64(windows*T), nil
	}
	f32, err := eval()
	if err != nil {
		return err
	}
	// The matrices rounded to bfloat16, as a BF16 checkpoint of this model
	// would hold them, then quantized from there as --quantize q8 does.
	for _, p := range m.Params() {
		if len(p.Value.Shape) == 2 {
			for i, x := range p.Value.Data {
				p.Value.Data[i] = safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(x))
			}
		}
	}
	if !m.KeepBF16() {
		return fmt.Errorf("the rounded model was not kept in bfloat16")
	}
	bf16, err := eval()
	if err != nil {
		return err
	}
	m.QuantizeQ8()
	q8, err := eval()
	if err != nil {
		return err
	}
	fmt.Printf("validation loss (%d windows of %d characters, nats a character): float32 %.4f, BF16 %.4f (%+.4f), Q8 %.4f (%+.4f)\n",
		windows, T, f32, bf16, bf16-f32, q8, q8-f32)
	return nil
}
