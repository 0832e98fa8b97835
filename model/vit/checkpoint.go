package vit

import (
	"fmt"
	"path/filepath"

	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/safetensors"
)

// Load reads a HuggingFace ViT or DeiT folder: config.json (ViTConfig or
// DeiTConfig) and model.safetensors or its shards, in F32, F16, BF16 or
// F64. It accepts the names of ViTModel and DeiTModel (no prefix, usually
// with a pooler), ViTForImageClassification and DeiTForImageClassification
// ("vit." or "deit.", and a classifier), and DeiTForImageClassificationWith-
// Teacher (cls_classifier and distillation_classifier); the pooler and the
// heads are loaded when stored (each wholly or not at all). Every other
// tensor must be present with the shape the config gives, and tensors the
// model does not use are errors. The folder's image processor is read by
// LoadProcessor.
func Load(dir string) (*Model, error) { return hf.LoadFolder(dir, LoadCheckpoint) }

// LoadCheckpoint builds the model of cfg and fills it from ck (see Load).
func LoadCheckpoint(cfg Config, ck *hf.Checkpoint) (*Model, error) {
	parts := Parts{Pooler: ck.HasPrefix("pooler."), Teacher: ck.Has("cls_classifier.weight")}
	head := "classifier.weight"
	if parts.Teacher {
		head = "cls_classifier.weight"
	}
	if t, ok := ck.Lookup(head); ok {
		if len(t.Shape) != 2 {
			return nil, fmt.Errorf("vit: %s: %s has shape %v; want [labels, %d]", ck.Dir, head, t.Shape, cfg.Hidden)
		}
		parts.Labels = t.Shape[0]
	}
	m, err := newModel(cfg, parts, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(ck.Dir, hf.ConfigFile), err)
	}
	if err := ck.Load(m.Params(), hf.LoadOptions{}); err != nil {
		return nil, err
	}
	return m, nil
}

// Tensors returns the weights as save_pretrained writes them: with a
// classifier under the task class's names ("vit." or "deit." before the
// base model, the heads as they are), else under ViTModel's or DeiTModel's.
func (m *Model) Tensors() []safetensors.Tensor {
	return hf.Tensors(m.Params(), func(name string) string {
		if !m.HasClassifier() || IsHead(name) {
			return name
		}
		return m.Cfg.modelType() + "." + name
	})
}

// architecture is the HF class whose names and heads the model's weights
// have.
func (m *Model) architecture() string {
	base := map[bool]string{false: "ViT", true: "DeiT"}[m.Cfg.Distilled]
	switch {
	case m.Teacher != nil:
		return "DeiTForImageClassificationWithTeacher"
	case m.Classifier != nil:
		return base + "ForImageClassification"
	}
	return base + "Model"
}

// Save writes the model to dir as a HuggingFace folder: config.json
// (ViTConfig), model.safetensors and the processor's
// preprocessor_config.json.
func Save(dir string, m *Model, p Processor) error {
	cfg := m.Cfg
	cfg.arch = m.architecture()
	if err := hf.Save(dir, cfg, m.Tensors()); err != nil {
		return err
	}
	return SaveProcessor(dir, p)
}
