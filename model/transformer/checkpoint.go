package transformer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
)

// Tensors returns the model's weights for saving, each distinct parameter
// once under its first name (a tied weight is stored once, as HuggingFace and
// PyTorch's safetensors export do).
func (m *Model) Tensors() []safetensors.Tensor { return hf.Tensors(m.Params(), nil) }

// LoadWeights copies weights from a safetensors file into the model. Tensor
// names are the model's PyTorch names after prefix (use "" for a plain state
// dict). Missing or mis-shaped tensors and tensors under prefix that the
// model does not have are errors.
func (m *Model) LoadWeights(f *safetensors.File, prefix string) error {
	ps := m.Params()
	known := map[string]bool{}
	for _, p := range ps {
		known[p.Name] = true
	}
	for _, name := range f.Names() {
		if rest, ok := strings.CutPrefix(name, prefix); ok && !known[rest] {
			return fmt.Errorf("transformer: unexpected tensor %q: the model has no such parameter", name)
		}
	}
	err := nn.Load(ps, func(name string) ([]float32, []int, bool, error) {
		if _, ok := f.Info(prefix + name); !ok {
			return nil, nil, false, nil
		}
		data, shape, err := f.Float32(prefix + name)
		return data, shape, true, err
	})
	if err != nil {
		return fmt.Errorf("transformer: %w", err)
	}
	return nil
}

// ModelType is config.json's model_type for this architecture, which has no
// HuggingFace counterpart.
const ModelType = "attn-transformer"

// Save writes the model to dir as config.json (the Config, with model_type
// ModelType) and model.safetensors (the layout of a HuggingFace model
// folder), each written atomically.
func Save(dir string, m *Model) error {
	return hf.Save(dir, struct {
		ModelType string `json:"model_type"`
		Config
	}{ModelType, m.Cfg}, m.Tensors())
}

// Load reads a model saved by Save.
func Load(dir string) (*Model, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var cfg struct {
		ModelType string `json:"model_type"`
		Config
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("transformer: %s: %w", filepath.Join(dir, "config.json"), err)
	}
	if cfg.ModelType != "" && cfg.ModelType != ModelType {
		return nil, fmt.Errorf("transformer: %s: model_type %q is not %s", filepath.Join(dir, "config.json"), cfg.ModelType, ModelType)
	}
	m, err := New(cfg.Config, 0)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := m.LoadWeights(f, ""); err != nil {
		return nil, err
	}
	return m, nil
}
