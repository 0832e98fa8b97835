package gpt

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
)

// Tensors returns the model's weights for saving under HF's names (as in
// GPT-2's model.safetensors: no "transformer." prefix, no lm_head.weight,
// which is wte.weight).
// A model in its batch layout stays in it.
func (m *Model) Tensors() []safetensors.Tensor {
	if m.batchLayout() {
		m.Columns()
		defer m.BatchLayout()
	}
	return hf.Tensors(m.Params(), nil) // copies the values
}

// attnBuffer matches the causal-mask buffers that older HF GPT-2 checkpoints
// store as h.{i}.attn.bias and h.{i}.attn.masked_bias; they are not weights.
var attnBuffer = regexp.MustCompile(`^h\.\d+\.attn\.(masked_)?bias$`)

// LoadWeights copies weights from a safetensors file into the model. Names
// are HF's after prefix (use "" for a file written by Save or GPT-2's
// model.safetensors), with or without a further "transformer." (as a
// GPT2LMHeadModel state dict has them). An lm_head.weight, if present, must
// equal wte.weight; attention mask buffers are skipped. Missing or
// mis-shaped tensors, and other tensors under prefix, are errors.
func (m *Model) LoadWeights(f *safetensors.File, prefix string) error {
	m.Columns()
	ps := m.Params()
	known := map[string]bool{}
	for _, p := range ps {
		known[p.Name] = true
	}
	names := f.Names()
	inner := prefix
	if !slices.Contains(names, prefix+ps[0].Name) && slices.Contains(names, prefix+"transformer."+ps[0].Name) {
		inner = prefix + "transformer."
	}
	var head string
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if rest == "lm_head.weight" {
			head = name
			continue
		}
		if in, ok := strings.CutPrefix(name, inner); ok && (known[in] || attnBuffer.MatchString(in)) {
			continue
		}
		return fmt.Errorf("gpt: unexpected tensor %q: the model has no such parameter", name)
	}
	err := nn.Load(ps, func(name string) ([]float32, []int, bool, error) {
		if _, ok := f.Info(inner + name); !ok {
			return nil, nil, false, nil
		}
		data, shape, err := f.Float32(inner + name)
		return data, shape, true, err
	})
	if err != nil {
		return fmt.Errorf("gpt: %w", err)
	}
	if head != "" {
		data, _, err := f.Float32(head)
		if err != nil {
			return err
		}
		if !slices.Equal(data, m.WTE.Weight.Value.Data) {
			return fmt.Errorf("gpt: %s differs from wte.weight; untied output weights are not supported", head)
		}
	}
	return nil
}

// Save writes the model to dir as config.json (HF's GPT2Config) and
// model.safetensors, each written atomically.
func Save(dir string, m *Model) error { return hf.Save(dir, m.Cfg, m.Tensors()) }

// Load reads a model folder written by Save or a HuggingFace GPT-2 folder:
// config.json (GPT2Config) and model.safetensors or its shards, in F32, F16,
// BF16 or F64, memory-mapped and converted once into the model's weights.
// It accepts the names of GPT2Model (no prefix) and GPT2LMHeadModel
// ("transformer."), with or without lm_head.weight, which must equal
// wte.weight (the output layer is tied); older checkpoints' causal-mask
// buffers are skipped. Missing, unexpected or mis-shaped tensors are errors
// naming the tensor and its file.
func Load(dir string) (*Model, error) { return hf.LoadFolder(dir, LoadCheckpoint) }

// LoadCheckpoint builds the model of cfg and fills it from ck (see Load).
func LoadCheckpoint(cfg Config, ck *hf.Checkpoint) (*Model, error) {
	m, err := newModel(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(ck.Dir, hf.ConfigFile), err)
	}
	opt := hf.LoadOptions{Ignore: []*regexp.Regexp{attnBuffer}, Tied: map[string]string{"lm_head.weight": "wte.weight"}}
	if err := ck.Load(m.Params(), opt); err != nil {
		return nil, err
	}
	return m, nil
}
