package t5

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/safetensors"
)

var tinyConfig = Config{
	ModelType: "t5", VocabSize: 13, DModel: 8, DKV: 3, DFF: 6, NumLayers: 1, NumDecoderLayers: 2, NumHeads: 2,
	NumBuckets: 8, MaxDistance: 16, Eps: 1e-6, FeedForwardProj: "relu", DenseActFn: "relu", TieWordEmbeddings: true,
	EOSTokenID: 1,
}

func TestParamNamesAreHuggingFaces(t *testing.T) {
	cfg := tinyConfig
	cfg.IsGatedAct, cfg.TieWordEmbeddings = true, false
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	want := []string{
		"shared.weight",
		"encoder.block.0.layer.0.SelfAttention.q.weight", "encoder.block.0.layer.0.SelfAttention.k.weight",
		"encoder.block.0.layer.0.SelfAttention.v.weight", "encoder.block.0.layer.0.SelfAttention.o.weight",
		"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
		"encoder.block.0.layer.0.layer_norm.weight",
		"encoder.block.0.layer.1.DenseReluDense.wi_0.weight", "encoder.block.0.layer.1.DenseReluDense.wi_1.weight",
		"encoder.block.0.layer.1.DenseReluDense.wo.weight", "encoder.block.0.layer.1.layer_norm.weight",
		"encoder.final_layer_norm.weight",
	}
	if got := strings.Join(names[:len(want)], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("Params() begins\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	for _, n := range []string{"decoder.block.0.layer.1.EncDecAttention.o.weight", "decoder.block.1.layer.2.layer_norm.weight",
		"decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "decoder.final_layer_norm.weight"} {
		if !strings.Contains(strings.Join(names, " "), n) {
			t.Errorf("Params() lacks %s", n)
		}
	}
	if last := names[len(names)-1]; last != "lm_head.weight" {
		t.Errorf("last parameter %s; want lm_head.weight", last)
	}
	if strings.Contains(strings.Join(names, " "), "decoder.block.1.layer.0.SelfAttention.relative_attention_bias") {
		t.Error("block 1 has a relative attention bias; only block 0 has one")
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

// TestLoadHFLayouts loads the layouts T5 checkpoints come in and rejects
// what does not fit, with the tensor named.
func TestLoadHFLayouts(t *testing.T) {
	m, err := New(tinyConfig, 7)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.F32(p.Name, p.Value.Shape, p.Value.Data))
	}
	shared := m.Shared.Weight.Value
	with := func(extra ...safetensors.Tensor) []safetensors.Tensor {
		return append(append([]safetensors.Tensor(nil), ts...), extra...)
	}
	renamed := append([]safetensors.Tensor(nil), ts...)
	renamed[0].Name = "encoder.embed_tokens.weight"
	bad := append([]safetensors.Tensor(nil), ts...)
	bad[3] = safetensors.F32(bad[3].Name, []int{2}, make([]float32, 2))
	for _, c := range []struct {
		name string
		ts   []safetensors.Tensor
		want string // "" for success
	}{
		{"plain", ts, ""},
		{"state dict with tied copies", with(safetensors.F32("encoder.embed_tokens.weight", shared.Shape, shared.Data),
			safetensors.F32("decoder.embed_tokens.weight", shared.Shape, shared.Data),
			safetensors.F32("lm_head.weight", shared.Shape, shared.Data)), ""},
		{"shared under embed_tokens", renamed, ""},
		{"old cross-attention bias", with(safetensors.F32("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight", []int{8, 2}, make([]float32, 16))), ""},
		{"extra", with(safetensors.F32("encoder.block.3.layer.0.layer_norm.weight", []int{8}, make([]float32, 8))), `unexpected tensor "encoder.block.3.layer.0.layer_norm.weight"`},
		{"untied copy", with(safetensors.F32("lm_head.weight", shared.Shape, make([]float32, shared.Len()))), `"lm_head.weight" in model.safetensors differs from "shared.weight"`},
		{"missing", ts[1:], `missing tensor "shared.weight"`},
		{"shape", bad, `tensor "` + ts[3].Name + `" in model.safetensors: shape [2] does not match`},
	} {
		got, err := Load(writeFolder(t, tinyConfig, c.ts))
		if c.want == "" {
			if err != nil {
				t.Errorf("Load(%s) = %v", c.name, err)
				continue
			}
			for i, p := range got.Params() {
				golden.CheckAbs(t, c.name+" "+p.Name, p.Value.Data, m.Params()[i].Value.Data, 0)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s) = %v; want an error containing %q", c.name, err, c.want)
		}
	}

	// An untied model needs lm_head.weight.
	cfg := tinyConfig
	cfg.TieWordEmbeddings = false
	if _, err := Load(writeFolder(t, cfg, ts)); err == nil || !strings.Contains(err.Error(), `missing tensor "lm_head.weight"`) {
		t.Errorf("Load(untied model, no lm_head) = %v; want a missing lm_head.weight error", err)
	}
}

func TestInputErrors(t *testing.T) {
	m, err := New(tinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		src, tgt []int
		pad      []bool
		want     string
	}{
		{"shape", []int{1, 2, 3}, []int{0, 0}, nil, "3 source ids are not B=2 × T=2"},
		{"range", []int{1, 2, 13, 4}, []int{0, 0}, nil, "source id 13 at index 2 is outside the vocabulary [0, 13)"},
		{"target", []int{1, 2, 3, 4}, []int{0, -1}, nil, "target id -1 at index 1"},
		{"pad", []int{1, 2, 3, 4}, []int{0, 0}, []bool{false}, "padding mask has 1 entries"},
	} {
		if _, err := m.Forward(nil, c.src, c.pad, c.tgt, 2, 2, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward(%s) = %v; want an error containing %q", c.name, err, c.want)
		}
	}
	d, err := m.NewDecoder([]int{1, 2}, nil, 1, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Step([]int{0}); err == nil || !strings.Contains(err.Error(), "1 tokens for 2 hypotheses") {
		t.Errorf("Step with 1 token for 2 hypotheses = %v", err)
	}
}
