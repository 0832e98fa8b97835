package marian

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Config holds Marian's hyperparameters. Its JSON form is HuggingFace's
// MarianConfig (config.json of a Helsinki-NLP opus-mt folder), or its
// M2M100Config (model_type "m2m_100": M2M-100 and NLLB-200), so the names
// are HF's.
type Config struct {
	// ModelType is "marian" or "m2m_100": M2M100's layers normalise their
	// inputs (pre-LN) and each stack ends in a LayerNorm, its positions
	// are fairseq's sinusoids counted from pad_token_id + 1, and its
	// logits have no final_logits_bias.
	ModelType string `json:"model_type"`
	VocabSize int    `json:"vocab_size"`
	// DecoderVocabSize must equal VocabSize: one vocabulary, shared by
	// encoder, decoder and output layer, as in opus-mt.
	DecoderVocabSize int    `json:"decoder_vocab_size"`
	DModel           int    `json:"d_model"` // C
	EncoderLayers    int    `json:"encoder_layers"`
	DecoderLayers    int    `json:"decoder_layers"`
	EncoderHeads     int    `json:"encoder_attention_heads"`
	DecoderHeads     int    `json:"decoder_attention_heads"`
	EncoderFFN       int    `json:"encoder_ffn_dim"`
	DecoderFFN       int    `json:"decoder_ffn_dim"`
	Activation       string `json:"activation_function"` // HF's ACT2FN name; opus-mt uses "swish"
	// MaxPositions bounds source and target lengths (the sinusoidal table).
	MaxPositions int `json:"max_position_embeddings"`
	// ScaleEmbedding multiplies token embeddings by √d_model (§3.4).
	ScaleEmbedding      bool `json:"scale_embedding"`
	PadTokenID          int  `json:"pad_token_id"`
	EOSTokenID          int  `json:"eos_token_id"`
	DecoderStartTokenID int  `json:"decoder_start_token_id"`
	// ShareEmbeddings (share_encoder_decoder_embeddings) must be true.
	ShareEmbeddings bool `json:"share_encoder_decoder_embeddings"`
	// TieWordEmbeddings makes the output layer the shared embedding.
	TieWordEmbeddings bool    `json:"tie_word_embeddings"`
	Dropout           float32 `json:"dropout"`
	// BadWordsIDs are token sequences generation must not produce; opus-mt
	// configs ban the pad token ([[pad_token_id]]). Decoder applies the
	// single-token ones.
	BadWordsIDs [][]int `json:"bad_words_ids,omitempty"`
}

// DefaultConfig returns MarianConfig's defaults: vocabulary 58101, C 1024,
// 12+12 layers, 16 heads, FFN 4096, GELU, 1024 positions, unscaled
// embeddings, pad = decoder start = 58100, eos 0, shared and tied
// embeddings, dropout 0.1. (opus-mt models override most of these.)
func DefaultConfig() Config {
	return Config{
		ModelType: "marian", VocabSize: 58101, DecoderVocabSize: 58101, DModel: 1024, EncoderLayers: 12, DecoderLayers: 12,
		EncoderHeads: 16, DecoderHeads: 16, EncoderFFN: 4096, DecoderFFN: 4096, Activation: "gelu", MaxPositions: 1024,
		PadTokenID: 58100, EOSTokenID: 0, DecoderStartTokenID: 58100, ShareEmbeddings: true, TieWordEmbeddings: true, Dropout: 0.1,
	}
}

// m2m100Config returns M2M100Config's defaults: vocabulary 128112, C
// 1024, 12+12 layers, 16 heads, FFN 4096, ReLU, 1024 positions, scaled
// embeddings, pad 1, eos = decoder start = 2, tied embeddings, dropout 0.1.
func m2m100Config() Config {
	c := DefaultConfig()
	c.ModelType, c.VocabSize, c.DecoderVocabSize, c.Activation, c.ScaleEmbedding = "m2m_100", 128112, 128112, "relu", true
	c.PadTokenID, c.EOSTokenID, c.DecoderStartTokenID = 1, 2, 2
	return c
}

// m2m100 reports whether c is an M2M100 (NLLB) model.
func (c Config) m2m100() bool { return c.ModelType == "m2m_100" }

// Validate reports the first inconsistent or unsupported setting.
func (c Config) Validate() error {
	switch {
	case c.ModelType != "marian" && !c.m2m100():
		return fmt.Errorf("marian: model_type %q is not marian or m2m_100", c.ModelType)
	case c.m2m100() && c.PadTokenID+1+c.MaxPositions > 1<<24:
		return fmt.Errorf("marian: pad_token_id %d and max_position_embeddings %d number positions past float32's integers", c.PadTokenID, c.MaxPositions)
	case c.VocabSize <= 0:
		return fmt.Errorf("marian: vocab_size %d must be positive", c.VocabSize)
	case !c.ShareEmbeddings || c.DecoderVocabSize != c.VocabSize:
		return fmt.Errorf("marian: separate source and target vocabularies (share_encoder_decoder_embeddings %v, decoder_vocab_size %d, vocab_size %d) are not supported",
			c.ShareEmbeddings, c.DecoderVocabSize, c.VocabSize)
	case c.DModel <= 0 || c.EncoderHeads <= 0 || c.DecoderHeads <= 0 || c.DModel%c.EncoderHeads != 0 || c.DModel%c.DecoderHeads != 0:
		return fmt.Errorf("marian: d_model %d must be a positive multiple of the heads (%d, %d)", c.DModel, c.EncoderHeads, c.DecoderHeads)
	case c.EncoderLayers <= 0 || c.DecoderLayers <= 0 || c.EncoderFFN <= 0 || c.DecoderFFN <= 0:
		return fmt.Errorf("marian: layers (%d, %d) and ffn dims (%d, %d) must be positive", c.EncoderLayers, c.DecoderLayers, c.EncoderFFN, c.DecoderFFN)
	case !supported(c.Activation):
		return fmt.Errorf("marian: activation_function %q is not supported", c.Activation)
	case c.MaxPositions <= 0:
		return errors.New("marian: max_position_embeddings must be positive")
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("marian: dropout %v outside [0, 1)", c.Dropout)
	}
	for _, id := range []int{c.PadTokenID, c.EOSTokenID, c.DecoderStartTokenID} {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("marian: special token id %d outside the vocabulary [0, %d)", id, c.VocabSize)
		}
	}
	return nil
}

// UnmarshalJSON reads HF's MarianConfig or M2M100Config: missing keys take its defaults
// (decoder_vocab_size defaults to vocab_size, decoder_start_token_id to
// pad_token_id); keys HF's Marian does not use (normalize_before,
// static_position_embeddings, ...) are ignored, as HF ignores them, and so
// are its training-only settings (attention_dropout, activation_dropout,
// the layer drops): this package runs Marian models, it does not train them.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	var peek struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &peek); err != nil {
		return err
	}
	defaults := DefaultConfig()
	if peek.ModelType == "m2m_100" { // one vocabulary, always shared
		defaults = m2m100Config()
	}
	v := struct {
		plain
		DecoderVocabSize    *int `json:"decoder_vocab_size"`
		DecoderStartTokenID *int `json:"decoder_start_token_id"`
	}{plain: plain(defaults)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.ModelType == "m2m_100" {
		v.ShareEmbeddings, v.DecoderVocabSize = true, nil
	}
	*c = Config(v.plain)
	c.DecoderVocabSize = c.VocabSize
	if v.DecoderVocabSize != nil {
		c.DecoderVocabSize = *v.DecoderVocabSize
	}
	if c.ModelType == "marian" { // MarianConfig's default; M2M100Config's is 2
		c.DecoderStartTokenID = c.PadTokenID
	}
	if v.DecoderStartTokenID != nil {
		c.DecoderStartTokenID = *v.DecoderStartTokenID
	}
	return nil
}
