package llama

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
)

// TestMoEConfigs: MixtralConfig's, Qwen3MoeConfig's and OlmoeConfig's
// defaults and keys, which layers are sparse, what is refused, and a
// config written by MarshalJSON reading back as itself.
func TestMoEConfigs(t *testing.T) {
	read := func(s string) (Config, error) {
		var c Config
		err := json.Unmarshal([]byte(s), &c)
		return c, err
	}
	mx, err := read(`{"model_type": "mixtral", "norm_topk_prob": false}`)
	if err != nil {
		t.Fatal(err)
	}
	// Mixtral always renormalises.
	if mx.Experts != 8 || mx.ExpertsPerToken != 2 || !mx.NormTopK || mx.ExpertIntermediate != 14336 || mx.KVHeads != 8 || mx.LocalWindow != 0 || mx.Validate() != nil {
		t.Errorf("mixtral defaults: %+v, %v", mx, mx.Validate())
	}
	for l := range mx.Layers {
		if !mx.sparse(l) {
			t.Errorf("mixtral layer %d is not sparse", l)
		}
	}
	q, err := read(`{"model_type": "qwen3_moe", "num_hidden_layers": 6, "decoder_sparse_step": 2, "mlp_only_layers": [3], "norm_topk_prob": true, "num_experts": 16, "num_experts_per_tok": 4, "moe_intermediate_size": 96}`)
	if err != nil {
		t.Fatal(err)
	}
	var sparse []int
	for l := range q.Layers {
		if q.sparse(l) {
			sparse = append(sparse, l)
		}
	}
	// Layers 1, 3, 5 are the multiples of 2 counted from 1; 3 is dense.
	if !slices.Equal(sparse, []int{1, 5}) || q.Experts != 16 || q.ExpertsPerToken != 4 || q.ExpertIntermediate != 96 || q.Intermediate != 6144 || !q.NormTopK || !q.qkNorm() || q.Validate() != nil {
		t.Errorf("qwen3_moe: sparse layers %v, %+v, %v", sparse, q, q.Validate())
	}
	o, err := read(`{"model_type": "olmoe", "clip_qkv": null}`)
	if err != nil {
		t.Fatal(err)
	}
	if o.Experts != 64 || o.ExpertsPerToken != 8 || o.NormTopK || o.ExpertIntermediate != 2048 || !o.wholeQKNorm() || o.olmo2() || o.Eps != 1e-5 || o.Validate() != nil {
		t.Errorf("olmoe defaults: %+v, %v", o, o.Validate())
	}
	// Each class reads the other's name for the count (transformers 5 saves
	// Qwen3-MoE's as num_local_experts); mlp_only_layers is Qwen3-MoE's.
	for _, c := range []string{
		`{"model_type": "qwen3_moe", "num_local_experts": 4, "num_experts_per_tok": 2}`,
		`{"model_type": "olmoe", "num_local_experts": 4, "num_experts_per_tok": 2, "mlp_only_layers": [0]}`,
		`{"model_type": "mixtral", "num_experts": 4, "num_local_experts": 4, "mlp_only_layers": [0]}`,
	} {
		got, err := read(c)
		if err != nil || got.Experts != 4 || !got.sparse(0) || got.Validate() != nil {
			t.Errorf("%s: %v, %d experts, layer 0 sparse %v, %v", c, err, got.Experts, got.sparse(0), got.Validate())
		}
	}
	for _, bad := range []struct{ config, err string }{
		{`{"model_type": "mixtral", "num_experts": 3, "num_local_experts": 4}`, "num_experts 3 and num_local_experts 4 disagree"},
		{`{"model_type": "qwen3_moe", "use_sliding_window": true, "sliding_window": 8, "max_window_layers": 99}`, "use_sliding_window true"},
		{`{"model_type": "olmoe", "clip_qkv": 8}`, "clip_qkv 8"},
		{`{"model_type": "qwen3_moe", "decoder_sparse_step": 0}`, "decoder_sparse_step 0"},
		{`{"model_type": "mixtral", "num_experts_per_tok": 9}`, "num_experts_per_tok 9"},
		{`{"model_type": "qwen3_moe", "num_experts": 0}`, "0 experts"},
		{`{"model_type": "qwen3_moe", "moe_intermediate_size": 0}`, "intermediate size 0"},
	} {
		c, err := read(bad.config)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%s: %v; want an error naming %q", bad.config, err, bad.err)
		}
	}
	// A Mixtral or an OLMoE whose config.json could not say so.
	for _, c := range []Config{defaults("mixtral"), defaults("olmoe")} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s defaults: %v", c.Type, err)
		}
		dense, wide := c, c
		dense.Sparse = make([]bool, c.Layers)
		wide.ExpertIntermediate++
		for _, bad := range []Config{dense, wide} {
			if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "layers are all sparse") {
				t.Errorf("%s with dense layers or wider experts: %v", c.Type, err)
			}
		}
	}
	renorm := defaults("mixtral")
	renorm.NormTopK = false
	if err := renorm.Validate(); err == nil || !strings.Contains(err.Error(), "renormalises") {
		t.Errorf("a Mixtral without NormTopK: %v", err)
	}
	l := defaults("llama")
	l.Experts = 4
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "4 experts in a llama model") {
		t.Errorf("a llama Config with experts: %v", err)
	}
	for _, c := range []Config{mx, q, o} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := read(string(b))
		if err != nil {
			t.Fatal(err)
		}
		for l := range c.Layers {
			if back.sparse(l) != c.sparse(l) {
				t.Errorf("%s: layer %d sparse %v, read back %v (%s)", c.Type, l, c.sparse(l), back.sparse(l), b)
			}
		}
		if back.Experts != c.Experts || back.ExpertsPerToken != c.ExpertsPerToken || back.ExpertIntermediate != c.ExpertIntermediate || back.NormTopK != c.NormTopK {
			t.Errorf("%s read back as %+v from %s", c.Type, back, b)
		}
	}
}

// TestMixtralNames: a Mixtral checkpoint's names and this package's map
// one to one.
func TestMixtralNames(t *testing.T) {
	for hfName, ours := range map[string]string{
		"layers.3.block_sparse_moe.gate.weight":           "layers.3.mlp.gate.weight",
		"layers.0.block_sparse_moe.experts.7.w1.weight":   "layers.0.mlp.experts.7.gate_proj.weight",
		"layers.0.block_sparse_moe.experts.7.w2.weight":   "layers.0.mlp.experts.7.down_proj.weight",
		"layers.10.block_sparse_moe.experts.12.w3.weight": "layers.10.mlp.experts.12.up_proj.weight",
		"layers.1.self_attn.q_proj.weight":                "layers.1.self_attn.q_proj.weight",
		"layers.1.post_attention_layernorm.weight":        "layers.1.post_attention_layernorm.weight",
	} {
		if got := fromMixtral(hfName); got != ours {
			t.Errorf("fromMixtral(%s) = %s; want %s", hfName, got, ours)
		}
		if got := mixtralName(ours); got != hfName {
			t.Errorf("mixtralName(%s) = %s; want %s", ours, got, hfName)
		}
	}
}

// TestRouterTraining: a mixture of experts whose HF training adds the
// routers' load-balancing loss or noise does not train here (that loss is
// not built), but evaluates and generates.
func TestRouterTraining(t *testing.T) {
	for _, key := range []string{`"output_router_logits": true`, `"router_jitter_noise": 0.01`} {
		var c Config
		if err := json.Unmarshal([]byte(`{"model_type": "mixtral", "vocab_size": 50, "hidden_size": 16, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "num_local_experts": 3, `+key+`}`), &c); err != nil {
			t.Fatal(err)
		}
		m, err := New(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int{1, 2, 3, 4}
		if _, err := m.Loss(autograd.NewTape(nil), ids, ids, 1, 4); err == nil || !strings.Contains(err.Error(), "load-balancing loss") {
			t.Errorf("%s: training loss: %v", key, err)
		}
		if _, err := m.Loss(nil, ids, ids, 1, 4); err != nil {
			t.Errorf("%s: evaluation: %v", key, err)
		}
	}
}
