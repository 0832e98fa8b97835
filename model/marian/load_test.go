package marian

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/safetensors"
)

var tinyConfig = Config{
	ModelType: "marian", VocabSize: 11, DecoderVocabSize: 11, DModel: 8, EncoderLayers: 1, DecoderLayers: 2,
	EncoderHeads: 2, DecoderHeads: 2, EncoderFFN: 12, DecoderFFN: 12, Activation: "swish", MaxPositions: 16,
	ScaleEmbedding: true, PadTokenID: 10, DecoderStartTokenID: 10, ShareEmbeddings: true, TieWordEmbeddings: true,
}

// TestConfigFromHF reads opus-mt-en-de's config.json (abridged) and rejects
// what this package cannot run.
func TestConfigFromHF(t *testing.T) {
	hf := `{"activation_dropout": 0.0, "activation_function": "swish", "add_bias_logits": false, "add_final_layer_norm": false,
	"architectures": ["MarianMTModel"], "attention_dropout": 0.0, "bad_words_ids": [[58100]], "bos_token_id": 0,
	"d_model": 512, "decoder_attention_heads": 8, "decoder_ffn_dim": 2048, "decoder_layers": 6,
	"decoder_start_token_id": 58100, "decoder_vocab_size": 58101, "dropout": 0.1, "encoder_attention_heads": 8,
	"encoder_ffn_dim": 2048, "encoder_layers": 6, "eos_token_id": 0, "max_position_embeddings": 512,
	"model_type": "marian", "normalize_before": false, "normalize_embedding": false, "num_beams": 4,
	"pad_token_id": 58100, "scale_embedding": true, "share_encoder_decoder_embeddings": true,
	"static_position_embeddings": true, "vocab_size": 58101}`
	var cfg Config
	if err := json.Unmarshal([]byte(hf), &cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{
		ModelType: "marian", VocabSize: 58101, DecoderVocabSize: 58101, DModel: 512, EncoderLayers: 6, DecoderLayers: 6,
		EncoderHeads: 8, DecoderHeads: 8, EncoderFFN: 2048, DecoderFFN: 2048, Activation: "swish", MaxPositions: 512,
		ScaleEmbedding: true, PadTokenID: 58100, EOSTokenID: 0, DecoderStartTokenID: 58100, ShareEmbeddings: true,
		TieWordEmbeddings: true, Dropout: 0.1, BadWordsIDs: [][]int{{58100}},
	}
	if !reflect.DeepEqual(cfg, want) || cfg.Validate() != nil {
		t.Errorf("opus-mt-en-de config = %+v (%v); want %+v", cfg, cfg.Validate(), want)
	}
	for _, c := range []struct{ json, want string }{
		{`{"share_encoder_decoder_embeddings": false}`, "separate source and target vocabularies"},
		{`{"vocab_size": 100, "decoder_vocab_size": 90, "pad_token_id": 1, "decoder_start_token_id": 1}`, "decoder_vocab_size 90"},
		{`{"activation_function": "tanh"}`, `activation_function "tanh"`},
		{`{"model_type": "bart"}`, `model_type "bart"`},
		{`{"d_model": 30, "encoder_attention_heads": 4}`, "multiple of the heads"},
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

func TestParamNamesAreHuggingFaces(t *testing.T) {
	m, err := New(tinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	want := []string{
		"model.shared.weight",
		"model.encoder.layers.0.self_attn.q_proj.weight", "model.encoder.layers.0.self_attn.q_proj.bias",
		"model.encoder.layers.0.self_attn.k_proj.weight", "model.encoder.layers.0.self_attn.k_proj.bias",
		"model.encoder.layers.0.self_attn.v_proj.weight", "model.encoder.layers.0.self_attn.v_proj.bias",
		"model.encoder.layers.0.self_attn.out_proj.weight", "model.encoder.layers.0.self_attn.out_proj.bias",
		"model.encoder.layers.0.self_attn_layer_norm.weight", "model.encoder.layers.0.self_attn_layer_norm.bias",
		"model.encoder.layers.0.fc1.weight", "model.encoder.layers.0.fc1.bias",
		"model.encoder.layers.0.fc2.weight", "model.encoder.layers.0.fc2.bias",
		"model.encoder.layers.0.final_layer_norm.weight", "model.encoder.layers.0.final_layer_norm.bias",
	}
	if got := strings.Join(names[:len(want)], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("Params() begins\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	all := strings.Join(names, " ")
	for _, n := range []string{"model.decoder.layers.1.encoder_attn.out_proj.bias", "model.decoder.layers.0.encoder_attn_layer_norm.weight"} {
		if !strings.Contains(all, n) {
			t.Errorf("Params() lacks %s", n)
		}
	}
	if last := names[len(names)-1]; last != "final_logits_bias" {
		t.Errorf("last parameter %s; want final_logits_bias", last)
	}
}

// writeFolder writes a model folder: cfg as config.json, ts as
// model.safetensors.
func writeFolder(t *testing.T, cfg Config, ts []safetensors.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLoadHFLayouts loads the layouts Marian checkpoints come in
// (MarianMTModel with tied copies and position tables, MarianModel without
// the "model." prefix and final_logits_bias) and rejects what does not fit.
func TestLoadHFLayouts(t *testing.T) {
	m, err := New(tinyConfig, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.FinalLogitsBias.Value.Data {
		m.FinalLogitsBias.Value.Data[i] = float32(i)
	}
	var ts, bare []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.F32(p.Name, p.Value.Shape, p.Value.Data))
		if name, ok := strings.CutPrefix(p.Name, "model."); ok {
			bare = append(bare, safetensors.F32(name, p.Value.Shape, p.Value.Data))
		}
	}
	shared := m.Model.Shared.Weight.Value
	pe := Sinusoidal(16, 8)
	with := func(extra ...safetensors.Tensor) []safetensors.Tensor {
		return append(append([]safetensors.Tensor(nil), ts...), extra...)
	}
	bad := append([]safetensors.Tensor(nil), ts...)
	bad[3] = safetensors.F32(bad[3].Name, []int{2}, make([]float32, 2))
	for _, c := range []struct {
		name    string
		ts      []safetensors.Tensor
		zeroFLB bool
		want    string // "" for success
	}{
		{"plain", ts, false, ""},
		{"MarianMTModel state dict", with(safetensors.F32("model.encoder.embed_tokens.weight", shared.Shape, shared.Data),
			safetensors.F32("model.decoder.embed_tokens.weight", shared.Shape, shared.Data),
			safetensors.F32("lm_head.weight", shared.Shape, shared.Data),
			safetensors.F32("model.encoder.embed_positions.weight", pe.Shape, pe.Data),
			safetensors.F32("model.decoder.embed_positions.weight", pe.Shape, pe.Data)), false, ""},
		{"MarianModel", bare, true, ""},
		{"extra", with(safetensors.F32("model.encoder.layers.5.fc1.bias", []int{12}, make([]float32, 12))), false, `unexpected tensor "model.encoder.layers.5.fc1.bias"`},
		{"untied copy", with(safetensors.F32("lm_head.weight", shared.Shape, make([]float32, shared.Len()))), false, `"lm_head.weight" in model.safetensors differs from "model.shared.weight"`},
		{"missing", ts[1:], false, `missing tensor "shared.weight"`},
		{"shape", bad, false, `tensor "` + ts[3].Name + `" in model.safetensors: shape [2] does not match`},
	} {
		got, err := Load(writeFolder(t, tinyConfig, c.ts))
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load(%s) = %v; want an error containing %q", c.name, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("Load(%s) = %v", c.name, err)
			continue
		}
		for i, p := range got.Params() {
			want := m.Params()[i].Value.Data
			if p.Name == "final_logits_bias" && c.zeroFLB {
				want = make([]float32, len(want))
			}
			golden.CheckAbs(t, c.name+" "+p.Name, p.Value.Data, want, 0)
		}
	}
}
