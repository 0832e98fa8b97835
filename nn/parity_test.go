package nn

import (
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// Tolerances from the issue: forward outputs to 1e-4 absolute, gradients to
// 1e-3 relative (to each tensor's largest element).
const (
	outTol  = 1e-4
	gradTol = 1e-3
)

// checkParams compares every parameter's gradient with grad.<name>.
func checkParams(t *testing.T, f *golden.File, ps []Param) {
	t.Helper()
	worst := 0.0
	for _, p := range ps {
		want := f.Tensor("grad." + p.Name)
		worst = max(worst, golden.CheckRel(t, "grad "+p.Name, p.Grad.Data, want.Data, gradTol))
	}
	t.Logf("%d parameter gradients: worst relative error %.2e", len(ps), worst)
}

func TestMultiHeadAttentionMatchesPyTorch(t *testing.T) {
	for _, tc := range []struct {
		file          string
		causal, cross bool
	}{
		{"mha_self", false, false},
		{"mha_causal", true, false},
		{"mha_cross", false, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := golden.Open(t, "torch/"+tc.file+".safetensors")
			var cfg struct {
				Embed int `json:"embed_dim"`
				Heads int `json:"num_heads"`
			}
			f.Config(&cfg)
			m := NewMultiHeadAttention(cfg.Embed, cfg.Heads, 0, tensor.NewRNG(1))
			ps := Params(m)
			if err := Load(ps, f.Get("param.")); err != nil {
				t.Fatal(err)
			}
			tp := autograd.NewTape(nil)
			var y *autograd.Var
			var inputs map[string]*autograd.Var
			if tc.cross {
				q, mem := autograd.NewParam(f.Tensor("input.query")), autograd.NewParam(f.Tensor("input.memory"))
				y = m.Forward(tp, q, mem, mem, f.Bools("input.key_padding_mask"), false)
				inputs = map[string]*autograd.Var{"query": q, "memory": mem}
			} else {
				x := autograd.NewParam(f.Tensor("input.x"))
				y = m.Forward(tp, x, x, x, f.Bools("input.key_padding_mask"), tc.causal)
				inputs = map[string]*autograd.Var{"x": x}
			}
			d := golden.CheckAbs(t, "output", y.Value.Data, f.Tensor("output.y").Data, outTol)
			t.Logf("output: max abs error %.2e", d)
			tp.Backward(tp.Sum(tp.Mul(y, autograd.Const(f.Tensor("input.proj")))))
			checkParams(t, f, ps)
			for name, v := range inputs {
				r := golden.CheckRel(t, "grad input "+name, v.Grad.Data, f.Tensor("grad.input."+name).Data, gradTol)
				t.Logf("input %s gradient: relative error %.2e", name, r)
			}
		})
	}
}

func TestEncoderMatchesPyTorch(t *testing.T) {
	for _, file := range []string{"encoder_postln_relu", "encoder_preln_gelu"} {
		t.Run(file, func(t *testing.T) {
			f := golden.Open(t, "torch/"+file+".safetensors")
			var cfg struct {
				DModel     int        `json:"d_model"`
				Heads      int        `json:"nhead"`
				DFF        int        `json:"dim_feedforward"`
				Layers     int        `json:"num_layers"`
				Activation Activation `json:"activation"`
				NormFirst  bool       `json:"norm_first"`
				FinalNorm  bool       `json:"final_norm"`
				Eps        float32    `json:"layer_norm_eps"`
			}
			f.Config(&cfg)
			lc := LayerConfig{DModel: cfg.DModel, Heads: cfg.Heads, DFF: cfg.DFF, Activation: cfg.Activation, NormFirst: cfg.NormFirst, Eps: cfg.Eps}
			enc := NewEncoder(lc, cfg.Layers, cfg.FinalNorm, tensor.NewRNG(1))
			ps := Params(enc)
			if err := Load(ps, f.Get("param.")); err != nil {
				t.Fatal(err)
			}
			tp := autograd.NewTape(nil)
			x := autograd.NewParam(f.Tensor("input.x"))
			y := enc.Forward(tp, x, f.Bools("input.src_key_padding_mask"))
			d := golden.CheckAbs(t, "output", y.Value.Data, f.Tensor("output.y").Data, outTol)
			t.Logf("output: max abs error %.2e", d)
			tp.Backward(tp.Sum(tp.Mul(y, autograd.Const(f.Tensor("input.proj")))))
			checkParams(t, f, ps)
			r := golden.CheckRel(t, "grad input x", x.Grad.Data, f.Tensor("grad.input.x").Data, gradTol)
			t.Logf("input gradient: relative error %.2e", r)
		})
	}
}

func TestParamsNamesAndLoadErrors(t *testing.T) {
	enc := NewEncoder(LayerConfig{DModel: 8, Heads: 2, DFF: 16, Activation: ReLU, Eps: 1e-5}, 2, true, tensor.NewRNG(1))
	ps := Params(enc)
	want := []string{"layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias", "layers.0.self_attn.out_proj.weight", "layers.0.self_attn.out_proj.bias", "layers.0.linear1.weight"}
	for i, w := range want {
		if ps[i].Name != w {
			t.Errorf("Params(encoder)[%d] = %q; want %q", i, ps[i].Name, w)
		}
	}
	if last := ps[len(ps)-1].Name; last != "norm.bias" {
		t.Errorf("last parameter = %q; want norm.bias", last)
	}
	missing := func(string) ([]float32, []int, bool, error) { return nil, nil, false, nil }
	if err := Load(ps, missing); err == nil || err.Error() != `nn: missing tensor "layers.0.self_attn.in_proj_weight"` {
		t.Errorf("Load with nothing stored: err = %v", err)
	}
	wrong := func(string) ([]float32, []int, bool, error) { return make([]float32, 3), []int{3}, true, nil }
	if err := Load(ps, wrong); err == nil || err.Error() != `nn: tensor "layers.0.self_attn.in_proj_weight": shape [3] does not match the model's [24 8]` {
		t.Errorf("Load with a wrong shape: err = %v", err)
	}
}
