package gpt

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Config holds GPT-2's hyperparameters. Its JSON form is HuggingFace's
// GPT2Config (config.json of a "gpt2" model folder), so the names are HF's.
type Config struct {
	VocabSize  int `json:"vocab_size"`
	NPositions int `json:"n_positions"` // context length (nanoGPT's block_size)
	NEmbd      int `json:"n_embd"`      // C
	NLayer     int `json:"n_layer"`
	NHead      int `json:"n_head"` // H; head size D = C/H
	// Dropout is the probability used for every dropout layer. HF has three
	// (resid_pdrop, embd_pdrop, attn_pdrop), all 0.1 in GPT-2; config.json
	// reads and writes those names, and they must agree.
	Dropout float32 `json:"-"`
	Eps     float32 `json:"layer_norm_epsilon"`
	// EOS, when HasEOS, is the token that ends a text (HF's eos_token_id:
	// GPT-2's <|endoftext|>, 50256): generating it ends a generation, as
	// HuggingFace's generate stops there. A plain pair, not a pointer, so
	// that Configs compare with ==.
	EOS    int  `json:"-"`
	HasEOS bool `json:"-"`
	// ScaleByLayer divides the attention logits of layer i by i+1 as well
	// as by √D (HF's scale_attn_by_inverse_layer_idx, which Stanford's
	// Mistral GPT-2s were trained with).
	ScaleByLayer bool `json:"-"`
}

// DefaultConfig returns GPT-2 small (HF's GPT2Config defaults, 124M
// parameters): vocabulary 50257, 1024 positions, C 768, 12 layers, 12 heads,
// dropout 0.1, LayerNorm ε 1e-5, end of text 50256.
func DefaultConfig() Config {
	return Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, Dropout: 0.1, Eps: 1e-5, EOS: 50256, HasEOS: true}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= 0:
		return fmt.Errorf("gpt: vocab_size %d must be positive", c.VocabSize)
	case c.NPositions <= 0:
		return fmt.Errorf("gpt: n_positions %d must be positive", c.NPositions)
	case c.NEmbd <= 0 || c.NHead <= 0 || c.NEmbd%c.NHead != 0:
		return fmt.Errorf("gpt: n_embd %d must be a positive multiple of n_head %d", c.NEmbd, c.NHead)
	case c.NLayer <= 0:
		return fmt.Errorf("gpt: n_layer %d must be positive", c.NLayer)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("gpt: dropout %v outside [0, 1)", c.Dropout)
	case c.Eps <= 0:
		return errors.New("gpt: layer_norm_epsilon must be positive")
	case c.HasEOS && (c.EOS < 0 || c.EOS >= c.VocabSize):
		return fmt.Errorf("gpt: eos_token_id %d is outside the vocabulary [0, %d)", c.EOS, c.VocabSize)
	}
	return nil
}

// hfConfig is the part of HF's GPT2Config that is not a plain Config field.
type hfConfig struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	Activation    string   `json:"activation_function"`
	ResidPdrop    *float32 `json:"resid_pdrop"`
	EmbdPdrop     *float32 `json:"embd_pdrop"`
	AttnPdrop     *float32 `json:"attn_pdrop"`
	// NInner is the MLP width; HF writes null for the default 4·n_embd, the
	// only width this package builds.
	NInner *int `json:"n_inner"`
	// TieWordEmbeddings defaults to true in HF; the output layer is always
	// tied here.
	TieWordEmbeddings *bool           `json:"tie_word_embeddings,omitempty"`
	EOSTokenID        json.RawMessage `json:"eos_token_id,omitempty"` // written as null when there is none
	// ScaleAttnWeights false (no 1/√D) is refused;
	// ScaleAttnByInverseLayerIdx is Config.ScaleByLayer.
	ScaleAttnWeights           *bool `json:"scale_attn_weights,omitempty"`
	ScaleAttnByInverseLayerIdx bool  `json:"scale_attn_by_inverse_layer_idx,omitempty"`
}

// MarshalJSON writes c as HF's GPT2Config.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	d := c.Dropout
	h := hfConfig{
		ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"}, Activation: "gelu_new",
		ResidPdrop: &d, EmbdPdrop: &d, AttnPdrop: &d,
	}
	h.EOSTokenID = json.RawMessage("null") // none: HF would read a missing key as 50256
	if c.HasEOS {
		h.EOSTokenID, _ = json.Marshal(c.EOS)
	}
	h.ScaleAttnByInverseLayerIdx = c.ScaleByLayer
	return json.Marshal(struct {
		hfConfig
		plain
	}{h, plain(c)})
}

// UnmarshalJSON reads HF's GPT2Config. Unknown keys are ignored; settings
// this package cannot honour (another model type or activation, an MLP width
// other than 4·n_embd, untied output weights, unequal dropout rates,
// attention logits left unscaled) are errors. A missing layer_norm_epsilon means HF's default 1e-5.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	var v struct {
		hfConfig
		plain
	}
	v.Eps = 1e-5
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch {
	case v.ModelType != "" && v.ModelType != "gpt2":
		return fmt.Errorf("gpt: model_type %q is not gpt2", v.ModelType)
	case v.Activation != "" && v.Activation != "gelu_new" && v.Activation != "gelu_pytorch_tanh":
		return fmt.Errorf("gpt: activation_function %q is not GELU's tanh approximation (gelu_new)", v.Activation)
	case v.NInner != nil && *v.NInner != 4*v.NEmbd:
		return fmt.Errorf("gpt: n_inner %d is not 4·n_embd", *v.NInner)
	case v.TieWordEmbeddings != nil && !*v.TieWordEmbeddings:
		return errors.New("gpt: tie_word_embeddings false is not supported")
	case v.ScaleAttnWeights != nil && !*v.ScaleAttnWeights:
		return errors.New("gpt: scale_attn_weights false (attention logits not scaled by 1/√D) is not supported")
	}
	*c = Config(v.plain)
	// eos_token_id is an id, a list of them (the first is taken), null, or
	// missing: GPT2Config's default 50256. One outside the vocabulary (that
	// default in a small model) is never generated, so it is dropped.
	eos := []int{50256}
	var one int
	switch {
	case len(v.EOSTokenID) == 0:
	case string(v.EOSTokenID) == "null":
		eos = nil
	case json.Unmarshal(v.EOSTokenID, &one) == nil:
		eos = []int{one}
	case json.Unmarshal(v.EOSTokenID, &eos) == nil:
	default:
		return fmt.Errorf("gpt: eos_token_id %s is not a token id or a list of them", v.EOSTokenID)
	}
	if len(eos) > 0 && eos[0] >= 0 && eos[0] < c.VocabSize {
		c.EOS, c.HasEOS = eos[0], true
	}
	c.ScaleByLayer = v.ScaleAttnByInverseLayerIdx
	c.Dropout = 0
	set := false
	for _, p := range []*float32{v.ResidPdrop, v.EmbdPdrop, v.AttnPdrop} {
		if p == nil {
			continue
		}
		if set && *p != c.Dropout {
			return fmt.Errorf("gpt: resid_pdrop, embd_pdrop and attn_pdrop differ (%v, %v, %v); one rate is supported",
				deref(v.ResidPdrop), deref(v.EmbdPdrop), deref(v.AttnPdrop))
		}
		c.Dropout, set = *p, true
	}
	return nil
}

func deref(p *float32) any {
	if p == nil {
		return nil
	}
	return *p
}
