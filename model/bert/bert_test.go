package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

func tinyConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.Hidden, c.Layers, c.Heads, c.Intermediate, c.MaxPositions = 50, 16, 2, 2, 24, 12
	return c
}

func TestInputErrors(t *testing.T) {
	m, err := New(tinyConfig(), Parts{Pooler: true, Head: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(n int) []int { return make([]int, n) }
	for _, tc := range []struct {
		name  string
		ids   []int
		types []int
		pad   []bool
		b, t  int
		want  string
	}{
		{"count", ids(5), nil, nil, 2, 3, "bert: 5 token ids are not B=2 × T=3"},
		{"empty", nil, nil, nil, 0, 0, "bert: 0 token ids are not B=0 × T=0"},
		{"too long", ids(13), nil, nil, 1, 13, "bert: sequence length 13 exceeds max_position_embeddings 12"},
		{"id", []int{1, 50}, nil, nil, 1, 2, "bert: token id 50 at index 1 is outside the vocabulary [0, 50)"},
		{"negative id", []int{-1, 0}, nil, nil, 1, 2, "bert: token id -1 at index 0 is outside the vocabulary [0, 50)"},
		{"types count", ids(2), []int{0}, nil, 1, 2, "bert: 1 token type ids for 2 tokens"},
		{"type", ids(2), []int{0, 2}, nil, 1, 2, "bert: token type 2 at index 1 is outside [0, 2)"},
		{"pad count", ids(2), nil, []bool{false}, 1, 2, "bert: padding mask of 1 entries for 2 tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := m.Encode(tc.ids, tc.types, tc.pad, tc.b, tc.t)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Encode error %v; want %q", err, tc.want)
			}
			_, err = m.MLMLogits(tc.ids, tc.types, tc.pad, tc.b, tc.t)
			if err == nil || err.Error() != tc.want {
				t.Errorf("MLMLogits error %v; want %q", err, tc.want)
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	c := tinyConfig()
	c.Act, c.Tied = "relu", false
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"model_type":"bert"`, `"hidden_size":16`, `"layer_norm_eps":1e-12`, `"tie_word_embeddings":false`, `"position_embedding_type":"absolute"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("config JSON %s lacks %s", b, key)
		}
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, c)
	}
	// Missing keys take BertConfig's defaults.
	var d Config
	if err := json.Unmarshal([]byte(`{"model_type": "bert", "hidden_size": 64}`), &d); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Hidden = 64
	if !reflect.DeepEqual(d, want) {
		t.Errorf("defaults: %+v; want %+v", d, want)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "electra"}`, `bert: model_type "electra" is not bert, roberta, xlm-roberta, distilbert or modernbert`},
		{`{"position_embedding_type": "relative_key"}`, `bert: position_embedding_type "relative_key" is not supported (want absolute)`},
		{`{"is_decoder": true}`, `bert: is_decoder true (a causal BERT, as BertLMHeadModel) is not supported; this package builds the bidirectional encoder`},
	} {
		var c Config
		if err := json.Unmarshal([]byte(tc.json), &c); err == nil || err.Error() != tc.want {
			t.Errorf("Unmarshal(%s) error %v; want %q", tc.json, err, tc.want)
		}
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Act = "mish" }, `bert: hidden_act: activation "mish" is not supported (want gelu, gelu_new, gelu_pytorch_tanh, relu, silu or swish)`},
		{func(c *Config) { c.Heads = 3 }, "bert: hidden_size 16 must be a positive multiple of num_attention_heads 3"},
		{func(c *Config) { c.Eps = 0 }, "bert: layer_norm_eps 0 must be positive"},
		{func(c *Config) { c.TypeVocab = 0 }, "bert: type_vocab_size 0 must be positive"},
	} {
		c := tinyConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("Validate error %v; want %q", err, tc.want)
		}
	}
}

// TestSaveLoad writes models with and without their optional parts, tied
// and untied, and requires Load to give back the same outputs.
func TestSaveLoad(t *testing.T) {
	ids, types := []int{2, 7, 9, 11, 3, 0, 2, 5, 6, 0, 0, 0}, []int{0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0}
	pad := []bool{false, false, false, false, false, false, false, false, false, true, true, true}
	for _, tc := range []struct {
		name  string
		tied  bool
		parts Parts
	}{
		{"tied, all parts", true, Parts{Pooler: true, Head: true}},
		{"untied", false, Parts{Pooler: true, Head: true}},
		{"no pooler", true, Parts{Head: true}},
		{"encoder only", true, Parts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig()
			c.Tied = tc.tied
			m, err := New(c, tc.parts, 7)
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
			if (back.Pooler != nil) != tc.parts.Pooler || (back.Head != nil) != tc.parts.Head || (back.Head != nil && (back.Head.Decoder == nil) != tc.tied) {
				t.Fatalf("loaded parts: pooler %v, head %v; want %+v", back.Pooler != nil, back.Head != nil, tc.parts)
			}
			h1, p1, err := m.Encode(ids, types, pad, 2, 6)
			if err != nil {
				t.Fatal(err)
			}
			h2, p2, err := back.Encode(ids, types, pad, 2, 6)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h1.Data, h2.Data) {
				t.Error("hidden states differ after Save and Load")
			}
			if (p2 == nil) != !tc.parts.Pooler || (p1 != nil && !slices.Equal(p1.Data, p2.Data)) {
				t.Error("pooled outputs differ after Save and Load")
			}
			if tc.parts.Head {
				l1, _ := m.MLMLogits(ids, types, pad, 2, 6)
				l2, err := back.MLMLogits(ids, types, pad, 2, 6)
				if err != nil || !slices.Equal(l1.Data, l2.Data) {
					t.Errorf("logits differ after Save and Load (%v)", err)
				}
			}
		})
	}
}

// TestLoadNames loads the tiny checkpoint's weights stored under other
// classes' names and with extra tensors.
func TestLoadNames(t *testing.T) {
	src := filepath.Join(golden.Root(t), "testdata", "hf", "bert-tiny")
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		rename func(string) string
		extra  []string
		want   string
	}{
		{"legacy gamma beta", func(n string) string {
			n = strings.Replace(n, "LayerNorm.weight", "LayerNorm.gamma", 1)
			return strings.Replace(n, "LayerNorm.bias", "LayerNorm.beta", 1)
		}, nil, ""},
		{"BertModel names", func(n string) string { return strings.TrimPrefix(n, "bert.") }, nil, ""},
		{"renamed", func(n string) string { return strings.Replace(n, "layer.1.", "layer.01.", 1) }, nil,
			`hf: missing tensor "encoder.layer.1.attention.self.query.weight" (and 15 more) in model.safetensors`},
		{"position_ids buffer", func(n string) string { return n }, []string{"bert.embeddings.position_ids"}, ""},
		{"unexpected head", func(n string) string { return n }, []string{"qa_outputs.weight"}, `hf: unexpected tensor "qa_outputs.weight" in model.safetensors`},
		{"classifier of one dimension", func(n string) string { return n }, []string{"classifier.weight"}, "classifier.weight has shape [1]; want [labels, 32]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			ts := ref.Tensors()
			for i := range ts {
				ts[i].Name = tc.rename(ts[i].Name)
			}
			for _, e := range tc.extra {
				ts = append(ts, safetensors.F32(e, []int{1}, []float32{0}))
			}
			if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
				t.Fatal(err)
			}
			m, err := Load(dir)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Load: %v", err)
			case tc.want == "" && !slices.EqualFunc(m.Params(), ref.Params(), func(a, b nn.Param) bool { return slices.Equal(a.Value.Data, b.Value.Data) }):
				t.Error("weights differ from the original's")
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Load error %v; want %q", err, tc.want)
			}
		})
	}
}

func TestEmbed(t *testing.T) {
	h := tensor.FromSlice([]float32{
		3, 4, 1, 1, 9, 9, // sequence 0: tokens (3,4) (1,1) (9,9)
		0, 0, 2, 2, 5, 5, // sequence 1: tokens (0,0) (2,2) (5,5)
	}, 2, 3, 2)
	pad := []bool{false, false, true, false, false, false}
	for _, tc := range []struct {
		pooling   Pooling
		normalize bool
		pad       []bool
		want      []float32
	}{
		{PoolCLS, false, pad, []float32{3, 4, 0, 0}},
		{PoolCLS, true, pad, []float32{0.6, 0.8, 0, 0}},
		{PoolMean, false, pad, []float32{2, 2.5, 7.0 / 3, 7.0 / 3}},
		{PoolMean, false, nil, []float32{13.0 / 3, 14.0 / 3, 7.0 / 3, 7.0 / 3}},
		{PoolMean, true, pad, []float32{4 / float32(math.Sqrt(41)), 5 / float32(math.Sqrt(41)), float32(math.Sqrt(0.5)), float32(math.Sqrt(0.5))}},
		// sentence-transformers' max counts padding as -1e9; mean_sqrt_len
		// divides the sum by √n.
		{PoolMax, false, pad, []float32{3, 4, 5, 5}},
		{PoolMax, false, nil, []float32{9, 9, 5, 5}},
		{PoolMeanSqrtLen, false, pad, []float32{4 / float32(math.Sqrt(2)), 5 / float32(math.Sqrt(2)), 7 / float32(math.Sqrt(3)), 7 / float32(math.Sqrt(3))}},
		{PoolLastToken, false, pad, []float32{1, 1, 5, 5}},
		{PoolLastToken, true, nil, []float32{float32(math.Sqrt(0.5)), float32(math.Sqrt(0.5)), float32(math.Sqrt(0.5)), float32(math.Sqrt(0.5))}},
	} {
		got, err := Embed(h, tc.pad, tc.pooling, tc.normalize)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := golden.MaxAbs(slices.Concat(got...), tc.want); d > 1e-6 {
			t.Errorf("Embed(%s, normalize %v) = %v; want %v", tc.pooling, tc.normalize, got, tc.want)
		}
	}
	if _, err := Embed(h, pad, "weightedmean", false); err == nil || err.Error() != `bert: pooling "weightedmean" is not one of [cls mean max mean_sqrt_len lasttoken]` {
		t.Errorf("Embed(weightedmean) error %v", err)
	}
	// The last token that is not padding (sequence 0's padding at its end).
	endPad := []bool{false, false, true, false, false, false}
	endPad[1], endPad[2] = true, true
	if got, err := Embed(h, endPad, PoolLastToken, false); err != nil || !slices.Equal(slices.Concat(got...), []float32{3, 4, 5, 5}) {
		t.Errorf("Embed(lasttoken) = %v, %v; want [3 4 5 5]", got, err)
	}
	// A sequence all padding has a zero last token, as sentence-transformers'
	// gather of the masked states gives (not its first token's state).
	allPad := []bool{true, true, true, false, false, false}
	if got, err := Embed(h, allPad, PoolLastToken, false); err != nil || !slices.Equal(slices.Concat(got...), []float32{0, 0, 5, 5}) {
		t.Errorf("Embed(lasttoken) of a sequence all padding = %v, %v; want [0 0 5 5]", got, err)
	}
	// Several poolings are concatenated, then normalised together.
	got, err := EmbedConcat(h, pad, []Pooling{PoolCLS, PoolMax}, true)
	want := []float32{3, 4, 3, 4, 0, 0, 5, 5}
	for i := range want {
		want[i] /= float32([]float64{math.Sqrt(50), math.Sqrt(50)}[i/4])
	}
	if d, _ := golden.MaxAbs(slices.Concat(got...), want); err != nil || d > 1e-6 {
		t.Errorf("EmbedConcat(cls, max, normalized) = %v, %v; want %v", got, err, want)
	}
	if _, err := Embed(h, pad[:2], PoolMean, false); err == nil {
		t.Error("Embed with a short mask: no error")
	}
}

func TestTopK(t *testing.T) {
	got := TopK([]float32{1, 3, 2, 3}, 3)
	z := 2*math.Exp(3) + math.Exp(2) + math.Exp(1)
	want := []Prediction{{1, float32(math.Exp(3) / z)}, {3, float32(math.Exp(3) / z)}, {2, float32(math.Exp(2) / z)}}
	if !slices.Equal(got, want) {
		t.Errorf("TopK = %v; want %v", got, want)
	}
	if got := TopK([]float32{1}, 5); len(got) != 1 || got[0] != (Prediction{0, 1}) {
		t.Errorf("TopK(k > V) = %v", got)
	}
}

// TestTrainingStep runs a masked-LM loss through a tape, on a new model and
// on a loaded one; every parameter gets a gradient.
func TestTrainingStep(t *testing.T) {
	fresh, err := New(tinyConfig(), Parts{Head: true}, 3)
	if err != nil {
		t.Fatal(err)
	}
	loaded := load(t, "bert-tiny")
	for _, p := range loaded.Params() {
		if !p.RequiresGrad() || p.Grad != nil {
			t.Fatalf("loaded %s: requires grad %v, gradient buffer %v; want a trainable weight with no buffer yet", p.Name, p.RequiresGrad(), p.Grad != nil)
		}
	}

	for _, m := range []*Model{fresh, loaded} {
		tp := autograd.NewTape(tensor.NewRNG(1))
		ids, targets := []int{2, 7, 9, 11, 3, 4}, []int{-1, 8, -1, -1, 5, -1}
		h, err := m.Forward(tp, ids, []int{0, 0, 0, 1, 1, 1}, nil, 1, 6)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := m.Logits(tp, h)
		if err != nil {
			t.Fatal(err)
		}
		loss := tp.CrossEntropy(logits, targets, -1, 0)
		tp.Backward(loss)
		if l := loss.Item(); !(l > 0) || math.IsInf(float64(l), 0) {
			t.Fatalf("loss %v", l)
		}
		for _, p := range m.Params() {
			if p.Name == "pooler.dense.weight" || p.Name == "pooler.dense.bias" {
				continue // the loss does not use the pooler
			}
			if !slices.ContainsFunc(p.Grad.Data, func(v float32) bool { return v != 0 }) {
				t.Errorf("%s: zero gradient", p.Name)
			}
		}
	}
}

// TestLoadConfigMismatch gives the tiny weights a config.json of other
// sizes, one absurdly large: the error names the first tensor that does not
// fit, and nothing is allocated for the config's sizes first.
func TestLoadConfigMismatch(t *testing.T) {
	src := filepath.Join(golden.Root(t), "testdata", "hf", "bert-tiny")
	weights, err := os.ReadFile(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ config, want string }{
		{`{"model_type": "bert", "vocab_size": 1099511627776, "hidden_size": 32, "num_attention_heads": 4}`,
			`hf: tensor "bert.embeddings.word_embeddings.weight" in model.safetensors: shape [100 32] does not match config [1099511627776 32]`},
		{`{"model_type": "bert", "vocab_size": 100, "hidden_size": 32, "num_attention_heads": 4, "max_position_embeddings": 24, "intermediate_size": 37}`,
			`hf: missing tensor "encoder.layer.2.attention.self.query.weight" (and 159 more) in model.safetensors`},
		{`{"model_type": "bert", "hidden_size": 30, "num_attention_heads": 4}`,
			"bert: hidden_size 30 must be a positive multiple of num_attention_heads 4"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.config), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), weights, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load error %v; want %q", err, tc.want)
		}
	}
}

func TestBatch(t *testing.T) {
	ids, pad, b, n := Batch([][]int{{2, 5, 3}, {2, 3}, {2, 9, 9, 3}}, 0)
	wantIDs := []int{2, 5, 3, 0, 2, 3, 0, 0, 2, 9, 9, 3}
	wantPad := []bool{false, false, false, true, false, false, true, true, false, false, false, false}
	if !slices.Equal(ids, wantIDs) || !slices.Equal(pad, wantPad) || b != 3 || n != 4 {
		t.Errorf("Batch = %v, %v, %d, %d; want %v, %v, 3, 4", ids, pad, b, n, wantIDs, wantPad)
	}
}
