// Package model opens a model folder of any architecture attn runs, picking
// it from config.json's model_type as HuggingFace's Auto classes do.
package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/clip"
	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/marian"
	"github.com/attn-go/attn/model/t5"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/nn"
)

// Model is any of the architectures Load returns: *gpt.Model, *llama.Model,
// *bert.Model, *t5.Model, *marian.Model, *vit.Model, *clip.Model or *transformer.Model.
// Type-switch on it for the architecture's own methods.
type Model interface {
	Params() []nn.Param
}

// Types lists the model_type values Load accepts.
var Types = []string{"gpt2", "llama", "qwen2", "qwen3", "mistral", "gemma2", "gemma3_text", "gemma3", "smollm3", "phi3", "granite", "olmo2", "mixtral", "qwen3_moe", "olmoe", "granitemoe", "granitemoeshared", "qwen2_moe", "gpt_oss", "bert", "roberta", "xlm-roberta", "distilbert", "modernbert", "t5", "mt5", "marian", "m2m_100", "vit", "deit", "clip", "siglip", transformer.ModelType}

// Type returns the architecture of the model folder dir: config.json's
// model_type. Folders written by attn's transformer package before it
// recorded one are recognised by their fields.
func Type(dir string) (string, error) {
	path := filepath.Join(dir, hf.ConfigFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	var c struct {
		ModelType string `json:"model_type"`
		SrcVocab  *int   `json:"src_vocab"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("model: %s: %w", path, err)
	}
	switch {
	case c.ModelType != "":
		return c.ModelType, nil
	case c.SrcVocab != nil:
		return transformer.ModelType, nil
	}
	return "", fmt.Errorf("model: %s has no model_type", path)
}

// Load reads the model folder dir with the loader of its architecture (see
// each package's Load for the layouts and checks).
func Load(dir string) (Model, error) {
	typ, err := Type(dir)
	if err != nil {
		return nil, err
	}
	if slices.Contains(llama.Types, typ) {
		return nonNil(llama.Load(dir))
	}
	switch typ {
	case "gpt2":
		return nonNil(gpt.Load(dir))
	case "gemma3": // Gemma 3's image-text folder: its text model
		return nonNil(llama.Load(dir))
	case "bert", "roberta", "xlm-roberta", "distilbert", "modernbert":
		return nonNil(bert.Load(dir))
	case "t5", "mt5":
		return nonNil(t5.Load(dir))
	case "marian", "m2m_100":
		return nonNil(marian.Load(dir))
	case "vit", "deit":
		return nonNil(vit.Load(dir))
	case "clip", "siglip":
		return nonNil(clip.Load(dir))
	case transformer.ModelType:
		return nonNil(transformer.Load(dir))
	}
	return nil, fmt.Errorf("model: %s: model_type %q is not one attn runs (%v)", filepath.Join(dir, hf.ConfigFile), typ, Types)
}

// nonNil keeps a failed load's nil pointer out of the interface, so callers
// can test the Model against nil.
func nonNil[M Model](m M, err error) (Model, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}
