package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// robertaFolder copies testdata/hf/<name> (a tiny RoBERTa) with a byte-level
// BPE tokenizer.json made here in RoBERTa's layout: <s> <pad> </s> <unk>
// <mask> (which swallows the space before it), one token per character,
// RobertaProcessing's <s> … </s>.
func robertaFolder(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "hf", name)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	vocab := map[string]int{}
	var added []map[string]any
	for i, s := range []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"} {
		vocab[s] = i
		added = append(added, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": s == "<mask>", "rstrip": false, "normalized": s != "<mask>", "special": true})
	}
	for _, r := range "abcdefghijklmnopqrstuvwxyzPF.Ġ" {
		vocab[string(r)] = len(vocab)
	}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 0}, "trim_offsets": true, "add_prefix_space": false},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "",
			"fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []string{}},
	}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
	return dir
}

// TestRoberta runs the encoder commands on RoBERTa folders: fill-mask with
// RoBERTa's <mask> (or BERT's [MASK], read as the model's), embed, and a
// RobertaForSequenceClassification through classify; a text longer than
// the positions RoBERTa leaves (max_position_embeddings less 2) is refused.
func TestRoberta(t *testing.T) {
	dir := robertaFolder(t, "roberta-tiny")
	out, code := attn(t, "fill-mask", "--model", dir, "--top-k", "3", "Paris <mask> of it.")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Fatalf("attn fill-mask: exit %d\n%s", code, out)
	}
	if again, code := attn(t, "fill-mask", "--model", dir, "--top-k", "3", "Paris [MASK] of it."); code != 0 || again != out {
		t.Errorf("attn fill-mask with [MASK]: exit %d\n%s\nwant what <mask> gives:\n%s", code, again, out)
	}
	if out, code := attn(t, "fill-mask", "--model", dir, "no mask here"); code == 0 || !strings.Contains(out, "the text has no <mask>") {
		t.Errorf("attn fill-mask without a mask: exit %d\n%s", code, out)
	}

	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("Paris is.\nthe cap\n"), 0o644)
	out, code = attn(t, "embed", "--model", dir, "--normalize", in)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var e struct{ Embedding []float64 }
	if code != 0 || len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &e) != nil || len(e.Embedding) != 32 {
		t.Fatalf("attn embed: exit %d\n%s", code, out)
	}
	os.WriteFile(in, []byte(strings.Repeat("a", 21)+"\n"), 0o644) // <s> + 21 + </s>: 23 tokens, 22 positions
	if out, code := attn(t, "embed", "--model", dir, in); code == 0 || !strings.Contains(out, "line 1 has 23 tokens; the model takes at most 22") {
		t.Errorf("attn embed of a text past the positions: exit %d\n%s", code, out)
	}

	cls := robertaFolder(t, "roberta-tiny-cls")
	in = filepath.Join(cls, "in.txt")
	os.WriteFile(in, []byte("Paris is.\nthe cap\n"), 0o644)
	out, code = attn(t, "classify", "--model", cls, "--top-k", "2", "--json", in)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"POSITIVE"`) || !strings.Contains(lines[0], `"NEGATIVE"`) {
		t.Fatalf("attn classify: exit %d\n%s", code, out)
	}
}

// TestRobertaFineTune fine-tunes the tiny RoBERTa as a sentence classifier
// (a new RobertaClassificationHead), classifies with the result and
// resumes it.
func TestRobertaFineTune(t *testing.T) {
	base := robertaFolder(t, "roberta-tiny")
	tmp := t.TempDir()
	var b strings.Builder
	for i := range 240 {
		if i%2 == 0 {
			b.WriteString("Paris is.\tyes\n")
		} else {
			b.WriteString("the cap.\tno\n")
		}
	}
	data := filepath.Join(tmp, "train.tsv")
	os.WriteFile(data, []byte(b.String()), 0o644)
	dir := filepath.Join(tmp, "run")
	out, code := attn(t, "train", "--model", base, "--data", data, "--epochs", "2", "--batch", "8", "--lr", "1e-3", "--out", dir, "--workers", "1")
	if code != 0 || !strings.Contains(out, "a new classifier for 2 labels: no, yes") || !strings.Contains(out, "validation accuracy 1.0000") {
		t.Fatalf("attn train --model ROBERTA --data: exit %d\n%s", code, out)
	}
	lines := filepath.Join(tmp, "lines.txt")
	os.WriteFile(lines, []byte("Paris is.\nthe cap.\n"), 0o644)
	out, code = attn(t, "classify", "--model", dir, "--top-k", "1", "--json", lines)
	if code != 0 || strings.Index(out, `"yes"`) < 0 || strings.Index(out, `"yes"`) > strings.Index(out, `"no"`) {
		t.Errorf("attn classify with the fine-tuned RoBERTa: exit %d\n%s", code, out)
	}
	if out, code = attn(t, "train", "--resume", dir, "--steps", "60"); code != 0 || !strings.Contains(out, "step 60") {
		t.Errorf("attn train --resume: exit %d\n%s", code, out)
	}
}

// TestDistilBERT runs the encoder commands on DistilBERT folders (with the
// WordPiece vocabulary of bertFolderOf): fill-mask, embed, classify, and
// fine-tuning a new classifier.
func TestDistilBERT(t *testing.T) {
	dir := bertFolderOf(t, "distilbert-tiny")
	out, code := attn(t, "fill-mask", "--model", dir, "--top-k", "3", "Paris is the [MASK] of France.")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Fatalf("attn fill-mask: exit %d\n%s", code, out)
	}
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("Paris is the capital of France.\nthe capital\tof france\n"), 0o644)
	out, code = attn(t, "embed", "--model", dir, in)
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("attn embed: exit %d\n%s", code, out)
	}
	cls := bertFolderOf(t, "distilbert-tiny-cls")
	out, code = attn(t, "classify", "--model", cls, "--top-k", "1", "--json", in)
	if code != 0 || strings.Count(out, `"label"`) != 2 {
		t.Fatalf("attn classify: exit %d\n%s", code, out)
	}
	var b strings.Builder
	for i := range 240 {
		b.WriteString([]string{"paris is the capital\tyes\n", "the capital of france .\tno\n"}[i%2])
	}
	data := filepath.Join(t.TempDir(), "train.tsv")
	os.WriteFile(data, []byte(b.String()), 0o644)
	run := filepath.Join(t.TempDir(), "run")
	out, code = attn(t, "train", "--model", dir, "--data", data, "--epochs", "2", "--batch", "8", "--lr", "1e-3", "--out", run, "--workers", "1")
	if code != 0 || !strings.Contains(out, "a new classifier for 2 labels: no, yes") || !strings.Contains(out, "validation accuracy 1.0000") {
		t.Fatalf("attn train --model DISTILBERT --data: exit %d\n%s", code, out)
	}
}
