package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// LM is a language model the trainer can train: next-token loss over
// windows of a token stream.
type LM interface {
	// Loss returns the mean cross-entropy of predicting targets from ids,
	// both B×T.
	Loss(tp *autograd.Tape, ids, targets []int, b, t int) (*autograd.Var, error)
	Params() []nn.Param
	// NoDecay lists parameters exempt from weight decay.
	NoDecay() map[*autograd.Var]bool
}

// LMConfig holds the training hyperparameters of a language-model run. They
// are saved with every checkpoint, so a resumed run continues with them.
type LMConfig struct {
	Context     int     `json:"context"`      // tokens per training window
	Batch       int     `json:"batch"`        // windows per micro-batch
	Accum       int     `json:"accum"`        // micro-batches per step
	Steps       int     `json:"steps"`        // optimizer steps in all
	PeakLR      float64 `json:"peak_lr"`      // after warm-up
	MinLR       float64 `json:"min_lr"`       // at the end of the cosine decay
	Warmup      int     `json:"warmup"`       // linear warm-up steps
	WeightDecay float32 `json:"weight_decay"` // AdamW, on matrices only
	Beta2       float32 `json:"beta2"`
	ClipNorm    float32 `json:"clip_norm"`
	EvalEvery   int     `json:"eval_every"`   // steps between validation runs
	EvalBatches int     `json:"eval_batches"` // micro-batches per validation run
	SaveEvery   int     `json:"save_every"`   // steps between checkpoints (0: only at the end)
	// TimeLimit, if positive, fits the run to about that many seconds of
	// wall clock: after the first few steps, Steps is set from their measured
	// speed (and the cosine decay stretched to it). The chosen Steps is saved
	// with the checkpoints, so a resumed run repeats the same schedule.
	TimeLimit float64 `json:"time_limit_s,omitempty"`
	Seed      uint64  `json:"seed"`
}

// Validate reports settings out of range.
func (c LMConfig) Validate() error {
	if c.Context <= 0 || c.Batch <= 0 || c.Accum <= 0 || c.Steps <= 0 || c.EvalBatches <= 0 {
		return fmt.Errorf("train: context, batch, accum, steps and eval_batches must be positive (got %d, %d, %d, %d, %d)", c.Context, c.Batch, c.Accum, c.Steps, c.EvalBatches)
	}
	if c.TimeLimit < 0 {
		return errors.New("train: time_limit_s must not be negative")
	}
	if !(c.PeakLR > 0) || c.MinLR < 0 || c.Warmup < 0 || c.WeightDecay < 0 || c.Beta2 <= 0 || c.Beta2 >= 1 || c.ClipNorm < 0 {
		return errors.New("train: need peak_lr > 0, min_lr >= 0, warmup >= 0, weight_decay >= 0, 0 < beta2 < 1, clip_norm >= 0")
	}
	return nil
}

// LMRun trains a language model on token streams, evaluating, logging,
// plotting and checkpointing as it goes.
type LMRun struct {
	Cfg        LMConfig
	Model      LM
	Train, Val []int
	// Out is the run's folder: metrics.jsonl, loss.png, loss.svg and the
	// checkpoint folder ckpt/.
	Out string
	// SaveModel writes the model's config.json and model.safetensors into a
	// folder; Tokenizer is written beside them as tokenizer.json.
	SaveModel func(dir string) error
	Tokenizer []byte
	Progress  *Progress
	Log       io.Writer // evaluation and checkpoint lines (nil: Progress's writer)

	opt        *Adam
	dataRNG    *tensor.RNG
	dropoutRNG *tensor.RNG
	metrics    []Metric
}

// Metric is one line of metrics.jsonl.
type Metric struct {
	Step         int      `json:"step"`
	Loss         *float64 `json:"loss,omitempty"`
	ValLoss      *float64 `json:"val_loss,omitempty"`
	LR           float32  `json:"lr,omitempty"`
	GradNorm     float32  `json:"grad_norm,omitempty"`
	TokensPerSec float64  `json:"tokens_per_s,omitempty"`
	ElapsedSec   float64  `json:"elapsed_s,omitempty"`
}

// trainerState is trainer_state.json: what, beside weights and optimizer
// moments, a run needs to continue exactly where it stopped.
type trainerState struct {
	Step       int      `json:"step"`
	DataRNG    uint64   `json:"data_rng"`
	DropoutRNG uint64   `json:"dropout_rng"`
	Config     LMConfig `json:"config"`
}

// Checkpoint folder names inside Out.
const (
	ckptDir    = "ckpt"
	ckptTmpDir = "ckpt.tmp"
	ckptOldDir = "ckpt.old"
)

// CheckpointDir returns the folder holding the latest complete checkpoint of
// the run in out, recovering from a save that was interrupted between its
// two renames.
func CheckpointDir(out string) (string, error) {
	for _, d := range []string{ckptDir, ckptOldDir} {
		p := filepath.Join(out, d)
		if _, err := os.Stat(filepath.Join(p, "trainer_state.json")); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("train: no checkpoint in %s (looked for %s/trainer_state.json)", out, ckptDir)
}

// ReadLMConfig returns the training settings saved in a checkpoint folder.
func ReadLMConfig(ckpt string) (LMConfig, error) {
	var st trainerState
	b, err := os.ReadFile(filepath.Join(ckpt, "trainer_state.json"))
	if err != nil {
		return st.Config, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st.Config, fmt.Errorf("train: %s: %w", filepath.Join(ckpt, "trainer_state.json"), err)
	}
	return st.Config, nil
}

func (r *LMRun) init() error {
	if err := r.Cfg.Validate(); err != nil {
		return err
	}
	if len(r.Train) <= r.Cfg.Context+1 || len(r.Val) <= r.Cfg.Context+1 {
		return fmt.Errorf("train: need more than context+1 = %d tokens of training and validation data (have %d and %d)", r.Cfg.Context+1, len(r.Train), len(r.Val))
	}
	r.opt = NewAdamW(r.Cfg.WeightDecay)
	r.opt.Beta2, r.opt.Eps = r.Cfg.Beta2, 1e-8
	r.opt.NoDecay = r.Model.NoDecay()
	r.dataRNG = tensor.NewRNG(r.Cfg.Seed)
	r.dropoutRNG = tensor.NewRNG(r.Cfg.Seed ^ 0x5eed)
	if r.Log == nil && r.Progress != nil {
		r.Log = r.Progress.W
	}
	return nil
}

// Resume restores the optimizer, RNG states and metrics of the checkpoint
// in ckpt; the model's weights must already be loaded from it.
func (r *LMRun) Resume(ckpt string) error {
	if err := r.init(); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(ckpt, "trainer_state.json"))
	if err != nil {
		return err
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("train: %s: %w", filepath.Join(ckpt, "trainer_state.json"), err)
	}
	f, err := safetensors.Open(filepath.Join(ckpt, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range r.Model.Params() {
		if _, ok := f.Info("m." + p.Name); !ok {
			continue // a tied parameter is stored under its first name
		}
		m, _, err := f.Float32("m." + p.Name)
		if err != nil {
			return err
		}
		v, _, err := f.Float32("v." + p.Name)
		if err != nil {
			return err
		}
		if len(m) != p.Value.Len() || len(v) != p.Value.Len() {
			return fmt.Errorf("train: optimizer state for %q has %d/%d values; the parameter has %d", p.Name, len(m), len(v), p.Value.Len())
		}
		r.opt.SetMoments(p.Var, m, v)
	}
	r.opt.Step = st.Step
	r.dataRNG.State, r.dropoutRNG.State = st.DataRNG, st.DropoutRNG
	r.metrics, err = readMetrics(filepath.Join(r.Out, "metrics.jsonl"), st.Step)
	return err
}

// Step returns the number of optimizer steps done.
func (r *LMRun) Step() int {
	if r.opt == nil {
		return 0
	}
	return r.opt.Step
}

// Run trains up to Cfg.Steps (from where Resume left off, if called),
// stopping early and saving a checkpoint when ctx is cancelled. It returns
// the last validation loss.
func (r *LMRun) Run(ctx context.Context) (float64, error) {
	if r.opt == nil {
		if err := r.init(); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(r.Out, 0o755); err != nil {
			return 0, err
		}
		if err := os.Remove(filepath.Join(r.Out, "metrics.jsonl")); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
	}
	mf, err := os.OpenFile(filepath.Join(r.Out, "metrics.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer mf.Close()
	mw := bufio.NewWriter(mf)
	for _, m := range r.metrics {
		writeMetric(mw, m)
	}
	c := &r.Cfg
	lastVal := math.NaN()
	start := time.Now()
	sched := &WarmupCosine{Peak: c.PeakLR, Min: c.MinLR, Warmup: c.Warmup, Total: c.Steps}
	fitAt := 0 // the step after which Steps is fitted to TimeLimit
	if c.TimeLimit > 0 && r.opt.Step == 0 {
		fitAt = min(10, c.Steps)
	}
	var loop *Loop
	loop = &Loop{
		Params:   nn.Unique(r.Model.Params()),
		Opt:      r.opt,
		Schedule: sched,
		Steps:    c.Steps,
		Accum:    c.Accum,
		ClipNorm: c.ClipNorm,
		RNG:      r.dropoutRNG,
		OnStep: func(st Stats) error {
			if st.Step == fitAt {
				r.fitSteps(time.Since(start), st.Step)
				loop.Steps, sched.Total, sched.Warmup = c.Steps, c.Steps, c.Warmup
				if r.Progress != nil {
					r.Progress.Total = c.Steps
				}
				r.println(fmt.Sprintf("time limit %s: %d steps fit (measured %s per step)", time.Duration(c.TimeLimit*float64(time.Second)), c.Steps, (time.Since(start) / time.Duration(st.Step)).Round(time.Millisecond)))
			}
			loss := st.Loss
			m := Metric{Step: st.Step, Loss: &loss, LR: st.LR, GradNorm: st.GradNorm, TokensPerSec: st.TokensPerSec, ElapsedSec: time.Since(start).Seconds()}
			r.metrics = append(r.metrics, m)
			writeMetric(mw, m)
			if r.Progress != nil {
				r.Progress.Update(st)
			}
			if (c.EvalEvery > 0 && st.Step%c.EvalEvery == 0) || st.Step == c.Steps {
				v, err := r.Evaluate()
				if err != nil {
					return err
				}
				lastVal = v
				r.metrics = append(r.metrics, Metric{Step: st.Step, ValLoss: &v})
				writeMetric(mw, r.metrics[len(r.metrics)-1])
				r.println(fmt.Sprintf("step %d: train loss %.4f, val loss %.4f", st.Step, st.Loss, v))
				if err := mw.Flush(); err != nil {
					return err
				}
				if err := r.WritePlots(); err != nil {
					return err
				}
			}
			if c.SaveEvery > 0 && st.Step%c.SaveEvery == 0 && st.Step != c.Steps {
				return r.Save()
			}
			return nil
		},
	}
	runErr := loop.Run(ctx, func(tp *autograd.Tape, _, _ int) (*autograd.Var, int, error) {
		ids, targets := r.batch(r.Train, r.dataRNG)
		loss, err := r.Model.Loss(tp, ids, targets, c.Batch, c.Context)
		return loss, len(ids), err
	})
	if r.Progress != nil {
		r.Progress.Done()
	}
	if err := mw.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return lastVal, runErr
	}
	if ctx.Err() != nil {
		r.println(fmt.Sprintf("interrupted at step %d: saving a checkpoint", r.opt.Step))
	}
	if err := r.WritePlots(); err != nil {
		return lastVal, err
	}
	return lastVal, r.Save()
}

// fitSteps sets Cfg.Steps so that the run, evaluations and checkpoints
// included, ends within TimeLimit, from the time the first done steps took.
func (r *LMRun) fitSteps(elapsed time.Duration, done int) {
	c := &r.Cfg
	perStep := elapsed.Seconds() / float64(done)
	// An evaluation batch is a forward pass: about a third of a training
	// micro-batch; checkpoints are cheap next to either.
	evalRuns := 1.0
	if c.EvalEvery > 0 {
		evalRuns = 1 / float64(c.EvalEvery)
	}
	perStep += evalRuns * float64(c.EvalBatches) * perStep / float64(c.Accum) / 3
	left := c.TimeLimit - elapsed.Seconds() - float64(c.EvalBatches)*perStep/3
	c.Steps = max(done, done+int(left/perStep))
	c.Warmup = min(c.Warmup, c.Steps)
}

func (r *LMRun) println(s string) {
	if r.Progress != nil {
		r.Progress.Println(s)
	} else if r.Log != nil {
		fmt.Fprintln(r.Log, s)
	}
}

// batch draws Batch random windows of Context+1 tokens from stream: inputs
// and the same shifted by one as targets.
func (r *LMRun) batch(stream []int, rng *tensor.RNG) (ids, targets []int) {
	t := r.Cfg.Context
	ids, targets = make([]int, 0, r.Cfg.Batch*t), make([]int, 0, r.Cfg.Batch*t)
	for range r.Cfg.Batch {
		off := rng.Intn(len(stream) - t - 1)
		ids = append(ids, stream[off:off+t]...)
		targets = append(targets, stream[off+1:off+t+1]...)
	}
	return ids, targets
}

// Evaluate returns the mean validation loss over EvalBatches batches. The
// windows are the same at every evaluation (a fixed seed), so the curve
// compares like with like, and the training RNGs are untouched.
func (r *LMRun) Evaluate() (float64, error) {
	rng := tensor.NewRNG(r.Cfg.Seed ^ 0xe7a1)
	var sum float64
	for range r.Cfg.EvalBatches {
		ids, targets := r.batch(r.Val, rng)
		loss, err := r.Model.Loss(nil, ids, targets, r.Cfg.Batch, r.Cfg.Context)
		if err != nil {
			return 0, err
		}
		sum += float64(loss.Item())
	}
	return sum / float64(r.Cfg.EvalBatches), nil
}

// Save writes a checkpoint atomically: into ckpt.tmp, then swapped in for
// ckpt by two renames, so a kill at any moment leaves a complete checkpoint
// (CheckpointDir finds it).
func (r *LMRun) Save() error {
	tmp := filepath.Join(r.Out, ckptTmpDir)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := r.SaveModel(tmp); err != nil {
		return err
	}
	if r.Tokenizer != nil {
		if err := writeSynced(filepath.Join(tmp, "tokenizer.json"), r.Tokenizer); err != nil {
			return err
		}
	}
	var ts []safetensors.Tensor
	seen := map[*autograd.Var]bool{}
	for _, p := range r.Model.Params() {
		m, v := r.opt.Moments(p.Var)
		if seen[p.Var] || m == nil {
			continue
		}
		seen[p.Var] = true
		ts = append(ts, safetensors.F32("m."+p.Name, p.Value.Shape, m), safetensors.F32("v."+p.Name, p.Value.Shape, v))
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, "optimizer.safetensors"), ts, nil); err != nil {
		return err
	}
	st, err := json.MarshalIndent(trainerState{Step: r.opt.Step, DataRNG: r.dataRNG.State, DropoutRNG: r.dropoutRNG.State, Config: r.Cfg}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(tmp, "trainer_state.json"), append(st, '\n')); err != nil {
		return err
	}
	cur, old := filepath.Join(r.Out, ckptDir), filepath.Join(r.Out, ckptOldDir)
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(cur, old); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	r.println(fmt.Sprintf("saved checkpoint at step %d to %s", r.opt.Step, cur))
	return os.RemoveAll(old)
}

// WritePlots draws the train and validation loss curves to loss.png and
// loss.svg in the run folder.
func (r *LMRun) WritePlots() error {
	tr := Series{Name: "train", Color: TrainColor}
	va := Series{Name: "validation", Color: ValColor}
	for _, m := range r.metrics {
		if m.Loss != nil {
			tr.X, tr.Y = append(tr.X, float64(m.Step)), append(tr.Y, *m.Loss)
		}
		if m.ValLoss != nil {
			va.X, va.Y = append(va.X, float64(m.Step)), append(va.Y, *m.ValLoss)
		}
	}
	p := &Plot{Title: "loss", XLabel: "step", YLabel: "loss (nats/token)", Series: []Series{smooth(tr), va}}
	png, err := p.PNG()
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(r.Out, "loss.png"), png); err != nil {
		return err
	}
	return writeSynced(filepath.Join(r.Out, "loss.svg"), p.SVG())
}

// smooth returns a centred moving average of s over about 2% of its points
// (per-step training loss is noisy; a centred window does not lag behind the
// validation curve as an exponential average would).
func smooth(s Series) Series {
	w := len(s.Y) / 100
	out := Series{Name: s.Name, Color: s.Color, X: s.X, Y: make([]float64, len(s.Y))}
	for i := range s.Y {
		lo, hi := max(0, i-w), min(len(s.Y), i+w+1)
		var sum float64
		for _, y := range s.Y[lo:hi] {
			sum += y
		}
		out.Y[i] = sum / float64(hi-lo)
	}
	return out
}

func writeMetric(w io.Writer, m Metric) {
	b, _ := json.Marshal(m)
	w.Write(append(b, '\n'))
}

// readMetrics reads metrics.jsonl, keeping lines up to step (a resumed run
// rewrites what came after its checkpoint).
func readMetrics(path string, step int) ([]Metric, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []Metric
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m Metric
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("train: %s line %d: %w", path, i+1, err)
		}
		if m.Step <= step {
			ms = append(ms, m)
		}
	}
	return ms, nil
}

// writeSynced writes a file and flushes it to disk before returning.
func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
