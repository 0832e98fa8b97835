package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
)

// TestClassifierMatchesPyTorch loads a BertForSequenceClassification folder
// and compares its logits, and the gradients of a cross-entropy on them,
// with BERT in PyTorch (float64, tools/golden/torch_bert.py).
func TestClassifierMatchesPyTorch(t *testing.T) {
	f, in := reference(t)
	m := load(t, "bert-tiny-cls")
	if m.Labels() != 3 || m.Head != nil || m.Cfg.Label(2) != "positive" || m.Cfg.Label(5) != "LABEL_5" {
		t.Fatalf("bert-tiny-cls: %d labels, head %v, labels %q %q", m.Labels(), m.Head != nil, m.Cfg.Label(2), m.Cfg.Label(5))
	}
	logits, err := m.Classify(in.ids, in.types, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	if got := logits.Shape; len(got) != 2 || got[0] != in.b || got[1] != 3 {
		t.Fatalf("logits shape %v; want [%d 3]", got, in.b)
	}
	d := golden.CheckAbs(t, "logits", logits.Data, f.Tensor("cls.logits").Data, 1e-4)
	t.Logf("logits max abs error %.2e", d)

	// Gradients: a tape without an RNG runs no dropout, as PyTorch's
	// reference does not.
	tp := autograd.NewTape(nil)
	h, err := m.Forward(tp, in.ids, in.types, in.pad, in.b, in.t)
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
		byName[p.Name] = p
	}
	for _, name := range []string{"classifier.weight", "classifier.bias", "bert.pooler.dense.weight",
		"bert.encoder.layer.1.output.dense.weight", "bert.embeddings.word_embeddings.weight"} {
		p, ok := byName[strings.TrimPrefix(name, "bert.")]
		if !ok {
			t.Fatalf("no parameter %s", name)
		}
		d := golden.CheckAbs(t, name+" gradient", p.Var.Grad.Data, f.Tensor("cls.grad."+name).Data, 1e-5)
		t.Logf("%s gradient max abs error %.2e", name, d)
	}
}

// TestClassifierSaveAndReplace: a saved classifier is a
// BertForSequenceClassification folder with id2label and label2id that
// loads back to the same logits, and ReplaceClassifier gives a model
// without one (a BertForMaskedLM) a pooler and a fresh head.
func TestClassifierSaveAndReplace(t *testing.T) {
	_, in := reference(t)
	m := load(t, "bert-tiny-cls")
	want, err := m.Classify(in.ids, in.types, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Architectures []string
		Label2ID      map[string]int `json:"label2id"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil || len(cfg.Architectures) != 1 || cfg.Architectures[0] != "BertForSequenceClassification" || cfg.Label2ID["neutral"] != 1 {
		t.Errorf("saved config: %s (%v)", b, err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Classify(in.ids, in.types, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "reloaded logits", got.Data, want.Data, 0)

	mlm := load(t, "bert-tiny-bf16") // a BertModel: pooler, no head
	mlm.Pooler = nil
	if _, err := mlm.Classify(in.ids, in.types, in.pad, in.b, in.t); err == nil {
		t.Error("Classify without a classifier: want an error")
	}
	mlm.ReplaceClassifier([]string{"no", "yes"}, 3)
	logits, err := mlm.Classify(in.ids, in.types, in.pad, in.b, in.t)
	if err != nil || logits.Shape[1] != 2 || mlm.Cfg.Label(1) != "yes" || mlm.Pooler == nil {
		t.Fatalf("after ReplaceClassifier: %v, logits %v, label 1 %q", err, logits, mlm.Cfg.Label(1))
	}
}

func TestScores(t *testing.T) {
	logits := []float32{0, 2, -1}
	single := Config{}.Scores(logits, 2)
	if len(single) != 2 || single[0].ID != 1 || math.Abs(float64(single[0].Prob)-0.8437947) > 1e-6 || single[1].ID != 0 {
		t.Errorf("softmax scores %+v", single)
	}
	multi := Config{ProblemType: "multi_label_classification"}.Scores(logits, 5)
	if len(multi) != 3 || multi[0].ID != 1 || math.Abs(float64(multi[0].Prob)-0.8807971) > 1e-6 || math.Abs(float64(multi[2].Prob)-0.2689414) > 1e-6 {
		t.Errorf("sigmoid scores %+v", multi)
	}
	if r := (Config{}).Scores([]float32{3.5}, 1); len(r) != 1 || r[0].Prob != 3.5 {
		t.Errorf("one output (regression) %+v; want the value itself", r)
	}
}

// TestClassifierConfigEdges: id2label in the config of a model without a
// classifier is ignored (HF writes LABEL_0 and LABEL_1 into most configs),
// a classifier saved without names gets HF's LABEL_i for every output (HF
// counts a head's outputs by id2label), heads that are not built are
// refused by name, and ReplaceClassifier starts a single-label head
// without the masked-LM head.
func TestClassifierConfigEdges(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 37, "vocab_size": 50, "id2label": {"0": "LABEL_0", "1": "LABEL_1"}}`), &c); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, Parts{Pooler: true}, 1); err != nil {
		t.Errorf("a BertModel whose config names two labels: %v", err)
	}
	if _, err := New(c, Parts{Pooler: true, Labels: 1}, 1); err == nil {
		t.Error("a one-output classifier with id2label key 1: want an error")
	}
	if err := json.Unmarshal([]byte(`{"architectures": ["BertForNextSentencePrediction"]}`), &c); err != nil {
		t.Errorf("a BertForNextSentencePrediction config (its head is ignored): %v", err)
	}
	for _, arch := range []string{"BertForTokenClassification", "BertForQuestionAnswering", "BertForMultipleChoice", "BertLMHeadModel"} {
		if err := json.Unmarshal([]byte(`{"architectures": ["`+arch+`"]}`), &c); err == nil || !strings.Contains(err.Error(), arch) {
			t.Errorf("architectures %s: %v; want an error naming it", arch, err)
		}
	}

	m := load(t, "bert-tiny-cls")
	m.Cfg.Labels = nil
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil || len(back.Cfg.Labels) != 3 || back.Cfg.Label(2) != "LABEL_2" {
		t.Errorf("a classifier saved without names: %v, id2label %v", err, back.Cfg.Labels)
	}

	pre := load(t, "bert-tiny") // BertForPreTraining: pooler and MLM head
	pre.Cfg.ProblemType = "regression"
	pre.ReplaceClassifier([]string{"a", "b"}, 1)
	if pre.Head != nil || pre.Cfg.ProblemType != "" || pre.Labels() != 2 {
		t.Errorf("after ReplaceClassifier: head %v, problem_type %q, %d labels", pre.Head != nil, pre.Cfg.ProblemType, pre.Labels())
	}
	for _, p := range pre.Params() {
		if strings.HasPrefix(p.Name, "cls.") {
			t.Errorf("parameter %s kept after ReplaceClassifier", p.Name)
		}
	}
}
