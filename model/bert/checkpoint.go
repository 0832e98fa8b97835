package bert

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/safetensors"
)

// Ignored matches the stored tensors that are not weights of this model:
// the position_ids and token_type_ids buffers older HF versions saved, and
// BertForPreTraining's next-sentence head (cls.seq_relationship), which
// bert-base checkpoints carry and no use here needs.
var Ignored = []*regexp.Regexp{
	regexp.MustCompile(`^embeddings\.(position_ids|token_type_ids)$`),
	regexp.MustCompile(`^cls\.seq_relationship\.(weight|bias)$`),
}

// Load reads a HuggingFace BERT folder: config.json (BertConfig) and
// model.safetensors or its shards, in F32, F16, BF16 or F64. It accepts the
// names of BertModel (no prefix), BertForMaskedLM and BertForPreTraining
// ("bert." and "cls."), with or without the tied decoder weight and bias.
// The pooler and the masked-LM head are loaded when stored (each wholly or
// not at all); every other tensor must be present with the shape the config
// gives, and tensors the model does not use (beyond Ignored) are errors.
// Each tensor is converted to float32 once, from the mapped file into the
// model's weights, which have no gradient buffers. A RoBERTa or XLM-R
// folder (model_type "roberta" or "xlm-roberta") loads the same way, with
// RobertaModel's names ("roberta." in the task classes) and RoBERTa's heads
// (lm_head., classifier.dense and classifier.out_proj), and so does a
// DistilBERT folder (model_type "distilbert"), with DistilBertModel's names
// ("distilbert." in the task classes) and its heads (vocab_transform,
// vocab_layer_norm, vocab_projector; pre_classifier and classifier), and a
// ModernBERT folder (model_type "modernbert"), with ModernBertModel's names
// ("model." in the task classes) and its heads (head, decoder; head and
// classifier).
func Load(dir string) (*Model, error) { return hf.LoadFolder(dir, LoadCheckpoint) }

// LoadCheckpoint builds the model of cfg and fills it from ck (see Load).
func LoadCheckpoint(cfg Config, ck *hf.Checkpoint) (*Model, error) {
	if cfg.distil() {
		if err := ck.Rename(fromDistil); err != nil {
			return nil, err
		}
	}
	head, classifier := "cls.predictions.", "classifier.weight"
	switch {
	case cfg.roberta():
		head, classifier = "lm_head.", "classifier.out_proj.weight"
	case cfg.distil():
		classifier = "classifier.out_proj.weight"
	case cfg.modern(): // the head is both heads' dense and norm; the decoder, the masked-LM model's
		head = "decoder."
	}
	parts := Parts{Pooler: ck.HasPrefix("pooler."), Head: ck.HasPrefix(head)}
	if cfg.modern() && !parts.Head && ck.HasPrefix("head.") && !ck.HasPrefix("classifier.") {
		parts.Head = true // a tied decoder without a bias stores nothing
	}
	if t, ok := ck.Lookup(classifier); ok {
		if len(t.Shape) != 2 {
			return nil, fmt.Errorf("bert: %s: %s has shape %v; want [labels, %d]", ck.Dir, classifier, t.Shape, cfg.Hidden)
		}
		parts.Labels = t.Shape[0]
	}
	m, err := newModel(cfg, parts, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(ck.Dir, hf.ConfigFile), err)
	}
	opt := hf.LoadOptions{Ignore: Ignored, Tied: map[string]string{head + "decoder.bias": head + "bias"}}
	switch {
	case cfg.modern():
		opt.Tied = map[string]string{}
		if cfg.Tied {
			opt.Tied["decoder.weight"] = "embeddings.tok_embeddings.weight"
		}
	case cfg.Tied:
		opt.Tied[head+"decoder.weight"] = "embeddings.word_embeddings.weight"
	}
	if cfg.distil() {
		opt.Stored = func(name string) string { return strings.TrimPrefix(toDistil(name), "distilbert.") }
	}
	if err := ck.Load(m.Params(), opt); err != nil {
		return nil, err
	}
	return m, nil
}

// Tensors returns the weights under the task classes' names ("bert.",
// "roberta." or ModernBERT's "model." before the base model, the heads as
// they are; DistilBERT's own names), the tied decoder weight left out, as
// save_pretrained writes them.
func (m *Model) Tensors() []safetensors.Tensor {
	if m.Cfg.distil() {
		return hf.Tensors(m.Params(), toDistil)
	}
	base := "bert."
	switch {
	case m.Cfg.roberta():
		base = "roberta."
	case m.Cfg.modern():
		base = "model."
	}
	return hf.Tensors(m.Params(), func(name string) string {
		for _, head := range []string{"cls.", "classifier.", "lm_head.", "head.", "decoder."} {
			if strings.HasPrefix(name, head) {
				return name
			}
		}
		return base + name
	})
}

// architecture is the HF class whose names and heads the model's weights
// have.
func (m *Model) architecture() string {
	class := m.Cfg.classPrefix()
	switch {
	case m.Labels() > 0:
		return class + "ForSequenceClassification"
	case m.Head != nil && m.Pooler != nil:
		return class + "ForPreTraining"
	case m.hasHead():
		return class + "ForMaskedLM"
	}
	return class + "Model"
}

// Save writes the model to dir as a HuggingFace folder: config.json
// (BertConfig, or RobertaConfig, XLMRobertaConfig or DistilBertConfig as
// Cfg.Type says) and model.safetensors.
func Save(dir string, m *Model) error {
	cfg := m.Cfg
	cfg.arch = m.architecture()
	if n := m.Labels(); n > 0 && len(cfg.Labels) == 0 { // HF counts the outputs by id2label
		names := make([]string, n)
		for i := range names {
			names[i] = cfg.Label(i)
		}
		cfg.Labels = hf.LabelsOf(names)
	}
	return hf.Save(dir, cfg, m.Tensors())
}
