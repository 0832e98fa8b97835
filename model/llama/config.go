package llama

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/attn-go/attn/autograd"
)

// Config holds the hyperparameters of a Llama-family model. Its JSON form
// is HuggingFace's LlamaConfig or Qwen2Config (config.json of a "llama" or
// "qwen2" folder; Qwen3Config for "qwen3", MistralConfig for "mistral",
// Gemma2Config for "gemma2", Gemma3TextConfig for "gemma3_text",
// SmolLM3Config for "smollm3", Phi3Config for "phi3", GraniteConfig for
// "granite", Olmo2Config for "olmo2", MixtralConfig for "mixtral",
// Qwen3MoeConfig for "qwen3_moe", OlmoeConfig for "olmoe",
// GraniteMoeConfig for "granitemoe", GraniteMoeSharedConfig for
// "granitemoeshared", Qwen2MoeConfig for "qwen2_moe", GptOssConfig for
// "gpt_oss"; a "gemma3"
// Gemma3Config is read for its text_config), so the names are HF's.
type Config struct {
	// Type is config.json's model_type: "llama" (Llama 2 and 3, TinyLlama,
	// SmolLM, …), "qwen2" (biases on the query, key and value
	// projections), "qwen3" (an RMSNorm on each query and key head),
	// "mistral" (Llama's layers, each attending within a sliding window),
	// "gemma2" or "gemma3_text" (Gemma 2, Gemma 3's text models: see Gemma),
	// "smollm3" (Llama's layers, some without rotary positions: NoRope),
	// "phi3" (Phi-3, Phi-3.5 and Phi-4-mini: Llama's layers, the q, k, v
	// and the gate and up projections stored fused, LongRoPE, a partial
	// rotation, a sliding window), "granite" (IBM's Granite 3: Llama's
	// layers with the multipliers below), "olmo2" (AI2's OLMo 2: no norm
	// before a sub-layer, one after it, and the whole query and key
	// projections RMS-normalised before the rotation); and the mixtures of
	// experts (see Experts): "mixtral" (Mistral's layers), "qwen3_moe"
	// (Qwen3's), "olmoe" (AI2's OLMoE: Llama's layers with OLMo 2's norms
	// of the whole query and key projections), "granitemoe" (IBM's Granite
	// 3 MoE: Granite's layers and multipliers), "granitemoeshared" (the
	// same with a shared MLP beside the experts) and "qwen2_moe" (Qwen2's
	// layers, a shared expert beside the others, gated), "gpt_oss" (OpenAI's
	// GPT-OSS: biases on the four attention projections and on the
	// experts' matrices, an attention sink per head, sliding-window layers
	// between global ones, YaRN's rotary scaling, a router with a bias
	// whose chosen logits are softmaxed, the experts' clamped SwiGLU).
	// An image-text "gemma3" folder's text model is a "gemma3_text" (see
	// ImageText).
	Type         string  `json:"-"`
	VocabSize    int     `json:"vocab_size"`
	Hidden       int     `json:"hidden_size"`             // C
	Intermediate int     `json:"intermediate_size"`       // the gated MLP's width
	Layers       int     `json:"num_hidden_layers"`       // N
	Heads        int     `json:"num_attention_heads"`     // H, query heads
	KVHeads      int     `json:"num_key_value_heads"`     // key and value heads (grouped-query attention); H when 0
	HeadDim      int     `json:"head_dim"`                // D; C/H when 0
	Act          string  `json:"hidden_act"`              // "silu"; Gemma's hidden_activation, "gelu_pytorch_tanh"
	MaxPositions int     `json:"max_position_embeddings"` // the longest context
	Eps          float32 `json:"rms_norm_eps"`
	RopeTheta    float64 `json:"rope_theta"`
	// RopeScaling stretches the rotary positions for long contexts: nil,
	// "linear", Llama 3.1's "llama3" or Phi-3's "longrope".
	RopeScaling *RopeScaling `json:"rope_scaling"`
	// PartialRotary is the part of each head the rotation turns, its first
	// int(head_dim·PartialRotary) values (partial_rotary_factor: Phi-4-mini's
	// 0.75); 0 or 1 turns it all.
	PartialRotary float64 `json:"-"`
	// OriginalMaxPositions is a Phi-3's original_max_position_embeddings,
	// the context it was pretrained on: LongRoPE uses its long factors
	// past it, and max_position_embeddings over it sets the scaling.
	OriginalMaxPositions int `json:"-"`
	// AttentionBias gives the four attention projections biases (Llama's
	// attention_bias); Qwen2's query, key and value projections always have
	// them, its output projection not.
	AttentionBias bool `json:"attention_bias"`
	MLPBias       bool `json:"mlp_bias"`
	// Tied uses the token embeddings as the output layer
	// (tie_word_embeddings: SmolLM, Llama 3.2 1B, small Qwen2s).
	Tied bool `json:"tie_word_embeddings"`
	// The layers Local marks (a Mistral's every layer, Gemma's
	// layer_types' "sliding_attention", SmolLM3's sliding layers) attend to
	// the last LocalWindow positions (sliding_window), at any length of
	// context; nil for none.
	// Gemma 3's local layers also rotate with RopeLocalTheta
	// (rope_local_base_freq, unscaled), its global ones with RopeTheta and
	// RopeScaling. Gemma's attention scores are scaled by
	// QueryPreAttnScalar^−½ (query_pre_attn_scalar) rather than by
	// head_dim's.
	QueryPreAttnScalar float64 `json:"query_pre_attn_scalar,omitempty"`
	RopeLocalTheta     float64 `json:"rope_local_base_freq,omitempty"`
	LocalWindow        int     `json:"-"`
	Local              []bool  `json:"-"`
	// ImageText marks the text model of a Gemma 3 image-text checkpoint
	// ("gemma3": Gemma3ForConditionalGeneration, whose config nests it as
	// text_config and whose weights name it language_model); the vision
	// tower is not read.
	ImageText bool `json:"-"`
	// Granite's multipliers (GraniteConfig): the embeddings are scaled by
	// EmbeddingMultiplier, the attention scores by AttentionMultiplier
	// (in place of 1/√head_dim), each sub-layer's output by
	// ResidualMultiplier before it is added, and the logits divided by
	// LogitsScaling. 0 (and any other family) leaves each out.
	EmbeddingMultiplier float64 `json:"embedding_multiplier,omitempty"`
	AttentionMultiplier float64 `json:"attention_multiplier,omitempty"`
	ResidualMultiplier  float64 `json:"residual_multiplier,omitempty"`
	LogitsScaling       float64 `json:"logits_scaling,omitempty"`
	// Bidirectional marks an encoder built of Gemma 3's layers
	// (use_bidirectional_attention: EmbeddingGemma): every query sees the
	// keys on both sides, a local layer's those less than LocalWindow
	// positions away, LocalWindow being sliding_window/2 + 1 as HF's
	// Gemma3TextConfig sets it. It computes hidden states (Hidden), not a
	// next token.
	Bidirectional bool `json:"-"`
	// NoRope marks SmolLM3's NoPE layers (no_rope_layers' zeros), whose
	// queries and keys are not rotated; nil for none.
	NoRope []bool `json:"-"`
	// Gemma 2's softcaps (attn_logit_softcapping, final_logit_softcapping):
	// attention scores and output logits x become c·tanh(x/c); 0 for none.
	AttnSoftcap, FinalSoftcap float64 `json:"-"`
	// A mixture of experts' (see moe): in the layers Sparse marks, the MLP
	// is Experts gated MLPs of ExpertIntermediate (intermediate_size, the
	// Qwen MoEs' moe_intermediate_size), of which a router picks
	// ExpertsPerToken for each token (num_experts_per_tok), the largest of
	// its softmax probabilities, and adds their outputs weighted by them,
	// renormalised over the chosen when NormTopK (norm_topk_prob;
	// Mixtral's and Granite's always). The Qwen MoEs' other layers
	// (mlp_only_layers, or not a multiple of
	// decoder_sparse_step) keep a dense MLP of Intermediate; a nil Sparse
	// makes every layer sparse. 0 experts: a dense model. A
	// GraniteMoeShared's sparse layers also run a shared gated MLP of
	// SharedIntermediate (shared_intermediate_size; 0: none) on every
	// token, its output added to the experts'; a Qwen2-MoE's too
	// (shared_expert_intermediate_size), its output scaled by a sigmoid
	// gate of the token (shared_expert_gate).
	Experts            int    `json:"-"`
	ExpertsPerToken    int    `json:"-"`
	ExpertIntermediate int    `json:"-"`
	NormTopK           bool   `json:"-"`
	Sparse             []bool `json:"-"`
	SharedIntermediate int    `json:"-"`
	// RouterAux is the weight of the routers' load-balancing loss (see
	// autograd.LoadBalance) that training adds to a mixture of experts'
	// cross-entropy: router_aux_loss_coef where output_router_logits is
	// true, as HF's loss adds it; 0 for none. RouterJitter is Mixtral's
	// router_jitter_noise, the noise its training multiplies a router's
	// input by, which is not built: a model with some generates but does
	// not train.
	RouterAux    float64 `json:"-"`
	RouterJitter float64 `json:"-"`
	// GPT-OSS's experts gate with (u + 1)·g·σ(SwigluAlpha·g), g clamped to
	// at most SwigluLimit and u to ±SwigluLimit (swiglu_limit and
	// swiglu_alpha, 7 and 1.702 when missing, as OpenAI's code and newer
	// transformers read them; transformers 4.55's GptOssExperts fixes
	// both at those values); 0 in the other families.
	SwigluLimit float64 `json:"swiglu_limit,omitempty"`
	SwigluAlpha float64 `json:"swiglu_alpha,omitempty"`
	// EOS lists the tokens that end a text (eos_token_id, one or several).
	EOS []int `json:"-"`
	// BOS, when HasBOS, is the token a text starts with (bos_token_id:
	// Llama's <s>), which generation keeps when it slides a full context
	// (see generate.Text).
	BOS    int  `json:"-"`
	HasBOS bool `json:"-"`
}

// RopeScaling is config.json's rope_scaling.
type RopeScaling struct {
	Type   string  `json:"rope_type"` // "linear", "llama3", "longrope" or "yarn" ("type" in older configs)
	Factor float64 `json:"factor"`
	// Llama 3.1's: the wavelengths between original/low and original/high
	// are interpolated smoothly.
	LowFreqFactor  float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor float64 `json:"high_freq_factor,omitempty"`
	Original       int     `json:"original_max_position_embeddings,omitempty"`
	// LongRoPE's (Phi-3): the frequencies of the rotated pairs divided by
	// ShortFactor, or by LongFactor once a sequence is longer than the
	// original context; cos and sin times AttentionFactor (by default
	// √(1 + ln s / ln original), s = max_position_embeddings / original).
	ShortFactor     []float64 `json:"short_factor,omitempty"`
	LongFactor      []float64 `json:"long_factor,omitempty"`
	AttentionFactor float64   `json:"attention_factor,omitempty"`
	// YaRN's (Peng et al. 2023; GPT-OSS's): the pairs turning fewer than
	// BetaSlow times over the original context are interpolated (divided by
	// Factor), those turning more than BetaFast times kept, a linear ramp
	// between (its ends not rounded unless Truncate, which is true when
	// missing); cos and sin times AttentionFactor (by default
	// 0.1·ln(Factor) + 1). DeepSeek's mscale and mscale_all_dim are not
	// built.
	BetaFast     float64 `json:"beta_fast,omitempty"`
	BetaSlow     float64 `json:"beta_slow,omitempty"`
	Truncate     *bool   `json:"truncate,omitempty"`
	Mscale       float64 `json:"mscale,omitempty"`
	MscaleAllDim float64 `json:"mscale_all_dim,omitempty"`
}

// rotaryDim returns how many values of each head the rotation turns.
func (c Config) rotaryDim() int {
	if c.PartialRotary > 0 && c.PartialRotary < 1 {
		return int(float64(c.headDim()) * c.PartialRotary)
	}
	return c.headDim()
}

// yarn reports whether the rotation is YaRN's.
func (c Config) yarn() bool { return c.RopeScaling != nil && c.RopeScaling.Type == "yarn" }

// gptOSS reports whether c is a GPT-OSS (see Type).
func (c Config) gptOSS() bool { return c.Type == "gpt_oss" }

// longRope reports whether the rotation is LongRoPE's.
func (c Config) longRope() bool { return c.RopeScaling != nil && c.RopeScaling.Type == "longrope" }

// ropeOriginal returns the context LongRoPE switches to its long factors
// past: original_max_position_embeddings, else max_position_embeddings.
func (c Config) ropeOriginal() int {
	if c.OriginalMaxPositions > 0 {
		return c.OriginalMaxPositions
	}
	if s := c.RopeScaling; s != nil && s.Original > 0 {
		return s.Original
	}
	return c.MaxPositions
}

// ropeScale returns what cos and sin are multiplied by: LongRoPE's or
// YaRN's attention factor (HF's _compute_longrope_parameters and
// _compute_yarn_parameters), else 1.
func (c Config) ropeScale() float32 {
	if c.yarn() {
		if a := c.RopeScaling.AttentionFactor; a > 0 {
			return float32(a)
		}
		if f := c.RopeScaling.Factor; f > 1 {
			return float32(0.1*math.Log(f) + 1)
		}
		return 1
	}
	if !c.longRope() {
		return 1
	}
	if a := c.RopeScaling.AttentionFactor; a > 0 {
		return float32(a)
	}
	orig := c.ropeOriginal()
	factor := c.RopeScaling.Factor
	if c.OriginalMaxPositions > 0 { // Phi-3's: the ratio of the two contexts
		factor = float64(c.MaxPositions) / float64(orig)
	}
	if factor <= 1 {
		return 1
	}
	return float32(math.Sqrt(1 + math.Log(factor)/math.Log(float64(orig))))
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
func (c Config) qkvBias() bool { return c.AttentionBias || c.qwen2() }

// qwen2 reports whether c is a Qwen2 or a Qwen2-MoE, whose query, key and
// value projections have biases and whose output projection has none.
func (c Config) qwen2() bool { return c.Type == "qwen2" || c.Type == "qwen2_moe" }

// qkNorm reports whether each query and key head is RMS-normalised before
// the rotation (Qwen3's and Gemma 3's q_norm and k_norm).
func (c Config) qkNorm() bool {
	return c.Type == "qwen3" || c.Type == "qwen3_moe" || c.Type == "gemma3_text"
}

// wholeQKNorm reports whether the query and key projections are
// RMS-normalised whole before the rotation (OLMo 2's and OLMoE's q_norm over
// H·D values, k_norm over KV·D).
func (c Config) wholeQKNorm() bool { return c.Type == "olmo2" || c.Type == "olmoe" }

// sparse reports whether layer l's MLP is a mixture of experts: every
// layer's of a mixture of experts whose Sparse is nil.
func (c Config) sparse(l int) bool { return c.Experts > 0 && (c.Sparse == nil || c.Sparse[l]) }

// olmo2 reports whether c is an OLMo 2 model, whose layers normalise each
// sub-layer's output rather than its input (post_attention_layernorm,
// post_feedforward_layernorm) and RMS-normalise the query and key
// projections whole (see wholeQKNorm).
func (c Config) olmo2() bool { return c.Type == "olmo2" }

// Gemma reports whether c is a Gemma 2 or Gemma 3 text model (Team Gemma
// 2024, 2025), whose layers differ from Llama's in these ways: RMSNorm
// weights are kept as offsets from 1 (HF's Gemma3RMSNorm multiplies by
// 1 + weight); each sub-layer's output is normalised before it is added to
// the residual (post_attention_layernorm, post_feedforward_layernorm), and
// the MLP's input by pre_feedforward_layernorm; the MLP gates with GELU's
// tanh approximation; the embeddings are scaled by √hidden_size; local
// layers attend within a sliding window. Gemma 3 also normalises q and k
// per head and rotates its local layers with a base of their own; Gemma 2
// softcaps its attention scores and output logits instead.
func (c Config) Gemma() bool { return c.Type == "gemma2" || c.Type == "gemma3_text" }

// attnScale returns the attention scores' scale: 0 (1/√head_dim) but for
// Gemma's query_pre_attn_scalar^−½ and Granite's attention_multiplier.
func (c Config) attnScale() float32 {
	switch {
	case c.Gemma():
		return float32(math.Pow(c.QueryPreAttnScalar, -0.5))
	case c.granite():
		return float32(c.AttentionMultiplier)
	}
	return 0
}

// noRope reports whether layer l is one of SmolLM3's NoPE layers.
func (c Config) noRope(l int) bool { return l < len(c.NoRope) && c.NoRope[l] }

// window returns the sliding window of layer l (0: none).
func (c Config) window(l int) int {
	if l < len(c.Local) && c.Local[l] {
		return c.LocalWindow
	}
	return 0
}

// oBias reports whether the output projection has a bias.
func (c Config) oBias() bool { return c.AttentionBias && !c.qwen2() }

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case !slices.Contains(Types, c.Type):
		return fmt.Errorf("llama: model_type %q is not one of %v", c.Type, Types)
	case c.VocabSize <= 0:
		return fmt.Errorf("llama: vocab_size %d must be positive", c.VocabSize)
	case c.Hidden <= 0 || c.Heads <= 0 || c.HeadDim == 0 && c.Hidden%c.Heads != 0:
		return fmt.Errorf("llama: hidden_size %d must be a positive multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.HeadDim < 0 || c.headDim()%2 != 0:
		return fmt.Errorf("llama: head_dim %d must be positive and even (rotary pairs)", c.headDim())
	case c.PartialRotary < 0 || c.PartialRotary > 1 || c.rotaryDim() < 2 || c.rotaryDim()%2 != 0:
		return fmt.Errorf("llama: partial_rotary_factor %v turns %d values of a head of %d: it must turn a positive even number", c.PartialRotary, c.rotaryDim(), c.headDim())
	case c.PartialRotary > 0 && c.PartialRotary < 1 && c.Type != "phi3":
		return fmt.Errorf("llama: partial_rotary_factor %v is not supported for %s (1; Phi-3's may be less)", c.PartialRotary, c.Type)
	case c.KVHeads < 0 || c.Heads%c.kvHeads() != 0:
		return fmt.Errorf("llama: num_attention_heads %d must be a multiple of num_key_value_heads %d", c.Heads, c.KVHeads)
	case c.Layers <= 0 || c.Intermediate <= 0:
		return fmt.Errorf("llama: num_hidden_layers %d and intermediate_size %d must be positive", c.Layers, c.Intermediate)
	case c.MaxPositions <= 0:
		return fmt.Errorf("llama: max_position_embeddings %d must be positive", c.MaxPositions)
	case c.Act != "silu" && !c.Gemma():
		return fmt.Errorf("llama: hidden_act %q is not silu", c.Act)
	case c.Act != "gelu_pytorch_tanh" && c.Gemma():
		return fmt.Errorf("llama: hidden_activation %q is not gelu_pytorch_tanh", c.Act)
	case c.Gemma() && !(c.QueryPreAttnScalar > 0):
		return fmt.Errorf("llama: query_pre_attn_scalar %v must be positive", c.QueryPreAttnScalar)
	case (c.Gemma() || c.Local != nil) && (len(c.Local) != c.Layers || c.LocalWindow <= 0 && slices.Contains(c.Local, true)):
		return fmt.Errorf("llama: %d layer types for %d layers, sliding_window %d", len(c.Local), c.Layers, c.LocalWindow)
	case c.Type == "gemma3_text" && !(c.RopeLocalTheta > 0):
		return fmt.Errorf("llama: rope_local_base_freq %v must be positive", c.RopeLocalTheta)
	case c.Bidirectional && c.Type != "gemma3_text":
		return fmt.Errorf("llama: a %s model does not attend both ways (EmbeddingGemma's Gemma 3 layers do)", c.Type)
	case c.NoRope != nil && len(c.NoRope) != c.Layers:
		return fmt.Errorf("llama: %d NoPE flags for %d layers", len(c.NoRope), c.Layers)
	// Sliding and NoPE layers where config.json has no place for them would
	// save a model that reads back as another.
	case (c.Type == "mistral" || c.Type == "phi3" || c.Type == "mixtral") && (c.LocalWindow > 0) != slices.Contains(c.Local, true):
		return fmt.Errorf("llama: a %s model's sliding_window %d and its %d sliding layers disagree (every layer slides, or none)", c.Type, c.LocalWindow, len(c.Local))
	case slices.Contains(c.Local, true) && c.Type != "mistral" && c.Type != "phi3" && c.Type != "mixtral" && c.Type != "smollm3" && !c.Gemma() && !c.gptOSS():
		return fmt.Errorf("llama: a %s model has no sliding-window layers (Mistral's, Mixtral's, Phi-3's, Gemma's, SmolLM3's and GPT-OSS's have)", c.Type)
	case slices.Contains(c.NoRope, true) && c.Type != "smollm3":
		return fmt.Errorf("llama: a %s model has no NoPE layers (SmolLM3's have)", c.Type)
	case c.granite() && !(c.EmbeddingMultiplier > 0 && c.AttentionMultiplier > 0 && c.ResidualMultiplier > 0 && c.LogitsScaling > 0):
		return fmt.Errorf("llama: Granite's multipliers must be positive (embedding %v, attention %v, residual %v, logits_scaling %v)", c.EmbeddingMultiplier, c.AttentionMultiplier, c.ResidualMultiplier, c.LogitsScaling)
	case !c.granite() && (c.EmbeddingMultiplier != 0 || c.AttentionMultiplier != 0 || c.ResidualMultiplier != 0 || c.LogitsScaling != 0):
		return fmt.Errorf("llama: embedding, attention and residual multipliers and logits_scaling are Granite's, not %s's", c.Type)
	case c.AttnSoftcap < 0 || c.FinalSoftcap < 0 || c.Type != "gemma2" && (c.AttnSoftcap != 0 || c.FinalSoftcap != 0):
		return fmt.Errorf("llama: softcaps %v and %v (Gemma 2's, positive)", c.AttnSoftcap, c.FinalSoftcap)
	case !(c.Eps > 0) || !(c.RopeTheta > 0):
		return fmt.Errorf("llama: rms_norm_eps %v and rope_theta %v must be positive", c.Eps, c.RopeTheta)
	case c.moe() != (c.Experts > 0) || c.Experts < 0:
		return fmt.Errorf("llama: %d experts in a %s model (the mixtures of experts are Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, Granite's MoEs and GPT-OSS)", c.Experts, c.Type)
	case c.RouterAux < 0 || c.RouterJitter < 0 || !c.moe() && (c.RouterAux != 0 || c.RouterJitter != 0):
		return fmt.Errorf("llama: router_aux_loss_coef %v and router_jitter_noise %v are a mixture of experts', not negative", c.RouterAux, c.RouterJitter)
	case c.moe() && c.MLPBias && !c.gptOSS():
		return fmt.Errorf("llama: a %s model's MLPs have no biases (mlp_bias)", c.Type)
	case c.gptOSS() && !c.MLPBias:
		return errors.New("llama: a GPT-OSS's experts have biases (MLPBias)")
	case c.gptOSS() != (c.SwigluLimit != 0) || c.gptOSS() != (c.SwigluAlpha != 0) || c.SwigluLimit < 0 || c.SwigluAlpha < 0:
		return fmt.Errorf("llama: swiglu_limit %v and swiglu_alpha %v are GPT-OSS's, positive", c.SwigluLimit, c.SwigluAlpha)
	case c.Type == "qwen2_moe" && c.SharedIntermediate <= 0:
		return fmt.Errorf("llama: a Qwen2-MoE's shared expert of %d (shared_expert_intermediate_size) must be positive", c.SharedIntermediate)
	case c.Experts > 0 && (c.ExpertsPerToken < 1 || c.ExpertsPerToken > c.Experts):
		return fmt.Errorf("llama: num_experts_per_tok %d must be 1 to the %d experts", c.ExpertsPerToken, c.Experts)
	case c.Experts > 0 && c.ExpertIntermediate <= 0:
		return fmt.Errorf("llama: the experts' intermediate size %d must be positive", c.ExpertIntermediate)
	case c.Sparse != nil && len(c.Sparse) != c.Layers || slices.Contains(c.Sparse, true) && c.Experts == 0:
		return fmt.Errorf("llama: %d sparse-layer flags for %d layers of %d experts", len(c.Sparse), c.Layers, c.Experts)
	// What a Mixtral's, an OLMoE's or a Granite MoE's config.json has no place for would
	// save a model that reads back as another.
	case c.moe() && !c.qwenMoE() && (slices.Contains(c.Sparse, false) || c.ExpertIntermediate != c.Intermediate):
		return fmt.Errorf("llama: a %s model's layers are all sparse, its experts of intermediate_size %d (got %d)", c.Type, c.Intermediate, c.ExpertIntermediate)
	case (c.Type == "mixtral" || c.granite() && c.Type != "granite" || c.gptOSS()) && !c.NormTopK:
		return fmt.Errorf("llama: a %s model renormalises its chosen experts' weights (NormTopK)", c.Type)
	case c.SharedIntermediate < 0 || c.SharedIntermediate > 0 && c.Type != "granitemoeshared" && c.Type != "qwen2_moe":
		return fmt.Errorf("llama: a shared MLP of %d is GraniteMoeShared's or Qwen2-MoE's, not %s's", c.SharedIntermediate, c.Type)
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
		half := c.rotaryDim() / 2
		switch {
		case s.Type == "longrope" && c.Type != "phi3":
			return fmt.Errorf("llama: rope_scaling type longrope is not supported for %s (Phi-3's)", c.Type)
		case s.Type == "longrope" && (len(s.ShortFactor) != half || len(s.LongFactor) != half):
			return fmt.Errorf("llama: longrope rope_scaling needs %d short_factor and long_factor values, one per rotated pair (got %d and %d)", half, len(s.ShortFactor), len(s.LongFactor))
		case s.Type == "longrope" && (slices.ContainsFunc(s.ShortFactor, func(f float64) bool { return !(f > 0) }) || slices.ContainsFunc(s.LongFactor, func(f float64) bool { return !(f > 0) })):
			return errors.New("llama: longrope rope_scaling factors must be positive")
		case s.Type == "longrope" && (s.AttentionFactor < 0 || c.ropeOriginal() <= 1):
			return fmt.Errorf("llama: longrope rope_scaling needs attention_factor >= 0 and an original context of more than 1 position (got %v, %d)", s.AttentionFactor, c.ropeOriginal())
		case s.Type == "longrope":
		case s.Type == "yarn" && !c.gptOSS():
			return fmt.Errorf("llama: rope_scaling type %q is not supported for %s (GPT-OSS's only)", s.Type, c.Type)
		case s.Type == "yarn" && (s.Mscale != 0 || s.MscaleAllDim != 0):
			return fmt.Errorf("llama: yarn rope_scaling's mscale %v and mscale_all_dim %v (DeepSeek's) are not supported", s.Mscale, s.MscaleAllDim)
		case s.Type == "yarn" && (s.BetaFast < 0 || s.BetaSlow < 0 || s.AttentionFactor < 0 || s.Original < 0):
			return fmt.Errorf("llama: yarn rope_scaling's beta_fast %v, beta_slow %v, attention_factor %v and original_max_position_embeddings %d must not be negative", s.BetaFast, s.BetaSlow, s.AttentionFactor, s.Original)
		case s.Type != "linear" && s.Type != "llama3" && s.Type != "yarn":
			return fmt.Errorf("llama: rope_scaling type %q is not supported (linear, llama3, Phi-3's longrope or GPT-OSS's yarn)", s.Type)
		case !(s.Factor > 0):
			return fmt.Errorf("llama: rope_scaling factor %v must be positive", s.Factor)
		case s.Type == "llama3" && (s.Original <= 0 || !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor)):
			return fmt.Errorf("llama: llama3 rope_scaling needs original_max_position_embeddings > 0 and 0 < low_freq_factor < high_freq_factor (got %d, %v, %v)", s.Original, s.LowFreqFactor, s.HighFreqFactor)
		}
	}
	return nil
}

// invFreqLocal returns the rotary frequencies of Gemma's local layers
// (rope_local_base_freq, unscaled).
func (c Config) invFreqLocal() []float32 {
	return Config{HeadDim: c.headDim(), RopeTheta: c.RopeLocalTheta}.invFreq()
}

// invFreq returns the rotary frequencies of the rotated pairs (rotaryDim/2
// of them), 1/θ^(2i/d), scaled as RopeScaling says (LongRoPE's by its short
// factors), rounded as HF's float32 tensors round them (the exponent, the
// power and the reciprocal each to float32).
func (c Config) invFreq() []float32 { return c.invFreqOf(false) }

// invFreqLong returns LongRoPE's frequencies past the original context
// (by its long factors), or nil.
func (c Config) invFreqLong() []float32 {
	if !c.longRope() {
		return nil
	}
	return c.invFreqOf(true)
}

func (c Config) invFreqOf(long bool) []float32 {
	d := c.rotaryDim()
	f := autograd.RotaryFreqs(c.RopeTheta, d)
	s := c.RopeScaling
	if s == nil {
		return f
	}
	if s.Type == "longrope" { // HF: 1 / (ext_factors · θ^(2i/d)), in float32
		ext := s.ShortFactor
		if long {
			ext = s.LongFactor
		}
		for i := range f {
			f[i] = 1 / (float32(ext[i]) * float32(math.Pow(c.RopeTheta, float64(float32(2*i)/float32(d)))))
		}
		return f
	}
	if s.Type == "yarn" {
		return c.yarnFreqs(f)
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

// yarnFreqs returns YaRN's blend of the frequencies f (unscaled) and f
// divided by the factor, in float32 as HF's _compute_yarn_parameters
// computes it: the pairs from low to high (the dimensions that turn
// beta_fast and beta_slow times over the original context) ramp linearly
// from kept to interpolated. The factor is rope_scaling's; some
// transformers versions take max_position_embeddings over the original
// context instead, which differs only where a config.json's two disagree
// (the released GPT-OSS's agree).
func (c Config) yarnFreqs(f []float32) []float32 {
	s, d := c.RopeScaling, float64(c.rotaryDim())
	fast, slow := cmp.Or(s.BetaFast, 32), cmp.Or(s.BetaSlow, 1)
	orig := float64(cmp.Or(s.Original, c.MaxPositions))
	dim := func(turns float64) float64 { // the dimension turning so many times over the original context
		return d * math.Log(orig/(turns*2*math.Pi)) / (2 * math.Log(c.RopeTheta))
	}
	low, high := dim(fast), dim(slow)
	if s.Truncate == nil || *s.Truncate {
		low, high = math.Floor(low), math.Ceil(high)
	}
	low, high = max(low, 0), min(high, d-1)
	if low == high {
		high += 0.001 // HF's guard against a zero-width ramp
	}
	out := make([]float32, len(f))
	for i := range f {
		pos := float32(math.Pow(c.RopeTheta, float64(float32(2*i)/float32(d)))) // θ^(2i/d)
		ramp := min(max((float32(i)-float32(low))/float32(high-low), 0), 1)
		keep := 1 - ramp                                                           // the part of the unscaled frequency
		out[i] = float32(1/(float32(s.Factor)*pos)*(1-keep)) + float32(1/pos*keep) // each product rounded, not fused
	}
	return out
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
	// partial_rotary_factor (Config.PartialRotary, Phi-3's only) and
	// Phi-3's original context (Config.OriginalMaxPositions).
	PartialRotaryFactor *float64 `json:"partial_rotary_factor,omitempty"`
	OriginalContext     *int     `json:"original_max_position_embeddings,omitempty"`
	// RopeParameters is where configs saved by transformers 5 keep
	// rope_theta and the scaling.
	RopeParameters *ropeParameters `json:"rope_parameters,omitempty"`
	// SmolLM3's: its NoPE layers, given or every no_rope_layer_interval-th.
	NoRopeLayers []int `json:"no_rope_layers,omitempty"`
	NoRopeEvery  *int  `json:"no_rope_layer_interval,omitempty"`
	// Gemma's: its activation's name, Gemma 3's layers' pattern when
	// layer_types is missing (every sliding_window_pattern-th layer is
	// global), Gemma 2's softcaps, and an encoder's setting, not built.
	HiddenActivation json.RawMessage `json:"hidden_activation,omitempty"`
	// transformers reads sliding_window_pattern only, never the
	// _sliding_window_pattern that 4.53 and later save beside layer_types.
	WindowPattern *int            `json:"sliding_window_pattern,omitempty"`
	AttnSoftcap   json.RawMessage `json:"attn_logit_softcapping,omitempty"`
	FinalSoftcap  json.RawMessage `json:"final_logit_softcapping,omitempty"`
	Bidirectional bool            `json:"use_bidirectional_attention,omitempty"`
	// A mixture of experts' (see Config.Experts): Mixtral counts its
	// experts in num_local_experts, the others in num_experts; Qwen3-MoE's
	// dense layers are mlp_only_layers' and those whose number (from 1) is
	// not a multiple of decoder_sparse_step. OLMoE's clip_qkv (clamping q,
	// k and v) is not built.
	NumLocalExperts   *int            `json:"num_local_experts,omitempty"`
	NumExperts        *int            `json:"num_experts,omitempty"`
	NumExpertsPerTok  *int            `json:"num_experts_per_tok,omitempty"`
	MoEIntermediate   *int            `json:"moe_intermediate_size,omitempty"`
	NormTopKProb      *bool           `json:"norm_topk_prob,omitempty"`
	DecoderSparseStep *int            `json:"decoder_sparse_step,omitempty"`
	MLPOnlyLayers     []int           `json:"mlp_only_layers,omitempty"`
	ClipQKV           json.RawMessage `json:"clip_qkv,omitempty"`
	// GraniteMoeShared's shared MLP (Config.SharedIntermediate).
	SharedIntermediate *int `json:"shared_intermediate_size,omitempty"`
	// Qwen2-MoE's biases on q, k and v (always, before the key), and its
	// shared expert (Config.SharedIntermediate).
	QKVBias                  *bool `json:"qkv_bias,omitempty"`
	SharedExpertIntermediate *int  `json:"shared_expert_intermediate_size,omitempty"`
	// What HF's training adds to a mixture of experts (see
	// Config.RouterAux).
	OutputRouterLogits *bool    `json:"output_router_logits,omitempty"`
	RouterAuxCoef      *float64 `json:"router_aux_loss_coef,omitempty"`
	RouterJitter       *float64 `json:"router_jitter_noise,omitempty"`
}

// moeConfig reads a mixture of experts' keys (see Config.Experts) into c;
// mlp_bias, which no such class reads (their MLPs have no biases, GPT-OSS's
// experts always have), is ignored.
// The count of experts is num_local_experts or num_experts in Mixtral,
// OLMoE and the Qwen MoEs (each HF config class maps the other name onto
// its own, and transformers 5 saves Qwen3-MoE's as num_local_experts);
// Granite's is num_local_experts only.
func moeConfig(h *hfConfig, c *Config) error {
	c.MLPBias = c.gptOSS() // GPT-OSS's experts have biases
	n, l := h.NumExperts, h.NumLocalExperts
	if c.granite() {
		n = nil
	}
	switch {
	case n != nil && l != nil && *n != *l:
		return fmt.Errorf("llama: num_experts %d and num_local_experts %d disagree", *n, *l)
	case n != nil:
		c.Experts = *n
	case l != nil:
		c.Experts = *l
	}
	if h.NumExpertsPerTok != nil {
		c.ExpertsPerToken = *h.NumExpertsPerTok
	}
	if !c.qwenMoE() {
		c.ExpertIntermediate = c.Intermediate
	}
	step := 1
	var dense []int
	switch {
	case c.qwenMoE(): // only their decoder layers read these
		if c.Type == "qwen2_moe" && h.QKVBias != nil && !*h.QKVBias {
			return errors.New("llama: a Qwen2-MoE's qkv_bias false (no biases on q, k and v) is not supported")
		}
		if h.MoEIntermediate != nil {
			c.ExpertIntermediate = *h.MoEIntermediate
		}
		if h.DecoderSparseStep != nil {
			step = *h.DecoderSparseStep
		}
		dense = h.MLPOnlyLayers
		if h.UseSlidingWindow {
			return fmt.Errorf("llama: a %s model's use_sliding_window true (sliding-window attention) is not supported", c.Type)
		}
	case c.Type == "olmoe":
		if clip := bytes.TrimSpace(h.ClipQKV); len(clip) > 0 && string(clip) != "null" {
			return fmt.Errorf("llama: clip_qkv %s (clamping q, k and v) is not supported", clip)
		}
	}
	if h.NormTopKProb != nil && c.Type != "mixtral" && !c.granite() && !c.gptOSS() { // Mixtral's, Granite's and GPT-OSS's always renormalise
		c.NormTopK = *h.NormTopKProb
	}
	if h.SharedIntermediate != nil && c.Type == "granitemoeshared" {
		c.SharedIntermediate = *h.SharedIntermediate
	}
	if h.SharedExpertIntermediate != nil && c.Type == "qwen2_moe" {
		c.SharedIntermediate = *h.SharedExpertIntermediate
	}
	if step <= 0 {
		return fmt.Errorf("llama: decoder_sparse_step %d must be positive", step)
	}
	c.Sparse = make([]bool, c.Layers)
	for l := range c.Sparse {
		c.Sparse[l] = c.Experts > 0 && (l+1)%step == 0 && !slices.Contains(dense, l)
	}
	if h.OutputRouterLogits != nil && *h.OutputRouterLogits {
		c.RouterAux = 0.001 // the classes' default, but OlmoeConfig's
		if c.Type == "olmoe" {
			c.RouterAux = 0.01
		}
		if h.RouterAuxCoef != nil {
			c.RouterAux = *h.RouterAuxCoef
		}
	}
	if h.RouterJitter != nil {
		c.RouterJitter = *h.RouterJitter
	}
	return nil
}

// ropeParameters is transformers 5's rope_parameters.
type ropeParameters struct {
	Theta         *float64 `json:"rope_theta"`
	Type          string   `json:"rope_type"`
	OldType       string   `json:"type"` // an older spelling
	PartialRotary *float64 `json:"partial_rotary_factor"`
	RopeScaling
}

// Types lists the model_type values of the configs this package runs. Load
// also reads a "gemma3" (image-text) folder, as its "gemma3_text" text model.
var Types = []string{"llama", "qwen2", "qwen3", "mistral", "gemma2", "gemma3_text", "smollm3", "phi3", "granite", "olmo2", "mixtral", "qwen3_moe", "olmoe", "granitemoe", "granitemoeshared", "qwen2_moe", "gpt_oss"}

// moe reports whether c's type is a mixture of experts.
func (c Config) moe() bool {
	switch c.Type {
	case "mixtral", "qwen3_moe", "olmoe", "granitemoe", "granitemoeshared", "qwen2_moe", "gpt_oss":
		return true
	}
	return false
}

// qwenMoE reports whether c is a Qwen2-MoE or a Qwen3-MoE, whose config
// can keep some layers dense (mlp_only_layers, decoder_sparse_step) and
// gives the experts a width of their own (moe_intermediate_size).
func (c Config) qwenMoE() bool { return c.Type == "qwen3_moe" || c.Type == "qwen2_moe" }

// granite reports whether c is one of IBM's Granite 3 models, dense or
// mixtures of experts, with Granite's multipliers.
func (c Config) granite() bool {
	return c.Type == "granite" || c.Type == "granitemoe" || c.Type == "granitemoeshared"
}

// defaults returns LlamaConfig's, Qwen2Config's, Qwen3Config's,
// MistralConfig's, Gemma2Config's, Gemma3TextConfig's, SmolLM3Config's,
// Phi3Config's, GraniteConfig's, Olmo2Config's, MixtralConfig's,
// Qwen3MoeConfig's, OlmoeConfig's, GraniteMoeConfig's,
// GraniteMoeSharedConfig's or Qwen2MoeConfig's defaults.
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
		c.Intermediate, c.KVHeads, c.MaxPositions = 14336, 8, 4096*32
	case "phi3":
		c.VocabSize, c.Hidden, c.Intermediate, c.Eps, c.MaxPositions = 32064, 3072, 8192, 1e-5, 4096
		c.OriginalMaxPositions, c.EOS = 4096, []int{32000}
	case "granite", "granitemoe", "granitemoeshared": // GraniteConfig's: Llama's, its multipliers 1
		c.EmbeddingMultiplier, c.AttentionMultiplier, c.ResidualMultiplier, c.LogitsScaling = 1, 1, 1, 1
		if typ != "granite" {
			c.Experts, c.ExpertsPerToken, c.ExpertIntermediate, c.NormTopK = 8, 2, c.Intermediate, true
		}
	case "olmo2":
		c.VocabSize, c.Eps, c.EOS, c.HasBOS = 50304, 1e-5, []int{50279}, false
	case "mixtral":
		c.Intermediate, c.KVHeads, c.MaxPositions, c.Eps, c.RopeTheta = 14336, 8, 4096*32, 1e-5, 1e6
		c.Experts, c.ExpertsPerToken, c.ExpertIntermediate, c.NormTopK = 8, 2, 14336, true
	case "qwen3_moe":
		c.VocabSize, c.Hidden, c.Intermediate, c.Layers, c.KVHeads, c.MaxPositions, c.EOS, c.HasBOS = 151936, 2048, 6144, 24, 4, 32768, nil, false
		c.Experts, c.ExpertsPerToken, c.ExpertIntermediate = 128, 8, 768
	case "qwen2_moe":
		c.VocabSize, c.Hidden, c.Intermediate, c.Layers, c.Heads, c.KVHeads, c.MaxPositions, c.EOS, c.HasBOS = 151936, 2048, 5632, 24, 16, 16, 32768, nil, false
		c.Experts, c.ExpertsPerToken, c.ExpertIntermediate, c.SharedIntermediate = 60, 4, 1408, 5632
	case "olmoe":
		c.VocabSize, c.Hidden, c.Intermediate, c.Layers, c.Heads, c.MaxPositions = 50304, 2048, 2048, 16, 16, 4096
		c.Eps, c.EOS, c.HasBOS, c.Experts, c.ExpertsPerToken, c.ExpertIntermediate = 1e-5, []int{50279}, false, 64, 8, 2048
	case "gemma3_text":
		c.VocabSize, c.Hidden, c.Intermediate, c.Layers, c.Heads, c.KVHeads, c.HeadDim = 262208, 2304, 9216, 26, 8, 4, 256
		c.Act, c.MaxPositions, c.RopeTheta, c.EOS, c.BOS, c.Tied = "gelu_pytorch_tanh", 131072, 1e6, []int{1}, 2, true
		c.QueryPreAttnScalar, c.RopeLocalTheta, c.LocalWindow = 256, 10000, 4096
	case "smollm3":
		c.VocabSize, c.Hidden, c.Intermediate, c.Layers, c.Heads, c.KVHeads = 128256, 2048, 11008, 36, 16, 4
		c.MaxPositions, c.RopeTheta, c.EOS, c.BOS, c.Tied = 32768, 2e6, []int{128001}, 128000, true
	case "gpt_oss": // GptOssConfig's (its rope_scaling: see UnmarshalJSON)
		c.VocabSize, c.Hidden, c.Intermediate, c.Layers, c.Heads, c.KVHeads, c.HeadDim = 201088, 2880, 2880, 36, 64, 8, 64
		c.MaxPositions, c.Eps, c.RopeTheta, c.EOS, c.HasBOS, c.AttentionBias = 131072, 1e-5, 150000, nil, false, true
		c.Experts, c.ExpertsPerToken, c.ExpertIntermediate, c.NormTopK = 128, 4, 2880, true
		c.LocalWindow, c.SwigluLimit, c.SwigluAlpha = 128, 7, 1.702
	case "gemma2":
		c.VocabSize, c.Hidden, c.Intermediate, c.Layers, c.Heads, c.KVHeads, c.HeadDim = 256000, 2304, 9216, 26, 8, 4, 256
		c.Act, c.MaxPositions, c.EOS, c.BOS, c.Tied = "gelu_pytorch_tanh", 8192, []int{1}, 2, true
		c.QueryPreAttnScalar, c.LocalWindow, c.AttnSoftcap, c.FinalSoftcap = 256, 4096, 50, 30
	}
	return c
}

// UnmarshalJSON reads HF's LlamaConfig, Qwen2Config, Qwen3Config,
// MistralConfig, Gemma2Config, Gemma3TextConfig, SmolLM3Config,
// Phi3Config, GraniteConfig, Olmo2Config, MixtralConfig, Qwen3MoeConfig,
// OlmoeConfig, GraniteMoeConfig, GraniteMoeSharedConfig, Qwen2MoeConfig,
// or a Gemma3Config's text_config; a missing key takes the
// class's default, as HF does, and unknown keys are ignored. Settings that
// change the computation and are not built (another activation, an unknown
// rope scaling, Qwen2's sliding window, partial rotary but in a Phi-3,
// softcaps in a Gemma 3) are errors. A Phi-3's sliding_window of
// max_position_embeddings or more (Phi-3.5's 262,144) is none: no key is
// that far back.
func (c *Config) UnmarshalJSON(b []byte) error {
	var peek hfConfig
	if err := json.Unmarshal(b, &peek); err != nil {
		return err
	}
	if peek.ModelType == "gemma3" {
		return c.unmarshalImageText(b)
	}
	if !slices.Contains(Types, peek.ModelType) {
		return fmt.Errorf("llama: model_type %q is not one of %v or gemma3", peek.ModelType, Types)
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
	if rp := v.RopeParameters; rp != nil && peek.ModelType != "gemma3_text" { // transformers 5
		if rp.Theta != nil {
			v.RopeTheta = *rp.Theta
		}
		s := rp.RopeScaling
		s.Type = cmp.Or(rp.Type, rp.OldType)
		v.RopeScaling = &s
		if rp.PartialRotary != nil {
			v.PartialRotaryFactor = rp.PartialRotary
		}
	}
	if s := v.RopeScaling; s != nil && (s.Type == "default" || s.Type == "") {
		v.RopeScaling = nil
	}
	if peek.ModelType == "smollm3" {
		if err := smolConfig(&v.hfConfig, (*Config)(&v.plain)); err != nil {
			return err
		}
	}
	switch {
	case v.UseSlidingWindow && (v.MaxWindowLayers == nil || *v.MaxWindowLayers < v.Layers || slices.Contains(v.LayerTypes, "sliding_attention")):
		return errors.New("llama: use_sliding_window true (sliding-window attention in some layers) is not supported")
	}
	if f := v.PartialRotaryFactor; f != nil && *f != 1 {
		if peek.ModelType != "phi3" {
			return fmt.Errorf("llama: partial_rotary_factor %v is not supported for %s (1; Phi-3's may be less)", *f, peek.ModelType)
		}
		v.plain.PartialRotary = *f
	}
	if !(*Config)(&v.plain).granite() { // Granite's keys, which other classes ignore
		v.EmbeddingMultiplier, v.AttentionMultiplier, v.ResidualMultiplier, v.LogitsScaling = 0, 0, 0, 0
	}
	switch peek.ModelType {
	case "qwen2", "qwen2_moe": // Qwen2's biases are fixed: q, k and v have them
		v.AttentionBias, v.MLPBias = false, false
	case "qwen3": // Qwen3's MLP has none
		v.MLPBias = false
	case "olmo2": // OLMo 2's MLP has none
		v.MLPBias = false
	case "mistral", "phi3", "mixtral": // their layers have no biases, and all slide or none
		v.AttentionBias, v.MLPBias = false, false
		def := 0 // Phi3Config's and MixtralConfig's
		if peek.ModelType == "mistral" {
			def = 4096 // MistralConfig's
		}
		window, err := windowOf(v.Window, def)
		if err != nil {
			return err
		}
		if peek.ModelType == "phi3" {
			if o := v.OriginalContext; o != nil {
				v.plain.OriginalMaxPositions = *o
			}
			if s := v.RopeScaling; s != nil && (s.Type == "su" || s.Type == "yarn") { // Phi3Config reads both as longrope
				s.Type = "longrope"
			}
			if window >= v.MaxPositions { // Phi-3.5's 262,144: no position is that far back
				window = 0
			}
		}
		v.Local, v.LocalWindow = nil, window
		if window > 0 { // every layer
			v.Local = make([]bool, v.Layers)
			for i := range v.Local {
				v.Local[i] = true
			}
		}
	case "gemma2", "gemma3_text":
		v.plain.Type = peek.ModelType
		if err := gemmaConfig(b, &v.hfConfig, (*Config)(&v.plain)); err != nil {
			return err
		}
	case "gpt_oss":
		if err := gptOSSConfig(b, &v.hfConfig, (*Config)(&v.plain)); err != nil {
			return err
		}
	}
	if (*Config)(&v.plain).moe() {
		if err := moeConfig(&v.hfConfig, (*Config)(&v.plain)); err != nil {
			return err
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

// layerTypes writes Local as layer_types.
func (c Config) layerTypes() []string {
	types := make([]string, len(c.Local))
	for i, local := range c.Local {
		types[i] = map[bool]string{true: "sliding_attention", false: "full_attention"}[local]
	}
	return types
}

// localLayers reads layer_types: true for each "sliding_attention" layer.
func localLayers(types []string, layers int) ([]bool, error) {
	if len(types) != layers {
		return nil, fmt.Errorf("llama: %d layer_types for %d layers", len(types), layers)
	}
	local := make([]bool, layers)
	for i, t := range types {
		if t != "sliding_attention" && t != "full_attention" {
			return nil, fmt.Errorf("llama: layer_types[%d] %q is not sliding_attention or full_attention", i, t)
		}
		local[i] = t == "sliding_attention"
	}
	return local, nil
}

// windowOf reads a sliding_window: def when the key is missing, 0 (none)
// when null, else a number of positions.
func windowOf(raw json.RawMessage, def int) (int, error) {
	w := bytes.TrimSpace(raw)
	if len(w) == 0 {
		return def, nil
	}
	window := 0
	if string(w) != "null" && (json.Unmarshal(w, &window) != nil || window < 0) {
		return 0, fmt.Errorf("llama: sliding_window %s is not a number of positions", w)
	}
	return window, nil
}

// windowJSON writes a sliding_window as windowOf reads it: null for none.
func windowJSON(window int) json.RawMessage {
	if window == 0 {
		return json.RawMessage("null")
	}
	b, _ := json.Marshal(window)
	return b
}

// gptOSSConfig reads a GptOssConfig's sliding layers (layer_types, or
// every other layer from the first) and window, and gives it the class's
// YaRN scaling when config.json has neither rope_scaling nor
// rope_parameters.
func gptOSSConfig(b []byte, h *hfConfig, c *Config) error {
	window, err := windowOf(h.Window, c.LocalWindow) // the class's
	if err != nil {
		return err
	}
	types := h.LayerTypes
	if types == nil {
		for l := range c.Layers {
			types = append(types, map[bool]string{true: "sliding_attention", false: "full_attention"}[l%2 == 0])
		}
	}
	local, err := localLayers(types, c.Layers)
	if err != nil {
		return err
	}
	c.Local, c.LocalWindow = local, window
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	_, scaling := keys["rope_scaling"]
	_, params := keys["rope_parameters"]
	if !scaling && !params {
		no := false
		c.RopeScaling = &RopeScaling{Type: "yarn", Factor: 32, BetaFast: 32, BetaSlow: 1, Truncate: &no, Original: 4096}
	}
	return nil
}

// smolConfig reads a SmolLM3Config's NoPE layers, and its sliding window,
// from h into c.
func smolConfig(h *hfConfig, c *Config) error {
	c.NoRope = make([]bool, c.Layers)
	switch {
	case h.NoRopeLayers != nil:
		if len(h.NoRopeLayers) < c.Layers {
			return fmt.Errorf("llama: %d no_rope_layers for %d layers", len(h.NoRopeLayers), c.Layers)
		}
		for i := range c.NoRope {
			c.NoRope[i] = h.NoRopeLayers[i] == 0
		}
	default:
		every := 4
		if h.NoRopeEvery != nil {
			every = *h.NoRopeEvery
		}
		if every <= 0 {
			return fmt.Errorf("llama: no_rope_layer_interval %d must be positive", every)
		}
		for i := range c.NoRope {
			c.NoRope[i] = (i+1)%every == 0
		}
	}
	w := bytes.TrimSpace(h.Window)
	var window int
	hasWindow := len(w) > 0 && string(w) != "null"
	if hasWindow && json.Unmarshal(w, &window) != nil {
		return fmt.Errorf("llama: sliding_window %s is not a number of positions", w)
	}
	// The layers that slide are layer_types' "sliding_attention" ones when
	// the config has layer_types (transformers saves them), else those
	// SmolLM3Config marks so: the NoPE layers, when use_sliding_window and
	// sliding_window is not null. layer_types decides alone: transformers
	// builds the sliding-window mask for the layers it marks whatever
	// use_sliding_window says (eager, SDPA and flex attention follow the
	// mask; only the flash-attention path also asks use_sliding_window),
	// and fails when such a layer has no sliding_window.
	local := make([]bool, c.Layers)
	switch {
	case len(h.LayerTypes) > 0:
		var err error
		if local, err = localLayers(h.LayerTypes, c.Layers); err != nil {
			return err
		}
	case h.UseSlidingWindow && hasWindow:
		copy(local, c.NoRope)
	}
	if slices.Contains(local, true) {
		if window <= 0 {
			return fmt.Errorf("llama: sliding_attention layers need a positive sliding_window (got %s)", cmp.Or(string(w), "none"))
		}
		c.Local, c.LocalWindow = local, window
	}
	h.UseSlidingWindow = false // read here: not Qwen2's refusal
	return nil
}

// unmarshalImageText reads a Gemma3Config: its text_config, a
// Gemma3TextConfig, is the model (Gemma 3 4B, 12B, 27B). The outer
// config's eos_token_id and bos_token_id, when not null, win over
// text_config's (Gemma 3 4B-it keeps [1, 106] there), as transformers'
// GenerationConfig.from_model_config takes them.
func (c *Config) unmarshalImageText(b []byte) error {
	var outer struct {
		Text map[string]json.RawMessage `json:"text_config"`
		EOS  json.RawMessage            `json:"eos_token_id"`
		BOS  json.RawMessage            `json:"bos_token_id"`
	}
	if err := json.Unmarshal(b, &outer); err != nil {
		return err
	}
	if outer.Text == nil {
		outer.Text = map[string]json.RawMessage{}
	}
	outer.Text["model_type"] = json.RawMessage(`"gemma3_text"`)
	for name, raw := range map[string]json.RawMessage{"eos_token_id": outer.EOS, "bos_token_id": outer.BOS} {
		if r := bytes.TrimSpace(raw); len(r) > 0 && string(r) != "null" {
			if _, err := tokenIDs(r); err != nil {
				return fmt.Errorf("llama: %s %s is not an id or a list of ids", name, r)
			}
			outer.Text[name] = r
		}
	}
	text, _ := json.Marshal(outer.Text)
	if err := c.UnmarshalJSON(text); err != nil {
		return fmt.Errorf("%w (in text_config)", err)
	}
	c.ImageText = true
	return nil
}

// gemmaConfig reads the settings of a Gemma2Config or Gemma3TextConfig (b)
// that are not plain Config fields, from h into c.
func gemmaConfig(b []byte, h *hfConfig, c *Config) error {
	isNull := func(r json.RawMessage) bool { r = bytes.TrimSpace(r); return len(r) == 0 || string(r) == "null" }
	gemma2 := c.Type == "gemma2"
	switch {
	case !gemma2 && (!isNull(h.AttnSoftcap) || !isNull(h.FinalSoftcap)):
		return fmt.Errorf("llama: attn_logit_softcapping %s and final_logit_softcapping %s (Gemma 2's) are not supported: Gemma 3 has none", h.AttnSoftcap, h.FinalSoftcap)
	case gemma2 && h.Bidirectional:
		return errors.New("llama: use_bidirectional_attention true is not supported for gemma2 (Gemma 3's, EmbeddingGemma's)")
	}
	c.MLPBias = false // Gemma's MLP has no biases
	// Gemma 2's softcaps: null is none, a missing key Gemma2Config's default.
	if gemma2 {
		for _, sc := range []struct {
			raw json.RawMessage
			to  *float64
			key string
		}{{h.AttnSoftcap, &c.AttnSoftcap, "attn_logit_softcapping"}, {h.FinalSoftcap, &c.FinalSoftcap, "final_logit_softcapping"}} {
			switch r := bytes.TrimSpace(sc.raw); {
			case len(r) == 0:
			case string(r) == "null":
				*sc.to = 0
			case json.Unmarshal(r, sc.to) != nil || !(*sc.to > 0):
				return fmt.Errorf("llama: %s %s is not a positive number", sc.key, r)
			}
		}
	}
	// Gemma2MLP and Gemma3MLP read hidden_activation only: a hidden_act key
	// (Gemma 1's configs had one) is not their configs' and changes nothing.
	c.Act = defaults("gemma3_text").Act
	if !isNull(h.HiddenActivation) && json.Unmarshal(h.HiddenActivation, &c.Act) != nil {
		return fmt.Errorf("llama: hidden_activation %s is not a name", h.HiddenActivation)
	}
	if w := bytes.TrimSpace(h.Window); len(w) > 0 {
		c.LocalWindow = 0
		if string(w) != "null" && json.Unmarshal(w, &c.LocalWindow) != nil {
			return fmt.Errorf("llama: sliding_window %s is not a number of positions", w)
		}
	}
	if h.Bidirectional { // Gemma3TextConfig: "due to fa we set exclusive bounds"
		if c.LocalWindow <= 0 {
			return fmt.Errorf("llama: use_bidirectional_attention needs a positive sliding_window (got %s)", cmp.Or(string(bytes.TrimSpace(h.Window)), "none"))
		}
		c.Bidirectional, c.LocalWindow = true, c.LocalWindow/2+1
	}
	c.Local = make([]bool, c.Layers)
	switch {
	case len(h.LayerTypes) > 0:
		var err error
		if c.Local, err = localLayers(h.LayerTypes, c.Layers); err != nil {
			return err
		}
	case gemma2: // Gemma2Config's: the even layers local, the odd global
		for i := range c.Local {
			c.Local[i] = i%2 == 0
		}
	default: // Gemma3TextConfig's: every sliding_window_pattern-th layer global
		pattern := 6
		if p := h.WindowPattern; p != nil {
			pattern = *p
		}
		if pattern <= 0 {
			return fmt.Errorf("llama: sliding_window_pattern %d must be positive", pattern)
		}
		for i := range c.Local {
			c.Local[i] = (i+1)%pattern != 0
		}
	}
	// transformers 5 keeps the rotary settings per layer type.
	var raw struct {
		RopeParameters map[string]*ropeParameters `json:"rope_parameters"`
	}
	if json.Unmarshal(b, &raw) == nil && raw.RopeParameters != nil {
		if g := raw.RopeParameters["full_attention"]; g != nil {
			if g.Theta != nil {
				c.RopeTheta = *g.Theta
			}
			s := g.RopeScaling
			s.Type = cmp.Or(g.Type, g.OldType)
			c.RopeScaling = &s
			if s.Type == "default" || s.Type == "" {
				c.RopeScaling = nil
			}
		}
		if l := raw.RopeParameters["sliding_attention"]; l != nil {
			if t := cmp.Or(l.Type, l.OldType); t != "" && t != "default" {
				return fmt.Errorf("llama: rope_parameters of the sliding_attention layers: rope_type %q is not supported (default)", t)
			}
			if l.Theta != nil {
				c.RopeLocalTheta = *l.Theta
			}
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

// MarshalJSON writes c as HF's LlamaConfig, Qwen2Config, Qwen3Config,
// MistralConfig, Gemma2Config, Gemma3TextConfig (an image-text model's text
// model too), SmolLM3Config, Phi3Config, GraniteConfig, Olmo2Config or a
// mixture of experts' config (see moe).
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	arch := map[string]string{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "mistral": "MistralForCausalLM",
		"gemma2": "Gemma2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM", "smollm3": "SmolLM3ForCausalLM", "phi3": "Phi3ForCausalLM", "granite": "GraniteForCausalLM", "olmo2": "Olmo2ForCausalLM",
		"mixtral": "MixtralForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM", "olmoe": "OlmoeForCausalLM",
		"granitemoe": "GraniteMoeForCausalLM", "granitemoeshared": "GraniteMoeSharedForCausalLM", "qwen2_moe": "Qwen2MoeForCausalLM",
		"gpt_oss": "GptOssForCausalLM"}[c.Type]
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
	if c.Type == "mistral" || c.Type == "phi3" || c.Type == "mixtral" { // a missing key would mean 4096 (Mistral)
		h.Window = windowJSON(c.LocalWindow)
	}
	if c.moe() {
		n, k := c.Experts, c.ExpertsPerToken
		h.NumExpertsPerTok = &k
		if c.RouterAux != 0 {
			on := true
			h.OutputRouterLogits, h.RouterAuxCoef = &on, &c.RouterAux
		}
		if c.RouterJitter != 0 {
			h.RouterJitter = &c.RouterJitter
		}
		if c.Type == "mixtral" || c.granite() || c.gptOSS() {
			h.NumLocalExperts = &n
			if c.Type == "granitemoeshared" {
				h.SharedIntermediate = &c.SharedIntermediate
			}
		} else {
			h.NumExperts, h.NormTopKProb = &n, &c.NormTopK
		}
		if c.Type == "qwen2_moe" {
			h.SharedExpertIntermediate = &c.SharedIntermediate
		}
		if c.qwenMoE() {
			step := 1
			h.MoEIntermediate, h.DecoderSparseStep = &c.ExpertIntermediate, &step
			for l := range c.Layers {
				if !c.sparse(l) {
					h.MLPOnlyLayers = append(h.MLPOnlyLayers, l)
				}
			}
		}
	}
	if c.Type == "phi3" {
		orig, factor := c.ropeOriginal(), cmp.Or(c.PartialRotary, 1)
		h.OriginalContext, h.PartialRotaryFactor = &orig, &factor
	}
	if c.Type == "smollm3" {
		// Every layer's flag, and the sliding layers only when there are
		// some: a missing no_rope_layers means every fourth layer, and
		// use_sliding_window without layer_types the NoPE ones.
		for l := range c.Layers {
			h.NoRopeLayers = append(h.NoRopeLayers, map[bool]int{true: 0, false: 1}[c.noRope(l)])
		}
		if slices.Contains(c.Local, true) {
			h.UseSlidingWindow = true
			h.Window, _ = json.Marshal(c.LocalWindow)
			h.LayerTypes = c.layerTypes()
		}
	}
	if c.gptOSS() {
		h.Window = windowJSON(c.LocalWindow)
		h.LayerTypes = c.layerTypes()
		if c.Local == nil {
			h.LayerTypes = slices.Repeat([]string{"full_attention"}, c.Layers)
		}
	}
	if c.Gemma() {
		h.Window, _ = json.Marshal(c.LocalWindow)
		if c.Bidirectional { // read back as LocalWindow: sliding_window/2 + 1
			h.Bidirectional = true
			h.Window, _ = json.Marshal(2 * (c.LocalWindow - 1))
		}
		h.HiddenActivation, _ = json.Marshal(c.Act)
		h.LayerTypes = c.layerTypes()
		cap := func(x float64) json.RawMessage {
			if x == 0 {
				return json.RawMessage("null")
			}
			b, _ := json.Marshal(x)
			return b
		}
		h.AttnSoftcap, h.FinalSoftcap = cap(c.AttnSoftcap), cap(c.FinalSoftcap)
	}
	b, err := json.Marshal(struct {
		hfConfig
		plain
	}{h, p})
	if err != nil || !c.longRope() {
		return b, err
	}
	// Phi3Config (transformers 4.4x) takes a rope_scaling of exactly type,
	// short_factor and long_factor.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, err
	}
	s := c.RopeScaling
	keys["rope_scaling"], _ = json.Marshal(struct {
		Type            string    `json:"type"`
		ShortFactor     []float64 `json:"short_factor"`
		LongFactor      []float64 `json:"long_factor"`
		AttentionFactor float64   `json:"attention_factor,omitempty"`
	}{"longrope", s.ShortFactor, s.LongFactor, s.AttentionFactor})
	return json.Marshal(keys)
}
