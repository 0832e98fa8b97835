package clip

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
)

// Tower is what the text and vision configs share.
type Tower struct {
	Hidden       int     `json:"hidden_size"`
	Intermediate int     `json:"intermediate_size"`
	Layers       int     `json:"num_hidden_layers"`
	Heads        int     `json:"num_attention_heads"`
	Act          string  `json:"hidden_act"` // "quick_gelu" (OpenAI's), "gelu_pytorch_tanh" (SigLIP's), "gelu", "gelu_new", "relu", "silu"
	Eps          float32 `json:"layer_norm_eps"`
}

// TextConfig is HF's CLIPTextConfig.
type TextConfig struct {
	Tower
	VocabSize    int `json:"vocab_size"`
	MaxPositions int `json:"max_position_embeddings"`
	// EOSID is the end-of-text token, whose state is the text's pooled
	// state; 2, the value of the first CLIP configs, means the highest id
	// of each text instead, as HF reads those configs.
	EOSID int `json:"eos_token_id"`
	BOSID int `json:"bos_token_id"`
	PadID int `json:"pad_token_id"`
	// ProjectionSize is the width of SigLIP's text head (projection_size;
	// 0, null in HF, means hidden_size).
	ProjectionSize int `json:"projection_size,omitempty"`
}

// VisionConfig is HF's CLIPVisionConfig.
type VisionConfig struct {
	Tower
	ImageSize int `json:"image_size"`
	PatchSize int `json:"patch_size"`
	Channels  int `json:"num_channels"`
}

// Patches is the number of patches of an image.
func (c VisionConfig) Patches() int { g := c.ImageSize / c.PatchSize; return g * g }

// Config is HF's CLIPConfig (config.json of a "clip" folder), or its
// SiglipConfig (model_type "siglip") with Siglip set.
type Config struct {
	Text           TextConfig   `json:"text_config"`
	Vision         VisionConfig `json:"vision_config"`
	ProjectionDim  int          `json:"projection_dim"`         // CLIP's shared space
	LogitScaleInit float64      `json:"logit_scale_init_value"` // CLIP's
	// Siglip marks SigLIP (Zhai et al. 2023): the text read at its last
	// position through a head, not causal; the image without a class
	// token, pooled by attention (its head); a sigmoid per image-text pair.
	Siglip bool `json:"-"`
}

// DefaultConfig returns CLIP ViT-B/32's (HF's CLIPConfig defaults):
// a 12-layer text Transformer of 512 with 8 heads over 49,408 tokens and
// 77 positions, a ViT-B/32 at 224 pixels, both with quick GELU, projected
// to 512.
func DefaultConfig() Config {
	return Config{
		Text: TextConfig{
			Tower:     Tower{Hidden: 512, Intermediate: 2048, Layers: 12, Heads: 8, Act: "quick_gelu", Eps: 1e-5},
			VocabSize: 49408, MaxPositions: 77, EOSID: 49407, BOSID: 49406, PadID: 1,
		},
		Vision: VisionConfig{
			Tower:     Tower{Hidden: 768, Intermediate: 3072, Layers: 12, Heads: 12, Act: "quick_gelu", Eps: 1e-5},
			ImageSize: 224, PatchSize: 32, Channels: 3,
		},
		ProjectionDim: 512, LogitScaleInit: 2.6592,
	}
}

// legacyEOS is the eos_token_id of the first CLIP configs, with which HF
// pools each text at its highest id (the end-of-text token in CLIP's
// vocabulary) rather than at the token.
const legacyEOS = 2

// eosPositions returns the position of each of B texts of T ids whose state
// is pooled: with eos_token_id 2 the first highest id (torch.argmax), else
// the first eos_token_id (0 when there is none, as HF's argmax of an
// all-false row gives).
func (c Config) eosPositions(ids []int, b, t int) []int {
	pos := make([]int, b)
	if c.Siglip { // SigLIP's text is read at its last position, whatever stands there
		for i := range pos {
			pos[i] = t - 1
		}
		return pos
	}
	for i := range b {
		row := ids[i*t : (i+1)*t]
		for j, id := range row {
			if c.Text.EOSID == legacyEOS {
				if id > row[pos[i]] {
					pos[i] = j
				}
			} else if id == c.Text.EOSID {
				pos[i] = j
				break
			}
		}
	}
	return pos
}

// activation maps hidden_act onto the tape's functions.
func (t Tower) activation() (func(*autograd.Tape, *autograd.Var) *autograd.Var, error) {
	if t.Act == "quick_gelu" { // x·σ(1.702x), OpenAI's CLIP's
		return (*autograd.Tape).QuickGELU, nil
	}
	a, err := nn.HFActivation(t.Act)
	if err != nil {
		return nil, fmt.Errorf("clip: hidden_act: %w", err)
	}
	return a.Apply, nil
}

// validate reports the first inconsistent setting of a tower.
func (t Tower) validate(which string) error {
	switch {
	case t.Hidden <= 0 || t.Heads <= 0 || t.Hidden%t.Heads != 0:
		return fmt.Errorf("clip: %s hidden_size %d must be a positive multiple of num_attention_heads %d", which, t.Hidden, t.Heads)
	case t.Layers <= 0:
		return fmt.Errorf("clip: %s num_hidden_layers %d must be positive", which, t.Layers)
	case t.Intermediate <= 0:
		return fmt.Errorf("clip: %s intermediate_size %d must be positive", which, t.Intermediate)
	case !(t.Eps > 0):
		return fmt.Errorf("clip: %s layer_norm_eps %v must be positive", which, t.Eps)
	}
	if _, err := t.activation(); err != nil {
		return fmt.Errorf("%s: %w", which, err)
	}
	return nil
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	if err := c.Text.validate("text_config"); err != nil {
		return err
	}
	if err := c.Vision.validate("vision_config"); err != nil {
		return err
	}
	t, v := c.Text, c.Vision
	switch {
	case t.VocabSize <= 0 || t.MaxPositions <= 0:
		return fmt.Errorf("clip: text_config vocab_size %d and max_position_embeddings %d must be positive", t.VocabSize, t.MaxPositions)
	case v.PatchSize <= 0:
		return fmt.Errorf("clip: vision_config patch_size %d must be positive", v.PatchSize)
	case v.ImageSize < v.PatchSize:
		// HF's convolution has no padding: a size that is not a multiple
		// (SigLIP so400m's 384 with patches of 14) drops the last pixels.
		return fmt.Errorf("clip: vision_config image_size %d is smaller than patch_size %d", v.ImageSize, v.PatchSize)
	case v.Channels != 3:
		return fmt.Errorf("clip: vision_config num_channels %d: images are RGB", v.Channels)
	case c.ProjectionDim <= 0 && !c.Siglip:
		return fmt.Errorf("clip: projection_dim %d must be positive", c.ProjectionDim)
	case c.Siglip && c.Text.projection() != v.Hidden:
		return fmt.Errorf("clip: SigLIP's text projection_size %d differs from its vision hidden_size %d: the embeddings would not compare", c.Text.projection(), v.Hidden)
	}
	return nil
}

// hfConfig is the part of CLIPConfig that is not a Config field.
type hfConfig struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	// The towers' settings as the first CLIP configs also gave them: each,
	// over HF's defaults, replaces the tower's config wholly (CLIPConfig's
	// constructor does so).
	TextDict   json.RawMessage `json:"text_config_dict,omitempty"`
	VisionDict json.RawMessage `json:"vision_config_dict,omitempty"`
}

// UnmarshalJSON reads HF's CLIPConfig: a missing key takes HF's default,
// unknown keys are ignored. Another model_type, or a class other than
// CLIPModel (whose weights this package reads), is an error.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	def := DefaultConfig()
	v := struct {
		hfConfig
		plain
	}{plain: plain(def)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.ModelType == "siglip" {
		return c.unmarshalSiglip(b)
	}
	if v.ModelType != "clip" {
		return fmt.Errorf("clip: model_type %q is not clip or siglip", v.ModelType)
	}
	for _, a := range v.Architectures {
		if a != "CLIPModel" {
			return fmt.Errorf("clip: architectures %q: only CLIPModel (both towers and their projections) is read", strings.Join(v.Architectures, ", "))
		}
	}
	*c = Config(v.plain)
	if d := v.TextDict; len(d) > 0 && string(d) != "null" {
		c.Text = def.Text
		if err := json.Unmarshal(d, &c.Text); err != nil {
			return fmt.Errorf("clip: text_config_dict: %w", err)
		}
	}
	if d := v.VisionDict; len(d) > 0 && string(d) != "null" {
		c.Vision = def.Vision
		if err := json.Unmarshal(d, &c.Vision); err != nil {
			return fmt.Errorf("clip: vision_config_dict: %w", err)
		}
	}
	return nil
}

// MarshalJSON writes c as HF's CLIPConfig (architectures CLIPModel), each
// tower's config with its model_type and the projection dimension HF
// repeats there.
func (c Config) MarshalJSON() ([]byte, error) {
	if c.Siglip {
		return c.marshalSiglip()
	}
	type tower struct {
		ModelType     string `json:"model_type"`
		ProjectionDim int    `json:"projection_dim"`
	}
	return json.Marshal(struct {
		hfConfig
		Text struct {
			tower
			TextConfig
		} `json:"text_config"`
		Vision struct {
			tower
			VisionConfig
		} `json:"vision_config"`
		ProjectionDim  int     `json:"projection_dim"`
		LogitScaleInit float64 `json:"logit_scale_init_value"`
	}{
		hfConfig: hfConfig{ModelType: "clip", Architectures: []string{"CLIPModel"}},
		Text: struct {
			tower
			TextConfig
		}{tower{"clip_text_model", c.ProjectionDim}, c.Text},
		Vision: struct {
			tower
			VisionConfig
		}{tower{"clip_vision_model", c.ProjectionDim}, c.Vision},
		ProjectionDim: c.ProjectionDim, LogitScaleInit: c.LogitScaleInit,
	})
}
