package vit

import (
	"encoding/json"
	"fmt"

	"github.com/attn-go/attn/nn"

	"github.com/attn-go/attn/model/hf"
)

// Config holds ViT's hyperparameters. Its JSON form is HuggingFace's
// ViTConfig (config.json of a "vit" model folder), so the names are HF's.
type Config struct {
	Hidden       int     `json:"hidden_size"`         // C
	Layers       int     `json:"num_hidden_layers"`   // N
	Heads        int     `json:"num_attention_heads"` // H; head size D = C/H
	Intermediate int     `json:"intermediate_size"`   // feed-forward width
	Act          string  `json:"hidden_act"`          // "gelu" (exact), "gelu_new", "relu", "silu"
	Eps          float32 `json:"layer_norm_eps"`
	ImageSize    int     `json:"image_size"`   // images are ImageSize × ImageSize pixels
	PatchSize    int     `json:"patch_size"`   // P: each token is a P × P patch
	Channels     int     `json:"num_channels"` // 3 for RGB
	QKVBias      bool    `json:"qkv_bias"`     // query, key and value have biases
	Dropout      float32 `json:"hidden_dropout_prob"`
	AttnDropout  float32 `json:"attention_probs_dropout_prob"`
	// InitRange is the standard deviation of New's weights.
	InitRange float32 `json:"initializer_range"`
	// Labels names the classifier's outputs: HF's id2label, keyed by the
	// output's index in decimal.
	Labels hf.Labels `json:"id2label,omitempty"`
	// ProblemType is HF's problem_type, which decides how HF's
	// image-classification pipeline scores the outputs (Scores).
	ProblemType string `json:"problem_type,omitempty"`
	// Distilled marks DeiT (model_type "deit", Touvron et al. 2021): a
	// distillation token follows the class token.
	Distilled bool `json:"-"`

	// arch is the HF class a saved folder's weights are for; Save sets it
	// from the model's heads (see Model.architecture).
	arch string
}

// DefaultConfig returns ViT-Base/16 at 224 pixels (HF's ViTConfig
// defaults, Dosovitskiy et al. 2021, table 1): C 768, 12 layers of 12
// heads, feed-forward 3072 with exact GELU, patches of 16, LayerNorm ε
// 1e-12, no dropout.
func DefaultConfig() Config {
	return Config{
		Hidden: 768, Layers: 12, Heads: 12, Intermediate: 3072, Act: "gelu", Eps: 1e-12,
		ImageSize: 224, PatchSize: 16, Channels: 3, QKVBias: true, InitRange: 0.02,
	}
}

// Patches is the number of patches of an image (the tokens after the class
// and distillation tokens).
func (c Config) Patches() int { g := c.ImageSize / c.PatchSize; return g * g }

// Prefix is the number of tokens before the patches: the class token, and
// DeiT's distillation token.
func (c Config) Prefix() int {
	if c.Distilled {
		return 2
	}
	return 1
}

// modelType is config.json's model_type.
func (c Config) modelType() string {
	if c.Distilled {
		return "deit"
	}
	return "vit"
}

// Label returns the name of classifier output i: id2label's, or LABEL_i as
// HF names outputs without one.
func (c Config) Label(i int) string { return c.Labels.Name(i) }

// activation maps hidden_act onto nn's activations.
func (c Config) activation() (nn.Activation, error) {
	a, err := nn.HFActivation(c.Act)
	if err != nil {
		return "", fmt.Errorf("vit: hidden_act: %w", err)
	}
	return a, nil
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.Hidden <= 0 || c.Heads <= 0 || c.Hidden%c.Heads != 0:
		return fmt.Errorf("vit: hidden_size %d must be a positive multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.Layers <= 0:
		return fmt.Errorf("vit: num_hidden_layers %d must be positive", c.Layers)
	case c.Intermediate <= 0:
		return fmt.Errorf("vit: intermediate_size %d must be positive", c.Intermediate)
	case c.PatchSize <= 0 || c.ImageSize < c.PatchSize || c.ImageSize%c.PatchSize != 0:
		return fmt.Errorf("vit: image_size %d must be a positive multiple of patch_size %d", c.ImageSize, c.PatchSize)
	case c.ImageSize > 4096:
		return fmt.Errorf("vit: image_size %d is over 4096", c.ImageSize)
	case c.Channels <= 0 || c.Channels > 4:
		return fmt.Errorf("vit: num_channels %d must be 1 to 4", c.Channels)
	case !(c.Eps > 0):
		return fmt.Errorf("vit: layer_norm_eps %v must be positive", c.Eps)
	case c.Dropout < 0 || c.Dropout >= 1 || c.AttnDropout < 0 || c.AttnDropout >= 1:
		return fmt.Errorf("vit: dropout %v / %v outside [0, 1)", c.Dropout, c.AttnDropout)
	case c.ProblemType != "" && c.ProblemType != "single_label_classification" && c.ProblemType != "multi_label_classification" && c.ProblemType != "regression":
		return fmt.Errorf("vit: problem_type %q is not single_label_classification, multi_label_classification or regression", c.ProblemType)
	}
	if err := c.Labels.Check(-1); err != nil {
		return fmt.Errorf("vit: %w", err)
	}
	_, err := c.activation()
	return err
}

// hfConfig is the part of HF's ViTConfig that is not a Config field.
type hfConfig struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	// PoolerAct is the pooler's activation in newer ViTConfigs; only tanh,
	// the original, is built.
	PoolerAct string `json:"pooler_act,omitempty"`
	// PoolerSize is the pooler's output width in newer ViTConfigs; only
	// hidden_size, the original, is built.
	PoolerSize int `json:"pooler_output_size,omitempty"`
	// Label2ID is id2label inverted, which save_pretrained writes too.
	Label2ID map[string]int `json:"label2id,omitempty"`
}

// MarshalJSON writes c as HF's ViTConfig (DeiTConfig when Distilled);
// architectures names the class whose weights a folder holds: as Save
// sets it, else guessed from the labels (ViTForImageClassification or
// DeiTForImageClassificationWithTeacher with labels, ViTModel or DeiTModel
// without).
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	arch := c.arch
	if arch == "" {
		arch = map[bool]string{false: "ViTModel", true: "DeiTModel"}[c.Distilled]
		if len(c.Labels) > 0 {
			arch = map[bool]string{false: "ViTForImageClassification", true: "DeiTForImageClassificationWithTeacher"}[c.Distilled]
		}
	}
	h := hfConfig{ModelType: c.modelType(), Architectures: []string{arch}, Label2ID: c.Labels.Label2ID()}
	return json.Marshal(struct {
		hfConfig
		plain
	}{h, plain(c)})
}

// UnmarshalJSON reads HF's ViTConfig or DeiTConfig (the same fields); a
// missing key takes ViTConfig's default, as HF does, and unknown keys are
// ignored. Another model_type or a pooler other than ViT's original is an
// error.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	v := struct {
		hfConfig
		plain
	}{plain: plain(DefaultConfig())}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch {
	case v.ModelType != "" && v.ModelType != "vit" && v.ModelType != "deit":
		return fmt.Errorf("vit: model_type %q is not vit or deit", v.ModelType)
	case v.PoolerAct != "" && v.PoolerAct != "tanh":
		return fmt.Errorf("vit: pooler_act %q is not supported (want tanh)", v.PoolerAct)
	case v.PoolerSize != 0 && v.PoolerSize != v.Hidden:
		return fmt.Errorf("vit: pooler_output_size %d differs from hidden_size %d (not supported)", v.PoolerSize, v.Hidden)
	}
	*c = Config(v.plain)
	c.Distilled = v.ModelType == "deit"
	return nil
}

// UsesSigmoid reports whether the n outputs of a classifier are scored one by
// one with a sigmoid rather than together with a softmax: as HF's
// image-classification pipeline does, for multi-label classification and
// for a single output.
func (c Config) UsesSigmoid(n int) bool {
	return c.ProblemType == "multi_label_classification" || n == 1
}
