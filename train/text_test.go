package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/tensor"
)

// tinyBERT returns a two-layer BERT with a pooler and a two-way classifier
// over a vocabulary of 20.
func tinyBERT(t *testing.T, seed uint64) *bert.Model {
	t.Helper()
	c := bert.DefaultConfig()
	c.VocabSize, c.Hidden, c.Layers, c.Heads, c.Intermediate, c.MaxPositions = 20, 32, 2, 4, 64, 16
	m, err := bert.New(c, bert.Parts{Pooler: true, Labels: 2}, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// keywordTexts returns n texts of 3 to 12 random tokens between [CLS] (1)
// and [SEP] (2), labelled 1 when token 7 appears anywhere (about a quarter
// of them): the label is not at any fixed position, so the model must
// attend over the sequence.
func keywordTexts(n int, seed uint64) []TextExample {
	r := tensor.NewRNG(seed)
	out := make([]TextExample, n)
	for i := range out {
		ids, label := []int{1}, 0
		for range 3 + r.Intn(10) {
			id := 3 + r.Intn(17)
			if id == 7 && r.Intn(2) == 0 {
				id = 8 // token 7 in a text about one time in twelve
			}
			if id == 7 {
				label = 1
			}
			ids = append(ids, id)
		}
		out[i] = TextExample{IDs: append(ids, 2), Types: make([]int, len(ids)+1), Label: label}
	}
	return out
}

func newTextRun(t *testing.T, out string, m *bert.Model, steps int) *Run {
	ex := keywordTexts(1200, 3)
	job := &TextJob{Data: TextData{Batch: 32, Seed: 4}, Model: m, Train: ex[:1000], Val: ex[1000:],
		Save: func(dir string) error { return bert.Save(dir, m) }}
	if err := job.Check(); err != nil {
		t.Fatal(err)
	}
	return &Run{
		Cfg: RunConfig{Steps: steps, Accum: 1, Schedule: "cosine", PeakLR: 3e-3, MinLR: 1e-4, Warmup: 20,
			WeightDecay: 0.01, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, Seed: 5},
		Job: job, JobConfig: job.Data, Out: out,
	}
}

// TestTextJobLearns trains a tiny BERT classifier to spot a keyword:
// validation accuracy must be far above the majority label's share.
func TestTextJobLearns(t *testing.T) {
	ev, err := newTextRun(t, t.TempDir(), tinyBERT(t, 1), 300).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after 300 steps: validation loss %.3f, accuracy %.3f", ev["val_loss"], ev["val_accuracy"])
	if !(ev["val_accuracy"] > 0.95) { // always answering 0 scores 0.765
		t.Errorf("validation accuracy %.3f after 300 steps; want > 0.95", ev["val_accuracy"])
	}
}

// TestTextJobResumes interrupts a run after step 4 and resumes it from its
// checkpoint: the last steps' losses must equal an uninterrupted run's.
func TestTextJobResumes(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	if _, err := newTextRun(t, dirA, tinyBERT(t, 1), 8).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := losses(t, dirA)
	ctx, cancel := context.WithCancel(context.Background())
	r := newTextRun(t, dirB, tinyBERT(t, 1), 8)
	r.Job = &cancelAfter{Job: r.Job, n: 4, cancel: cancel}
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ckpt, err := CheckpointDir(dirB)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bert.Load(filepath.Clean(ckpt))
	if err != nil {
		t.Fatal(err)
	}
	r = newTextRun(t, dirB, m, 8)
	if err := r.Resume(ckpt); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := losses(t, dirB)
	for step := 5; step <= 8; step++ {
		if got[step] != want[step] {
			t.Errorf("step %d: loss %v after resuming, %v uninterrupted", step, got[step], want[step])
		}
	}
}

func TestTextJobCheck(t *testing.T) {
	m := tinyBERT(t, 1)
	ok := TextExample{IDs: []int{1, 5, 2}, Types: []int{0, 0, 0}, Label: 1}
	for _, c := range []struct {
		ex   TextExample
		want string
	}{
		{TextExample{IDs: []int{1, 2}, Types: []int{0, 0}, Label: 2}, "training text 1 has label 2; the classifier has 2"},
		{TextExample{IDs: make([]int, 17), Types: make([]int, 17)}, "training text 1 has 17 tokens (17 types); the model takes 1 to 16"},
		{TextExample{}, "training text 1 has 0 tokens"},
	} {
		j := &TextJob{Data: TextData{Batch: 2}, Model: m, Train: []TextExample{c.ex}, Val: []TextExample{ok}}
		if err := j.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%+v) = %v; want %q", c.ex, err, c.want)
		}
	}
}

// TestNewRunRefusesAFolderWithARun: a new run into a folder that holds
// another run's checkpoint fails before training, naming the folder; the
// old run is left as it was.
func TestNewRunRefusesAFolderWithARun(t *testing.T) {
	dir := t.TempDir()
	if _, err := newTextRun(t, dir, tinyBERT(t, 1), 2).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	_, err := newTextRun(t, dir, tinyBERT(t, 2), 2).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), dir+" holds a run already (ckpt/)") {
		t.Fatalf("a second run into %s: %v", dir, err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); string(after) != string(before) {
		t.Error("the refused run changed the old run's metrics.jsonl")
	}
}
