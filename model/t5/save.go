package t5

import (
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
)

// Save writes the model to dir as a HuggingFace folder: config.json (HF's
// config fields, architectures ["T5ForConditionalGeneration"]) and model.safetensors (F32,
// HF's state-dict names, tied tensors once), each written atomically. Load
// and HF's from_pretrained read it back.
func Save(dir string, m *Model) error {
	nn.Dequantize(m) // a quantized model saves the numbers it computes with
	return hf.Save(dir, struct {
		Architectures    []string `json:"architectures"`
		IsEncoderDecoder bool     `json:"is_encoder_decoder"`
		Config
	}{[]string{"T5ForConditionalGeneration"}, true, m.Cfg}, hf.Tensors(m.Params(), nil))
}
