package marian

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/attn-go/attn/internal/atomicfile"
	"github.com/attn-go/attn/safetensors"
)

// Save writes the model to dir as a HuggingFace folder: config.json (HF's
// config fields, architectures ["MarianMTModel"]) and model.safetensors (F32,
// HF's state-dict names, tied tensors once), each written atomically. Load
// and HF's from_pretrained read it back.
func Save(dir string, m *Model) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.F32(p.Name, p.Value.Shape, p.Value.Data))
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(struct {
		Architectures    []string `json:"architectures"`
		IsEncoderDecoder bool     `json:"is_encoder_decoder"`
		Config
	}{[]string{"MarianMTModel"}, true, m.Cfg}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "config.json"), append(cfg, '\n'))
}
