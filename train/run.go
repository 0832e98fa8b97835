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
	"slices"
	"sort"
	"time"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/atomicfile"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// Job is what a Run trains: a model, its data and its evaluation.
type Job interface {
	Params() []nn.Param
	// NoDecay lists parameters exempt from weight decay.
	NoDecay() map[*autograd.Var]bool
	// Loss draws the next training micro-batch, runs it through tp and
	// returns its mean loss and the number of tokens it covered.
	Loss(tp *autograd.Tape) (loss *autograd.Var, tokens int, err error)
	// Evaluate returns validation metrics; "val_loss" is plotted beside the
	// training loss. It must not touch the training data's RNG.
	Evaluate() (map[string]float64, error)
	// SaveModel writes the model folder (config.json, model.safetensors,
	// tokenizer files) into dir.
	SaveModel(dir string) error
	// DataState returns what the data pipeline needs to continue exactly
	// where it is (RNG state, epoch, position); SetDataState restores it.
	DataState() json.RawMessage
	SetDataState(json.RawMessage) error
}

// RunConfig holds the optimisation settings of a run. They are saved with
// every checkpoint, so a resumed run continues with them.
type RunConfig struct {
	Steps int `json:"steps"` // optimizer steps in all
	Accum int `json:"accum"` // micro-batches per step
	// Schedule is "cosine" (linear warm-up to PeakLR, cosine decay to MinLR)
	// or "noam" (the paper's: PeakLR·d^-0.5·min(step^-0.5, step·warmup^-1.5)
	// with d = NoamDModel; PeakLR is then the paper's factor, 1 or 2).
	Schedule    string  `json:"schedule"`
	NoamDModel  int     `json:"noam_d_model,omitempty"`
	PeakLR      float64 `json:"peak_lr"`
	MinLR       float64 `json:"min_lr"`
	Warmup      int     `json:"warmup"`
	WeightDecay float32 `json:"weight_decay"` // AdamW, decoupled; 0 for plain Adam
	Beta2       float32 `json:"beta2"`
	Eps         float32 `json:"eps"`
	ClipNorm    float32 `json:"clip_norm"` // 0: no clipping
	// Optimizer is "adamw" (the default when empty) or "muon": Muon for the
	// model's hidden weight matrices (see Muon), AdamW for the rest. Muon's
	// learning rate follows the schedule scaled to MuonLR at its peak.
	Optimizer       string  `json:"optimizer,omitempty"`
	MuonLR          float64 `json:"muon_lr,omitempty"`
	MuonWeightDecay float32 `json:"muon_weight_decay,omitempty"`
	EvalEvery       int     `json:"eval_every"` // steps between evaluations (0: only at the end)
	SaveEvery       int     `json:"save_every"` // steps between checkpoints (0: only at the end)
	// Snapshots keeps the model of the last so many evaluations in
	// snapshots/step-N, for checkpoint averaging (AverageCheckpoints).
	Snapshots int    `json:"snapshots,omitempty"`
	Seed      uint64 `json:"seed"`
	// TimeLimit, if positive, fits the run to about that many seconds of
	// wall clock: after the first few steps, Steps is set from their measured
	// speed and the cost of an evaluation (and the schedule stretched to it).
	// The chosen Steps is saved with the checkpoints, so a resumed run
	// repeats the same schedule.
	TimeLimit float64 `json:"time_limit_s,omitempty"`
	// TimeFitPending is set while a time-limited run has not yet fitted
	// Steps: a run interrupted that early fits them when resumed, from the
	// time it has left, instead of running the unfitted count.
	TimeFitPending bool `json:"time_fit_pending,omitempty"`
}

// Validate reports settings out of range.
func (c RunConfig) Validate() error {
	switch {
	case c.Steps <= 0 || c.Accum <= 0:
		return fmt.Errorf("train: steps and accum must be positive (got %d, %d)", c.Steps, c.Accum)
	case c.Schedule != "cosine" && c.Schedule != "noam":
		return fmt.Errorf("train: unknown schedule %q (want cosine or noam)", c.Schedule)
	case c.Schedule == "noam" && (c.NoamDModel <= 0 || c.Warmup <= 0):
		return errors.New("train: the noam schedule needs noam_d_model and warmup > 0")
	case !(c.PeakLR > 0) || c.MinLR < 0 || c.Warmup < 0:
		return errors.New("train: need peak_lr > 0, min_lr >= 0, warmup >= 0")
	case c.Schedule == "cosine" && c.MinLR > c.PeakLR:
		return fmt.Errorf("train: min_lr %g exceeds peak_lr %g: the cosine schedule would raise the rate", c.MinLR, c.PeakLR)
	case c.WeightDecay < 0 || c.Beta2 <= 0 || c.Beta2 >= 1 || c.Eps <= 0 || c.ClipNorm < 0:
		return errors.New("train: need weight_decay >= 0, 0 < beta2 < 1, eps > 0, clip_norm >= 0")
	case c.TimeLimit < 0:
		return errors.New("train: time_limit_s must not be negative")
	case c.Optimizer != "" && c.Optimizer != "adamw" && c.Optimizer != "muon":
		return fmt.Errorf("train: unknown optimizer %q (want adamw or muon)", c.Optimizer)
	case c.Optimizer == "muon" && !(c.MuonLR > 0) || c.MuonWeightDecay < 0:
		return errors.New("train: the muon optimizer needs muon_lr > 0 and muon_weight_decay >= 0")
	}
	return nil
}

// schedule returns the learning-rate schedule the settings describe.
func (c RunConfig) schedule() Schedule {
	if c.Schedule == "noam" {
		return Noam{DModel: c.NoamDModel, Warmup: c.Warmup, Factor: c.PeakLR}
	}
	return &WarmupCosine{Peak: c.PeakLR, Min: c.MinLR, Warmup: c.Warmup, Total: c.Steps}
}

// NewRunFolder fails if dir holds a run (a checkpoint or snapshots): a new
// run would overwrite the checkpoint, and its snapshots would be pruned in
// favour of the old run's, whose steps may be higher. A run folder holds
// one run, as HF's Trainer insists of its output folder. Commands call it
// before preparing their data; Run calls it too.
func NewRunFolder(dir string) error {
	for _, d := range []string{ckptDir, ckptOldDir, "snapshots"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			return fmt.Errorf("train: %s holds a run already (%s/): resume it, choose another folder, or remove it to start over", dir, d)
		}
	}
	if complete(filepath.Join(dir, ckptTmpDir)) { // a save killed between its renames
		return fmt.Errorf("train: %s holds a run already (%s/): resume it, choose another folder, or remove it to start over", dir, ckptTmpDir)
	}
	return nil
}

// Run trains a Job, evaluating, logging metrics, plotting and checkpointing
// as it goes; it can stop (Ctrl-C) and resume bit for bit.
type Run struct {
	Cfg RunConfig
	Job Job
	// JobConfig is saved in trainer_state.json beside Cfg, for the caller to
	// rebuild the job when resuming (see ReadState).
	JobConfig any
	// Out is the run's folder: metrics.jsonl, loss.png, loss.svg and the
	// checkpoint folder ckpt/.
	Out      string
	Progress *Progress
	Log      io.Writer // evaluation and checkpoint lines when Progress is nil

	opt        *Adam
	muon       *Muon           // nil unless Cfg.Optimizer is "muon"
	hidden     []*autograd.Var // the matrices muon updates
	dropoutRNG *tensor.RNG
	metrics    []Metric
}

// Metric is one line of metrics.jsonl: a training step, or an evaluation.
type Metric struct {
	Step         int                `json:"step"`
	Loss         *float64           `json:"loss,omitempty"`
	LR           float32            `json:"lr,omitempty"`
	GradNorm     float32            `json:"grad_norm,omitempty"`
	TokensPerSec float64            `json:"tokens_per_s,omitempty"`
	ElapsedSec   float64            `json:"elapsed_s,omitempty"`
	Eval         map[string]float64 `json:"eval,omitempty"`
}

// State is trainer_state.json: what, beside weights and optimizer moments, a
// run needs to continue exactly where it stopped.
type State struct {
	Step       int             `json:"step"`
	DropoutRNG uint64          `json:"dropout_rng"`
	Data       json.RawMessage `json:"data"`
	Config     RunConfig       `json:"config"`
	Job        json.RawMessage `json:"job,omitempty"`
}

// Checkpoint folder names inside Out.
const (
	ckptDir    = "ckpt"
	ckptTmpDir = "ckpt.tmp"
	ckptOldDir = "ckpt.old"
)

// CheckpointDir returns the folder holding the latest complete checkpoint of
// the run in out, recovering from a save that was interrupted between its
// two renames: ckpt, else ckpt.tmp when its save got as far as its last
// file (it is newer than ckpt.old), else ckpt.old.
func CheckpointDir(out string) (string, error) {
	for _, d := range []string{ckptDir, ckptTmpDir, ckptOldDir} {
		if p := filepath.Join(out, d); complete(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("train: no checkpoint in %s (looked for %s/trainer_state.json)", out, ckptDir)
}

// complete reports whether the checkpoint folder dir was written whole:
// Save writes trainer_state.json last.
func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "trainer_state.json"))
	return err == nil
}

// ReadState reads trainer_state.json of a checkpoint folder.
func ReadState(ckpt string) (State, error) {
	var st State
	path := filepath.Join(ckpt, "trainer_state.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("train: %s: %w", path, err)
	}
	return st, nil
}

func (r *Run) init() error {
	if err := r.Cfg.Validate(); err != nil {
		return err
	}
	r.opt = NewAdamW(r.Cfg.WeightDecay)
	r.opt.Beta2, r.opt.Eps = r.Cfg.Beta2, r.Cfg.Eps
	r.opt.NoDecay = r.Job.NoDecay()
	if r.Cfg.Optimizer == "muon" {
		h, ok := r.Job.(HiddenMatrices)
		if ok {
			r.hidden = h.HiddenMatrices()
		}
		if len(r.hidden) == 0 {
			return errors.New("train: the muon optimizer needs a model with hidden weight matrices (a GPT)")
		}
		r.muon = NewMuon(float32(r.Cfg.MuonLR/r.Cfg.PeakLR), r.Cfg.MuonWeightDecay)
	}
	r.dropoutRNG = tensor.NewRNG(r.Cfg.Seed ^ 0x5eed)
	return nil
}

// Resume restores the optimizer, RNG and data states and the metrics of the
// checkpoint in ckpt; the job's model must already hold its weights.
func (r *Run) Resume(ckpt string) error {
	if err := r.init(); err != nil {
		return err
	}
	st, err := ReadState(ckpt)
	if err != nil {
		return err
	}
	if r.Cfg.Steps < st.Step {
		return fmt.Errorf("train: the run is at step %d already, past the %d steps asked for", st.Step, r.Cfg.Steps)
	}
	f, err := safetensors.Open(filepath.Join(ckpt, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range r.Job.Params() {
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
	for _, p := range r.Job.Params() {
		if r.muon == nil || !slices.Contains(r.hidden, p.Var) {
			continue
		}
		if _, ok := f.Info("muon." + p.Name); !ok {
			continue // not updated yet when the checkpoint was written
		}
		m, _, err := f.Float32("muon." + p.Name)
		if err != nil {
			return err
		}
		if len(m) != p.Value.Len() {
			return fmt.Errorf("train: muon momentum for %q has %d values; the parameter has %d", p.Name, len(m), p.Value.Len())
		}
		r.muon.SetMomentum(p.Var, m)
	}
	r.opt.Step = st.Step
	r.dropoutRNG.State = st.DropoutRNG
	if err := r.Job.SetDataState(st.Data); err != nil {
		return err
	}
	r.metrics, err = readMetrics(filepath.Join(r.Out, "metrics.jsonl"), st.Step)
	return err
}

// Step returns the number of optimizer steps done.
func (r *Run) Step() int {
	if r.opt == nil {
		return 0
	}
	return r.opt.Step
}

// Run trains up to Cfg.Steps (from where Resume left off, if called),
// stopping early and saving a checkpoint when ctx is cancelled. It returns
// the metrics of the last evaluation.
func (r *Run) Run(ctx context.Context) (map[string]float64, error) {
	if r.opt == nil { // a new run, not one resumed
		if err := NewRunFolder(r.Out); err != nil {
			return nil, err
		}
		if err := r.init(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(r.Out, 0o755); err != nil {
		return nil, err
	}
	// The metrics kept (a resumed run's, up to its checkpoint) replace the
	// file in one rename, and the run appends to it: truncating it first
	// and rewriting them through the buffer lost the whole history to a
	// kill before the next flush.
	metricsPath := filepath.Join(r.Out, "metrics.jsonl")
	if err := atomicfile.WriteFunc(metricsPath, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, m := range r.metrics {
			writeMetric(bw, m)
		}
		return bw.Flush()
	}); err != nil {
		return nil, err
	}
	mf, err := os.OpenFile(metricsPath, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	mw := bufio.NewWriter(mf)
	c := &r.Cfg
	var lastEval map[string]float64
	first := r.opt.Step // 0, or the step resumed from
	c.TimeFitPending = c.TimeLimit > 0 && (first == 0 || c.TimeFitPending)
	start := time.Now()
	runStart := start
	if c.TimeFitPending {
		// Resumed before the fit: the time limit counts the time already
		// spent, the latest the training steps' metrics recorded
		// (evaluations record none).
		var spent float64
		for _, m := range r.metrics {
			spent = max(spent, m.ElapsedSec)
		}
		start = start.Add(-time.Duration(spent * float64(time.Second)))
	}
	sched := c.schedule()
	// With a time limit, steps fitAt−20 … fitAt are timed (the first few,
	// which allocate the tape's buffers, are left out) and Steps is fitted
	// after step fitAt.
	// At a quarter, a half and three quarters of the time, the fit is redone
	// from the steps since the last fit, evaluations and checkpoints
	// included: steps run slower once the machine has warmed up (measured:
	// 10% slower than steps 5–25), and a shared machine's speed drifts.
	fitAt, timedFrom := 0, 0
	var timedStart, fittedAt time.Time
	fittedStep, refits := 0, 0
	if c.TimeFitPending {
		fitAt = min(first+25, c.Steps)
		timedFrom = max(first, fitAt-20)
	}
	var loop *Loop
	refit := func() {
		loop.Steps = c.Steps
		if wc, ok := sched.(*WarmupCosine); ok {
			wc.Total, wc.Warmup = c.Steps, c.Warmup
		}
		if r.Progress != nil {
			r.Progress.Total = c.Steps
		}
	}
	evaluate := func(step int, loss float64) error {
		ev, err := r.Job.Evaluate()
		if err != nil {
			return err
		}
		lastEval = ev
		r.metrics = append(r.metrics, Metric{Step: step, Eval: ev})
		writeMetric(mw, r.metrics[len(r.metrics)-1])
		r.println(fmt.Sprintf("step %d: train loss %.4f, %s", step, loss, formatEval(ev)))
		if err := mw.Flush(); err != nil {
			return err
		}
		if err := r.snapshot(step); err != nil {
			return err
		}
		return r.WritePlots()
	}
	loop = &Loop{
		Params:   nn.Unique(r.Job.Params()),
		Opt:      r.opt,
		Muon:     r.muon,
		Hidden:   r.hidden,
		Schedule: sched,
		Steps:    c.Steps,
		Accum:    c.Accum,
		ClipNorm: c.ClipNorm,
		RNG:      r.dropoutRNG,
		OnStep: func(st Stats) error {
			if lossNaN(st.Loss) {
				return fmt.Errorf("training diverged at step %d: loss %v (lower the learning rate?)", st.Step, st.Loss)
			}
			if st.Step == timedFrom {
				timedStart = time.Now()
			}
			if st.Step == fitAt {
				perStep := time.Since(timedStart) / time.Duration(fitAt-timedFrom)
				if timedFrom == first { // too few steps to leave the first out
					perStep = time.Since(runStart) / time.Duration(fitAt-first)
				}
				if err := r.fitSteps(time.Since(start), perStep, st.Step); err != nil {
					return err
				}
				c.TimeFitPending = false
				refit()
				fittedAt, fittedStep = time.Now(), st.Step
			}
			if fitAt > 0 && !c.TimeFitPending && refits < 3 && st.Step > fittedStep && st.Step < c.Steps && time.Since(start).Seconds() >= float64(refits+1)*c.TimeLimit/4 {
				refits++
				perStep := time.Since(fittedAt).Seconds() / float64(st.Step-fittedStep)
				left := 0.97*c.TimeLimit - time.Since(start).Seconds()
				c.Steps = max(st.Step, st.Step+int(left/perStep))
				c.Warmup = min(c.Warmup, c.Steps)
				r.println(fmt.Sprintf("time limit: refitted to %d steps (%s per step since the last fit, evaluations included)",
					c.Steps, time.Duration(perStep*float64(time.Second)).Round(time.Millisecond)))
				refit()
				fittedAt, fittedStep = time.Now(), st.Step
			}
			loss := st.Loss
			m := Metric{Step: st.Step, Loss: &loss, LR: st.LR, GradNorm: st.GradNorm, TokensPerSec: st.TokensPerSec, ElapsedSec: time.Since(start).Seconds()}
			r.metrics = append(r.metrics, m)
			writeMetric(mw, m)
			if r.Progress != nil {
				r.Progress.Update(st)
			}
			if (c.EvalEvery > 0 && st.Step%c.EvalEvery == 0) || st.Step == c.Steps {
				if err := evaluate(st.Step, st.Loss); err != nil {
					return err
				}
			}
			if c.SaveEvery > 0 && st.Step%c.SaveEvery == 0 && st.Step != c.Steps {
				// The metrics up to the checkpoint go to the file first: a
				// run killed after the save resumes from it, and keeps them.
				if err := mw.Flush(); err != nil {
					return err
				}
				return r.Save()
			}
			return nil
		},
	}
	runErr := loop.Run(ctx, func(tp *autograd.Tape, _, _ int) (*autograd.Var, int, error) { return r.Job.Loss(tp) })
	if r.Progress != nil {
		r.Progress.Done()
	}
	if err := mw.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return lastEval, runErr
	}
	if ctx.Err() != nil {
		r.println(fmt.Sprintf("interrupted at step %d: saving a checkpoint", r.opt.Step))
	}
	if err := r.WritePlots(); err != nil {
		return lastEval, err
	}
	return lastEval, r.Save()
}

// formatEval prints evaluation metrics in a stable order.
func formatEval(ev map[string]float64) string {
	keys := make([]string, 0, len(ev))
	for k := range ev {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.4f", k, ev[k])
	}
	return b.String()
}

// fitSteps sets Cfg.Steps so that the run, evaluations and checkpoints
// included, ends within TimeLimit, from the time a step takes (step) and
// the time of one evaluation (timed here; it changes no training state).
func (r *Run) fitSteps(elapsed, step time.Duration, done int) error {
	c := &r.Cfg
	t0 := time.Now()
	if _, err := r.Job.Evaluate(); err != nil {
		return err
	}
	evalCost := time.Since(t0).Seconds()
	elapsed += time.Since(t0)
	perStep := step.Seconds()
	if c.EvalEvery > 0 {
		perStep += evalCost / float64(c.EvalEvery)
	}
	// A 5% margin: later steps run a little slower than the timed ones
	// (measured: a 10-minute run fitted without it took 10m30s).
	left := 0.95*c.TimeLimit - elapsed.Seconds() - 2*evalCost
	c.Steps = max(done, done+int(left/perStep))
	c.Warmup = min(c.Warmup, c.Steps)
	r.println(fmt.Sprintf("time limit %s: %d steps fit (%s per step, %s per evaluation)",
		time.Duration(c.TimeLimit*float64(time.Second)), c.Steps,
		step.Round(time.Millisecond), time.Duration(evalCost*float64(time.Second)).Round(time.Millisecond)))
	return nil
}

// snapshot saves the model into snapshots/step-N and removes all but the
// newest Cfg.Snapshots snapshots.
func (r *Run) snapshot(step int) error {
	if r.Cfg.Snapshots <= 0 {
		return nil
	}
	root := filepath.Join(r.Out, "snapshots")
	dir := filepath.Join(root, fmt.Sprintf("step-%07d", step))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.Job.SaveModel(dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for i := 0; i < len(entries)-r.Cfg.Snapshots; i++ { // names sort by step
		if err := os.RemoveAll(filepath.Join(root, entries[i].Name())); err != nil {
			return err
		}
	}
	return nil
}

// Snapshots returns the snapshot folders of the run in out, oldest first.
func Snapshots(out string) ([]string, error) {
	root := filepath.Join(out, "snapshots")
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	return dirs, nil
}

func (r *Run) println(s string) {
	if r.Progress != nil {
		r.Progress.Println(s)
	} else if r.Log != nil {
		fmt.Fprintln(r.Log, s)
	}
}

// Save writes a checkpoint atomically: into ckpt.tmp, then swapped in for
// ckpt by two renames, so a kill at any moment leaves a complete checkpoint
// (CheckpointDir finds it).
func (r *Run) Save() error {
	tmp := filepath.Join(r.Out, ckptTmpDir)
	cur, old := filepath.Join(r.Out, ckptDir), filepath.Join(r.Out, ckptOldDir)
	// A save killed between its renames can leave its complete checkpoint
	// in ckpt.tmp (and the one before in ckpt.old): it becomes ckpt before
	// that name is reused.
	if !complete(cur) && complete(tmp) {
		if err := os.Rename(tmp, cur); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := r.Job.SaveModel(tmp); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	seen := map[*autograd.Var]bool{}
	for _, p := range r.Job.Params() {
		m, v := r.opt.Moments(p.Var)
		if seen[p.Var] || m == nil {
			continue
		}
		seen[p.Var] = true
		ts = append(ts, safetensors.F32("m."+p.Name, p.Value.Shape, m), safetensors.F32("v."+p.Name, p.Value.Shape, v))
	}
	for _, p := range r.Job.Params() {
		if m := r.muon.MomentumOf(p.Var); m != nil && !seen[p.Var] {
			seen[p.Var] = true
			ts = append(ts, safetensors.F32("muon."+p.Name, p.Value.Shape, m))
		}
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, "optimizer.safetensors"), ts, nil); err != nil {
		return err
	}
	st := State{Step: r.opt.Step, DropoutRNG: r.dropoutRNG.State, Data: r.Job.DataState(), Config: r.Cfg}
	if r.JobConfig != nil {
		b, err := json.Marshal(r.JobConfig)
		if err != nil {
			return err
		}
		st.Job = b
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(tmp, "trainer_state.json"), append(b, '\n')); err != nil {
		return err
	}
	// ckpt.old is removed only when ckpt replaces it: were ckpt missing, it
	// would be the one complete checkpoint until the rename below.
	if complete(cur) {
		if err := os.RemoveAll(old); err != nil {
			return err
		}
		if err := os.Rename(cur, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	r.println(fmt.Sprintf("saved checkpoint at step %d to %s", r.opt.Step, cur))
	return os.RemoveAll(old)
}

// WritePlots draws the training and validation loss curves to loss.png and
// loss.svg in the run folder.
func (r *Run) WritePlots() error {
	tr := Series{Name: "train", Color: TrainColor}
	va := Series{Name: "validation", Color: ValColor}
	for _, m := range r.metrics {
		if m.Loss != nil {
			tr.X, tr.Y = append(tr.X, float64(m.Step)), append(tr.Y, *m.Loss)
		}
		if v, ok := m.Eval["val_loss"]; ok {
			va.X, va.Y = append(va.X, float64(m.Step)), append(va.Y, v)
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
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m Metric
		if err := json.Unmarshal(line, &m); err != nil {
			if i == len(lines)-1 { // no newline after it: a write cut short by a kill, of a step after the checkpoint
				break
			}
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

// lossNaN reports a loss that is not a number: training has diverged.
func lossNaN(l float64) bool { return math.IsNaN(l) || math.IsInf(l, 0) }
