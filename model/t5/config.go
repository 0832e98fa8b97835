package t5

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Config holds T5's hyperparameters. Its JSON form is HuggingFace's T5Config
// (config.json of a "t5" or "mt5" model folder), so the names are HF's.
type Config struct {
	ModelType        string `json:"model_type"`
	VocabSize        int    `json:"vocab_size"`
	DModel           int    `json:"d_model"` // C
	DKV              int    `json:"d_kv"`    // D, the size of one head; H·D need not be C (mT5)
	DFF              int    `json:"d_ff"`
	NumLayers        int    `json:"num_layers"` // encoder blocks
	NumDecoderLayers int    `json:"num_decoder_layers"`
	NumHeads         int    `json:"num_heads"` // H
	// NumBuckets and MaxDistance shape the relative position buckets
	// (RelativePositionBucket).
	NumBuckets  int     `json:"relative_attention_num_buckets"`
	MaxDistance int     `json:"relative_attention_max_distance"`
	Eps         float32 `json:"layer_norm_epsilon"`
	// FeedForwardProj is "relu" (T5), "gated-gelu" (T5 v1.1, mT5,
	// flan-t5: wi_0, wi_1 and GELU's tanh form) or another "[gated-]act".
	FeedForwardProj string `json:"feed_forward_proj"`
	// DenseActFn and IsGatedAct are derived from FeedForwardProj, as
	// T5Config does; config.json may state them.
	DenseActFn string `json:"dense_act_fn"`
	IsGatedAct bool   `json:"is_gated_act"`
	// TieWordEmbeddings makes lm_head the shared embedding, with the decoder
	// output scaled by d_model^-0.5 first (T5); mT5 and flan-t5 set false.
	TieWordEmbeddings   bool    `json:"tie_word_embeddings"`
	PadTokenID          int     `json:"pad_token_id"`
	EOSTokenID          int     `json:"eos_token_id"`
	DecoderStartTokenID int     `json:"decoder_start_token_id"`
	Dropout             float32 `json:"dropout_rate"`
}

// DefaultConfig returns T5Config's defaults (t5-small): vocabulary 32128,
// C 512, D 64, d_ff 2048, 6+6 blocks, 8 heads, 32 buckets up to distance
// 128, ε 1e-6, ReLU, tied embeddings, pad 0, eos 1, dropout 0.1.
func DefaultConfig() Config {
	return Config{
		ModelType: "t5", VocabSize: 32128, DModel: 512, DKV: 64, DFF: 2048, NumLayers: 6, NumDecoderLayers: 6,
		NumHeads: 8, NumBuckets: 32, MaxDistance: 128, Eps: 1e-6, FeedForwardProj: "relu", DenseActFn: "relu",
		TieWordEmbeddings: true, PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0, Dropout: 0.1,
	}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.ModelType != "t5" && c.ModelType != "mt5":
		return fmt.Errorf("t5: model_type %q is not t5 or mt5", c.ModelType)
	case c.VocabSize <= 0:
		return fmt.Errorf("t5: vocab_size %d must be positive", c.VocabSize)
	case c.DModel <= 0 || c.DKV <= 0 || c.NumHeads <= 0 || c.DFF <= 0:
		return fmt.Errorf("t5: d_model %d, d_kv %d, num_heads %d, d_ff %d must be positive", c.DModel, c.DKV, c.NumHeads, c.DFF)
	case c.NumLayers <= 0 || c.NumDecoderLayers <= 0:
		return fmt.Errorf("t5: num_layers %d and num_decoder_layers %d must be positive", c.NumLayers, c.NumDecoderLayers)
	case c.NumBuckets < 4 || c.MaxDistance <= 0:
		return fmt.Errorf("t5: relative_attention_num_buckets %d (at least 4) and relative_attention_max_distance %d", c.NumBuckets, c.MaxDistance)
	case c.Eps <= 0:
		return fmt.Errorf("t5: layer_norm_epsilon %v must be positive", c.Eps)
	case !supported(c.DenseActFn):
		return fmt.Errorf("t5: activation %q (from feed_forward_proj %q) is not supported", c.DenseActFn, c.FeedForwardProj)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("t5: dropout_rate %v outside [0, 1)", c.Dropout)
	}
	for _, id := range []int{c.PadTokenID, c.EOSTokenID, c.DecoderStartTokenID} {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("t5: special token id %d outside the vocabulary [0, %d)", id, c.VocabSize)
		}
	}
	return nil
}

// UnmarshalJSON reads HF's T5Config: missing keys take T5Config's defaults
// (num_decoder_layers defaults to num_layers, decoder_start_token_id to
// pad_token_id), dense_act_fn and is_gated_act follow from
// feed_forward_proj unless stated ("gated-gelu" means gelu_new, as in HF),
// and unknown keys are ignored.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	v := struct {
		plain
		NumDecoderLayers    *int    `json:"num_decoder_layers"`
		DecoderStartTokenID *int    `json:"decoder_start_token_id"`
		DenseActFn          *string `json:"dense_act_fn"`
		IsGatedAct          *bool   `json:"is_gated_act"`
	}{plain: plain(DefaultConfig())}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Config(v.plain)
	c.NumDecoderLayers = c.NumLayers
	if v.NumDecoderLayers != nil {
		c.NumDecoderLayers = *v.NumDecoderLayers
	}
	c.DecoderStartTokenID = c.PadTokenID
	if v.DecoderStartTokenID != nil {
		c.DecoderStartTokenID = *v.DecoderStartTokenID
	}
	act := strings.Split(c.FeedForwardProj, "-")
	if len(act) > 2 || (len(act) == 2 && act[0] != "gated") {
		return fmt.Errorf("t5: feed_forward_proj %q is not a valid activation (want \"act\" or \"gated-act\")", c.FeedForwardProj)
	}
	c.DenseActFn, c.IsGatedAct = act[len(act)-1], act[0] == "gated"
	if c.FeedForwardProj == "gated-gelu" {
		c.DenseActFn = "gelu_new"
	}
	if v.DenseActFn != nil {
		c.DenseActFn = *v.DenseActFn
	}
	if v.IsGatedAct != nil {
		c.IsGatedAct = *v.IsGatedAct
	}
	return nil
}
