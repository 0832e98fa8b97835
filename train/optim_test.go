package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
)

// TestAdamMatchesPyTorch replays five steps of torch.optim.Adam, Adam with L2
// weight decay, AdamW and Adam after clip_grad_norm_, from the same start and
// gradients, and compares the parameters after every step.
func TestAdamMatchesPyTorch(t *testing.T) {
	f := golden.Open(t, "torch/adam.safetensors")
	for _, run := range []struct {
		name string
		opt  *Adam
		clip bool
	}{
		{"adam", NewAdam(), false},
		{"adam_l2", &Adam{Beta1: 0.9, Beta2: 0.98, Eps: 1e-9, WeightDecay: 0.01}, false},
		{"adamw", NewAdamW(0.1), false},
		{"adam_clip", NewAdam(), true},
	} {
		p, q := autograd.NewParam(f.Tensor("input.p0")), autograd.NewParam(f.Tensor("input.q0"))
		worst := 0.0
		for step := 1; step <= 5; step++ {
			copy(p.GradData(), f.Tensor(fmt.Sprintf("input.grad.p.step%d", step)).Data)
			copy(q.GradData(), f.Tensor(fmt.Sprintf("input.grad.q.step%d", step)).Data)
			if run.clip {
				norm := ClipGradNorm([]*autograd.Var{p, q}, 1)
				want := f.Tensor(fmt.Sprintf("output.clip_norm.step%d", step)).Data[0]
				if math.Abs(float64(norm-want)) > 1e-5*float64(want) {
					t.Errorf("step %d: ClipGradNorm = %v; want %v", step, norm, want)
				}
			}
			run.opt.Update([]*autograd.Var{p, q}, 1e-2)
			for name, v := range map[string]*autograd.Var{"p": p, "q": q} {
				want := f.Tensor(fmt.Sprintf("output.%s.%s.step%d", run.name, name, step))
				worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("%s %s step %d", run.name, name, step), v.Value.Data, want.Data, 1e-6))
			}
		}
		t.Logf("%s: worst parameter error over 5 steps %.1e", run.name, worst)
	}
}

func TestNoamSchedule(t *testing.T) {
	n := Noam{DModel: 512, Warmup: 4000}
	for _, step := range []int{1, 100, 3999, 4000, 4001, 100000} {
		s := float64(step)
		want := math.Pow(512, -0.5) * math.Min(math.Pow(s, -0.5), s*math.Pow(4000, -1.5))
		if got := n.LR(step); math.Abs(float64(got)-want) > 1e-6*want {
			t.Errorf("Noam.LR(%d) = %v; want %v", step, got, want)
		}
	}
	// The peak is at the end of warm-up: d^-0.5 · warmup^-0.5 ≈ 7.0e-4.
	if peak, after := n.LR(4000), n.LR(4100); !(peak > after && peak > n.LR(3900)) {
		t.Errorf("Noam peak not at warmup: LR(3900)=%v LR(4000)=%v LR(4100)=%v", n.LR(3900), peak, after)
	}
}

func TestWarmupCosine(t *testing.T) {
	w := WarmupCosine{Peak: 1e-3, Min: 1e-4, Warmup: 10, Total: 110}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0}, {5, 5e-4}, {10, 1e-3}, {60, 5.5e-4}, {110, 1e-4}, {500, 1e-4}} {
		if got := w.LR(c.step); math.Abs(float64(got)-c.want) > 1e-9 {
			t.Errorf("WarmupCosine.LR(%d) = %v; want %v", c.step, got, c.want)
		}
	}
}
