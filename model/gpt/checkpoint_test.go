package gpt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/safetensors"
)

var tinyConfig = Config{VocabSize: 11, NPositions: 8, NEmbd: 12, NLayer: 2, NHead: 3, Dropout: 0.1, Eps: 1e-5}

func TestParamNamesAreHuggingFaces(t *testing.T) {
	m, err := New(tinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name+" "+strings.Trim(strings.ReplaceAll(strings.Trim(jsonOf(p.Value.Shape), "[]"), ",", "x"), " "))
	}
	want := []string{
		"wte.weight 11x12", "wpe.weight 8x12",
		"h.0.ln_1.weight 12", "h.0.ln_1.bias 12",
		"h.0.attn.c_attn.weight 12x36", "h.0.attn.c_attn.bias 36",
		"h.0.attn.c_proj.weight 12x12", "h.0.attn.c_proj.bias 12",
		"h.0.ln_2.weight 12", "h.0.ln_2.bias 12",
		"h.0.mlp.c_fc.weight 12x48", "h.0.mlp.c_fc.bias 48",
		"h.0.mlp.c_proj.weight 48x12", "h.0.mlp.c_proj.bias 12",
	}
	if got := strings.Join(names[:len(want)], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("Params() begins\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if n, last := len(names), names[len(names)-1]; n != 2+12*2+2 || last != "ln_f.bias 12" {
		t.Errorf("Params() has %d entries ending with %q; want 28 ending with \"ln_f.bias 12\"", n, last)
	}
	nd := m.NoDecay()
	for _, p := range m.Params() {
		if nd[p.Var] != (len(p.Value.Shape) == 1) {
			t.Errorf("NoDecay[%s] = %v; want decay exactly on matrices", p.Name, nd[p.Var])
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestConfigJSONIsGPT2Config(t *testing.T) {
	b, err := json.Marshal(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"model_type": "gpt2", "vocab_size": 11.0, "n_positions": 8.0, "n_embd": 12.0, "n_layer": 2.0, "n_head": 3.0,
		"resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "activation_function": "gelu_new",
	} {
		got, ok := keys[k].(float64)
		if s, isStr := want.(string); isStr {
			if keys[k] != s {
				t.Errorf("config.json %q = %v; want %q", k, keys[k], s)
			}
		} else if !ok || float32(got) != float32(want.(float64)) {
			t.Errorf("config.json %q = %v; want %v", k, keys[k], want)
		}
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back != tinyConfig {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, tinyConfig)
	}

	if v, ok := keys["eos_token_id"]; !ok || v != nil {
		t.Errorf("config.json of a model without an end-of-text token: eos_token_id %v, present %v; want null (HF reads a missing key as 50256)", v, ok)
	}
	withEOS := tinyConfig
	withEOS.EOS, withEOS.HasEOS = 10, true
	b, _ = json.Marshal(withEOS)
	if err := json.Unmarshal(b, &back); err != nil || back != withEOS || !strings.Contains(string(b), `"eos_token_id":10`) {
		t.Errorf("round trip with an end-of-text token: %s gave %+v, %v", b, back, err)
	}
	withEOS.EOS = 11
	if err := withEOS.Validate(); err == nil || !strings.Contains(err.Error(), "eos_token_id 11 is outside the vocabulary [0, 11)") {
		t.Errorf("eos_token_id past the vocabulary: %v", err)
	}
	// In config.json: a list takes its first id; one past the vocabulary
	// (GPT2Config's default 50256 in a small model) means none; a missing
	// key is that default.
	var big Config
	if err := json.Unmarshal([]byte(`{"vocab_size": 50257, "n_positions": 8, "n_embd": 12, "n_layer": 2, "n_head": 3}`), &big); err != nil || !big.HasEOS || big.EOS != 50256 {
		t.Errorf("no eos_token_id in a GPT-2 vocabulary: EOS %d, HasEOS %v, %v; want 50256, as GPT2Config", big.EOS, big.HasEOS, err)
	}
	for js, want := range map[string][2]int{`[7, 3]`: {7, 1}, `50256`: {0, 0}, `null`: {0, 0}, `[]`: {0, 0}} {
		var c Config
		err := json.Unmarshal([]byte(`{"vocab_size": 11, "n_positions": 8, "n_embd": 12, "n_layer": 2, "n_head": 3, "eos_token_id": `+js+`}`), &c)
		if has := map[bool]int{true: 1}[c.HasEOS]; err != nil || c.EOS != want[0] || has != want[1] {
			t.Errorf("eos_token_id %s: EOS %d, HasEOS %v, %v; want %v", js, c.EOS, c.HasEOS, err, want)
		}
	}
	if err := json.Unmarshal([]byte(`{"eos_token_id": "x"}`), &back); err == nil || !strings.Contains(err.Error(), `eos_token_id "x" is not a token id`) {
		t.Errorf(`eos_token_id "x": %v`, err)
	}

	// GPT-2 small's config.json as published by HuggingFace (abridged).
	hf := `{"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
	"bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
	"layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
	"n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "vocab_size": 50257, "n_inner": null}`
	var small Config
	if err := json.Unmarshal([]byte(hf), &small); err != nil || small != DefaultConfig() {
		t.Errorf("GPT-2 small's config.json = %+v, %v; want DefaultConfig() %+v", small, err, DefaultConfig())
	}
	for _, c := range []struct{ json, want string }{
		{`{"model_type": "llama"}`, `model_type "llama"`},
		{`{"activation_function": "relu"}`, `activation_function "relu"`},
		{`{"n_embd": 8, "n_inner": 16}`, `n_inner 16`},
		{`{"resid_pdrop": 0.1, "attn_pdrop": 0.2}`, `differ`},
		{`{"tie_word_embeddings": false}`, `tie_word_embeddings`},
		{`{"scale_attn_weights": false}`, `scale_attn_weights false`},
	} {
		var cfg Config
		if err := json.Unmarshal([]byte(c.json), &cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Unmarshal(%s) = %v; want an error containing %q", c.json, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.VocabSize = 0 }, "vocab_size"},
		{func(c *Config) { c.NPositions = 0 }, "n_positions"},
		{func(c *Config) { c.NHead = 5 }, "multiple of n_head"},
		{func(c *Config) { c.NLayer = 0 }, "n_layer"},
		{func(c *Config) { c.Dropout = 1 }, "dropout"},
		{func(c *Config) { c.Eps = 0 }, "layer_norm_epsilon"},
	} {
		cfg := tinyConfig
		c.edit(&cfg)
		if _, err := New(cfg, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v; want an error containing %q", cfg, err, c.want)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, err := New(tinyConfig, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Cfg != m.Cfg {
		t.Errorf("Load: config %+v; want %+v", back.Cfg, m.Cfg)
	}
	want, got := m.Params(), back.Params()
	for i := range want {
		golden.CheckAbs(t, want[i].Name, got[i].Value.Data, want[i].Value.Data, 0)
	}
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := len(f.Names()); n != len(want) {
		t.Errorf("model.safetensors holds %d tensors; want %d (wte once, no lm_head)", n, len(want))
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Error(err)
	}
}

// TestLoadWeightsHFLayouts loads the layouts HuggingFace checkpoints come in:
// a GPT2LMHeadModel state dict ("transformer." names plus lm_head.weight)
// and GPT-2's own model.safetensors (bare names with attention mask
// buffers), and rejects what does not fit.
func TestLoadWeightsHFLayouts(t *testing.T) {
	m, err := New(tinyConfig, 7)
	if err != nil {
		t.Fatal(err)
	}
	ts := m.Tensors()
	write := func(ts []safetensors.Tensor) *safetensors.File {
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := safetensors.WriteFile(path, ts, nil); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	rename := func(prefix string) []safetensors.Tensor {
		out := make([]safetensors.Tensor, len(ts))
		for i, x := range ts {
			x.Name = prefix + x.Name
			out[i] = x
		}
		return out
	}
	wte := m.WTE.Weight.Value
	head := safetensors.F32("lm_head.weight", wte.Shape, wte.Data)
	mask := safetensors.F32("h.1.attn.bias", []int{1, 1, 8, 8}, make([]float32, 64))
	otherHead := safetensors.F32("lm_head.weight", wte.Shape, make([]float32, wte.Len()))
	bad := append([]safetensors.Tensor(nil), ts...)
	bad[2] = safetensors.F32(bad[2].Name, []int{3}, make([]float32, 3))
	for _, c := range []struct {
		name   string
		ts     []safetensors.Tensor
		prefix string
		want   string // "" for success
	}{
		{"plain", ts, "", ""},
		{"state dict", append(rename("transformer."), head), "", ""},
		{"gpt2 hub file", append(rename(""), mask), "", ""},
		{"nested prefix", append(rename("model.transformer."), safetensors.F32("model.lm_head.weight", wte.Shape, wte.Data)), "model.", ""},
		{"untied head", append(rename(""), otherHead), "", "differs from wte.weight"},
		{"extra", append(rename(""), safetensors.F32("h.5.ln_1.weight", []int{12}, make([]float32, 12))), "", `unexpected tensor "h.5.ln_1.weight"`},
		{"missing", ts[1:], "", `missing tensor "wte.weight"`},
		{"shape", bad, "", `tensor "` + ts[2].Name + `": shape [3] does not match`},
	} {
		fresh, _ := New(tinyConfig, 99)
		err := fresh.LoadWeights(write(c.ts), c.prefix)
		if c.want == "" {
			if err != nil {
				t.Errorf("LoadWeights(%s) = %v", c.name, err)
				continue
			}
			for i, p := range fresh.Params() {
				golden.CheckAbs(t, c.name+" "+p.Name, p.Value.Data, m.Params()[i].Value.Data, 0)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadWeights(%s) = %v; want an error containing %q", c.name, err, c.want)
		}
	}
}
