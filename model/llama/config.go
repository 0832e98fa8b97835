package llama

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Config holds the hyperparameters of a Llama-family model. Its JSON form
// is HuggingFace's LlamaConfig or Qwen2Config (config.json of a "llama" or
// "qwen2" folder; Qwen3Config for "qwen3", MistralConfig for "mistral"),
// so the names are HF's.
type Config struct {
	// Type is config.json's model_type: "llama" (Llama 2 and 3, TinyLlama,
	// SmolLM, …), "qwen2" (biases on the query, key and value
	// projections), "qwen3" (an RMSNorm on each query and key head) or
	// "mistral" (Llama's layers, attention within a sliding window).
	Type         string  `json:"-"`
	VocabSize    int     `json:"vocab_size"`
	Hidden       int     `json:"hidden_size"`             // C
	Intermediate int     `json:"intermediate_size"`       // the gated MLP's width
	Layers       int     `json:"num_hidden_layers"`       // N
	Heads        int     `json:"num_attention_heads"`     // H, query heads
	KVHeads      int     `json:"num_key_value_heads"`     // key and value heads (grouped-query attention); H when 0
	HeadDim      int     `json:"head_dim"`                // D; C/H when 0
	Act          string  `json:"hidden_act"`              // "silu" (the only one built)
	MaxPositions int     `json:"max_position_embeddings"` // the longest context
	Eps          float32 `json:"rms_norm_eps"`
	RopeTheta    float64 `json:"rope_theta"`
	// RopeScaling stretches the rotary positions for long contexts: nil,
	// "linear" or Llama 3.1's "llama3".
	RopeScaling *RopeScaling `json:"rope_scaling"`
	// AttentionBias gives the four attention projections biases (Llama's
	// attention_bias); Qwen2's query, key and value projections always have
	// them, its output projection not.
	AttentionBias bool `json:"attention_bias"`
	MLPBias       bool `json:"mlp_bias"`
	// Tied uses the token embeddings as the output layer
	// (tie_word_embeddings: SmolLM, Llama 3.2 1B, small Qwen2s).
	Tied bool `json:"tie_word_embeddings"`
	// SlidingWindow is a Mistral's sliding_window: each position attends to
	// the last SlidingWindow positions. Contexts are kept within it (see
	// Model.Window), where the attention is exactly HF's; 0 for none.
	SlidingWindow int `json:"-"`
	// EOS lists the tokens that end a text (eos_token_id, one or several).
	EOS []int `json:"-"`
	// BOS, when HasBOS, is the token a text starts with (bos_token_id:
	// Llama's <s>), which a sliding window keeps.
	BOS    int  `json:"-"`
	HasBOS bool `json:"-"`
}

// RopeScaling is config.json's rope_scaling.
type RopeScaling struct {
	Type   string  `json:"rope_type"` // "linear" or "llama3" ("type" in older configs)
	Factor float64 `json:"factor"`
	// Llama 3.1's: the wavelengths between original/low and original/high
	// are interpolated smoothly.
	LowFreqFactor  float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor float64 `json:"high_freq_factor,omitempty"`
	Original       int     `json:"original_max_position_embeddings,omitempty"`
}

// headDim returns D.
func (c Config) headDim() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	return c.Hidden / c.Heads
}

// kvHeads returns the number of key and value heads.
func (c Config) kvHeads() int {
	if c.KVHeads > 0 {
		return c.KVHeads
	}
	return c.Heads
}

// qkvBias reports whether the query, key and value projections have biases
// (Qwen2's always do; its output projection never).
func (c Config) qkvBias() bool { return c.AttentionBias || c.Type == "qwen2" }

// qkNorm reports whether each query and key head is RMS-normalised before
// the rotation (Qwen3's q_norm and k_norm).
func (c Config) qkNorm() bool { return c.Type == "qwen3" }

// oBias reports whether the output projection has a bias.
func (c Config) oBias() bool { return c.AttentionBias && c.Type != "qwen2" }

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.Type != "llama" && c.Type != "qwen2" && c.Type != "qwen3" && c.Type != "mistral":
		return fmt.Errorf("llama: model_type %q is not llama, qwen2, qwen3 or mistral", c.Type)
	case c.SlidingWindow < 0:
		return fmt.Errorf("llama: sliding_window %d is negative", c.SlidingWindow)
	case c.VocabSize <= 0:
		return fmt.Errorf("llama: vocab_size %d must be positive", c.VocabSize)
	case c.Hidden <= 0 || c.Heads <= 0 || c.HeadDim == 0 && c.Hidden%c.Heads != 0:
		return fmt.Errorf("llama: hidden_size %d must be a positive multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.HeadDim < 0 || c.headDim()%2 != 0:
		return fmt.Errorf("llama: head_dim %d must be positive and even (rotary pairs)", c.headDim())
	case c.KVHeads < 0 || c.Heads%c.kvHeads() != 0:
		return fmt.Errorf("llama: num_attention_heads %d must be a multiple of num_key_value_heads %d", c.Heads, c.KVHeads)
	case c.Layers <= 0 || c.Intermediate <= 0:
		return fmt.Errorf("llama: num_hidden_layers %d and intermediate_size %d must be positive", c.Layers, c.Intermediate)
	case c.MaxPositions <= 0:
		return fmt.Errorf("llama: max_position_embeddings %d must be positive", c.MaxPositions)
	case c.Act != "silu":
		return fmt.Errorf("llama: hidden_act %q is not silu", c.Act)
	case !(c.Eps > 0) || !(c.RopeTheta > 0):
		return fmt.Errorf("llama: rms_norm_eps %v and rope_theta %v must be positive", c.Eps, c.RopeTheta)
	}
	for _, id := range c.EOS {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("llama: eos_token_id %d is outside the vocabulary [0, %d)", id, c.VocabSize)
		}
	}
	if c.HasBOS && (c.BOS < 0 || c.BOS >= c.VocabSize) {
		return fmt.Errorf("llama: bos_token_id %d is outside the vocabulary [0, %d)", c.BOS, c.VocabSize)
	}
	if s := c.RopeScaling; s != nil {
		switch {
		case s.Type != "linear" && s.Type != "llama3":
			return fmt.Errorf("llama: rope_scaling type %q is not supported (linear or llama3)", s.Type)
		case !(s.Factor > 0):
			return fmt.Errorf("llama: rope_scaling factor %v must be positive", s.Factor)
		case s.Type == "llama3" && (s.Original <= 0 || !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor)):
			return fmt.Errorf("llama: llama3 rope_scaling needs original_max_position_embeddings > 0 and 0 < low_freq_factor < high_freq_factor (got %d, %v, %v)", s.Original, s.LowFreqFactor, s.HighFreqFactor)
		}
	}
	return nil
}

// invFreq returns the rotary frequencies of the head_dim/2 pairs,
// 1/θ^(2i/D), scaled as RopeScaling says, rounded as HF's float32 tensors
// round them (the exponent, the power and the reciprocal each to float32).
func (c Config) invFreq() []float32 {
	d := c.headDim()
	f := make([]float32, d/2)
	for i := range f {
		f[i] = 1 / float32(math.Pow(c.RopeTheta, float64(float32(2*i)/float32(d))))
	}
	s := c.RopeScaling
	if s == nil {
		return f
	}
	for i, x := range f {
		switch s.Type {
		case "linear":
			f[i] = x / float32(s.Factor)
		case "llama3": // HF's _compute_llama3_parameters
			lowWavelen := float64(s.Original) / s.LowFreqFactor
			highWavelen := float64(s.Original) / s.HighFreqFactor
			wavelen := 2 * math.Pi / float64(x)
			switch {
			case wavelen > lowWavelen:
				f[i] = float32(float64(x) / s.Factor)
			case wavelen >= highWavelen:
				smooth := (float64(s.Original)/wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				f[i] = float32((1-smooth)*float64(x)/s.Factor + smooth*float64(x))
			}
		}
	}
	return f
}

// hfConfig is the part of HF's configs that is not a plain Config field.
type hfConfig struct {
	ModelType     string          `json:"model_type"`
	Architectures []string        `json:"architectures,omitempty"`
	EOSTokenID    json.RawMessage `json:"eos_token_id,omitempty"`
	BOSTokenID    json.RawMessage `json:"bos_token_id,omitempty"`
	// Qwen2's sliding-window attention is refused when on for any layer
	// (layers from max_window_layers on).
	UseSlidingWindow bool            `json:"use_sliding_window,omitempty"`
	MaxWindowLayers  *int            `json:"max_window_layers,omitempty"`
	LayerTypes       []string        `json:"layer_types,omitempty"`    // per layer: "full_attention" or "sliding_attention"
	Window           json.RawMessage `json:"sliding_window,omitempty"` // an int, or null for none
	// PartialRotary < 1 (rotating part of each head) is not built.
	PartialRotary *float64 `json:"partial_rotary_factor,omitempty"`
	// RopeParameters is where configs saved by transformers 5 keep
	// rope_theta and the scaling.
	RopeParameters *ropeParameters `json:"rope_parameters,omitempty"`
}

// ropeParameters is transformers 5's rope_parameters.
type ropeParameters struct {
	Theta         *float64 `json:"rope_theta"`
	Type          string   `json:"rope_type"`
	OldType       string   `json:"type"` // an older spelling
	PartialRotary *float64 `json:"partial_rotary_factor"`
	RopeScaling
}

// defaults returns LlamaConfig's, Qwen2Config's, Qwen3Config's or
// MistralConfig's defaults.
func defaults(typ string) Config {
	c := Config{
		Type: typ, VocabSize: 32000, Hidden: 4096, Intermediate: 11008, Layers: 32, Heads: 32, Act: "silu",
		MaxPositions: 2048, Eps: 1e-6, RopeTheta: 10000, EOS: []int{2}, BOS: 1, HasBOS: true,
	}
	switch typ {
	case "qwen2":
		c.VocabSize, c.Intermediate, c.MaxPositions, c.EOS, c.HasBOS = 151936, 22016, 32768, nil, false
	case "qwen3":
		c.VocabSize, c.Intermediate, c.MaxPositions, c.EOS, c.HeadDim, c.HasBOS = 151936, 22016, 32768, nil, 128, false
	case "mistral":
		c.Intermediate, c.KVHeads, c.MaxPositions, c.SlidingWindow = 14336, 8, 4096*32, 4096
	}
	return c
}

// UnmarshalJSON reads HF's LlamaConfig, Qwen2Config, Qwen3Config or
// MistralConfig; a missing key takes
// the class's default, as HF does, and unknown keys are ignored. Settings
// that change the computation and are not built (another activation, an
// unknown rope scaling, Qwen2's sliding window, partial rotary) are errors.
func (c *Config) UnmarshalJSON(b []byte) error {
	var peek hfConfig
	if err := json.Unmarshal(b, &peek); err != nil {
		return err
	}
	if peek.ModelType != "llama" && peek.ModelType != "qwen2" && peek.ModelType != "qwen3" && peek.ModelType != "mistral" {
		return fmt.Errorf("llama: model_type %q is not llama, qwen2, qwen3 or mistral", peek.ModelType)
	}
	type plain Config
	v := struct {
		hfConfig
		plain
	}{plain: plain(defaults(peek.ModelType))}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	// Older configs name the scaling "type" (which HF's configs let win
	// over rope_type); "default" means none.
	var raw struct {
		RopeScaling *struct {
			Type string `json:"type"`
		} `json:"rope_scaling"`
	}
	json.Unmarshal(b, &raw)
	if s := v.RopeScaling; s != nil && raw.RopeScaling != nil && raw.RopeScaling.Type != "" {
		s.Type = raw.RopeScaling.Type
	}
	if rp := v.RopeParameters; rp != nil { // transformers 5
		if rp.Theta != nil {
			v.RopeTheta = *rp.Theta
		}
		s := rp.RopeScaling
		s.Type = cmp.Or(rp.Type, rp.OldType)
		v.RopeScaling = &s
		if rp.PartialRotary != nil {
			v.PartialRotary = rp.PartialRotary
		}
	}
	if s := v.RopeScaling; s != nil && (s.Type == "default" || s.Type == "") {
		v.RopeScaling = nil
	}
	switch {
	case v.UseSlidingWindow && (v.MaxWindowLayers == nil || *v.MaxWindowLayers < v.Layers || slices.Contains(v.LayerTypes, "sliding_attention")):
		return errors.New("llama: use_sliding_window true (sliding-window attention in some layers) is not supported")
	case v.PartialRotary != nil && *v.PartialRotary != 1:
		return fmt.Errorf("llama: partial_rotary_factor %v is not supported (1)", *v.PartialRotary)
	}
	switch peek.ModelType {
	case "qwen2": // Qwen2's biases are fixed: q, k and v have them
		v.AttentionBias, v.MLPBias = false, false
	case "qwen3": // Qwen3's MLP has none
		v.MLPBias = false
	case "mistral": // Mistral's layers have no biases
		v.AttentionBias, v.MLPBias = false, false
		if w := bytes.TrimSpace(v.Window); len(w) > 0 { // missing: MistralConfig's 4096
			v.SlidingWindow = 0
			if string(w) != "null" && json.Unmarshal(w, &v.SlidingWindow) != nil {
				return fmt.Errorf("llama: sliding_window %s is not a number of positions", w)
			}
		}
	}
	*c = Config(v.plain)
	c.Type = peek.ModelType
	if len(bytes.TrimSpace(v.EOSTokenID)) > 0 {
		eos, err := tokenIDs(v.EOSTokenID)
		if err != nil {
			return err
		}
		c.EOS = eos
	}
	if len(bytes.TrimSpace(v.BOSTokenID)) > 0 {
		bos, err := tokenIDs(v.BOSTokenID)
		if err != nil || len(bos) > 1 {
			return fmt.Errorf("llama: bos_token_id %s is not an id", v.BOSTokenID)
		}
		c.HasBOS = len(bos) == 1
		if c.HasBOS {
			c.BOS = bos[0]
		}
	}
	return nil
}

// tokenIDs reads an eos_token_id: null, an id, or a list of ids.
func tokenIDs(raw json.RawMessage) ([]int, error) {
	raw = bytes.TrimSpace(raw)
	var one int
	var ids []int
	switch {
	case string(raw) == "null":
		return nil, nil
	case json.Unmarshal(raw, &one) == nil:
		return []int{one}, nil
	case json.Unmarshal(raw, &ids) == nil:
		return ids, nil
	}
	return nil, fmt.Errorf("llama: eos_token_id %s is not an id or a list of ids", raw)
}

// MarshalJSON writes c as HF's LlamaConfig, Qwen2Config, Qwen3Config or
// MistralConfig.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	arch := map[string]string{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "mistral": "MistralForCausalLM"}[c.Type]
	var eos json.RawMessage = []byte("null")
	switch len(c.EOS) {
	case 0:
	case 1:
		eos, _ = json.Marshal(c.EOS[0])
	default:
		eos, _ = json.Marshal(c.EOS)
	}
	var bos json.RawMessage = []byte("null")
	if c.HasBOS {
		bos, _ = json.Marshal(c.BOS)
	}
	p := plain(c)
	p.HeadDim, p.KVHeads = c.headDim(), c.kvHeads() // HF takes a 0 for the value
	h := hfConfig{ModelType: c.Type, Architectures: []string{arch}, EOSTokenID: eos, BOSTokenID: bos}
	if c.SlidingWindow > 0 {
		h.Window, _ = json.Marshal(c.SlidingWindow)
	}
	return json.Marshal(struct {
		hfConfig
		plain
	}{h, p})
}
