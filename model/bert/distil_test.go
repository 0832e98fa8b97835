package bert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
)

// distilReference is the DistilBERT references and their inputs
// (tools/golden/torch_distilbert.py).
func distilReference(t *testing.T) (*golden.File, batch) {
	t.Helper()
	return referenceAt(t, "hf/distilbert-tiny/reference.safetensors")
}

// TestDistilMatchesPyTorch compares a DistilBertForMaskedLM (hidden states,
// MLM logits, embeddings) and a DistilBertModel in BF16 with relu and
// sinusoidal positions with DistilBERT in PyTorch. Token types, which
// DistilBERT does not take, change nothing.
func TestDistilMatchesPyTorch(t *testing.T) {
	f, in := distilReference(t)
	m := load(t, "distilbert-tiny")
	if m.Cfg.Type != "distilbert" || m.Cfg.Layers != 2 || m.Cfg.Intermediate != 37 || m.Head == nil || m.Pooler != nil || m.Embeddings.TokenType != nil || m.Labels() != 0 {
		t.Fatalf("distilbert-tiny: %+v; head %v, pooler %v, token types %v", m.Cfg, m.Head != nil, m.Pooler != nil, m.Embeddings.TokenType != nil)
	}
	types := make([]int, len(in.ids))
	for i := range types {
		types[i] = i % 2
	}
	checkMLM(t, "distilbert-tiny", m, f, in, types)

	base := load(t, "distilbert-tiny-base")
	if base.Cfg.Act != "relu" || base.Head != nil || !base.Cfg.sinusoidal {
		t.Fatalf("distilbert-tiny-base: activation %q, head %v, sinusoidal %v", base.Cfg.Act, base.Head != nil, base.Cfg.sinusoidal)
	}
	hidden, _, err := base.Encode(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	dh := golden.CheckAbs(t, "DistilBertModel hidden", hidden.Data, f.Tensor("base.hidden").Data, 1e-4)
	t.Logf("distilbert-tiny-base (BF16) max abs error: hidden %.2e", dh)
}

// TestDistilClassifierMatchesPyTorch checks a
// DistilBertForSequenceClassification's logits and the gradients of a
// cross-entropy on them.
func TestDistilClassifierMatchesPyTorch(t *testing.T) {
	f, in := distilReference(t)
	m := load(t, "distilbert-tiny-cls")
	if m.Labels() != 3 || m.Pooler != nil || m.ClassHead == nil || m.Cfg.Label(2) != "positive" || m.Cfg.classifierDropout() != 0.2 {
		t.Fatalf("distilbert-tiny-cls: %d labels, pooler %v, label 2 %q, classifier dropout %v", m.Labels(), m.Pooler != nil, m.Cfg.Label(2), m.Cfg.classifierDropout())
	}
	logits, err := m.Classify(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "logits", logits.Data, f.Tensor("cls.logits").Data, 1e-4)

	tp := autograd.NewTape(nil) // no RNG: no dropout, as in the reference
	h, err := m.Forward(tp, in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.ClassLogits(tp, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp.Backward(tp.CrossEntropy(out, f.Ints("cls.labels"), -1, 0))
	byName := map[string]nn.Param{}
	for _, p := range m.Params() {
		byName[toDistil(p.Name)] = p
	}
	for _, name := range []string{"classifier.weight", "pre_classifier.weight", "distilbert.transformer.layer.1.ffn.lin2.weight",
		"distilbert.transformer.layer.0.attention.q_lin.weight", "distilbert.embeddings.word_embeddings.weight"} {
		p, ok := byName[name]
		if !ok {
			t.Fatalf("no parameter stored as %s", name)
		}
		d := golden.CheckAbs(t, name+" gradient", p.Var.Grad.Data, f.Tensor("cls.grad."+name).Data, 1e-5)
		t.Logf("%s gradient max abs error %.2e", name, d)
	}
}

// TestDistilSave writes each DistilBERT back as a HuggingFace folder with
// DistilBertConfig's keys and DistilBERT's names, which loads with the same
// outputs (tools/golden/torch_distilbert.py --check DIR runs such a folder
// in PyTorch).
func TestDistilSave(t *testing.T) {
	_, in := distilReference(t)
	for _, tc := range []struct{ dir, arch, name string }{
		{"distilbert-tiny", "DistilBertForMaskedLM", "vocab_layer_norm.weight"},
		{"distilbert-tiny-cls", "DistilBertForSequenceClassification", "pre_classifier.weight"},
		{"distilbert-tiny-base", "DistilBertModel", "distilbert.transformer.layer.1.output_layer_norm.bias"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			m := load(t, tc.dir)
			dir := t.TempDir()
			if err := Save(dir, m); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var cfg map[string]any
			if err := json.Unmarshal(raw, &cfg); err != nil || cfg["model_type"] != "distilbert" || cfg["dim"] != 32.0 || cfg["n_layers"] != 2.0 || cfg["hidden_dim"] != 37.0 ||
				cfg["hidden_size"] != nil || cfg["architectures"].([]any)[0] != tc.arch {
				t.Errorf("config.json: %s, %v", raw, err)
			}
			sf, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			names := sf.Names()
			sf.Close()
			if !slices.Contains(names, tc.name) || !slices.Contains(names, "distilbert.transformer.layer.0.attention.q_lin.weight") || slices.Contains(names, "vocab_projector.weight") {
				t.Errorf("stored names %v; want %s, distilbert.transformer.…, and no vocab_projector.weight", names, tc.name)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			h1, _, err1 := m.Encode(in.ids, nil, in.pad, in.b, in.t)
			h2, _, err2 := back.Encode(in.ids, nil, in.pad, in.b, in.t)
			if err1 != nil || err2 != nil || !slices.Equal(h1.Data, h2.Data) || back.Labels() != m.Labels() || back.Cfg.sinusoidal != m.Cfg.sinusoidal || back.Cfg.Act != m.Cfg.Act {
				t.Errorf("reloaded: %v %v; labels %d and %d, config %+v", err1, err2, back.Labels(), m.Labels(), back.Cfg)
			}
		})
	}
}

// TestDistilNames: every parameter's stored name maps back to it, a
// missing tensor is named as DistilBERT stores it, and two stored names
// read as one are an error.
func TestDistilNames(t *testing.T) {
	for _, dir := range []string{"distilbert-tiny", "distilbert-tiny-cls"} {
		for _, p := range load(t, dir).Params() {
			stored := toDistil(p.Name)
			if got := fromDistil(hf.Canonical(stored)); got != p.Name {
				t.Errorf("%s: stored as %s, read back as %s", p.Name, stored, got)
			}
		}
	}
	src := filepath.Join(golden.Root(t), "testdata", "hf", "distilbert-tiny")
	sf, err := safetensors.Open(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []safetensors.Tensor
	for _, n := range sf.Names() {
		if n == "distilbert.transformer.layer.1.sa_layer_norm.bias" {
			continue
		}
		raw, info, err := sf.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
	}
	defer sf.Close() // kept's bytes are the mapped file's
	dir := t.TempDir()
	cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), kept, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `missing tensor "transformer.layer.1.sa_layer_norm.bias"`) {
		t.Errorf("a missing DistilBERT tensor: %v", err)
	}
	if got := fromDistil("transformer.layer.0.attention.nonsense.weight"); got != "transformer.layer.0.attention.nonsense.weight" {
		t.Errorf("an unknown name: %s", got)
	}
}
