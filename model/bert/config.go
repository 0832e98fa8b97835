package bert

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
)

// Config holds BERT's hyperparameters. Its JSON form is HuggingFace's
// BertConfig (config.json of a "bert" model folder), so the names are HF's.
type Config struct {
	VocabSize    int     `json:"vocab_size"`              // V
	Hidden       int     `json:"hidden_size"`             // C
	Layers       int     `json:"num_hidden_layers"`       // N
	Heads        int     `json:"num_attention_heads"`     // H; head size D = C/H
	Intermediate int     `json:"intermediate_size"`       // feed-forward width
	Act          string  `json:"hidden_act"`              // "gelu" (exact), "gelu_new", "relu", "silu"
	MaxPositions int     `json:"max_position_embeddings"` // longest sequence
	TypeVocab    int     `json:"type_vocab_size"`         // token types (segments)
	Eps          float32 `json:"layer_norm_eps"`
	PadID        int     `json:"pad_token_id"`
	Dropout      float32 `json:"hidden_dropout_prob"`
	AttnDropout  float32 `json:"attention_probs_dropout_prob"`
	// InitRange is the standard deviation of New's weights.
	InitRange float32 `json:"initializer_range"`
	// Tied is HF's tie_word_embeddings: the MLM decoder's weight is the
	// word-embedding table (true in every released BERT).
	Tied bool `json:"tie_word_embeddings"`
	// Labels names a sequence classifier's outputs (HF's id2label).
	Labels hf.Labels `json:"id2label,omitempty"`
	// ClassifierDropout is the dropout before the classifier; null means
	// hidden_dropout_prob, as in HF.
	ClassifierDropout *float32 `json:"classifier_dropout"`
	// ProblemType is HF's problem_type: how a classifier's outputs are read
	// ("single_label_classification": softmax, the default with more than
	// one label; "multi_label_classification": a sigmoid each;
	// "regression": the value itself).
	ProblemType string `json:"problem_type,omitempty"`

	// Type is config.json's model_type: "bert" (or empty), or "roberta" or
	// "xlm-roberta" for RoBERTa (Liu et al. 2019) and its multilingual
	// XLM-R, the same encoder with positions counted from pad_token_id+1
	// and heads of their own (see Model), or "distilbert" for DistilBERT
	// (see distil.go: no token types, TypeVocab 0).
	Type string `json:"-"`
	// Modern holds a ModernBERT's own settings (Type "modernbert"); nil
	// otherwise.
	Modern *ModernConfig `json:"-"`
	// sinusoidal is DistilBertConfig's sinusoidal_pos_embds, kept for Save
	// (the position table is stored either way).
	sinusoidal bool

	// arch is the HF class a saved folder's weights are for; Save sets it
	// from the model's parts (see Model.architecture).
	arch string
}

// roberta reports whether the config is a RoBERTa's (or XLM-R's).
func (c Config) roberta() bool { return c.Type == "roberta" || c.Type == "xlm-roberta" }

// distil reports whether the config is a DistilBERT's.
func (c Config) distil() bool { return c.Type == "distilbert" }

// twoLayerClassifier reports whether the model's sequence classifier is a
// ClassHead (RoBERTa's, DistilBERT's) rather than BERT's pooler and linear.
func (c Config) twoLayerClassifier() bool { return c.roberta() || c.distil() }

// MaxLen returns the longest sequence the model takes: max_position_embeddings,
// less RoBERTa's pad_token_id+1 positions that no token uses.
func (c Config) MaxLen() int {
	if c.roberta() {
		return c.MaxPositions - c.PadID - 1
	}
	return c.MaxPositions
}

// classPrefix is the start of HF's class names for the config's model_type.
func (c Config) classPrefix() string {
	switch c.Type {
	case "roberta":
		return "Roberta"
	case "xlm-roberta":
		return "XLMRoberta"
	case "distilbert":
		return "DistilBert"
	case "modernbert":
		return "ModernBert"
	}
	return "Bert"
}

// Label returns the name of classifier output i: id2label's, or LABEL_i.
func (c Config) Label(i int) string { return c.Labels.Name(i) }

// classifierDropout is the dropout probability before the classifier.
func (c Config) classifierDropout() float32 {
	if c.ClassifierDropout != nil {
		return *c.ClassifierDropout
	}
	return c.Dropout
}

// DefaultConfig returns BERT-base (HF's BertConfig defaults, Devlin et al.
// 2019 §3): vocabulary 30522, C 768, 12 layers of 12 heads, feed-forward
// 3072 with exact GELU, 512 positions, 2 token types, LayerNorm ε 1e-12,
// dropout 0.1.
func DefaultConfig() Config {
	return Config{
		VocabSize: 30522, Hidden: 768, Layers: 12, Heads: 12, Intermediate: 3072, Act: "gelu",
		MaxPositions: 512, TypeVocab: 2, Eps: 1e-12, Dropout: 0.1, AttnDropout: 0.1, InitRange: 0.02, Tied: true,
		Type: "bert",
	}
}

// activation maps hidden_act onto nn's activations.
func (c Config) activation() (nn.Activation, error) {
	a, err := nn.HFActivation(c.Act)
	if err != nil {
		return "", fmt.Errorf("bert: hidden_act: %w", err)
	}
	return a, nil
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	if c.modern() { // first: its keys have names of their own
		if err := c.validateModern(); err != nil {
			return err
		}
	}
	switch {
	case c.VocabSize <= 0:
		return fmt.Errorf("bert: vocab_size %d must be positive", c.VocabSize)
	case c.Hidden <= 0 || c.Heads <= 0 || c.Hidden%c.Heads != 0:
		return fmt.Errorf("bert: hidden_size %d must be a positive multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.Layers <= 0:
		return fmt.Errorf("bert: num_hidden_layers %d must be positive", c.Layers)
	case c.Intermediate <= 0:
		return fmt.Errorf("bert: intermediate_size %d must be positive", c.Intermediate)
	case c.MaxPositions <= 0:
		return fmt.Errorf("bert: max_position_embeddings %d must be positive", c.MaxPositions)
	case c.TypeVocab <= 0 && !c.distil() && !c.modern():
		return fmt.Errorf("bert: type_vocab_size %d must be positive", c.TypeVocab)
	case c.Type != "" && c.Type != "bert" && !c.roberta() && !c.distil() && !c.modern():
		return fmt.Errorf("bert: model_type %q is not bert, roberta, xlm-roberta, distilbert or modernbert", c.Type)
	case c.roberta() && (c.PadID < 0 || c.MaxLen() <= 0):
		return fmt.Errorf("bert: a RoBERTa's positions start at pad_token_id+1 = %d, which leaves none of max_position_embeddings %d", c.PadID+1, c.MaxPositions)
	case !(c.Eps > 0):
		return fmt.Errorf("bert: layer_norm_eps %v must be positive", c.Eps)
	case c.Dropout < 0 || c.Dropout >= 1 || c.AttnDropout < 0 || c.AttnDropout >= 1:
		return fmt.Errorf("bert: dropout %v / %v outside [0, 1)", c.Dropout, c.AttnDropout)
	case c.ClassifierDropout != nil && (*c.ClassifierDropout < 0 || *c.ClassifierDropout >= 1):
		return fmt.Errorf("bert: classifier_dropout %v outside [0, 1)", *c.ClassifierDropout)
	}
	switch c.ProblemType {
	case "", "single_label_classification", "multi_label_classification", "regression":
	default:
		return fmt.Errorf("bert: problem_type %q is not single_label_classification, multi_label_classification or regression", c.ProblemType)
	}
	if err := c.Labels.Check(-1); err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	_, err := c.activation()
	return err
}

// hfConfig is the part of HF's BertConfig that is not a Config field.
type hfConfig struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	// PositionType is "absolute" in BERT; the relative kinds are not built.
	PositionType string `json:"position_embedding_type,omitempty"`
	// Label2ID is id2label inverted, which save_pretrained writes too.
	Label2ID map[string]int `json:"label2id,omitempty"`
	// IsDecoder makes HF's BertModel attend causally (BertLMHeadModel);
	// this package builds the bidirectional encoder only.
	IsDecoder bool `json:"is_decoder,omitempty"`
}

// MarshalJSON writes c as HF's BertConfig (RobertaConfig, XLMRobertaConfig,
// DistilBertConfig);
// architectures names the class whose weights a folder holds, as Save sets
// it (BertForMaskedLM, or BertForSequenceClassification with labels, when
// it is not set).
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	arch := c.arch
	if arch == "" {
		arch = c.classPrefix() + map[bool]string{false: "ForMaskedLM", true: "ForSequenceClassification"}[len(c.Labels) > 0]
	}
	switch {
	case c.distil():
		return c.marshalDistil(arch)
	case c.modern():
		return c.marshalModern(arch)
	}
	return json.Marshal(struct {
		hfConfig
		plain
	}{hfConfig{ModelType: cmp.Or(c.Type, "bert"), Architectures: []string{arch}, PositionType: "absolute", Label2ID: c.Labels.Label2ID()}, plain(c)})
}

// UnmarshalJSON reads HF's BertConfig, RobertaConfig, XLMRobertaConfig or
// DistilBertConfig; a
// missing key takes the class's default, as HF does (RoBERTa's pad_token_id
// is 1), and unknown keys are ignored. Another model_type, a relative
// position_embedding_type, a decoder (is_decoder) or a head this package
// does not build is an error.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	var peek hfConfig
	if err := json.Unmarshal(b, &peek); err != nil {
		return err
	}
	def := DefaultConfig()
	switch peek.ModelType {
	case "", "bert":
	case "roberta":
		def.PadID, def.VocabSize = 1, 50265 // RobertaConfig's
	case "xlm-roberta":
		def.PadID = 1
	case "distilbert":
		return c.unmarshalDistil(b)
	case "modernbert":
		return c.unmarshalModern(b)
	default:
		return fmt.Errorf("bert: model_type %q is not bert, roberta, xlm-roberta, distilbert or modernbert", peek.ModelType)
	}
	v := struct {
		hfConfig
		plain
	}{plain: plain(def)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if err := checkArchitectures(v.Architectures); err != nil {
		return err
	}
	switch {
	case v.PositionType != "" && v.PositionType != "absolute":
		return fmt.Errorf("bert: position_embedding_type %q is not supported (want absolute)", v.PositionType)
	case v.IsDecoder:
		return errors.New("bert: is_decoder true (a causal BERT, as BertLMHeadModel) is not supported; this package builds the bidirectional encoder")
	}
	*c = Config(v.plain)
	c.Type = cmp.Or(v.ModelType, "bert")
	return nil
}
