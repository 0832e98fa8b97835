package transformer_test

import (
	"math"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/train"
)

// TestTrainingMatchesPyTorch runs the training step `attn bench train`
// times (nn.Transformer post-LN ReLU, separate embeddings, an untied output
// layer with bias, label-smoothed cross-entropy, Adam with betas 0.9, 0.98
// and eps 1e-9, one batch of random ids every step), scaled down, for ten
// steps from PyTorch's initial weights, and requires PyTorch's loss before
// every step and its weights after the last. It is what makes the
// benchmark's tokens/s a comparison of the same computation.
func TestTrainingMatchesPyTorch(t *testing.T) {
	f := golden.Open(t, "torch/seq2seq_train.safetensors")
	var tc struct {
		DModel    int       `json:"d_model"`
		Heads     int       `json:"nhead"`
		DFF       int       `json:"dim_feedforward"`
		EncLayers int       `json:"num_encoder_layers"`
		DecLayers int       `json:"num_decoder_layers"`
		Eps       float32   `json:"layer_norm_eps"`
		SrcVocab  int       `json:"src_vocab_size"`
		TgtVocab  int       `json:"tgt_vocab_size"`
		PadID     int       `json:"pad_id"`
		Smoothing float32   `json:"label_smoothing"`
		Steps     int       `json:"steps"`
		LR        float32   `json:"lr"`
		Betas     []float32 `json:"betas"`
		AdamEps   float32   `json:"eps"`
	}
	f.Config(&tc)
	cfg := transformer.DefaultConfig() // as the benchmark builds it
	cfg.SrcVocab, cfg.TgtVocab = tc.SrcVocab, tc.TgtVocab
	cfg.ShareEmbeddings, cfg.TieOutput, cfg.FinalNorm = false, false, true
	cfg.DModel, cfg.Heads, cfg.DFF, cfg.EncoderLayers, cfg.DecoderLayers = tc.DModel, tc.Heads, tc.DFF, tc.EncLayers, tc.DecLayers
	cfg.Eps, cfg.Dropout = tc.Eps, 0
	m, err := transformer.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Load(m.Params(), f.Get("param.")); err != nil {
		t.Fatal(err)
	}
	start := map[string][]float32{}
	for _, p := range m.Params() {
		start[p.Name] = append([]float32(nil), p.Value.Data...)
	}
	srcInfo, _ := f.Info("input.src")
	tgtInfo, _ := f.Info("input.tgt_in")
	src := transformer.Batch{IDs: f.Ints("input.src"), B: srcInfo.Shape[0], T: srcInfo.Shape[1]}
	tgt := transformer.Batch{IDs: f.Ints("input.tgt_in"), B: tgtInfo.Shape[0], T: tgtInfo.Shape[1]}
	out := f.Ints("input.tgt_out")
	wantLoss := f.Tensor("output.losses").Data

	opt := train.NewAdam()
	if opt.Beta1 != tc.Betas[0] || opt.Beta2 != tc.Betas[1] || opt.Eps != tc.AdamEps {
		t.Fatalf("NewAdam is (%g, %g, %g); the benchmark's PyTorch step uses (%g, %g, %g)",
			opt.Beta1, opt.Beta2, opt.Eps, tc.Betas[0], tc.Betas[1], tc.AdamEps)
	}
	ps := nn.Unique(m.Params())
	tp := autograd.NewTape(nil)
	worstLoss := 0.0
	for k := range tc.Steps {
		for _, p := range ps {
			p.ZeroGrad()
		}
		logits, err := m.Forward(tp, src, tgt)
		if err != nil {
			t.Fatal(err)
		}
		loss := tp.CrossEntropy(logits, out, tc.PadID, tc.Smoothing)
		tp.Backward(loss)
		opt.Update(ps, tc.LR)
		d := math.Abs(float64(loss.Item()) - float64(wantLoss[k]))
		worstLoss = max(worstLoss, d)
		if d > 1e-5 {
			t.Errorf("step %d: loss %.6f; want %.6f (PyTorch)", k+1, loss.Item(), wantLoss[k])
		}
	}
	t.Logf("%d steps: losses %.4f → %.4f; worst loss error %.2e", tc.Steps, wantLoss[0], wantLoss[tc.Steps-1], worstLoss)

	// Each weight's change over the run against PyTorch's, relative to the
	// largest change. The key rows of an attention's in_proj_bias are left
	// out: adding q·b_k to every score of a row leaves its softmax as it
	// was, so their gradient is 0 in exact arithmetic and float32 rounding
	// noise here, which Adam (eps 1e-9) turns into steps of ±lr either way.
	worst := 0.0
	for _, p := range m.Params() {
		got, want, before := p.Value.Data, f.Tensor("final."+p.Name).Data, start[p.Name]
		if strings.HasSuffix(p.Name, "in_proj_bias") {
			e := cfg.DModel
			got = append(got[:e:e], got[2*e:]...)
			want = append(want[:e:e], want[2*e:]...)
			before = append(before[:e:e], before[2*e:]...)
		}
		dGot, dWant := make([]float32, len(got)), make([]float32, len(got))
		for i := range got {
			dGot[i], dWant[i] = got[i]-before[i], want[i]-before[i]
		}
		worst = max(worst, golden.CheckRel(t, "the change of "+p.Name, dGot, dWant, 1e-3))
	}
	t.Logf("the weights' changes over %d steps: worst relative error %.2e", tc.Steps, worst)
}
