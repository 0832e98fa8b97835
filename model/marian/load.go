package marian

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
)

// Ignored matches stored tensors that are not weights of the model: the
// sinusoidal position tables older checkpoints hold (they are computed).
var Ignored = []*regexp.Regexp{
	regexp.MustCompile(`^(encoder|decoder)\.embed_positions\.weights?$`),
}

// Load reads a HuggingFace Marian folder (as Helsinki-NLP's opus-mt ones):
// config.json (MarianConfig) and model.safetensors or its shards, in F32,
// F16, BF16 or F64, each tensor converted to float32 once. The weights have
// no gradient buffers. The SentencePiece files
// are the tokenizer's business.
func Load(dir string) (*Model, error) { return hf.LoadFolder(dir, LoadCheckpoint) }

// LoadCheckpoint builds the model of cfg and fills it from ck, under HF's
// MarianMTModel state-dict names (or MarianModel's, without "model."). The
// shared embedding may be stored as model.shared.weight or a stack's
// embed_tokens.weight (copies must be equal); when tied, lm_head.weight may
// be stored and must equal it; a missing final_logits_bias is zero, as in
// HF. Other missing, unexpected or mis-shaped tensors are errors naming the
// tensor.
func LoadCheckpoint(cfg Config, ck *hf.Checkpoint) (*Model, error) {
	m, err := newModel(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(ck.Dir, hf.ConfigFile), err)
	}
	// The checkpoint's names are canonical: without the "model." prefix.
	var ps []nn.Param
	for _, p := range m.Params() {
		p.Name = hf.Canonical(p.Name)
		if p.Name == "final_logits_bias" && !ck.Has(p.Name) {
			p.Value.Data = make([]float32, cfg.VocabSize)
			continue
		}
		ps = append(ps, p)
	}
	opt := hf.LoadOptions{Ignore: Ignored, Tied: map[string]string{
		"encoder.embed_tokens.weight": "shared.weight",
		"decoder.embed_tokens.weight": "shared.weight",
	}}
	if cfg.TieWordEmbeddings {
		opt.Tied["lm_head.weight"] = "shared.weight"
	}
	if err := ck.Load(ps, opt); err != nil {
		return nil, err
	}
	return m, nil
}
