package llama

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/safetensors"
)

// TestGptOSSConfig: a GptOssConfig's defaults (the class's YaRN scaling
// when config.json has none, every other layer sliding from the first, the
// experts' biases), and the settings that are refused.
func TestGptOSSConfig(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "gpt_oss", "num_hidden_layers": 4}`), &c); err != nil {
		t.Fatal(err)
	}
	s := c.RopeScaling
	if c.Experts != 128 || c.ExpertsPerToken != 4 || !c.NormTopK || !c.MLPBias || !c.AttentionBias || c.LocalWindow != 128 ||
		!slices.Equal(c.Local, []bool{true, false, true, false}) || c.SwigluLimit != 7 || c.SwigluAlpha != 1.702 || c.Validate() != nil ||
		s == nil || s.Type != "yarn" || s.Factor != 32 || s.Original != 4096 || s.Truncate == nil || *s.Truncate || c.ropeScale() != float32(0.1*3.4657359027997265+1) {
		t.Errorf("defaults: %+v, rope_scaling %+v, %v", c, s, c.Validate())
	}
	if err := json.Unmarshal([]byte(`{"model_type": "gpt_oss", "rope_scaling": null, "sliding_window": null, "layer_types": ["full_attention"], "num_hidden_layers": 1}`), &c); err != nil || c.RopeScaling != nil || slices.Contains(c.Local, true) || c.Validate() != nil {
		t.Errorf("no scaling, no window: %+v, %v", c, err)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "gpt_oss", "num_hidden_layers": 2, "layer_types": ["sliding_attention"]}`, "1 layer_types for 2 layers"},
		{`{"model_type": "gpt_oss", "sliding_window": "x"}`, `sliding_window "x" is not a number`},
	} {
		if err := json.Unmarshal([]byte(tc.json), &c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
	for _, tc := range []struct {
		json, want string
	}{
		{`{"model_type": "gpt_oss", "swiglu_limit": -1}`, "swiglu_limit -1"},
		{`{"model_type": "gpt_oss", "rope_scaling": {"rope_type": "yarn", "factor": 40, "mscale": 1, "mscale_all_dim": 1}}`, "mscale 1 and mscale_all_dim 1 (DeepSeek's) are not supported"},
		{`{"model_type": "gpt_oss", "layer_types": ["sliding_attention"], "num_hidden_layers": 1, "sliding_window": null}`, "sliding_window 0"},
		{`{"model_type": "llama", "swiglu_limit": 7}`, "are GPT-OSS's"},
		{`{"model_type": "qwen2", "rope_scaling": {"type": "yarn", "factor": 4}}`, `rope_scaling type "yarn" is not supported for qwen2`},
	} {
		var c Config
		err := json.Unmarshal([]byte(tc.json), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
	c = defaults("gpt_oss")
	c.MLPBias = false
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "experts have biases") {
		t.Errorf("a GPT-OSS without the experts' biases: %v", err)
	}
}

// TestGptOSSCheckpointErrors: a GPT-OSS folder whose stacks are missing,
// half there or shaped otherwise than the config says fails to load,
// naming the tensor.
func TestGptOSSCheckpointErrors(t *testing.T) {
	for _, tc := range []struct{ folder, tensor, to, want string }{
		{"gptoss-tiny-mxfp4", "model.layers.1.mlp.experts.down_proj_scales", "", `"model.layers.1.mlp.experts.down_proj_blocks" in model.safetensors has no layers.1.mlp.experts.down_proj_scales beside it`},
		{"gptoss-tiny-mxfp4", "model.layers.2.mlp.experts.gate_up_proj_blocks", "model.layers.2.mlp.experts.gate_up_proj", "_scales\" in model.safetensors has no layers.2.mlp.experts.gate_up_proj_blocks beside it"},
		{"gptoss-tiny", "model.layers.0.mlp.experts.gate_up_proj_bias", "", `missing tensor "layers.0.mlp.experts.gate_up_proj_bias" in`},
		{"gptoss-tiny", "model.layers.0.self_attn.sinks", "", `missing tensor "layers.0.self_attn.sinks" in`},
		{"gptoss-tiny", "model.layers.2.mlp.router.bias", "", `missing tensor "layers.2.mlp.router.bias" in`},
	} {
		dir := copyTiny(t, tc.folder)
		renameTensor(t, dir, tc.tensor, tc.to)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s without %s: %v; want %q", tc.folder, tc.tensor, err, tc.want)
		}
	}
	// The stack of gate and up projections transposed ([E, 2·I, C]: the
	// rows of each matrix would fit, but not its layout).
	dir := copyTiny(t, "gptoss-tiny")
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		b, info, _ := f.Raw(n)
		if n == "model.layers.1.mlp.experts.gate_up_proj" {
			info.Shape = []int{info.Shape[0], info.Shape[2], info.Shape[1]}
		}
		ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: slices.Clone(b)})
	}
	f.Close()
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `"model.layers.1.mlp.experts.gate_up_proj" in model.safetensors: shape [4 64 32]`) {
		t.Errorf("a transposed stack: %v", err)
	}
}
