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
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
)

// robertaReference is the RoBERTa references and their inputs
// (tools/golden/torch_roberta.py); RoBERTa has one token type.
func robertaReference(t *testing.T) (*golden.File, batch) {
	t.Helper()
	return referenceAt(t, "hf/roberta-tiny/reference.safetensors")
}

// TestRobertaMatchesPyTorch compares a RobertaForMaskedLM (hidden states,
// MLM logits through RoBERTa's head, embeddings) and an XLMRobertaModel in
// F16 (hidden states, pooled output) with RoBERTa in PyTorch: positions
// counted from pad_token_id+1 out of the ids, and a head whose GELU is exact
// while the encoder's hidden_act is gelu_new.
func TestRobertaMatchesPyTorch(t *testing.T) {
	f, in := robertaReference(t)
	m := load(t, "roberta-tiny")
	if m.Cfg.Type != "roberta" || m.Cfg.PadID != 1 || m.RobertaHead == nil || m.Head != nil || m.Pooler != nil || m.Labels() != 0 {
		t.Fatalf("roberta-tiny: type %q, pad %d, RoBERTa head %v, BERT head %v, pooler %v, %d labels",
			m.Cfg.Type, m.Cfg.PadID, m.RobertaHead != nil, m.Head != nil, m.Pooler != nil, m.Labels())
	}
	checkMLM(t, "roberta-tiny", m, f, in, nil)

	x := load(t, "xlm-roberta-tiny")
	if x.Cfg.Type != "xlm-roberta" || x.Pooler == nil || x.RobertaHead != nil {
		t.Fatalf("xlm-roberta-tiny: type %q, pooler %v, head %v", x.Cfg.Type, x.Pooler != nil, x.RobertaHead != nil)
	}
	hidden, pooled, err := x.Encode(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	dh := golden.CheckAbs(t, "XLM-R hidden", hidden.Data, f.Tensor("xlmr.hidden").Data, 1e-4)
	dp := golden.CheckAbs(t, "XLM-R pooled", pooled.Data, f.Tensor("xlmr.pooled").Data, 1e-4)
	t.Logf("xlm-roberta-tiny (F16) max abs error: hidden %.2e, pooled %.2e", dh, dp)
	if _, err := x.MLMLogits(in.ids, nil, in.pad, in.b, in.t); err == nil || !strings.Contains(err.Error(), "no masked-LM head (lm_head)") {
		t.Errorf("MLMLogits without a head: %v", err)
	}
}

// TestRobertaClassifierMatchesPyTorch checks a
// RobertaForSequenceClassification's logits and the gradients of a
// cross-entropy on them.
func TestRobertaClassifierMatchesPyTorch(t *testing.T) {
	f, in := robertaReference(t)
	m := load(t, "roberta-tiny-cls")
	if m.Labels() != 2 || m.Pooler != nil || m.Classifier != nil || m.Cfg.Label(1) != "POSITIVE" {
		t.Fatalf("roberta-tiny-cls: %d labels, pooler %v, BERT classifier %v, label 1 %q", m.Labels(), m.Pooler != nil, m.Classifier != nil, m.Cfg.Label(1))
	}
	logits, err := m.Classify(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	d := golden.CheckAbs(t, "logits", logits.Data, f.Tensor("cls.logits").Data, 1e-4)
	t.Logf("logits max abs error %.2e", d)

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
		byName[p.Name] = p
	}
	for _, name := range []string{"classifier.out_proj.weight", "classifier.dense.weight", "roberta.encoder.layer.1.output.dense.weight",
		"roberta.embeddings.position_embeddings.weight", "roberta.embeddings.word_embeddings.weight"} {
		p, ok := byName[strings.TrimPrefix(name, "roberta.")]
		if !ok {
			t.Fatalf("no parameter %s", name)
		}
		d := golden.CheckAbs(t, name+" gradient", p.Var.Grad.Data, f.Tensor("cls.grad."+name).Data, 1e-5)
		t.Logf("%s gradient max abs error %.2e", name, d)
	}
}

// TestRobertaSave writes each RoBERTa back as a HuggingFace folder: the
// config keeps its model_type and names the class, the weights have the
// task classes' names without the tied decoder, and the folder loads with
// the same outputs. (tools/golden/torch_roberta.py --check DIR runs such a
// folder in PyTorch.)
func TestRobertaSave(t *testing.T) {
	_, in := robertaReference(t)
	for _, tc := range []struct{ dir, typ, arch, name string }{
		{"roberta-tiny", "roberta", "RobertaForMaskedLM", "lm_head.layer_norm.weight"},
		{"roberta-tiny-cls", "roberta", "RobertaForSequenceClassification", "classifier.out_proj.weight"},
		{"xlm-roberta-tiny", "xlm-roberta", "XLMRobertaModel", "roberta.pooler.dense.weight"},
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
			var cfg struct {
				ModelType     string   `json:"model_type"`
				Architectures []string `json:"architectures"`
				PadID         int      `json:"pad_token_id"`
			}
			if err := json.Unmarshal(raw, &cfg); err != nil || cfg.ModelType != tc.typ || !slices.Equal(cfg.Architectures, []string{tc.arch}) || cfg.PadID != 1 {
				t.Errorf("config.json: %+v, %v; want model_type %s, architectures [%s], pad_token_id 1", cfg, err, tc.typ, tc.arch)
			}
			sf, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			names := sf.Names()
			sf.Close()
			if !slices.Contains(names, tc.name) || !slices.Contains(names, "roberta.encoder.layer.0.attention.self.query.weight") || slices.Contains(names, "lm_head.decoder.weight") {
				t.Errorf("stored names %v; want %s, roberta.encoder.…, and no lm_head.decoder.weight", names, tc.name)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			h1, _, err1 := m.Encode(in.ids, nil, in.pad, in.b, in.t)
			h2, _, err2 := back.Encode(in.ids, nil, in.pad, in.b, in.t)
			if err1 != nil || err2 != nil || !slices.Equal(h1.Data, h2.Data) || back.Labels() != m.Labels() || (back.RobertaHead != nil) != (m.RobertaHead != nil) {
				t.Errorf("reloaded: %v %v; hidden states equal %v, labels %d and %d", err1, err2, err1 == nil && err2 == nil && slices.Equal(h1.Data, h2.Data), back.Labels(), m.Labels())
			}
		})
	}
}

// TestRobertaPositions: RoBERTa's positions come from the ids, so a padded
// sequence's real tokens compute what they compute alone; the longest
// sequence is max_position_embeddings less pad_token_id+1; a RoBERTa given
// a new classifier gets RoBERTa's (and loses its pooler and head).
func TestRobertaPositions(t *testing.T) {
	_, in := robertaReference(t)
	m := load(t, "roberta-tiny")
	hidden, _, err := m.Encode(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	row, n := in.t, 0 // the second sequence
	for !in.pad[row+n] {
		n++
	}
	alone, _, err := m.Encode(in.ids[row:row+n], nil, nil, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cfg.Hidden
	golden.CheckAbs(t, "unpadded hidden", alone.Data, hidden.Data[row*c:(row+n)*c], 1e-5)

	if got := robertaPositions([]int{0, 5, 2, 1, 1, 0, 1, 7}, 2, 4, 1); !slices.Equal(got, []int{2, 3, 4, 1, 1, 2, 1, 3}) {
		t.Errorf("robertaPositions: %v", got)
	}
	if m.Cfg.MaxLen() != m.Cfg.MaxPositions-2 {
		t.Errorf("MaxLen %d with max_position_embeddings %d", m.Cfg.MaxLen(), m.Cfg.MaxPositions)
	}
	long := make([]int, m.Cfg.MaxLen()+1)
	if _, _, err := m.Encode(long, nil, nil, 1, len(long)); err == nil || !strings.Contains(err.Error(), "sequence length 23 exceeds the 22 positions of max_position_embeddings 24") {
		t.Errorf("a sequence past MaxLen: %v", err)
	}
	if _, _, err := m.Encode(long[1:], nil, nil, 1, len(long)-1); err != nil {
		t.Errorf("a sequence of MaxLen: %v", err)
	}

	m.ReplaceClassifier([]string{"no", "yes", "maybe"}, 3)
	if m.Labels() != 3 || m.RobertaHead != nil || m.Pooler != nil || m.Classifier != nil {
		t.Fatalf("after ReplaceClassifier: %d labels, head %v, pooler %v", m.Labels(), m.RobertaHead != nil, m.Pooler != nil)
	}
	for _, p := range m.Params() {
		if strings.HasPrefix(p.Name, "lm_head.") || strings.HasPrefix(p.Name, "pooler.") {
			t.Errorf("parameter %s kept after ReplaceClassifier", p.Name)
		}
	}
	if logits, err := m.Classify(in.ids, nil, in.pad, in.b, in.t); err != nil || logits.Shape[1] != 3 {
		t.Errorf("Classify after ReplaceClassifier: %v", err)
	}
}
