package gpt

import (
	"fmt"
	"math"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/train"
)

// torchConfig is the golden files' config metadata (tools/golden/torch_gpt.py)
// beyond the model's Config.
type torchConfig struct {
	Batch  int       `json:"batch"`
	SeqLen int       `json:"seq_len"`
	Steps  int       `json:"steps"`
	LR     float32   `json:"lr"`
	Betas  []float32 `json:"betas"`
	Eps    float64   `json:"eps"`
	WD     float32   `json:"weight_decay"`
	Clip   float32   `json:"clip_norm"`
}

// goldenModel builds the model of a golden file and loads its param.* weights.
func goldenModel(t *testing.T, f *golden.File) (*Model, torchConfig) {
	t.Helper()
	var tc torchConfig
	f.Config(&tc)
	// The model's keys are HF's GPT2Config names; dropout is 0.
	var cfg Config
	f.Config(&cfg)
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Load(m.Params(), f.Get("param.")); err != nil {
		t.Fatal(err)
	}
	return m, tc
}

// TestForwardMatchesPyTorch compares logits, the loss and every parameter's
// gradient with GPT-2 in PyTorch (float64 reference).
func TestForwardMatchesPyTorch(t *testing.T) {
	f := golden.Open(t, "torch/gpt_forward.safetensors")
	m, tc := goldenModel(t, f)
	tp := autograd.NewTape(nil)
	ids, targets := f.Ints("input.ids"), f.Ints("input.targets")
	logits, err := m.Forward(tp, ids, tc.Batch, tc.SeqLen)
	if err != nil {
		t.Fatal(err)
	}
	d := golden.CheckAbs(t, "logits", logits.Value.Data, f.Tensor("output.logits").Data, 1e-4)
	loss := tp.CrossEntropy(logits, targets, IgnoreIndex, 0)
	dl := golden.CheckAbs(t, "loss", loss.Value.Data, f.Tensor("output.loss").Data, 1e-5)
	t.Logf("logits: max abs error %.2e; loss %.6f, error %.2e", d, loss.Item(), dl)
	tp.Backward(loss)
	ps := m.Params()
	worst, at := 0.0, ""
	for _, p := range ps {
		if r := golden.CheckRel(t, "grad "+p.Name, p.Grad.Data, f.Tensor("grad."+p.Name).Data, 1e-3); r > worst {
			worst, at = r, p.Name
		}
	}
	t.Logf("%d parameter gradients: worst relative error %.2e (%s)", len(ps), worst, at)

	// Loss runs the same computation.
	l2, err := m.Loss(nil, ids, targets, tc.Batch, tc.SeqLen)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Item() != loss.Item() {
		t.Errorf("Loss = %v; want %v (Forward + CrossEntropy)", l2.Item(), loss.Item())
	}
}

// TestTrainingMatchesPyTorch replays 20 AdamW steps with gradient clipping
// and compares each step's loss, gradient norm, and the final weights.
func TestTrainingMatchesPyTorch(t *testing.T) {
	f := golden.Open(t, "torch/gpt_train.safetensors")
	m, tc := goldenModel(t, f)
	xs, ys := f.Ints("input.x"), f.Ints("input.y")
	wantLoss, wantNorm := f.Tensor("output.losses").Data, f.Tensor("output.grad_norms").Data
	opt := train.NewAdamW(tc.WD)
	opt.Beta1, opt.Beta2, opt.Eps = tc.Betas[0], tc.Betas[1], float32(tc.Eps)
	opt.NoDecay = m.NoDecay()
	params := nn.Unique(m.Params())
	tp := autograd.NewTape(nil)
	n := tc.Batch * tc.SeqLen
	worstLoss, worstNorm := 0.0, 0.0
	for k := range tc.Steps {
		nn.ZeroGrad(m.Params())
		loss, err := m.Loss(tp, xs[k*n:(k+1)*n], ys[k*n:(k+1)*n], tc.Batch, tc.SeqLen)
		if err != nil {
			t.Fatal(err)
		}
		tp.Backward(loss)
		norm := train.ClipGradNorm(params, tc.Clip)
		opt.Update(params, tc.LR)
		dl := math.Abs(float64(loss.Item()) - float64(wantLoss[k]))
		dn := math.Abs(float64(norm)-float64(wantNorm[k])) / float64(wantNorm[k])
		worstLoss, worstNorm = max(worstLoss, dl), max(worstNorm, dn)
		if dl > 1e-4 {
			t.Errorf("step %d: loss %.6f; want %.6f (PyTorch)", k+1, loss.Item(), wantLoss[k])
		}
		if dn > 1e-3 {
			t.Errorf("step %d: gradient norm %.6f; want %.6f (PyTorch)", k+1, norm, wantNorm[k])
		}
	}
	t.Logf("%d steps: losses %.4f → %.4f; worst loss error %.2e, worst grad-norm relative error %.2e",
		tc.Steps, wantLoss[0], wantLoss[tc.Steps-1], worstLoss, worstNorm)
	worst := 0.0
	for _, p := range m.Params() {
		worst = max(worst, golden.CheckRel(t, fmt.Sprintf("weight %s after %d steps", p.Name, tc.Steps), p.Value.Data, f.Tensor("final."+p.Name).Data, 1e-3))
	}
	t.Logf("final weights: worst relative error %.2e", worst)
}
