package bert

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	stModules = `[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`
	stPoolingCLS = `{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false,
 "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false, "pooling_mode_weightedmean_tokens": false,
 "pooling_mode_lasttoken": false, "include_prompt": true}`
)

// TestLoadSentence reads sentence-transformers folders: the Pooling
// module's modes in the order they are concatenated, Normalize,
// max_seq_length and do_lower_case; a folder without modules.json has no
// recipe; modules attn does not run are refused by name.
func TestLoadSentence(t *testing.T) {
	if s, err := LoadSentence(t.TempDir()); s != nil || err != nil {
		t.Errorf("a plain folder: %+v, %v; want nil, nil", s, err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"modules.json": stModules, "1_Pooling/config.json": stPoolingCLS,
		"sentence_bert_config.json": `{"max_seq_length": 256, "do_lower_case": true}`,
	})
	s, err := LoadSentence(dir)
	if err != nil || !slices.Equal(s.Poolings, []Pooling{PoolCLS}) || !s.Normalize || s.MaxSeqLength != 256 || !s.Lowercase {
		t.Fatalf("LoadSentence: %+v, %v", s, err)
	}
	// Several modes, in sentence-transformers' order (cls, max, mean,
	// mean_sqrt_len), without Normalize or sentence_bert_config.json.
	dir = t.TempDir()
	writeFiles(t, dir, map[string]string{
		"modules.json":          `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]`,
		"1_Pooling/config.json": `{"pooling_mode_mean_sqrt_len_tokens": true, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}`,
	})
	if s, err := LoadSentence(dir); err != nil || !slices.Equal(s.Poolings, []Pooling{PoolMax, PoolMean, PoolMeanSqrtLen}) || s.Normalize || s.MaxSeqLength != 0 {
		t.Errorf("three modes: %+v, %v", s, err)
	}
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"modules.json": `{"not": "a list"}`}, "modules.json: json: cannot unmarshal"},
		{map[string]string{"modules.json": `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]`,
			"1_Pooling/config.json": stPoolingCLS}, "module 2 is a sentence_transformers.models.Dense, which attn does not run"},
		{map[string]string{"modules.json": `[{"path": "0_Transformer", "type": "sentence_transformers.models.Transformer"}]`}, `the Transformer module is module 0 at "0_Transformer"`},
		{map[string]string{"modules.json": `[{"path": "", "type": "sentence_transformers.models.Transformer"}]`}, "has no Pooling module"},
		{map[string]string{"modules.json": stModules, "1_Pooling/config.json": `{"pooling_mode_weightedmean_tokens": true}`}, "weightedmean_tokens is not a pooling attn computes"},
		{map[string]string{"modules.json": stModules, "1_Pooling/config.json": `{"pooling_mode_cls_token": false}`}, "turns no pooling mode on"},
		{map[string]string{"modules.json": stModules}, "1_Pooling/config.json: no such file"},
		{map[string]string{"modules.json": stModules, "1_Pooling/config.json": stPoolingCLS, "sentence_bert_config.json": `{"max_seq_length": 0}`}, "max_seq_length 0 must be positive"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, tc.files)
		if _, err := LoadSentence(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want an error containing %q", tc.files, err, tc.want)
		}
	}
}
