package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/attn-go/attn/model/hf"
)

// Sentence is how a sentence-transformers folder (modules.json beside the
// model's files) makes an embedding of a text: its Transformer module's
// max_seq_length and do_lower_case (sentence_bert_config.json), its
// Pooling module's modes (1_Pooling/config.json), the Dense modules after
// it and whether a Normalize module follows. SentenceTransformer.encode
// lowercases the text if asked, truncates the tokens to MaxSeqLength,
// pools, projects through the Dense modules, and normalises (Finish).
// The prompts of config_sentence_transformers.json are put before a text
// when asked for by name (encode's prompt_name), or the default one.
type Sentence struct {
	Poolings     []Pooling     // concatenated in this order (EmbedConcat)
	Dense        []DenseModule // applied in this order to the pooled vector
	Normalize    bool
	MaxSeqLength int // 0: none given
	Lowercase    bool
	Prompts      map[string]string // by name (EmbeddingGemma's "query": "task: search result | query: ")
	// DefaultPrompt names the prompt used when none is asked for ("" for
	// none).
	DefaultPrompt string
	// ExcludePrompt is the Pooling module's include_prompt false: a
	// prompt's tokens are left out of the pooling, which attn does not do
	// (Prompt refuses such a prompt).
	ExcludePrompt bool
}

// Prompt returns the text put before every text to embed for the prompt
// named name: the default one (or none) when name is "".
func (s *Sentence) Prompt(name string) (string, error) {
	if s == nil {
		if name != "" {
			return "", fmt.Errorf("prompt %q: the model has no prompts (no sentence-transformers config_sentence_transformers.json)", name)
		}
		return "", nil
	}
	if name == "" {
		name = s.DefaultPrompt
	}
	if name == "" {
		return "", nil
	}
	p, ok := s.Prompts[name]
	if !ok {
		names := make([]string, 0, len(s.Prompts))
		for n := range s.Prompts {
			names = append(names, n)
		}
		slices.Sort(names)
		return "", fmt.Errorf("prompt %q is not one of the model's (%s)", name, strings.Join(names, ", "))
	}
	if s.ExcludePrompt && p != "" {
		return "", fmt.Errorf("prompt %q: the Pooling module leaves a prompt's tokens out (include_prompt false), which attn does not do", name)
	}
	return p, nil
}

// DenseModule is a sentence-transformers Dense module: y = act(W·x + b), its
// weight [Out, In] and bias (nil without one) read from the module's
// model.safetensors (linear.weight, linear.bias).
type DenseModule struct {
	In, Out int
	Weight  []float32
	Bias    []float32
	Tanh    bool // the activation: tanh, else the identity
}

// Apply returns d applied to x (In values), accumulated in float64.
func (d DenseModule) Apply(x []float32) []float32 {
	y := make([]float32, d.Out)
	for o := range y {
		var sum float64
		if d.Bias != nil {
			sum = float64(d.Bias[o])
		}
		for i, w := range d.Weight[o*d.In : (o+1)*d.In] {
			sum += float64(w) * float64(x[i])
		}
		if d.Tanh {
			sum = math.Tanh(sum)
		}
		y[o] = float32(sum)
	}
	return y
}

// Finish turns a pooled vector into the embedding: through the Dense
// modules, then normalised when normalize is set (L2, the norm floored at
// 1e-12, as Embed normalises).
func Finish(v []float32, dense []DenseModule, normalize bool) []float32 {
	for _, d := range dense {
		v = d.Apply(v)
	}
	if normalize {
		Normalize(v)
	}
	return v
}

// Normalize scales v in place to unit L2 length, the norm accumulated in
// float64 and floored at 1e-12, as Embed normalises.
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	scale := 1 / math.Max(math.Sqrt(ss), 1e-12)
	for i, x := range v {
		v[i] = float32(float64(x) * scale)
	}
}

// The sentence-transformers module types this package runs.
const (
	stTransformer = "sentence_transformers.models.Transformer"
	stPooling     = "sentence_transformers.models.Pooling"
	stNormalize   = "sentence_transformers.models.Normalize"
	stDense       = "sentence_transformers.models.Dense"
)

// LoadSentence reads the sentence-transformers files of the model folder
// dir. It returns nil and no error when dir has no modules.json (a plain
// HuggingFace folder). A module it does not run (a CNN, say, which would
// change the vector) or a pooling mode it does not compute is an error
// naming it.
func LoadSentence(dir string) (*Sentence, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "modules.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	var modules []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &modules); err != nil {
		return nil, fmt.Errorf("bert: %s: %w", filepath.Join(dir, "modules.json"), err)
	}
	s := &Sentence{}
	seen := map[string]bool{}
	for i, m := range modules {
		if m.Type == stDense { // any number of them, between Pooling and Normalize
			if !seen[stPooling] || seen[stNormalize] {
				return nil, fmt.Errorf("bert: %s: module %d, a Dense module, is not between the Pooling and Normalize modules", filepath.Join(dir, "modules.json"), i)
			}
			d, err := readDense(filepath.Join(dir, m.Path))
			if err != nil {
				return nil, err
			}
			if in := s.width(); in > 0 && in != d.In {
				return nil, fmt.Errorf("bert: %s: in_features %d, where the module before gives %d values", filepath.Join(dir, m.Path, "config.json"), d.In, in)
			}
			s.Dense = append(s.Dense, d)
			continue
		}
		if seen[m.Type] {
			return nil, fmt.Errorf("bert: %s: module %d repeats %s", filepath.Join(dir, "modules.json"), i, m.Type)
		}
		seen[m.Type] = true
		switch m.Type {
		case stTransformer:
			if i != 0 || m.Path != "" {
				return nil, fmt.Errorf("bert: %s: the Transformer module is module %d at %q; attn reads it as module 0 at the folder's top", filepath.Join(dir, "modules.json"), i, m.Path)
			}
			if err := s.readTransformer(dir); err != nil {
				return nil, err
			}
		case stPooling:
			if !seen[stTransformer] {
				return nil, fmt.Errorf("bert: %s: Pooling before the Transformer module", filepath.Join(dir, "modules.json"))
			}
			if err := s.readPooling(filepath.Join(dir, m.Path, "config.json")); err != nil {
				return nil, err
			}
		case stNormalize:
			if !seen[stPooling] {
				return nil, fmt.Errorf("bert: %s: Normalize before the Pooling module", filepath.Join(dir, "modules.json"))
			}
			s.Normalize = true
		default:
			return nil, fmt.Errorf("bert: %s: module %d is a %s, which attn does not run (it runs Transformer, Pooling, Dense and Normalize)", filepath.Join(dir, "modules.json"), i, m.Type)
		}
	}
	if !seen[stPooling] {
		return nil, fmt.Errorf("bert: %s has no Pooling module", filepath.Join(dir, "modules.json"))
	}
	if err := s.readPrompts(filepath.Join(dir, "config_sentence_transformers.json")); err != nil {
		return nil, err
	}
	return s, nil
}

// readPrompts reads config_sentence_transformers.json's prompts and
// default_prompt_name, when there is such a file.
func (s *Sentence) readPrompts(path string) error {
	var c struct {
		Prompts map[string]string `json:"prompts"`
		Default *string           `json:"default_prompt_name"`
	}
	if ok, err := readOptional(path, &c); !ok {
		return err
	}
	s.Prompts = c.Prompts
	if c.Default != nil && *c.Default != "" {
		if _, ok := c.Prompts[*c.Default]; !ok {
			return fmt.Errorf("bert: %s: default_prompt_name %q is not one of its prompts", path, *c.Default)
		}
		s.DefaultPrompt = *c.Default
	}
	return nil
}

// width returns the width of the vector the last Dense module gives, or 0
// before any (the pooled width, known only with the model).
func (s *Sentence) width() int {
	if n := len(s.Dense); n > 0 {
		return s.Dense[n-1].Out
	}
	return 0
}

// readDense reads a Dense module: its config.json (in_features,
// out_features, bias, activation_function: the identity or tanh) and its
// weights, model.safetensors's linear.weight [out, in] and linear.bias.
func readDense(dir string) (DenseModule, error) {
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return DenseModule{}, fmt.Errorf("bert: %w", err)
	}
	var c struct {
		In       int     `json:"in_features"`
		Out      int     `json:"out_features"`
		Bias     *bool   `json:"bias"`
		Act      string  `json:"activation_function"`
		Input    *string `json:"module_input_name"`
		Output   *string `json:"module_output_name"`
		Residual bool    `json:"use_residual"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return DenseModule{}, fmt.Errorf("bert: %s: %w", path, err)
	}
	// Newer sentence-transformers Dense modules may read and write other
	// features than the sentence embedding, or add their input back.
	for _, name := range []*string{c.Input, c.Output} {
		if name != nil && *name != "sentence_embedding" {
			return DenseModule{}, fmt.Errorf("bert: %s: a Dense module on %q (attn runs them on the sentence embedding)", path, *name)
		}
	}
	if c.Residual {
		return DenseModule{}, fmt.Errorf("bert: %s: use_residual is not supported", path)
	}
	d := DenseModule{In: c.In, Out: c.Out}
	switch c.Act {
	case "torch.nn.modules.activation.Tanh", "": // sentence-transformers' default
		d.Tanh = true
	case "torch.nn.modules.linear.Identity":
	default:
		return DenseModule{}, fmt.Errorf("bert: %s: activation_function %q is not one attn runs (torch.nn.modules.linear.Identity, torch.nn.modules.activation.Tanh)", path, c.Act)
	}
	if c.In <= 0 || c.Out <= 0 {
		return DenseModule{}, fmt.Errorf("bert: %s: in_features %d and out_features %d must be positive", path, c.In, c.Out)
	}
	ck, err := hf.Open(dir)
	if err != nil {
		return DenseModule{}, err
	}
	defer ck.Close()
	bias := c.Bias == nil || *c.Bias // Dense's default: a bias
	read := func(name string, shape ...int) ([]float32, error) {
		t, ok := ck.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("bert: %s: no tensor %q", filepath.Join(dir, hf.WeightsFile), name)
		}
		if !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("bert: %s: tensor %q of shape %v, where config.json says %v", filepath.Join(dir, t.File), name, t.Shape, shape)
		}
		return t.Float32()
	}
	if d.Weight, err = read("linear.weight", c.Out, c.In); err != nil {
		return DenseModule{}, err
	}
	if bias {
		if d.Bias, err = read("linear.bias", c.Out); err != nil {
			return DenseModule{}, err
		}
	}
	want := 1 // linear.weight
	if bias {
		want++
	}
	if names := ck.Names(); len(names) != want {
		return DenseModule{}, fmt.Errorf("bert: %s holds %v; a Dense module's are linear.weight%s", filepath.Join(dir, hf.WeightsFile), names, map[bool]string{true: " and linear.bias", false: ""}[bias])
	}
	return d, nil
}

// readOptional reads the JSON file path into v and reports whether it was
// read: false and no error when there is no such file.
func readOptional(path string, v any) (bool, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bert: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("bert: %s: %w", path, err)
	}
	return true, nil
}

// readTransformer reads sentence_bert_config.json, when there is one.
func (s *Sentence) readTransformer(dir string) error {
	path := filepath.Join(dir, "sentence_bert_config.json")
	var c struct {
		MaxSeqLength *int `json:"max_seq_length"`
		Lowercase    bool `json:"do_lower_case"`
	}
	if ok, err := readOptional(path, &c); !ok {
		return err
	}
	if c.MaxSeqLength != nil {
		if *c.MaxSeqLength <= 0 {
			return fmt.Errorf("bert: %s: max_seq_length %d must be positive", path, *c.MaxSeqLength)
		}
		s.MaxSeqLength = *c.MaxSeqLength
	}
	s.Lowercase = c.Lowercase
	return nil
}

// readPooling reads the Pooling module's config.json: the modes it has on,
// in the order sentence-transformers concatenates them.
func (s *Sentence) readPooling(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("bert: %s: %w", path, err)
	}
	for _, mode := range []struct {
		key     string
		pooling Pooling
	}{
		{"pooling_mode_cls_token", PoolCLS}, {"pooling_mode_max_tokens", PoolMax}, {"pooling_mode_mean_tokens", PoolMean},
		{"pooling_mode_mean_sqrt_len_tokens", PoolMeanSqrtLen}, {"pooling_mode_weightedmean_tokens", ""}, {"pooling_mode_lasttoken", PoolLastToken},
	} {
		on, _ := c[mode.key].(bool)
		if !on {
			continue
		}
		if mode.pooling == "" {
			return fmt.Errorf("bert: %s: %s is not a pooling attn computes (it computes cls, max, mean, mean_sqrt_len and lasttoken)", path, strings.TrimPrefix(mode.key, "pooling_mode_"))
		}
		s.Poolings = append(s.Poolings, mode.pooling)
	}
	if len(s.Poolings) == 0 {
		return fmt.Errorf("bert: %s turns no pooling mode on", path)
	}
	if include, ok := c["include_prompt"].(bool); ok && !include {
		s.ExcludePrompt = true
	}
	return nil
}
