package model

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/transformer"
)

func TestLoadPicksTheArchitecture(t *testing.T) {
	hfDir := filepath.Join(golden.Root(t), "testdata", "hf")
	mt := t.TempDir()
	cfg := transformer.DefaultConfig()
	cfg.SrcVocab, cfg.TgtVocab, cfg.DModel, cfg.Heads, cfg.DFF, cfg.EncoderLayers, cfg.DecoderLayers = 11, 11, 8, 2, 16, 1, 1
	m, err := transformer.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := transformer.Save(mt, m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{filepath.Join(hfDir, "gpt2-tiny"), "*gpt.Model"},
		{filepath.Join(hfDir, "llama-tiny"), "*llama.Model"},
		{filepath.Join(hfDir, "qwen2-tiny"), "*llama.Model"},
		{filepath.Join(hfDir, "qwen3-tiny"), "*llama.Model"},
		{filepath.Join(hfDir, "mixtral-tiny"), "*llama.Model"},
		{filepath.Join(hfDir, "gptoss-tiny"), "*llama.Model"},
		{filepath.Join(hfDir, "bert-tiny-sharded"), "*bert.Model"},
		{filepath.Join(hfDir, "roberta-tiny"), "*bert.Model"},
		{filepath.Join(hfDir, "xlm-roberta-tiny"), "*bert.Model"},
		{filepath.Join(hfDir, "distilbert-tiny-cls"), "*bert.Model"},
		{filepath.Join(hfDir, "t5-tiny"), "*t5.Model"},
		{filepath.Join(hfDir, "flan-t5-tiny"), "*t5.Model"},
		{filepath.Join(hfDir, "marian-tiny"), "*marian.Model"},
		{filepath.Join(hfDir, "vit-tiny"), "*vit.Model"},
		{filepath.Join(hfDir, "deit-tiny-distilled"), "*vit.Model"},
		{mt, "*transformer.Model"},
	} {
		m, err := Load(tc.dir)
		if err != nil {
			t.Fatalf("%s: %v", tc.dir, err)
		}
		if got := fmt.Sprintf("%T", m); got != tc.want || len(m.Params()) == 0 {
			t.Errorf("%s: loaded %s with %d parameters; want %s", filepath.Base(tc.dir), got, len(m.Params()), tc.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, config string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "config.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	hfDir := filepath.Join(golden.Root(t), "testdata", "hf")
	for _, tc := range []struct{ dir, want string }{
		{filepath.Join(dir, "absent"), "config.json: no such file"},
		{write("gemma", `{"model_type": "gemma"}`), `model_type "gemma" is not one attn runs`},
		{write("untyped", `{"hidden_size": 8}`), "has no model_type"},
		{write("broken", `{"model_type": `), "unexpected end of JSON"},
		{write("gpt2-no-weights", `{"model_type": "gpt2", "vocab_size": 5, "n_positions": 4, "n_embd": 4, "n_layer": 1, "n_head": 1}`), "model.safetensors"},
		{filepath.Join(hfDir, "bert-tiny-missing"), "missing tensor"},
	} {
		m, err := Load(tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || m != nil {
			t.Errorf("%s: model %v, err %v; want nil and an error containing %q", filepath.Base(tc.dir), m, err, tc.want)
		}
	}
}

// TestTypesCoverTheFamilies: every model_type a family's package runs is
// one Load takes (GPT-OSS's was missing from both).
func TestTypesCoverTheFamilies(t *testing.T) {
	for _, typ := range llama.Types {
		if !slices.Contains(Types, typ) {
			t.Errorf("model_type %q runs in its package but is not in Types", typ)
		}
	}
}
