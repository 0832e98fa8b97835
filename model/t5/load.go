package t5

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/attn-go/attn/model/hf"
)

// Ignored matches stored tensors that are not weights of T5: the relative
// bias of block 0's cross-attention that older HF checkpoints hold and HF
// itself skips.
var Ignored = []*regexp.Regexp{
	regexp.MustCompile(`^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$`),
}

// Load reads a HuggingFace T5 folder (model_type t5 or mt5): config.json
// (T5Config) and model.safetensors or its shards, in F32, F16, BF16 or F64,
// each tensor converted to float32 once. The weights have no gradient
// buffers.
func Load(dir string) (*Model, error) { return hf.LoadFolder(dir, LoadCheckpoint) }

// LoadCheckpoint builds the model of cfg and fills it from ck, under HF's
// T5ForConditionalGeneration (or T5Model) state-dict names. The shared
// embedding may be stored as shared.weight or as a stack's
// embed_tokens.weight (copies must be equal); when the output layer is tied,
// lm_head.weight may be stored and must equal it. Missing, unexpected or
// mis-shaped tensors are errors naming the tensor.
func LoadCheckpoint(cfg Config, ck *hf.Checkpoint) (*Model, error) {
	m, err := newModel(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(ck.Dir, hf.ConfigFile), err)
	}
	opt := hf.LoadOptions{Ignore: Ignored, Tied: map[string]string{
		"encoder.embed_tokens.weight": "shared.weight",
		"decoder.embed_tokens.weight": "shared.weight",
	}}
	if cfg.TieWordEmbeddings {
		opt.Tied["lm_head.weight"] = "shared.weight"
	}
	if err := ck.Load(m.Params(), opt); err != nil {
		return nil, err
	}
	return m, nil
}
