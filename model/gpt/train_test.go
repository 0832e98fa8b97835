package gpt

import (
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/train"
)

// TestDropoutOnlyWhenTraining checks that dropout acts on a tape with an RNG
// and nowhere else (a nil tape, a tape without an RNG).
func TestDropoutOnlyWhenTraining(t *testing.T) {
	cfg := tinyConfig // dropout 0.1
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := randIDs(tensor.NewRNG(3), 2*8, cfg.VocabSize)
	eval, _ := m.Forward(nil, ids, 2, 8)
	noRNG, _ := m.Forward(autograd.NewTape(nil), ids, 2, 8)
	drop, _ := m.Forward(autograd.NewTape(tensor.NewRNG(5)), ids, 2, 8)
	same, differs := true, false
	for i := range eval.Value.Data {
		same = same && eval.Value.Data[i] == noRNG.Value.Data[i]
		differs = differs || eval.Value.Data[i] != drop.Value.Data[i]
	}
	if !same || !differs {
		t.Errorf("dropout: tape without RNG equals inference = %v (want true); tape with RNG differs = %v (want true)", same, differs)
	}
}

// TestSetDropout: SetDropout(0) makes a training tape's forward pass equal
// to inference in every layer (a model built with dropout 0.1 keeps the
// rate in its blocks, not only in Cfg), and out-of-range rates are refused.
func TestSetDropout(t *testing.T) {
	m, err := New(tinyConfig, 1) // dropout 0.1
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetDropout(1); err == nil {
		t.Error("SetDropout(1): want an error")
	}
	if err := m.SetDropout(0); err != nil || m.Cfg.Dropout != 0 {
		t.Fatalf("SetDropout(0): %v, Cfg.Dropout %v", err, m.Cfg.Dropout)
	}
	ids := randIDs(tensor.NewRNG(3), 2*8, tinyConfig.VocabSize)
	eval, _ := m.Forward(nil, ids, 2, 8)
	train, _ := m.Forward(autograd.NewTape(tensor.NewRNG(5)), ids, 2, 8)
	for i := range eval.Value.Data {
		if eval.Value.Data[i] != train.Value.Data[i] {
			t.Fatalf("after SetDropout(0) a training forward pass differs from inference at %d: %v, %v", i, train.Value.Data[i], eval.Value.Data[i])
		}
	}
}

// BenchmarkTrainStep times one optimizer step (forward, backward, clipping,
// AdamW) of nanoGPT's "baby GPT" CPU settings: 4 layers, 4 heads, C 128,
// block 64, batch 12, character vocabulary.
func BenchmarkTrainStep(b *testing.B) {
	cfg := Config{VocabSize: 65, NPositions: 64, NEmbd: 128, NLayer: 4, NHead: 4, Eps: 1e-5}
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	const bsz, tt = 12, 64
	r := tensor.NewRNG(2)
	ids, targets := randIDs(r, bsz*tt, cfg.VocabSize), randIDs(r, bsz*tt, cfg.VocabSize)
	opt := train.NewAdamW(0.1)
	opt.Beta2, opt.Eps, opt.NoDecay = 0.95, 1e-8, m.NoDecay()
	ps := m.Params()
	params := nn.Unique(ps)
	tp := autograd.NewTape(nil)
	for b.Loop() {
		nn.ZeroGrad(ps)
		loss, err := m.Loss(tp, ids, targets, bsz, tt)
		if err != nil {
			b.Fatal(err)
		}
		tp.Backward(loss)
		train.ClipGradNorm(params, 1)
		opt.Update(params, 1e-3)
	}
	b.ReportMetric(float64(b.N*bsz*tt)/b.Elapsed().Seconds(), "tokens/s")
}
