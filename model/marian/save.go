package marian

import (
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
)

// Save writes the model to dir as a HuggingFace folder: config.json (HF's
// config fields, architectures ["MarianMTModel"], or an M2M100's
// ["M2M100ForConditionalGeneration"]) and model.safetensors (F32,
// HF's state-dict names, tied tensors once), each written atomically. Load
// and HF's from_pretrained read it back. A quantized model (QuantizeQ8) is
// dequantized first: it saves the numbers it computes with.
func Save(dir string, m *Model) error {
	nn.Dequantize(m)
	arch := "MarianMTModel"
	if m.Cfg.m2m100() {
		arch = "M2M100ForConditionalGeneration"
	}
	return hf.Save(dir, struct {
		Architectures    []string `json:"architectures"`
		IsEncoderDecoder bool     `json:"is_encoder_decoder"`
		Config
	}{[]string{arch}, true, m.Cfg}, hf.Tensors(m.Params(), nil))
}
