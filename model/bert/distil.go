package bert

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/attn-go/attn/model/hf"
)

// DistilBERT (Sanh et al. 2019) is BERT's encoder with fewer layers and no
// token types or pooler, stored under names of its own (modeling_distilbert.py)
// and configured by DistilBertConfig's keys. Its checkpoints load into
// Model: the config into Config (Type "distilbert"), the names onto BERT's
// layers (fromDistil), and Save writes them back (toDistil).

// distilConfig is HF's DistilBertConfig as config.json holds it.
type distilConfig struct {
	ModelType     string         `json:"model_type"`
	Architectures []string       `json:"architectures,omitempty"`
	VocabSize     int            `json:"vocab_size"`
	Dim           int            `json:"dim"`
	Layers        int            `json:"n_layers"`
	Heads         int            `json:"n_heads"`
	HiddenDim     int            `json:"hidden_dim"`
	Activation    string         `json:"activation"`
	MaxPositions  int            `json:"max_position_embeddings"`
	Sinusoidal    bool           `json:"sinusoidal_pos_embds"`
	PadID         int            `json:"pad_token_id"`
	Dropout       float32        `json:"dropout"`
	AttnDropout   float32        `json:"attention_dropout"`
	SeqDropout    float32        `json:"seq_classif_dropout"`
	InitRange     float32        `json:"initializer_range"`
	Tied          bool           `json:"tie_word_embeddings"`
	Labels        hf.Labels      `json:"id2label,omitempty"`
	Label2ID      map[string]int `json:"label2id,omitempty"`
	ProblemType   string         `json:"problem_type,omitempty"`
}

// distilDefaults is DistilBertConfig's defaults (distilbert-base).
func distilDefaults() distilConfig {
	return distilConfig{
		VocabSize: 30522, Dim: 768, Layers: 6, Heads: 12, HiddenDim: 3072, Activation: "gelu", MaxPositions: 512,
		Dropout: 0.1, AttnDropout: 0.1, SeqDropout: 0.2, InitRange: 0.02, Tied: true,
	}
}

// distilLayerNorm is DistilBERT's LayerNorm ε, fixed in its code.
const distilLayerNorm = 1e-12

// unmarshalDistil reads a DistilBertConfig into c.
func (c *Config) unmarshalDistil(b []byte) error {
	v := distilDefaults()
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if err := checkArchitectures(v.Architectures); err != nil {
		return err
	}
	seq := v.SeqDropout
	*c = Config{
		VocabSize: v.VocabSize, Hidden: v.Dim, Layers: v.Layers, Heads: v.Heads, Intermediate: v.HiddenDim, Act: v.Activation,
		MaxPositions: v.MaxPositions, Eps: distilLayerNorm, PadID: v.PadID, Dropout: v.Dropout, AttnDropout: v.AttnDropout,
		InitRange: v.InitRange, Tied: v.Tied, Labels: v.Labels, ClassifierDropout: &seq, ProblemType: v.ProblemType,
		Type: "distilbert", sinusoidal: v.Sinusoidal,
	}
	return nil
}

// marshalDistil writes c as a DistilBertConfig.
func (c Config) marshalDistil(arch string) ([]byte, error) {
	seq := c.classifierDropout()
	return json.Marshal(distilConfig{
		ModelType: "distilbert", Architectures: []string{arch}, VocabSize: c.VocabSize, Dim: c.Hidden, Layers: c.Layers,
		Heads: c.Heads, HiddenDim: c.Intermediate, Activation: c.Act, MaxPositions: c.MaxPositions, Sinusoidal: c.sinusoidal,
		PadID: c.PadID, Dropout: c.Dropout, AttnDropout: c.AttnDropout, SeqDropout: seq, InitRange: c.InitRange, Tied: c.Tied,
		Labels: c.Labels, Label2ID: c.Labels.Label2ID(), ProblemType: c.ProblemType,
	})
}

// distilLayer maps the parts of a DistilBERT block (transformer.layer.N.…)
// onto a BERT layer's (encoder.layer.N.…).
var distilLayer = map[string]string{
	"attention.q_lin": "attention.self.query", "attention.k_lin": "attention.self.key", "attention.v_lin": "attention.self.value",
	"attention.out_lin": "attention.output.dense", "sa_layer_norm": "attention.output.LayerNorm",
	"ffn.lin1": "intermediate.dense", "ffn.lin2": "output.dense", "output_layer_norm": "output.LayerNorm",
}

// distilHeads maps DistilBERT's heads onto this package's: the masked-LM
// head onto BERT's cls.predictions, the classifier onto a ClassHead.
var distilHeads = map[string]string{
	"vocab_transform": "cls.predictions.transform.dense", "vocab_layer_norm": "cls.predictions.transform.LayerNorm",
	"vocab_projector": "cls.predictions.decoder", "pre_classifier": "classifier.dense", "classifier": "classifier.out_proj",
}

// fromDistil maps a DistilBERT tensor's canonical name (without
// "distilbert.", and without a DistilBertModel's leading "transformer.",
// which hf strips as GPT-2's prefix) onto this package's name for it.
// vocab_projector.bias becomes the head's bias (its decoder bias is tied to
// it, as in BERT).
func fromDistil(name string) string {
	if name == "vocab_projector.bias" {
		return "cls.predictions.bias"
	}
	part, field, ok := cutLast(name)
	if !ok {
		return name
	}
	if rest, isLayer := strings.CutPrefix(strings.TrimPrefix(part, "transformer."), "layer."); isLayer {
		if n, sub, ok := strings.Cut(rest, "."); ok && distilLayer[sub] != "" {
			return "encoder.layer." + n + "." + distilLayer[sub] + "." + field
		}
	}
	if m := distilHeads[part]; m != "" {
		return m + "." + field
	}
	return name
}

// toDistil maps a parameter's name onto the name DistilBertForMaskedLM
// and DistilBertForSequenceClassification store it under.
func toDistil(name string) string {
	if name == "cls.predictions.bias" {
		return "vocab_projector.bias"
	}
	part, field, ok := cutLast(name)
	if !ok {
		return name
	}
	if rest, isLayer := strings.CutPrefix(part, "encoder.layer."); isLayer {
		if n, sub, ok := strings.Cut(rest, "."); ok {
			for d, b := range distilLayer {
				if b == sub {
					return "distilbert.transformer.layer." + n + "." + d + "." + field
				}
			}
		}
	}
	for d, b := range distilHeads {
		if b == part {
			return d + "." + field
		}
	}
	return "distilbert." + name
}

// cutLast splits "a.b.weight" into "a.b" and "weight".
func cutLast(name string) (string, string, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// checkArchitectures refuses the heads this package does not build, whose
// weights would otherwise be read as another's.
func checkArchitectures(archs []string) error {
	for _, a := range archs {
		for _, head := range []string{"ForTokenClassification", "ForQuestionAnswering", "ForMultipleChoice", "LMHeadModel", "ForCausalLM"} {
			if strings.HasSuffix(a, head) {
				return fmt.Errorf("bert: architectures %q: only the base model, its masked-LM head (and BERT's pre-training heads) and the sequence classifier are built", a)
			}
		}
	}
	return nil
}
