package t5

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConfigFromHF reads config.json files as published by HuggingFace
// (abridged) and checks the derived settings.
func TestConfigFromHF(t *testing.T) {
	for _, c := range []struct {
		name, json string
		check      func(Config) bool
	}{
		{"t5-small", `{"architectures": ["T5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64, "d_model": 512,
			"decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "initializer_factor": 1.0,
			"is_encoder_decoder": true, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
			"num_heads": 8, "num_layers": 6, "output_past": true, "pad_token_id": 0,
			"relative_attention_num_buckets": 32, "vocab_size": 32128}`,
			func(c Config) bool { return c == DefaultConfig() }},
		{"flan-t5-base", `{"d_ff": 2048, "d_kv": 64, "d_model": 768, "decoder_start_token_id": 0, "dense_act_fn": "gelu_new",
			"dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu", "is_gated_act": true,
			"layer_norm_epsilon": 1e-06, "model_type": "t5", "num_decoder_layers": 12, "num_heads": 12, "num_layers": 12,
			"pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
			"tie_word_embeddings": false, "vocab_size": 32128}`,
			func(c Config) bool {
				return c.IsGatedAct && c.DenseActFn == "gelu_new" && !c.TieWordEmbeddings && c.NumDecoderLayers == 12 && c.DModel == 768
			}},
		{"mt5-small", `{"d_ff": 1024, "d_kv": 64, "d_model": 512, "decoder_start_token_id": 0, "feed_forward_proj": "gated-gelu",
			"model_type": "mt5", "num_decoder_layers": 8, "num_heads": 6, "num_layers": 8, "tie_word_embeddings": false,
			"vocab_size": 250112}`,
			func(c Config) bool {
				return c.IsGatedAct && c.DenseActFn == "gelu_new" && c.NumHeads*c.DKV == 384 && c.Validate() == nil
			}},
		{"no decoder layers, no start token", `{"num_layers": 3, "pad_token_id": 5}`,
			func(c Config) bool { return c.NumDecoderLayers == 3 && c.DecoderStartTokenID == 5 }},
		{"gated-silu", `{"feed_forward_proj": "gated-silu"}`,
			func(c Config) bool { return c.IsGatedAct && c.DenseActFn == "silu" && c.Validate() == nil }},
	} {
		var cfg Config
		if err := json.Unmarshal([]byte(c.json), &cfg); err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if !c.check(cfg) {
			t.Errorf("%s: config %+v is not as expected", c.name, cfg)
		}
	}
	for _, c := range []struct{ json, want string }{
		{`{"feed_forward_proj": "gelu-relu"}`, `feed_forward_proj "gelu-relu"`},
		{`{"feed_forward_proj": "tanh"}`, `activation "tanh"`},
		{`{"model_type": "bart"}`, `model_type "bart"`},
		{`{"d_kv": 0}`, `d_kv 0`},
		{`{"eos_token_id": 40000}`, `special token id 40000`},
	} {
		var cfg Config
		err := json.Unmarshal([]byte(c.json), &cfg)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %s: error %v; want one containing %q", c.json, err, c.want)
		}
	}
}
