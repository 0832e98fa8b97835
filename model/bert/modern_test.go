package bert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/safetensors"
)

// modernStored is the name a ModernBERT parameter is stored under by the
// task classes (tools/golden/torch_modernbert.py's gradient names).
func modernStored(name string) string {
	for _, head := range []string{"head.", "decoder.", "classifier."} {
		if strings.HasPrefix(name, head) {
			return name
		}
	}
	return "model." + name
}

// TestModernMatchesPyTorch compares a ModernBertForMaskedLM (hidden states,
// masked-LM logits, embeddings) with ModernBERT in PyTorch: two global and
// two local layers (a window of ±2 over 11 tokens), each kind with its
// rotary base, one sequence padded.
func TestModernMatchesPyTorch(t *testing.T) {
	f, in := referenceAt(t, "hf/modernbert-tiny/reference.safetensors")
	m := load(t, "modernbert-tiny")
	mc := m.Cfg.Modern
	if m.Cfg.Type != "modernbert" || mc == nil || !slices.Equal(mc.Local, []bool{false, true, true, false}) || mc.LocalAttention != 4 ||
		mc.GlobalTheta != 160000 || mc.LocalTheta != 10000 || m.Decoder == nil || m.Decoder.Weight != nil || m.Decoder.Bias == nil ||
		m.Layers[0].AttnNorm != nil || m.Layers[1].AttnNorm == nil || m.Labels() != 0 || m.Embeddings != nil {
		t.Fatalf("modernbert-tiny: %+v, %+v", m.Cfg, mc)
	}
	hidden := checkMLM(t, "modernbert-tiny", m, f, in, nil)
	// Token types, which ModernBERT does not take, change nothing.
	types := make([]int, len(in.ids))
	for i := range types {
		types[i] = i % 2
	}
	again, _, err := m.Encode(in.ids, types, in.pad, in.b, in.t)
	if err != nil || !slices.Equal(again.Data, hidden.Data) {
		t.Errorf("with token types: %v", err)
	}
}

// TestModernTraining checks the masked-LM loss and the gradient of every
// parameter (the tied token table's includes the decoder's share) against
// PyTorch's.
func TestModernTraining(t *testing.T) {
	f, in := referenceAt(t, "hf/modernbert-tiny/reference.safetensors")
	m := load(t, "modernbert-tiny")
	tp := autograd.NewTape(nil) // no RNG: no dropout, as in the reference
	h, err := m.Forward(tp, in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Logits(tp, h)
	if err != nil {
		t.Fatal(err)
	}
	loss := tp.CrossEntropy(logits, f.Ints("mlm.labels"), -100, 0)
	golden.CheckAbs(t, "loss", loss.Value.Data, f.Tensor("mlm.loss").Data, 1e-5)
	tp.Backward(loss)
	checkGrads(t, m, f, "mlm.grad.")
}

// checkGrads compares the gradient of every parameter of m with the
// reference prefix+stored name, relative to the gradient's scale: the
// twin's weights are large enough (std 0.35–0.5) that its gradients reach
// 5, where float32 carries about 1e-6 relative.
func checkGrads(t *testing.T, m *Model, f *golden.File, prefix string) {
	t.Helper()
	worst := 0.0
	for _, p := range m.Params() {
		name := modernStored(p.Name)
		if _, ok := f.Info(prefix + name); !ok {
			t.Errorf("no reference gradient %s", prefix+name)
			continue
		}
		worst = max(worst, golden.CheckRel(t, name+" gradient", p.Var.Grad.Data, f.Tensor(prefix+name).Data, 2e-5))
	}
	t.Logf("%d gradients, max relative error %.2e", len(m.Params()), worst)
}

// TestModernClassifierMatchesPyTorch checks a
// ModernBertForSequenceClassification stored in BF16, with biases
// everywhere, a transformers 5 config (layer_types, rope_parameters) and
// its classifier reading the first token: logits, loss and every gradient.
func TestModernClassifierMatchesPyTorch(t *testing.T) {
	f, in := referenceAt(t, "hf/modernbert-tiny-cls/reference.safetensors")
	m := load(t, "modernbert-tiny-cls")
	mc := m.Cfg.Modern
	if m.Labels() != 3 || m.Cfg.Label(2) != "positive" || m.Decoder != nil || m.ModernHead == nil || !mc.NormBias || !mc.AttentionBias ||
		!mc.MLPBias || !mc.ClassifierBias || mc.ClassifierPooling != "cls" {
		t.Fatalf("modernbert-tiny-cls: %d labels, %+v", m.Labels(), mc)
	}
	logits, err := m.Classify(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "logits", logits.Data, f.Tensor("cls.logits").Data, 1e-4)
	tp := autograd.NewTape(nil)
	h, err := m.Forward(tp, in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.ClassLogits(tp, h, in.pad)
	if err != nil {
		t.Fatal(err)
	}
	loss := tp.CrossEntropy(out, []int{2, 0}, -1, 0)
	golden.CheckAbs(t, "loss", loss.Value.Data, f.Tensor("cls.loss").Data, 1e-5)
	tp.Backward(loss)
	checkGrads(t, m, f, "cls.grad.")
}

// TestModernMeanPooling checks the classifier's mean pooling: the padded
// sequence's pooled state is the mean over its own tokens, so its logits
// are those of the sequence alone.
func TestModernMeanPooling(t *testing.T) {
	_, in := referenceAt(t, "hf/modernbert-tiny/reference.safetensors")
	m := load(t, "modernbert-tiny")
	m.ReplaceClassifier([]string{"a", "b"}, 7)
	if m.Cfg.Modern.ClassifierPooling != "mean" || m.ModernHead == nil || m.Decoder != nil || m.Labels() != 2 {
		t.Fatalf("ReplaceClassifier: pooling %q, head %v, decoder %v, labels %d", m.Cfg.Modern.ClassifierPooling, m.ModernHead != nil, m.Decoder != nil, m.Labels())
	}
	both, err := m.Classify(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range in.pad[in.t:] {
		if !p {
			n++
		}
	}
	alone, err := m.Classify(in.ids[in.t:in.t+n], nil, nil, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "padded sequence's logits", both.Data[2:], alone.Data, 1e-5)
	tp := autograd.NewTape(nil)
	h, err := m.Forward(tp, in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ClassLogits(tp, h, in.pad[:3]); err == nil || !strings.Contains(err.Error(), "padding mask of 3 entries") {
		t.Errorf("a short padding mask: %v", err)
	}
}

// TestModernSave writes each ModernBERT back as a HuggingFace folder, which
// loads with the same outputs (tools/golden/torch_modernbert.py --check DIR
// runs such a folder in PyTorch).
func TestModernSave(t *testing.T) {
	_, in := referenceAt(t, "hf/modernbert-tiny/reference.safetensors")
	for _, tc := range []struct{ dir, arch string }{
		{"modernbert-tiny", "ModernBertForMaskedLM"},
		{"modernbert-tiny-cls", "ModernBertForSequenceClassification"},
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
			if err := json.Unmarshal(raw, &cfg); err != nil || cfg["model_type"] != "modernbert" || cfg["hidden_size"] != 32.0 ||
				cfg["architectures"].([]any)[0] != tc.arch || cfg["layer_types"] == nil || cfg["global_attn_every_n_layers"] == nil {
				t.Errorf("config.json: %s, %v", raw, err)
			}
			sf, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			names := sf.Names()
			sf.Close()
			if !slices.Contains(names, "model.layers.1.attn.Wqkv.weight") || !slices.Contains(names, "head.dense.weight") ||
				slices.Contains(names, "decoder.weight") || slices.Contains(names, "model.layers.0.attn_norm.weight") {
				t.Errorf("stored names %v", names)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			h1, _, err1 := m.Encode(in.ids, nil, in.pad, in.b, in.t)
			h2, _, err2 := back.Encode(in.ids, nil, in.pad, in.b, in.t)
			if err1 != nil || err2 != nil || !slices.Equal(h1.Data, h2.Data) || back.Labels() != m.Labels() ||
				!reflect.DeepEqual(back.Cfg.Modern, m.Cfg.Modern) {
				t.Errorf("reloaded: %v %v; labels %d and %d, config %+v against %+v", err1, err2, back.Labels(), m.Labels(), back.Cfg.Modern, m.Cfg.Modern)
			}
		})
	}
}

// TestModernConfigErrors: settings that HF's config does not allow, or
// that this package does not build, are errors naming them.
func TestModernConfigErrors(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "modernbert", "rope_scaling": {"rope_type": "yarn", "factor": 4}}`, "rope_scaling"},
		{`{"model_type": "modernbert", "num_hidden_layers": 2, "layer_types": ["full_attention"]}`, "1 layer_types for 2 layers"},
		{`{"model_type": "modernbert", "num_hidden_layers": 2, "layer_types": ["full_attention", "chunked"]}`, `layer_types[1] "chunked"`},
		{`{"model_type": "modernbert", "norm_eps": 0}`, "norm_eps 0"},
		{`{"model_type": "modernbert", "hidden_activation": "tanh"}`, "hidden_activation"},
		{`{"model_type": "modernbert", "global_attn_every_n_layers": 0}`, "global_attn_every_n_layers 0"},
		{`{"model_type": "modernbert", "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2}}}`, `rope_type "linear"`},
		{`{"model_type": "modernbert", "architectures": ["ModernBertForTokenClassification"]}`, "ForTokenClassification"},
	} {
		var c Config
		err := json.Unmarshal([]byte(tc.json), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error naming %s", tc.json, err, tc.want)
		}
	}
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "modernbert", "classifier_pooling": "max"}`), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `classifier_pooling "max"`) {
		t.Errorf("classifier_pooling max: %v", err)
	}
	// layer_types wins over the count transformers 5 saves beside it, as its
	// sdpa and eager attention take it; a default rope_scaling is no scaling.
	if err := json.Unmarshal([]byte(`{"model_type": "modernbert", "num_hidden_layers": 3, "global_attn_every_n_layers": 3,
		"layer_types": ["full_attention", "sliding_attention", "full_attention"], "rope_scaling": {"rope_type": "default"}}`), &c); err != nil ||
		!slices.Equal(c.Modern.Local, []bool{false, true, false}) {
		t.Errorf("layer_types beside global_attn_every_n_layers: %+v, %v", c.Modern, err)
	}
	// transformers 4.48 turns local layers by the global base when
	// local_rope_theta is null.
	if err := json.Unmarshal([]byte(`{"model_type": "modernbert", "global_rope_theta": 5000, "local_rope_theta": null}`), &c); err != nil ||
		c.Modern.LocalTheta != 5000 || c.Modern.GlobalTheta != 5000 {
		t.Errorf("local_rope_theta null: %+v, %v", c.Modern, err)
	}
	// ModernBERT-base's defaults: 22 layers, every third global.
	if err := json.Unmarshal([]byte(`{"model_type": "modernbert"}`), &c); err != nil || c.Validate() != nil || c.Layers != 22 ||
		c.Modern.Local[0] || !c.Modern.Local[1] || c.Modern.Local[3] || c.Hidden != 768 || c.Eps != 1e-5 || c.PadID != 50283 {
		t.Errorf("defaults: %+v %+v, %v", c, c.Modern, err)
	}
}

// TestModernLayerTypes: local layers that are not every layer but each
// n-th are saved as layer_types alone (transformers 5's form), and read
// back as they were.
func TestModernLayerTypes(t *testing.T) {
	m := load(t, "modernbert-tiny")
	m.Cfg.Modern.Local = []bool{false, true, false, false}
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg["global_attn_every_n_layers"] != nil || len(cfg["layer_types"].([]any)) != 4 {
		t.Fatalf("config.json: %s, %v", raw, err)
	}
	back, err := Load(dir)
	if err != nil || !slices.Equal(back.Cfg.Modern.Local, m.Cfg.Modern.Local) {
		t.Fatalf("reloaded: %v, %v", err, back.Cfg.Modern)
	}
}
