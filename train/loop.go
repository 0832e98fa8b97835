package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// StepFunc runs the forward pass of micro-batch micro of optimizer step step
// through tp and returns the loss and the number of tokens it covered.
type StepFunc func(tp *autograd.Tape, step, micro int) (loss *autograd.Var, tokens int, err error)

// Stats describe one optimizer step.
type Stats struct {
	Step         int
	Loss         float64 // mean over the step's micro-batches
	LR           float32
	GradNorm     float32 // before clipping
	TokensPerSec float64
	Elapsed      time.Duration
}

// Loop is a training loop: each step runs Accum micro-batches, accumulates
// their gradients, clips, and updates the parameters.
type Loop struct {
	Params []*autograd.Var
	Opt    *Adam
	// Muon, if set, updates the Hidden matrices (which Opt then leaves).
	Muon     *Muon
	Hidden   []*autograd.Var
	Schedule Schedule
	Steps    int
	// Accum is the number of micro-batches per optimizer step (at least 1).
	Accum int
	// ClipNorm caps the global gradient norm; 0 disables clipping.
	ClipNorm float32
	// RNG drives dropout; nil disables it.
	RNG *tensor.RNG
	// LogEvery prints a line every so many steps to Log (if set).
	LogEvery int
	Log      io.Writer
	// OnStep, if set, is called after every step; an error stops the loop.
	OnStep func(Stats) error
}

// Run trains from the optimizer's current step up to Steps, stopping early
// (without error) when ctx is cancelled.
func (l *Loop) Run(ctx context.Context, fn StepFunc) error {
	if l.Opt == nil || l.Schedule == nil || len(l.Params) == 0 {
		return errors.New("train: Loop needs Params, Opt and Schedule")
	}
	accum := max(l.Accum, 1)
	adamPs := l.Params
	if l.Muon != nil {
		adamPs = slices.DeleteFunc(slices.Clone(l.Params), func(p *autograd.Var) bool { return slices.Contains(l.Hidden, p) })
	}
	tp := autograd.NewTape(l.RNG)
	start := time.Now()
	for step := l.Opt.Step + 1; step <= l.Steps; step++ {
		if ctx.Err() != nil {
			return nil
		}
		t0 := time.Now()
		for _, p := range l.Params {
			p.ZeroGrad()
		}
		var lossSum float64
		tokens := 0
		for micro := range accum {
			loss, n, err := fn(tp, step, micro)
			if err != nil {
				tp.Reset()
				return fmt.Errorf("train: step %d: %w", step, err)
			}
			lossSum += float64(loss.Item())
			tokens += n
			if accum > 1 {
				loss = tp.Scale(loss, 1/float32(accum))
			}
			tp.Backward(loss)
		}
		st := Stats{Step: step, Loss: lossSum / float64(accum), LR: l.Schedule.LR(step)}
		if l.ClipNorm > 0 {
			st.GradNorm = ClipGradNorm(l.Params, l.ClipNorm)
		}
		l.Opt.Update(adamPs, st.LR)
		if l.Muon != nil {
			l.Muon.Update(l.Hidden, st.LR)
		}
		st.Elapsed = time.Since(start)
		st.TokensPerSec = float64(tokens) / time.Since(t0).Seconds()
		if l.Log != nil && l.LogEvery > 0 && (step%l.LogEvery == 0 || step == l.Steps) {
			fmt.Fprintf(l.Log, "step %5d/%d  loss %.4f  lr %.2e  %.0f tok/s  %s\n",
				step, l.Steps, st.Loss, st.LR, st.TokensPerSec, st.Elapsed.Round(time.Second))
		}
		if l.OnStep != nil {
			if err := l.OnStep(st); err != nil {
				return err
			}
		}
	}
	return nil
}
