package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Open loads a tokenizer from path: a tokenizer.json file, a vocab.txt
// (WordPiece, lowercased like bert-base-uncased unless a
// tokenizer_config.json beside it says do_lower_case false), a vocab.json with a
// merges.txt beside it (GPT-2 byte-level BPE), a SentencePiece model (a
// .model or .spm file), or a directory holding one of the first three.
func Open(path string) (*Pipeline, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if st.IsDir() {
		if file := filepath.Join(path, "tokenizer.json"); fileExists(file) {
			return openWithConfig(path, file)
		}
		for _, name := range []string{"vocab.json", "vocab.txt"} {
			if _, err := os.Stat(filepath.Join(path, name)); err == nil {
				return Open(filepath.Join(path, name))
			}
		}
		return nil, fmt.Errorf("tokenizer: %s has no tokenizer.json, vocab.json or vocab.txt", path)
	}
	switch {
	case strings.HasSuffix(path, ".model") || strings.HasSuffix(path, ".spm"):
		return LoadSentencePiece(path)
	case strings.HasSuffix(path, ".txt"):
		lower, err := classicLowercase(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		return LoadWordPieceVocab(path, lower)
	case filepath.Base(path) == "vocab.json" || strings.HasSuffix(path, "-vocab.json"):
		merges := filepath.Join(filepath.Dir(path), strings.TrimSuffix(filepath.Base(path), "vocab.json")+"merges.txt")
		if _, err := os.Stat(merges); err == nil {
			return LoadBPEFiles(path, merges)
		}
	}
	return Load(path)
}

// fileExists reports whether path names a file (or anything) that exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// openWithConfig loads the tokenizer.json file of the model folder dir as
// transformers' BertTokenizerFast and DistilBertTokenizerFast load it: when
// the folder's tokenizer_config.json names one of them (tokenizer_class, or
// else config.json's model_type bert or distilbert), its do_lower_case
// (true when absent), strip_accents and tokenize_chinese_chars (true)
// replace the file's BertNormalizer settings where they differ. A folder
// whose tokenizer_config.json says do_lower_case false keeps its case
// although its tokenizer.json lowercases, as in transformers.
func openWithConfig(dir, file string) (*Pipeline, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if b, err = bertOverride(dir, b); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", file, err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", file, err)
	}
	return t, nil
}

// bertOverride returns the tokenizer.json contents b with its
// BertNormalizer set as openWithConfig says (b itself when nothing
// changes).
func bertOverride(dir string, b []byte) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return b, nil // no config: the file as it is
	}
	var cfg struct {
		Class   string `json:"tokenizer_class"`
		Lower   *bool  `json:"do_lower_case"`
		Strip   *bool  `json:"strip_accents"`
		Chinese *bool  `json:"tokenize_chinese_chars"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("tokenizer_config.json: %w", err)
	}
	class := strings.TrimSuffix(cfg.Class, "Fast")
	if class == "" {
		var mc struct {
			Type string `json:"model_type"`
		}
		if c, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil && json.Unmarshal(c, &mc) == nil {
			class = map[string]string{"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer"}[mc.Type]
		}
	}
	if class != "BertTokenizer" && class != "DistilBertTokenizer" {
		return b, nil
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, err
	}
	var norm map[string]any
	if json.Unmarshal(file["normalizer"], &norm) != nil || norm["type"] != "BertNormalizer" {
		return b, nil
	}
	want := map[string]any{"lowercase": cfg.Lower == nil || *cfg.Lower, "strip_accents": nil, "handle_chinese_chars": cfg.Chinese == nil || *cfg.Chinese}
	if cfg.Strip != nil {
		want["strip_accents"] = *cfg.Strip
	}
	changed := false
	for k, v := range want {
		if norm[k] != v {
			norm[k], changed = v, true
		}
	}
	if !changed {
		return b, nil
	}
	if file["normalizer"], err = json.Marshal(norm); err != nil {
		return nil, err
	}
	return json.Marshal(file)
}

// classicLowercase reads whether a vocab.txt in dir is lowercased, as
// transformers' BertTokenizer does: tokenizer_config.json's do_lower_case
// (true when absent; accents are stripped exactly when text is lowercased).
// Settings the built tokenizer cannot follow (strip_accents unlike
// do_lower_case, tokenize_chinese_chars false) are errors.
func classicLowercase(dir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if os.IsNotExist(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("tokenizer: %w", err)
	}
	var cfg struct {
		Lower   *bool `json:"do_lower_case"`
		Strip   *bool `json:"strip_accents"`
		Chinese *bool `json:"tokenize_chinese_chars"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return false, fmt.Errorf("tokenizer: %s: %w", filepath.Join(dir, "tokenizer_config.json"), err)
	}
	lower := cfg.Lower == nil || *cfg.Lower
	switch {
	case cfg.Strip != nil && *cfg.Strip != lower:
		return false, fmt.Errorf("tokenizer: %s: strip_accents %v with do_lower_case %v is not supported", filepath.Join(dir, "tokenizer_config.json"), *cfg.Strip, lower)
	case cfg.Chinese != nil && !*cfg.Chinese:
		return false, fmt.Errorf("tokenizer: %s: tokenize_chinese_chars false is not supported", filepath.Join(dir, "tokenizer_config.json"))
	}
	return lower, nil
}

// LoadBPEFiles builds GPT-2's byte-level BPE tokenizer from the classic
// vocab.json and merges.txt, as HuggingFace's GPT2TokenizerFast does.
func LoadBPEFiles(vocabPath, mergesPath string) (*Pipeline, error) {
	vb, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	mb, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := ParseBPEFiles(vb, mb)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabPath, err)
	}
	return t, nil
}

// ParseBPEFiles is LoadBPEFiles on the files' contents.
func ParseBPEFiles(vocabJSON, mergesTxt []byte) (*Pipeline, error) {
	var vocab map[string]int
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("vocab.json: want an object of token to id: %w", err)
	}
	merges, err := ParseMerges(mergesTxt)
	if err != nil {
		return nil, err
	}
	var added []AddedToken
	if id, ok := vocab["<|endoftext|>"]; ok {
		added = append(added, AddedToken{ID: id, Content: "<|endoftext|>", Normalized: true, Special: true})
	}
	return NewByteLevelBPE(vocab, merges, added)
}

// ParseMerges reads merges.txt: an optional "#version" line, then one
// merge "a b" a line.
func ParseMerges(b []byte) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if line == 1 && strings.HasPrefix(s, "#version") || s == "" {
			continue
		}
		parts := strings.Split(s, " ")
		if len(parts) != 2 {
			return nil, fmt.Errorf("merges.txt:%d: %q is not two tokens separated by one space", line, s)
		}
		out = append(out, [2]string{parts[0], parts[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("merges.txt:%d: %w", line, err)
	}
	return out, nil
}

// NewByteLevelBPE builds a GPT-2 style tokenizer: byte-level pre-tokenizer
// with GPT-2's regex and no prefix space, BPE, byte-level decoder.
func NewByteLevelBPE(vocab map[string]int, merges [][2]string, added []AddedToken) (*Pipeline, error) {
	bl := json.RawMessage(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`)
	post := json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}`)
	return build(fileJSON{
		AddedTokens:   added,
		PreTokenizer:  bl,
		PostProcessor: post,
		Decoder:       bl,
		Model:         mustJSON(bpeJSON(vocab, merges, nil)),
	})
}

// LoadWordPieceVocab builds BERT's tokenizer from a vocab.txt (one token a
// line, ids in line order), as HuggingFace's BertTokenizerFast does.
func LoadWordPieceVocab(path string, lowercase bool) (*Pipeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := ParseWordPieceVocab(b, lowercase)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// ParseWordPieceVocab is LoadWordPieceVocab on the file's contents.
func ParseWordPieceVocab(b []byte, lowercase bool) (*Pipeline, error) {
	vocab := map[string]int{}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if _, dup := vocab[l]; dup {
			return nil, fmt.Errorf("vocab.txt:%d: token %q repeats", i+1, l)
		}
		vocab[l] = i
	}
	for _, need := range []string{"[UNK]", "[CLS]", "[SEP]"} {
		if _, ok := vocab[need]; !ok {
			return nil, fmt.Errorf("vocab.txt: token %s is missing", need)
		}
	}
	var added []AddedToken
	for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if id, ok := vocab[s]; ok {
			added = append(added, AddedToken{ID: id, Content: s, Special: true})
		}
	}
	sort2(added)
	cls, sep := vocab["[CLS]"], vocab["[SEP]"]
	post := fmt.Sprintf(`{"type":"TemplateProcessing",
		"single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
		"pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
		"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[%d],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[%d],"tokens":["[SEP]"]}}}`, cls, sep)
	return build(fileJSON{
		AddedTokens:   added,
		Normalizer:    mustJSON(map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": lowercase}),
		PreTokenizer:  json.RawMessage(`{"type":"BertPreTokenizer"}`),
		PostProcessor: json.RawMessage(post),
		Decoder:       json.RawMessage(`{"type":"WordPiece","prefix":"##","cleanup":true}`),
		Model:         mustJSON(map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab}),
	})
}

func sort2(a []AddedToken) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].ID < a[j-1].ID; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// build parses a tokenizer.json assembled in code.
func build(f fileJSON) (*Pipeline, error) {
	f.Version = "1.0"
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on maps and slices of plain values
	}
	return b
}

// bpeJSON is the "model" object of a BPE tokenizer.json, merges as pairs.
func bpeJSON(vocab map[string]int, merges [][2]string, b *bpeModel) map[string]any {
	m := map[string]any{
		"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
		"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
		"vocab": vocab, "merges": merges,
	}
	if b != nil {
		if b.dropout != nil {
			m["dropout"] = *b.dropout
		}
		if b.unk != "" {
			m["unk_token"] = b.unk
		}
		if b.prefix != "" {
			m["continuing_subword_prefix"] = b.prefix
		}
		if b.suffix != "" {
			m["end_of_word_suffix"] = b.suffix
		}
		m["fuse_unk"], m["byte_fallback"], m["ignore_merges"] = b.fuseUnk, b.byteFallback, b.ignoreMerges
	}
	if m["merges"] == nil || len(merges) == 0 {
		m["merges"] = [][2]string{}
	}
	return m
}
