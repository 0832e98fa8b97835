package train

import (
	"context"
	"strings"
	"testing"

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

func newSeq2SeqRun(t *testing.T, out string) (*Run, *Seq2SeqJob) {
	t.Helper()
	task := data.CopyTask{Symbols: 8, Len: 5, Reverse: true}
	rng := tensor.NewRNG(3)
	var pairs []data.Pair
	for range 120 {
		s, g := task.Sample(rng)
		n := 2 + rng.Intn(4) // varying lengths, so batches differ in shape
		pairs = append(pairs, data.Pair{Src: s[:n], Tgt: g[len(g)-n:]})
	}
	c := transformer.DefaultConfig()
	c.SrcVocab, c.TgtVocab, c.DModel, c.Heads, c.DFF, c.EncoderLayers, c.DecoderLayers, c.MaxLen = task.Vocab(), task.Vocab(), 16, 2, 32, 1, 1, 16
	m, err := transformer.New(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	job := &Seq2SeqJob{
		Data:  Seq2SeqData{MaxTokens: 60, Smoothing: 0.1, Seed: 9},
		Model: m, Train: pairs[:100], Val: pairs[100:], Pad: data.Pad, BOS: data.BOS, EOS: data.EOS,
		Save: func(dir string) error { return transformer.Save(dir, m) },
	}
	run := &Run{
		Cfg: RunConfig{Steps: 10, Accum: 1, Schedule: "noam", NoamDModel: 16, PeakLR: 1, Warmup: 4,
			Beta2: 0.98, Eps: 1e-9, ClipNorm: 0, EvalEvery: 5, Seed: 2, Snapshots: 2},
		Job: job, JobConfig: job.Data, Out: out,
	}
	return run, job
}

// TestSeq2SeqResumeIsBitExact: the translation job (bucketed batches, epoch
// shuffles, dropout) resumed from a checkpoint repeats an uninterrupted run's
// losses exactly.
func TestSeq2SeqResumeIsBitExact(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	runA, jobA := newSeq2SeqRun(t, dirA) // DefaultConfig: dropout 0.1
	if _, err := runA.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if jobA.StepsPerEpoch() >= 10 {
		t.Fatalf("%d batches per epoch; the test wants the run to cross an epoch", jobA.StepsPerEpoch())
	}
	want := losses(t, dirA)

	runB, _ := newSeq2SeqRun(t, dirB)
	runB.Cfg.Steps = 6 // stop early, as an interrupted run would
	if _, err := runB.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ckpt, err := CheckpointDir(dirB)
	if err != nil {
		t.Fatal(err)
	}
	m, err := transformer.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	runC, jobC := newSeq2SeqRun(t, dirB)
	if err := nn.Load(jobC.Model.Params(), func(name string) ([]float32, []int, bool, error) {
		for _, p := range m.Params() {
			if p.Name == name {
				return p.Value.Data, p.Value.Shape, true, nil
			}
		}
		return nil, nil, false, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := runC.Resume(ckpt); err != nil {
		t.Fatal(err)
	}
	runC.Cfg.Steps = 10
	if _, err := runC.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := losses(t, dirB)
	snaps, err := Snapshots(dirB)
	if err != nil || len(snaps) != 2 || !strings.HasSuffix(snaps[1], "step-0000010") {
		t.Errorf("Snapshots = %v, %v; want the last 2 (steps 5 and 10)", snaps, err)
	}
	for step := 1; step <= 10; step++ {
		if got[step] != want[step] {
			t.Errorf("step %d: resumed loss %v; uninterrupted %v", step, got[step], want[step])
		}
	}
}
