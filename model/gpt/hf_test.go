package gpt

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

func hfDir(t *testing.T, name string) string {
	return filepath.Join(golden.Root(t), "testdata", "hf", name)
}

// greedy decodes n tokens after prompt with the KV cache, the argmax at
// each step.
func greedy(t *testing.T, m *Model, prompt []int, n int) []int {
	t.Helper()
	c := m.NewCache(1)
	logits, err := m.StepLast(c, prompt, 1)
	var out []int
	for err == nil && len(out) < n {
		out = append(out, tensor.Argmax(logits.Data))
		logits, err = m.StepLast(c, out[len(out)-1:], 1)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHFCheckpoints loads GPT-2 folders in HuggingFace's layouts
// (tools/golden/torch_gpt2_hf.py) and compares logits and greedy tokens with
// GPT-2 in PyTorch (float64, from the same stored, possibly rounded, weights).
func TestHFCheckpoints(t *testing.T) {
	f := golden.Open(t, "hf/gpt2-tiny/reference.safetensors")
	info, _ := f.Info("input.ids")
	b, n := info.Shape[0], info.Shape[1]
	ids, prompt := f.Ints("input.ids"), f.Ints("input.prompt")
	for _, tc := range []struct{ dir, ref string }{
		{"gpt2-tiny", "f32"},         // GPT2LMHeadModel: prefix, mask buffers, lm_head copy
		{"gpt2-tiny-sharded", "f32"}, // GPT-2's own names, two shards
		{"gpt2-tiny-f16", "f16"},     // F16 with the prefix
		{"gpt2-tiny-bf16", "bf16"},   // BF16, GPT2Model
	} {
		t.Run(tc.dir, func(t *testing.T) {
			m, err := Load(hfDir(t, tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			logits, err := m.Forward(nil, ids, b, n)
			if err != nil {
				t.Fatal(err)
			}
			d := golden.CheckAbs(t, "logits", logits.Value.Data, f.Tensor(tc.ref+".logits").Data, 1e-4)
			want := f.Ints(tc.ref + ".greedy")
			if got := greedy(t, m, prompt, len(want)); !slices.Equal(got, want) {
				t.Errorf("greedy tokens %v, PyTorch %v", got, want)
			}
			t.Logf("logits max abs error %.2e", d)
		})
	}
}

// TestHFLayerScale: a checkpoint with scale_attn_by_inverse_layer_idx
// (Stanford's Mistral GPT-2s) divides layer i's attention logits by i+1
// too, matching PyTorch's forward with it, in Forward and through the KV
// cache, one sequence and several; and it survives Save.
func TestHFLayerScale(t *testing.T) {
	f := golden.Open(t, "hf/gpt2-tiny/reference.safetensors")
	info, _ := f.Info("input.ids")
	b, n := info.Shape[0], info.Shape[1]
	ids, want := f.Ints("input.ids"), f.Tensor("layerscale.logits").Data
	m, err := Load(hfDir(t, "gpt2-tiny-layerscale"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Cfg.ScaleByLayer {
		t.Fatal("scale_attn_by_inverse_layer_idx was not read")
	}
	logits, err := m.Forward(nil, ids, b, n)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "Forward", logits.Value.Data, want, 1e-4)
	c := m.NewCache(b)
	stepped, err := m.Step(c, ids, b)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "Step", stepped.Data, want, 1e-4)
	// The last position of each sequence, decoded together after the rest.
	v := m.Cfg.VocabSize
	caches := []*Cache{m.NewCache(1), m.NewCache(1)}
	last := make([]int, b)
	for i := range b {
		if _, err := m.Step(caches[i], ids[i*n:(i+1)*n-1], 1); err != nil {
			t.Fatal(err)
		}
		last[i] = ids[(i+1)*n-1]
	}
	together, err := m.StepBatch(NewBatchBuffers(), caches, last)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		golden.CheckAbs(t, "StepBatch", together.Data[i*v:(i+1)*v], want[((i+1)*n-1)*v:(i+1)*n*v], 1e-4)
	}
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil || !back.Cfg.ScaleByLayer {
		t.Errorf("saved and loaded: %v, scale by layer %v", err, err == nil && back.Cfg.ScaleByLayer)
	}
}

// TestHFExportRoundTrip saves a loaded HF checkpoint with Save and loads it
// back: the same weights under the same names. (tools/golden/torch_gpt2_hf.py
// --check DIR runs PyTorch's forward on such a folder.)
func TestHFExportRoundTrip(t *testing.T) {
	m, err := Load(hfDir(t, "gpt2-tiny"))
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
	want, got := m.Params(), back.Params()
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Value.Data, want[i].Value.Data) {
			t.Fatalf("%s: not the weights saved", want[i].Name)
		}
	}
}

// TestHFCorrupt requires each broken folder to fail with an error naming the
// problem.
func TestHFCorrupt(t *testing.T) {
	for _, tc := range []struct{ dir, want string }{
		{"gpt2-tiny-wrong-shape", "h.1.mlp.c_fc.weight"},
		{"gpt2-tiny-missing", "h.1.ln_2.bias"},
		{"gpt2-tiny-untied", "lm_head.weight"},
		{"no-such-folder", "config.json"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			_, err := Load(hfDir(t, tc.dir))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want one naming %s", err, tc.want)
			}
			t.Log(err)
		})
	}
}
