package train

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/vit"
)

// tinyViT returns a two-layer ViT for 16×16 images with a ten-way
// classifier.
func tinyViT(t *testing.T, seed uint64) *vit.Model {
	t.Helper()
	c := vit.DefaultConfig()
	c.Hidden, c.Layers, c.Heads, c.Intermediate, c.ImageSize, c.PatchSize = 32, 2, 4, 64, 16, 4
	m, err := vit.New(c, vit.Parts{Labels: 10}, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newImageRun(t *testing.T, out string, m *vit.Model, steps int) *Run {
	ims := data.Digits(2200, 16, 3)
	p := vit.DefaultProcessor(m.Cfg)
	job := &ImageJob{Data: ImageData{Batch: 32, Smoothing: 0.1, Seed: 4}, Model: m, Processor: p, Train: ims[:2000], Val: ims[2000:]}
	if err := job.Check(); err != nil {
		t.Fatal(err)
	}
	return &Run{
		Cfg: RunConfig{Steps: steps, Accum: 1, Schedule: "cosine", PeakLR: 3e-3, MinLR: 1e-4, Warmup: 10,
			WeightDecay: 0.05, Beta2: 0.99, Eps: 1e-8, ClipNorm: 1, Seed: 5},
		Job: job, JobConfig: job.Data, Out: out,
	}
}

// TestImageJobLearnsDigits trains a tiny ViT from scratch on generated
// digits for 400 steps: validation accuracy must be far above chance (10%).
func TestImageJobLearnsDigits(t *testing.T) {
	ev, err := newImageRun(t, t.TempDir(), tinyViT(t, 1), 400).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after 400 steps: validation loss %.3f, accuracy %.3f", ev["val_loss"], ev["val_accuracy"])
	if !(ev["val_accuracy"] > 0.4) {
		t.Errorf("validation accuracy %.3f after 400 steps; want > 0.4", ev["val_accuracy"])
	}
}

// TestImageJobResumes interrupts a run after step 4 and resumes it from
// its checkpoint: the last steps' losses must equal an uninterrupted run's,
// with augmentation too (its variations come from the seed, the epoch and
// the image).
func TestImageJobResumes(t *testing.T) {
	var plain map[int]float64 // the losses without augmentation
	for _, augment := range []bool{false, true} {
		run := func(out string, m *vit.Model) *Run {
			r := newImageRun(t, out, m, 8)
			job := r.Job.(*ImageJob)
			job.Data.Augment = augment
			r.JobConfig = job.Data
			return r
		}
		dirA, dirB := t.TempDir(), t.TempDir()
		if _, err := run(dirA, tinyViT(t, 1)).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := losses(t, dirA)
		if !augment {
			plain = want
		} else if want[2] == plain[2] {
			t.Fatalf("step 2's loss %v is the same with augmentation", want[2])
		}

		ctx, cancel := context.WithCancel(context.Background())
		r := run(dirB, tinyViT(t, 1))
		r.Job = &cancelAfter{Job: r.Job, n: 4, cancel: cancel}
		if _, err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		ckpt, err := CheckpointDir(dirB)
		if err != nil {
			t.Fatal(err)
		}
		m, err := vit.Load(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		r = run(dirB, m)
		if err := r.Resume(ckpt); err != nil {
			t.Fatal(err)
		}
		if r.Step() != 4 {
			t.Fatalf("augment %v: resumed at step %d; want 4", augment, r.Step())
		}
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := losses(t, dirB)
		for step := 5; step <= 8; step++ {
			if got[step] != want[step] {
				t.Errorf("augment %v, step %d: loss %v after resuming, %v uninterrupted", augment, step, got[step], want[step])
			}
		}
	}
}

// cancelAfter cancels the run's context once its job has given n losses,
// as Ctrl-C would during step n.
type cancelAfter struct {
	Job
	n      int
	cancel func()
}

func (c *cancelAfter) Loss(tp *autograd.Tape) (*autograd.Var, int, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.Job.Loss(tp)
}

// TestImageJobProbe trains a tiny ViT on digits, gives it a new classifier
// and trains only that on the frozen backbone's features: the backbone
// keeps its weights bit for bit, the new classifier learns, and the job's
// parameters are the classifier's.
func TestImageJobProbe(t *testing.T) {
	m := tinyViT(t, 1)
	if _, err := newImageRun(t, t.TempDir(), m, 300).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Classifier = tinyViT(t, 2).Classifier // untrained: chance
	before := map[string][]float32{}
	for _, p := range m.Params() {
		before[p.Name] = slices.Clone(p.Value.Data)
	}
	run := newImageRun(t, t.TempDir(), m, 100)
	job := run.Job.(*ImageJob)
	job.Data.Probe = true
	run.JobConfig = job.Data
	for _, p := range job.Params() {
		if !vit.IsHead(p.Name) {
			t.Fatalf("a probe trains %s", p.Name)
		}
	}
	ev, err := run.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linear probe, 100 steps: validation loss %.3f, accuracy %.3f", ev["val_loss"], ev["val_accuracy"])
	if !(ev["val_accuracy"] > 0.3) { // chance is 0.1
		t.Errorf("validation accuracy %.3f; want > 0.3", ev["val_accuracy"])
	}
	for _, p := range m.Params() {
		same := slices.Equal(before[p.Name], p.Value.Data)
		if same == vit.IsHead(p.Name) {
			t.Errorf("%s: unchanged %v after probing", p.Name, same)
		}
	}
	// The probe's evaluation on cached features equals evaluating the
	// whole model on the images.
	loss, acc, err := EvaluateImages(m, job.Processor, job.Val, 32)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-ev["val_loss"]) > 1e-5 || acc != ev["val_accuracy"] {
		t.Errorf("whole model: loss %.6f, accuracy %.4f; the probe's evaluation %.6f, %.4f", loss, acc, ev["val_loss"], ev["val_accuracy"])
	}
}
