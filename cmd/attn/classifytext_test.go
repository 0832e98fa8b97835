package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClassifyText labels lines of text with the tiny BERT sequence
// classifier in testdata (a line with a tab is a pair of texts): scores
// from the model's own logits, highest first, under its id2label names.
func TestClassifyText(t *testing.T) {
	dir := bertFolderOf(t, "bert-tiny-cls")
	lines := []string{"Paris is the capital of France.", "the capital\tof france"}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out, code := attn(t, "classify", "--model", dir, "--json", in)
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 2 {
		t.Fatalf("attn classify: exit %d\n%s", code, out)
	}
	m, tok, err := loadBERT(dir, "classify")
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		var r struct {
			Text   string
			Labels []label
		}
		if err := json.Unmarshal([]byte(row), &r); err != nil || r.Text != lines[i] || len(r.Labels) != 3 {
			t.Fatalf("line %d: %v\n%s", i, err, row)
		}
		// The same line through the model directly; a pair gets token
		// types 1 after its first [SEP].
		seqs, types, err := encodeTexts(tok, lines[i:i+1], 24, 1)
		if err != nil {
			t.Fatal(err)
		}
		if pair := strings.Contains(lines[i], "\t"); pair != (types[0][len(types[0])-1] == 1) {
			t.Errorf("line %d: token types %v", i, types[0])
		}
		ids, ty, pad, b, tt := batchTexts(m, seqs, types)
		logits, err := m.Classify(ids, ty, pad, b, tt)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for j, l := range r.Labels {
			want := m.Cfg.Scores(logits.Data, 3)[j]
			if l.ID != want.ID || math.Abs(float64(l.Score-want.Prob)) > 1e-6 || l.Label != []string{"negative", "neutral", "positive"}[l.ID] {
				t.Errorf("line %d label %d: %+v; want id %d score %v", i, j, l, want.ID, want.Prob)
			}
			sum += float64(l.Score)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("line %d: scores sum to %v", i, sum)
		}
	}
	out, code = attn(t, "classify", "--model", dir, "--top-k", "1", in)
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.HasPrefix(out, lines[0]+"\n  0.") {
		t.Errorf("attn classify (text): exit %d\n%s", code, out)
	}
	if out, code := attn(t, "classify", "--model", bertFolder(t), in); code == 0 || !strings.Contains(out, "has no sequence classifier") {
		t.Errorf("attn classify with a BERT without a classifier: exit %d\n%s", code, out)
	}
	// Longer texts are cut to the model's 24 positions as HF cuts them
	// (longest_first): a pair keeps both [SEP]s and tokens of both sides.
	_, tok2, _ := loadBERT(dir, "classify")
	seqs, types, err := encodeTexts(tok2, []string{strings.Repeat("the ", 30), strings.Repeat("the ", 30) + "\tparis is"}, 24, 1)
	if err != nil {
		t.Fatal(err)
	}
	sep, _ := tok2.TokenToID("[SEP]")
	cls, _ := tok2.TokenToID("[CLS]")
	if len(seqs[0]) != 24 || seqs[0][0] != cls || seqs[0][23] != sep {
		t.Errorf("a long text cut to %v", seqs[0])
	}
	seps, ones := 0, 0
	for i, id := range seqs[1] {
		if id == sep {
			seps++
		}
		ones += types[1][i]
	}
	if len(seqs[1]) != 24 || seps != 2 || ones != 3 { // "paris is" [SEP] in segment 1
		t.Errorf("a long pair cut to %v, types %v", seqs[1], types[1])
	}
	if _, _, err := encodeTexts(tok2, []string{"paris"}, 2, 1); err == nil {
		t.Error("sequences of 2 tokens: want an error")
	}
	// More texts than one chunk of 32, in one batch of the command: each
	// keeps its own labels, in order.
	many := filepath.Join(t.TempDir(), "many.txt")
	os.WriteFile(many, []byte(strings.Repeat(lines[0]+"\n"+lines[1]+"\n", 20)), 0o644)
	out, code = attn(t, "classify", "--model", dir, "--json", "--batch", "40", many)
	rows = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 40 {
		t.Fatalf("40 texts: exit %d, %d rows", code, len(rows))
	}
	var r0, r38 struct {
		Text   string
		Labels []label
	}
	json.Unmarshal([]byte(rows[0]), &r0)
	json.Unmarshal([]byte(rows[38]), &r38) // the same text, in the second chunk
	if r0.Text != r38.Text || len(r38.Labels) != 3 || r0.Labels[0].ID != r38.Labels[0].ID || math.Abs(float64(r0.Labels[0].Score-r38.Labels[0].Score)) > 1e-5 {
		t.Errorf("text 39 %+v differs from text 1 %+v", r38, r0)
	}
	long := filepath.Join(t.TempDir(), "long.txt")
	os.WriteFile(long, []byte(strings.Repeat("the ", 30)+"\n"), 0o644)
	if out, code := attn(t, "classify", "--model", dir, long); code != 0 || strings.Count(out, "\n") != 4 {
		t.Errorf("a line longer than the model's positions: exit %d\n%s", code, out)
	}
}

// TestTrainTextClassifier fine-tunes the tiny BERT in testdata (a masked-LM
// checkpoint, so a new classifier is drawn) on labelled lines, and checks
// that it learns, saves a classifier that attn classify runs, resumes from
// the recorded file, and refuses bad data.
func TestTrainTextClassifier(t *testing.T) {
	base := bertFolder(t)
	tmp := t.TempDir()
	var b strings.Builder
	b.WriteString("sentence\tlabel\n") // a header
	for i := range 240 {
		if i%2 == 0 {
			fmt.Fprintf(&b, "paris is the capital\tyes\n")
		} else {
			fmt.Fprintf(&b, "the capital of france .\tno\n")
		}
	}
	data := filepath.Join(tmp, "train.tsv")
	os.WriteFile(data, []byte(b.String()), 0o644)
	dir := filepath.Join(tmp, "run")
	out, code := attn(t, "train", "--model", base, "--data", data, "--epochs", "2", "--batch", "8", "--lr", "1e-3", "--out", dir, "--workers", "1")
	if code != 0 || !strings.Contains(out, "a new classifier for 2 labels: no, yes") || !strings.Contains(out, "216 training and 24 validation texts, 8 per step, 54 steps (2 epochs)") {
		t.Fatalf("attn train --model BERT --data: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "validation accuracy 1.0000") {
		t.Errorf("two kinds of sentence, two epochs: not all told apart\n%s", out)
	}
	lines := filepath.Join(tmp, "lines.txt")
	os.WriteFile(lines, []byte("paris is the capital\nthe capital of france .\n"), 0o644)
	out, code = attn(t, "classify", "--model", dir, "--top-k", "1", "--json", lines)
	if code != 0 || !strings.Contains(out, `"label":"yes"`) || !strings.Contains(out, `"label":"no"`) || strings.Index(out, `"yes"`) > strings.Index(out, `"no"`) {
		t.Errorf("attn classify with the fine-tuned model: exit %d\n%s", code, out)
	}
	// attn eval scores the classifier on labelled lines: the training
	// texts, all told apart.
	out, code = attn(t, "eval", "--model", dir, "--data", data, "--json")
	var ev struct {
		Accuracy, Loss float64
		Texts          int
	}
	if err := json.Unmarshal([]byte(out), &ev); code != 0 || err != nil || ev.Texts != 240 || ev.Accuracy != 1 || ev.Loss <= 0 {
		t.Errorf("attn eval --model BERT-CLASSIFIER: exit %d, %v\n%s", code, err, out)
	}
	out, code = attn(t, "train", "--resume", dir, "--steps", "60")
	if code != 0 || !strings.Contains(out, "resuming") || !strings.Contains(out, "step 60") {
		t.Errorf("attn train --resume: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--resume", dir, "--lr", "1"); code == 0 || !strings.Contains(out, "--lr cannot change a run being resumed") {
		t.Errorf("resuming with --lr: exit %d\n%s", code, out)
	}
	os.WriteFile(data, []byte("changed\tyes\n"), 0o644)
	if out, code := attn(t, "train", "--resume", dir, "--steps", "70"); code == 0 || !strings.Contains(out, "differs from the file the run started on") {
		t.Errorf("resuming on a changed file: exit %d\n%s", code, out)
	}
	for _, c := range []struct{ content, want string }{
		{"\ttext\tlabel\n0\tparis\tyes\n", "the header starts with an empty column, as pandas writes its index"},
		{strings.Repeat("paris\tyes\n", 30), `every text has the label "yes"; a classifier needs at least two`},
		{"only text\n", "want text<TAB>label or text<TAB>text<TAB>label, got 1 fields"},
		{"a\tb\tc\td\n", "got 4 fields"},
		{"\n\n", "has no labelled texts"},
		{"paris\tyes\n", "too few to hold out a validation set"},
	} {
		os.WriteFile(data, []byte(c.content), 0o644)
		if out, code := attn(t, "train", "--model", base, "--data", data, "--out", filepath.Join(tmp, "bad")); code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("data %q: exit %d\n%s; want %q", c.content, code, out, c.want)
		}
	}
	// From scratch: a WordPiece vocabulary learnt from the data, a small
	// BERT, and the same two kinds of sentence.
	os.WriteFile(data, []byte(b.String()), 0o644)
	scratch := filepath.Join(tmp, "scratch")
	out, code = attn(t, "train", "--preset", "classify", "--data", data, "--vocab", "60", "--d-model", "16", "--layers", "1", "--heads", "2",
		"--epochs", "2", "--batch", "8", "--lr", "3e-3", "--out", scratch, "--workers", "1")
	if code != 0 || !strings.Contains(out, "learnt a WordPiece vocabulary of") || !strings.Contains(out, "training a BERT (1 layers, width 16;") || !strings.Contains(out, "validation accuracy 1.0000") {
		t.Fatalf("attn train --preset classify: exit %d\n%s", code, out)
	}
	out, code = attn(t, "classify", "--model", scratch, "--top-k", "1", "--json", lines)
	if code != 0 || strings.Index(out, `"yes"`) < 0 || strings.Index(out, `"yes"`) > strings.Index(out, `"no"`) {
		t.Errorf("attn classify with the model trained from scratch: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--model", base, "--data", data, "--vocab", "60"); code == 0 || !strings.Contains(out, "--vocab shapes a model trained from scratch") {
		t.Errorf("--vocab with --model: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--preset", "classify", "--resume", scratch, "--steps", "55"); code != 0 || !strings.Contains(out, "step 55") {
		t.Errorf("resuming with --preset classify: exit %d\n%s", code, out)
	}
	// Gzipped data reads as plain.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(b.String()))
	zw.Close()
	gzData := filepath.Join(tmp, "train.tsv.gz")
	os.WriteFile(gzData, gz.Bytes(), 0o644)
	if out, code := attn(t, "train", "--model", base, "--data", gzData, "--steps", "1", "--out", filepath.Join(tmp, "gz")); code != 0 || !strings.Contains(out, "216 training and 24 validation texts") {
		t.Errorf("gzipped labelled texts: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--preset", "classify", "--data", data, "--max-len", "600"); code == 0 || !strings.Contains(out, "at most 512 positions") {
		t.Errorf("--max-len 600 from scratch: exit %d\n%s", code, out)
	}
	for _, flags := range [][]string{{"--max-len", "2"}, {"--epochs", "0"}, {"--epochs", "1e300"}} {
		if out, code := attn(t, append([]string{"train", "--model", base, "--data", data}, flags...)...); code == 0 || !strings.Contains(out, flags[0]+" ") {
			t.Errorf("%v: exit %d\n%s", flags, code, out)
		}
	}
	// The model trained from scratch says it is cased, for HF's tokenizer.
	cfg, _ := os.ReadFile(filepath.Join(scratch, "ckpt", "tokenizer_config.json"))
	if !strings.Contains(string(cfg), `"do_lower_case": false`) {
		t.Errorf("tokenizer_config.json: %s", cfg)
	}
	if _, err := os.Stat(filepath.Join(scratch, "ckpt", "vocab.txt")); err != nil {
		t.Error(err)
	}
	// Trailing tabs are ignored.
	os.WriteFile(data, []byte(strings.ReplaceAll(b.String(), "\n", "\t\n")), 0o644)
	if out, code := attn(t, "train", "--model", base, "--data", data, "--steps", "1", "--out", filepath.Join(tmp, "tabs")); code != 0 {
		t.Errorf("lines ending in a tab: exit %d\n%s", code, out)
	}

	val := filepath.Join(tmp, "val.tsv")
	os.WriteFile(data, []byte("paris\tyes\nfrance\tno\n"), 0o644)
	os.WriteFile(val, []byte("paris\tmaybe\n"), 0o644)
	if out, code := attn(t, "train", "--model", base, "--data", data, "--val", val, "--out", filepath.Join(tmp, "bad")); code == 0 || !strings.Contains(out, `val.tsv:1: label "maybe" is not one of the classifier's (no, yes)`) {
		t.Errorf("a validation label the training texts lack: exit %d\n%s", code, out)
	}
}
