package autograd

import (
	"testing"

	"github.com/attn-go/attn/internal/golden"
)

func TestCrossEntropyMatchesPyTorch(t *testing.T) {
	f := golden.Open(t, "torch/cross_entropy.safetensors")
	targets := f.Ints("input.targets")
	for _, c := range []struct {
		suffix    string
		smoothing float32
	}{{"ls", 0.1}, {"plain", 0}} {
		tp := NewTape(nil)
		x := NewParam(f.Tensor("input.logits"))
		loss := tp.CrossEntropy(x, targets, 1, c.smoothing)
		tp.Backward(loss)
		dl := golden.CheckAbs(t, "loss_"+c.suffix, loss.Value.Data, f.Tensor("output.loss_"+c.suffix).Data, 1e-5)
		dg := golden.CheckRel(t, "grad_"+c.suffix, x.Grad.Data, f.Tensor("grad.input.logits_"+c.suffix).Data, 1e-4)
		t.Logf("smoothing %.1f: loss %.6f (error %.1e), gradient relative error %.1e", c.smoothing, loss.Item(), dl, dg)
	}
}

func TestLayerNormGELUMatchPyTorch(t *testing.T) {
	f := golden.Open(t, "torch/layernorm_gelu.safetensors")
	proj := Const(f.Tensor("input.proj"))
	for _, op := range []string{"ln", "gelu", "gelu_tanh"} {
		tp := NewTape(nil)
		x := NewParam(f.Tensor("input.x"))
		w, b := NewParam(f.Tensor("input.ln_w")), NewParam(f.Tensor("input.ln_b"))
		var y *Var
		switch op {
		case "ln":
			y = tp.LayerNorm(x, w, b, 1e-5)
		case "gelu":
			y = tp.GELU(x)
		case "gelu_tanh":
			y = tp.GELUTanh(x)
		}
		tp.Backward(tp.Sum(tp.Mul(y, proj)))
		d := golden.CheckAbs(t, op, y.Value.Data, f.Tensor("output."+op).Data, 1e-5)
		g := golden.CheckRel(t, op+" grad x", x.Grad.Data, f.Tensor("grad.input.x_"+op).Data, 1e-4)
		if op == "ln" {
			golden.CheckRel(t, "ln grad w", w.Grad.Data, f.Tensor("grad.param.ln_w").Data, 1e-4)
			golden.CheckRel(t, "ln grad b", b.Grad.Data, f.Tensor("grad.param.ln_b").Data, 1e-4)
		}
		t.Logf("%s: output error %.1e, input gradient relative error %.1e", op, d, g)
	}
}
