package train

import (
	"context"
	"io"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// CopyTaskConfig sets up training an encoder-decoder on a synthetic copy or
// reverse task.
type CopyTaskConfig struct {
	Task   data.CopyTask
	Model  transformer.Config // vocabulary sizes are filled in from Task
	Steps  int
	Batch  int
	PeakLR float64
	Warmup int
	Seed   uint64
	// Smoothing is the label smoothing ε (the paper's 0.1).
	Smoothing float32
	Log       io.Writer
	LogEvery  int
}

// DefaultCopyTask is a small model that learns to copy sequences of 10
// symbols (out of 20) in a few hundred steps on two cores.
func DefaultCopyTask() CopyTaskConfig {
	m := transformer.DefaultConfig()
	m.DModel, m.Heads, m.EncoderLayers, m.DecoderLayers, m.DFF = 64, 4, 2, 2, 128
	m.Dropout, m.MaxLen = 0, 32
	return CopyTaskConfig{
		Task: data.CopyTask{Symbols: 20, Len: 10}, Model: m,
		Steps: 400, Batch: 64, PeakLR: 3e-3, Warmup: 50, Seed: 1, Smoothing: 0.1, LogEvery: 50,
	}
}

// TrainCopyTask trains a fresh model on the task with label-smoothed
// cross-entropy, Adam and warm-up + cosine decay, and returns it.
func TrainCopyTask(ctx context.Context, c CopyTaskConfig) (*transformer.Model, error) {
	c.Model.SrcVocab, c.Model.TgtVocab = c.Task.Vocab(), c.Task.Vocab()
	m, err := transformer.New(c.Model, c.Seed)
	if err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(c.Seed + 1)
	loop := &Loop{
		Params:   nn.Unique(m.Params()),
		Opt:      NewAdam(),
		Schedule: WarmupCosine{Peak: c.PeakLR, Min: c.PeakLR / 20, Warmup: c.Warmup, Total: c.Steps},
		Steps:    c.Steps,
		ClipNorm: 1,
		RNG:      tensor.NewRNG(c.Seed + 2),
		Log:      c.Log,
		LogEvery: c.LogEvery,
	}
	err = loop.Run(ctx, func(tp *autograd.Tape, _, _ int) (*autograd.Var, int, error) {
		srcs, tgts := c.Task.Samples(rng, c.Batch)
		src := transformer.MakeBatch(srcs, data.Pad)
		tgtIn, tgtOut := transformer.TeacherForcing(tgts, data.BOS, data.EOS, data.Pad)
		logits, err := m.Forward(tp, src, tgtIn)
		if err != nil {
			return nil, 0, err
		}
		return tp.CrossEntropy(logits, tgtOut, data.Pad, c.Smoothing), len(src.IDs) + len(tgtOut), nil
	})
	return m, err
}

// CopyTaskAccuracy decodes n fresh samples greedily and returns the fraction
// reproduced exactly.
func CopyTaskAccuracy(m *transformer.Model, task data.CopyTask, n int, seed uint64) (float64, error) {
	srcs, tgts := task.Samples(tensor.NewRNG(seed), n)
	got, err := m.Greedy(srcs, data.BOS, data.EOS, data.Pad, task.Len+5)
	if err != nil {
		return math.NaN(), err
	}
	exact := 0
	for i := range got {
		if equalInts(got[i], tgts[i]) {
			exact++
		}
	}
	return float64(exact) / float64(n), nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
