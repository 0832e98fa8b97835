package hf

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/atomicfile"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
)

// Tensors returns the weights of ps for saving: each distinct parameter once,
// under its first name (passed through rename unless it is nil), as
// save_pretrained stores a tied weight once.
func Tensors(ps []nn.Param, rename func(string) string) []safetensors.Tensor {
	seen := map[*autograd.Var]bool{}
	var ts []safetensors.Tensor
	for _, p := range ps {
		if seen[p.Var] {
			continue
		}
		seen[p.Var] = true
		name := p.Name
		if rename != nil {
			name = rename(name)
		}
		ts = append(ts, safetensors.F32(name, p.Value.Shape, p.Value.Data))
	}
	return ts
}

// Save writes a model folder: model.safetensors holding ts (F32, metadata
// {"format": "pt"} as save_pretrained writes it) and config.json, config
// as indented JSON; each file is written atomically.
func Save(dir string, config any, ts []safetensors.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ConfigFile), append(cfg, '\n'))
}

// LoadFolder reads dir's config.json into a C, opens its weights and builds
// the model from both with load; the weights are unmapped afterwards.
func LoadFolder[C, M any](dir string, load func(C, *Checkpoint) (M, error)) (M, error) {
	var cfg C
	if err := ReadConfig(dir, &cfg); err != nil {
		var zero M
		return zero, err
	}
	ck, err := Open(dir)
	if err != nil {
		var zero M
		return zero, err
	}
	defer ck.Close()
	return load(cfg, ck)
}
