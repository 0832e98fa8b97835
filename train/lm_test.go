package train

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// bigram is a tiny language model (embedding → dropout → linear) that
// exercises everything a run saves: weights, Adam moments, the data RNG and
// the dropout RNG.
type bigram struct {
	Embed  *nn.Embedding `attn:"embed"`
	Out    *nn.Linear    `attn:"out"`
	onLoss func()
}

func newBigram(vocab int) *bigram {
	rng := tensor.NewRNG(9)
	return &bigram{Embed: nn.NewEmbedding(vocab, 16, 1, 1, rng), Out: nn.NewLinear(16, vocab, true, rng)}
}

func (m *bigram) Loss(tp *autograd.Tape, ids, targets []int, b, t int) (*autograd.Var, error) {
	if m.onLoss != nil && tp != nil {
		m.onLoss()
	}
	h := tp.Dropout(m.Embed.Forward(tp, ids, b, t), 0.2)
	return tp.CrossEntropy(m.Out.Forward(tp, h), targets, -1, 0), nil
}
func (m *bigram) Params() []nn.Param { return nn.Params(m) }
func (m *bigram) NoDecay() map[*autograd.Var]bool {
	return map[*autograd.Var]bool{m.Out.Bias: true}
}

// HiddenMatrices gives Muon a matrix to train when a test asks for it.
func (m *bigram) HiddenMatrices() []*autograd.Var { return []*autograd.Var{m.Out.Weight} }

func (m *bigram) save(dir string) error {
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.F32(p.Name, p.Value.Shape, p.Value.Data))
	}
	return safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil)
}

func (m *bigram) load(dir string) error {
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return err
	}
	defer f.Close()
	return nn.Load(m.Params(), func(name string) ([]float32, []int, bool, error) {
		d, s, err := f.Float32(name)
		return d, s, err == nil, nil
	})
}

func testStream(n int) []int {
	rng := tensor.NewRNG(4)
	s := make([]int, n)
	for i := range s {
		s[i] = (i*7 + rng.Intn(3)) % 11
	}
	return s
}

func newTestRun(out string, m *bigram) *Run { return newTestRunWith(out, m, "") }

// newTestRunWith is newTestRun with the given optimizer ("", "adamw", "muon").
func newTestRunWith(out string, m *bigram, optimizer string) *Run {
	stream := testStream(4000)
	job := &LMJob{
		Data:  LMData{Context: 8, Batch: 4, EvalBatches: 2, Seed: 5},
		Model: m, Train: stream[:3600], Val: stream[3600:], Save: m.save,
		Tokenizer: []byte(`{"version":"1.0"}`),
	}
	return &Run{
		Cfg: RunConfig{Steps: 12, Accum: 2, Schedule: "cosine", PeakLR: 1e-2, MinLR: 1e-3, Warmup: 3,
			WeightDecay: 0.1, Beta2: 0.95, Eps: 1e-8, ClipNorm: 1, EvalEvery: 4, Seed: 5,
			Optimizer: optimizer, MuonLR: 0.05, MuonWeightDecay: 0.01},
		Job: job, JobConfig: job.Data, Out: out,
	}
}

func losses(t *testing.T, out string) map[int]float64 {
	t.Helper()
	ms, err := readMetrics(filepath.Join(out, "metrics.jsonl"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	l := map[int]float64{}
	for _, m := range ms {
		if m.Loss != nil {
			l[m.Step] = *m.Loss
		}
	}
	return l
}

// TestResumeIsBitExact interrupts a run after step 6 (as Ctrl-C does),
// resumes it from the checkpoint in a fresh model, and requires every loss
// of steps 7..12 to equal, bit for bit, those of an uninterrupted run.
// With Muon, its momentum buffers are saved and restored too.
func TestResumeIsBitExact(t *testing.T) {
	for _, opt := range []string{"adamw", "muon"} {
		t.Run(opt, func(t *testing.T) { testResume(t, opt) })
	}
}

func testResume(t *testing.T, opt string) {
	dirA, dirB := t.TempDir(), t.TempDir()
	if _, err := newTestRunWith(dirA, newBigram(11), opt).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := losses(t, dirA)

	ctx, cancel := context.WithCancel(context.Background())
	m := newBigram(11)
	calls := 0
	m.onLoss = func() { // two micro-batches per step: cancel once step 6 is done
		if calls++; calls == 12 {
			cancel()
		}
	}
	if _, err := newTestRunWith(dirB, m, opt).Run(ctx); err != nil {
		t.Fatal(err)
	}
	ckpt, err := CheckpointDir(dirB)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(ckpt)
	if err != nil || st.Step != 6 {
		t.Fatalf("interrupted checkpoint at step %d (%v); want 6", st.Step, err)
	}

	fresh := newBigram(11)
	fresh.Embed.Weight.Value.Zero() // the checkpoint must supply everything
	if err := fresh.load(ckpt); err != nil {
		t.Fatal(err)
	}
	run := newTestRunWith(dirB, fresh, opt)
	if err := run.Resume(ckpt); err != nil {
		t.Fatal(err)
	}
	if _, err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := losses(t, dirB)
	if want[12] == want[11] {
		t.Fatalf("the run did not train: loss %v at steps 11 and 12", want[12])
	}
	for step := 1; step <= 12; step++ {
		if got[step] != want[step] {
			t.Errorf("step %d: resumed loss %v; uninterrupted %v", step, got[step], want[step])
		}
	}
	for _, f := range []string{"loss.png", "loss.svg", "ckpt/model.safetensors", "ckpt/optimizer.safetensors", "ckpt/tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(dirB, f)); err != nil {
			t.Errorf("run folder lacks %s: %v", f, err)
		}
	}
}

// TestCheckpointSurvivesInterruptedSave: if a save dies between its two
// renames, only ckpt.old exists, and it is still found.
func TestCheckpointSurvivesInterruptedSave(t *testing.T) {
	dir := t.TempDir()
	run := newTestRun(dir, newBigram(11))
	if _, err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ckptDir), filepath.Join(dir, ckptOldDir)); err != nil {
		t.Fatal(err)
	}
	got, err := CheckpointDir(dir)
	if err != nil || got != filepath.Join(dir, ckptOldDir) {
		t.Errorf("CheckpointDir = %q, %v; want the ckpt.old folder", got, err)
	}
	if _, err := CheckpointDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("CheckpointDir(empty) = %v; want a 'no checkpoint' error", err)
	}
}

// TestTimeLimitFitsSteps: with a time limit, the step count is chosen after
// the first steps and the run ends at it, with the choice saved for resuming.
// (How many steps fit depends on the machine; only consistency is checked.)
func TestTimeLimitFitsSteps(t *testing.T) {
	dir := t.TempDir()
	run := newTestRun(dir, newBigram(11))
	run.Cfg.Steps, run.Cfg.TimeLimit = 1000000, 0.3
	if _, err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, cfg, err := ReadLMData(filepath.Join(dir, ckptDir))
	if err != nil || data.Context != 8 {
		t.Fatalf("ReadLMData = %+v, %v", data, err)
	}
	if cfg.Steps < 10 || cfg.Steps >= 1000000 || run.Step() != cfg.Steps {
		t.Errorf("time-limited run: saved steps %d, ran %d; want the fitted count (>= 10, < 1e6) for both", cfg.Steps, run.Step())
	}
}

// TestTimeLimitResumedBeforeFit: a time-limited run interrupted before its
// step count is fitted saves the unfitted count with the fit pending, and
// the resumed run fits it instead of running the unfitted count.
func TestTimeLimitResumedBeforeFit(t *testing.T) {
	dir := t.TempDir()
	m := newBigram(11)
	run := newTestRun(dir, m)
	run.Cfg.Steps, run.Cfg.TimeLimit = 1000000, 0.3
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	m.onLoss = func() {
		if calls++; calls == 2*8 { // step 8 of the 25 before the fit (two micro-batches a step), an evaluation step
			cancel()
		}
	}
	if _, err := run.Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, cfg, err := ReadLMData(filepath.Join(dir, ckptDir))
	if err != nil {
		t.Fatal(err)
	}
	if stopped := run.Step(); stopped >= 25 || cfg.Steps != 1000000 || !cfg.TimeFitPending {
		t.Fatalf("interrupted at step %d: saved steps %d, fit pending %v; want before 25, 1000000, true", stopped, cfg.Steps, cfg.TimeFitPending)
	}
	spent := 0.0
	for _, mt := range readMetricsFile(t, dir) {
		spent = max(spent, mt.ElapsedSec)
	}
	m.onLoss = nil
	again := newTestRun(dir, m)
	again.Cfg = cfg // as attn train --resume does
	if err := again.Resume(filepath.Join(dir, ckptDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, cfg, err = ReadLMData(filepath.Join(dir, ckptDir))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Steps >= 1000000 || cfg.TimeFitPending || again.Step() != cfg.Steps {
		t.Errorf("resumed: saved steps %d (fit pending %v), ran to %d; want the fitted count for both", cfg.Steps, cfg.TimeFitPending, again.Step())
	}
	// The resumed run's clock goes on from the time spent before.
	for _, mt := range readMetricsFile(t, dir) {
		if mt.Step > 8 && mt.Loss != nil && mt.ElapsedSec < spent {
			t.Errorf("step %d: elapsed_s %.4f; before the interruption %.4f had been spent", mt.Step, mt.ElapsedSec, spent)
		}
	}
}

// readMetricsFile reads a run folder's metrics.jsonl.
func readMetricsFile(t *testing.T, dir string) []Metric {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ms []Metric
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m Metric
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}
