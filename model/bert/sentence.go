package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Sentence is how a sentence-transformers folder (modules.json beside the
// model's files) makes an embedding of a text: its Transformer module's
// max_seq_length and do_lower_case (sentence_bert_config.json), its
// Pooling module's modes (1_Pooling/config.json) and whether a Normalize
// module follows. SentenceTransformer.encode lowercases the text if asked,
// truncates the tokens to MaxSeqLength, pools, and normalises.
type Sentence struct {
	Poolings     []Pooling // concatenated in this order (EmbedConcat)
	Normalize    bool
	MaxSeqLength int // 0: none given
	Lowercase    bool
}

// The sentence-transformers module types this package runs.
const (
	stTransformer = "sentence_transformers.models.Transformer"
	stPooling     = "sentence_transformers.models.Pooling"
	stNormalize   = "sentence_transformers.models.Normalize"
)

// LoadSentence reads the sentence-transformers files of the model folder
// dir. It returns nil and no error when dir has no modules.json (a plain
// HuggingFace folder). A module it does not run (Dense, say, which would
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
			return nil, fmt.Errorf("bert: %s: module %d is a %s, which attn does not run (it runs Transformer, Pooling and Normalize)", filepath.Join(dir, "modules.json"), i, m.Type)
		}
	}
	if !seen[stPooling] {
		return nil, fmt.Errorf("bert: %s has no Pooling module", filepath.Join(dir, "modules.json"))
	}
	return s, nil
}

// readTransformer reads sentence_bert_config.json, when there is one.
func (s *Sentence) readTransformer(dir string) error {
	path := filepath.Join(dir, "sentence_bert_config.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	var c struct {
		MaxSeqLength *int `json:"max_seq_length"`
		Lowercase    bool `json:"do_lower_case"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("bert: %s: %w", path, err)
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
	return nil
}
