package clip

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/model/vit"
)

// ignored matches the stored tensors that are buffers, not weights: the
// position ids some HF versions save.
var ignored = []*regexp.Regexp{regexp.MustCompile(`^(text|vision)_model\.embeddings\.position_ids$`)}

// Load reads a HuggingFace CLIP folder: config.json (CLIPConfig) and
// model.safetensors or its shards, in F32, F16, BF16 or F64, under
// CLIPModel's names; or a SigLIP folder (SiglipConfig, SiglipModel's
// names). Every weight must be present with the shape the config
// gives, and tensors the model does not use are errors. The folder's image
// processor is read by LoadProcessor, its tokenizer by the tokenizer
// package.
func Load(dir string) (*Model, error) { return hf.LoadFolder(dir, LoadCheckpoint) }

// LoadCheckpoint builds the model of cfg and fills it from ck (see Load).
func LoadCheckpoint(cfg Config, ck *hf.Checkpoint) (*Model, error) {
	m, err := newModel(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(ck.Dir, hf.ConfigFile), err)
	}
	if err := ck.Load(m.Params(), hf.LoadOptions{Ignore: ignored}); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadProcessor reads dir's preprocessor_config.json (CLIPImageProcessor:
// the shortest edge resized, the centre cropped, CLIP's mean and standard
// deviation; those are also its defaults) for the vision tower of cfg.
//
// A SigLIP's (SiglipImageProcessor) resizes to the model's size, bicubic,
// without a crop, and normalises with mean and deviation 0.5.
func LoadProcessor(dir string, cfg Config) (vit.Processor, error) {
	vc := vit.Config{ImageSize: cfg.Vision.ImageSize, Channels: cfg.Vision.Channels}
	def := vit.CLIPProcessor(vc.ImageSize)
	if cfg.Siglip { // ViTImageProcessor's defaults, but bicubic
		def = vit.DefaultProcessor(vc)
		def.Resample, def.Type = 3, "SiglipImageProcessor"
	}
	return vit.LoadProcessorOf(dir, def, vc)
}

// Save writes the model to dir as a HuggingFace folder: config.json
// (CLIPConfig or SiglipConfig), model.safetensors under CLIPModel's or
// SiglipModel's names, and the image processor's preprocessor_config.json.
func Save(dir string, m *Model, p vit.Processor) error {
	if err := hf.Save(dir, m.Cfg, hf.Tensors(m.Params(), nil)); err != nil {
		return err
	}
	return vit.SaveProcessor(dir, p)
}
