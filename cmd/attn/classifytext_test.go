package main

import (
	"encoding/json"
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
		seqs, types, err := encodeTexts(tok, lines[i:i+1], 24, false)
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
	long := filepath.Join(t.TempDir(), "long.txt")
	os.WriteFile(long, []byte(strings.Repeat("the ", 30)+"\n"), 0o644)
	if out, code := attn(t, "classify", "--model", dir, long); code == 0 || !strings.Contains(out, "line 1 has 32 tokens; the model takes at most 24") {
		t.Errorf("a line too long: exit %d\n%s", code, out)
	}
}
