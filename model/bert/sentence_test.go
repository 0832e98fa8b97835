package bert

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/safetensors"
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
		{map[string]string{"modules.json": `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"path": "2_CNN", "type": "sentence_transformers.models.CNN"}]`,
			"1_Pooling/config.json": stPoolingCLS}, "module 2 is a sentence_transformers.models.CNN, which attn does not run"},
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

// TestLoadSentenceDense reads Dense modules between Pooling and Normalize
// (sentence-transformers' defaults: a bias and tanh) and applies them; a
// module whose weights, shapes, activation or place do not fit is refused
// by name.
func TestLoadSentenceDense(t *testing.T) {
	modules := func(extra string) string {
		return `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}` + extra + `]`
	}
	write := func(dir, path string, ts ...safetensors.Tensor) {
		if err := safetensors.WriteFile(filepath.Join(dir, path, "model.safetensors"), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	w := safetensors.F32("linear.weight", []int{2, 3}, []float32{1, 0, -1, 0.5, 0.5, 0.5})
	b := safetensors.F32("linear.bias", []int{2}, []float32{0.1, -0.2})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"modules.json":          modules(`, {"path": "3_Dense", "type": "sentence_transformers.models.Dense"}, {"path": "4_Normalize", "type": "sentence_transformers.models.Normalize"}`),
		"1_Pooling/config.json": stPoolingCLS, "2_Dense/config.json": `{"in_features": 3, "out_features": 2}`,
		"3_Dense/config.json": `{"in_features": 2, "out_features": 1, "bias": false, "activation_function": "torch.nn.modules.linear.Identity"}`,
	})
	write(dir, "2_Dense", w, b)
	write(dir, "3_Dense", safetensors.F32("linear.weight", []int{1, 2}, []float32{2, -1}))
	s, err := LoadSentence(dir)
	if err != nil || len(s.Dense) != 2 || !s.Dense[0].Tanh || s.Dense[1].Tanh || s.Dense[1].Bias != nil || !s.Normalize {
		t.Fatalf("LoadSentence: %+v, %v", s, err)
	}
	x := []float32{1, 2, 3}
	h := s.Dense[0].Apply(x)
	want := []float32{float32(math.Tanh(1 - 3 + 0.1)), float32(math.Tanh(3 - 0.2))}
	if !slices.Equal(h, want) {
		t.Errorf("the first Dense: %v; want %v", h, want)
	}
	if got := Finish(x, s.Dense, false); !slices.Equal(got, []float32{2*want[0] - want[1]}) {
		t.Errorf("Finish: %v", got)
	}
	if got := Finish(x, s.Dense, true); len(got) != 1 || math.Abs(float64(got[0])+1) > 1e-6 {
		t.Errorf("Finish, normalised: %v; want [-1]", got)
	}
	for _, tc := range []struct {
		name, modules, config string
		tensors               []safetensors.Tensor
		want                  string
	}{
		{"no bias stored", modules(""), `{"in_features": 3, "out_features": 2}`, []safetensors.Tensor{w}, `no tensor "linear.bias"`},
		{"a shape", modules(""), `{"in_features": 2, "out_features": 3}`, []safetensors.Tensor{w, b}, `tensor "linear.weight" of shape [2 3], where config.json says [3 2]`},
		{"an activation", modules(""), `{"in_features": 3, "out_features": 2, "activation_function": "torch.nn.modules.activation.ReLU"}`, []safetensors.Tensor{w, b}, `activation_function "torch.nn.modules.activation.ReLU" is not one attn runs`},
		{"another input", modules(""), `{"in_features": 3, "out_features": 2, "module_input_name": "token_embeddings"}`, []safetensors.Tensor{w, b}, `a Dense module on "token_embeddings"`},
		{"a residual", modules(""), `{"in_features": 3, "out_features": 2, "use_residual": true}`, []safetensors.Tensor{w, b}, "use_residual is not supported"},
		{"an extra tensor", modules(""), `{"in_features": 3, "out_features": 2, "bias": false}`, []safetensors.Tensor{w, b}, "a Dense module's are linear.weight"},
		{"after Normalize", `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]`,
			`{"in_features": 3, "out_features": 2}`, []safetensors.Tensor{w, b}, "module 3, a Dense module, is not between the Pooling and Normalize modules"},
		{"widths that do not chain", modules(`, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}`), `{"in_features": 3, "out_features": 2}`, []safetensors.Tensor{w, b}, "in_features 3, where the module before gives 2"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"modules.json": tc.modules, "1_Pooling/config.json": stPoolingCLS, "2_Dense/config.json": tc.config})
		write(dir, "2_Dense", tc.tensors...)
		if _, err := LoadSentence(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestSentencePrompts reads config_sentence_transformers.json's prompts
// and default; Prompt picks one by name or the default, and refuses an
// unknown name, a default that is not a prompt, and a prompt the pooling
// would leave out (include_prompt false).
func TestSentencePrompts(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"modules.json": stModules, "1_Pooling/config.json": stPoolingCLS,
		"config_sentence_transformers.json": `{"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query"}`,
	})
	s, err := LoadSentence(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"": "query: ", "query": "query: ", "passage": "passage: "} {
		if got, err := s.Prompt(name); err != nil || got != want {
			t.Errorf("Prompt(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := s.Prompt("doc"); err == nil || !strings.Contains(err.Error(), `prompt "doc" is not one of the model's (passage, query)`) {
		t.Errorf("an unknown prompt: %v", err)
	}
	var none *Sentence
	if p, err := none.Prompt(""); p != "" || err != nil {
		t.Errorf("no recipe, no prompt: %q, %v", p, err)
	}
	if _, err := none.Prompt("query"); err == nil {
		t.Error("a named prompt without a recipe: no error")
	}
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"config_sentence_transformers.json": `{"prompts": {"query": "q: "}, "default_prompt_name": "doc"}`}, `default_prompt_name "doc" is not one of its prompts`},
		{map[string]string{"config_sentence_transformers.json": `{"prompts": {"query": "q: "}, "default_prompt_name": "query"}`,
			"1_Pooling/config.json": `{"pooling_mode_mean_tokens": true, "include_prompt": false}`}, "include_prompt false"},
	} {
		dir := t.TempDir()
		files := map[string]string{"modules.json": stModules, "1_Pooling/config.json": stPoolingCLS}
		for k, v := range tc.files {
			files[k] = v
		}
		writeFiles(t, dir, files)
		s, err := LoadSentence(dir)
		if err == nil {
			_, err = s.Prompt("")
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want %q", tc.files, err, tc.want)
		}
	}
}
