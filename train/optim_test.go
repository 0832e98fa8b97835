package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
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

// TestAdamPieces requires Update, which cuts the parameters into pieces
// shared out in one parallel loop, to give every parameter exactly what
// one Adam pass over it gives (bit for bit), for sizes around the pieces,
// with one parameter exempt from decay and one without a gradient (left
// alone); and a steady update to allocate a fixed few times, not twice a
// parameter as a loop per parameter did.
func TestAdamPieces(t *testing.T) {
	sizes := []int{1, 7, adamPieceLen - 1, adamPieceLen, adamPieceLen + 1, 3*adamPieceLen + 5}
	for _, decoupled := range []bool{false, true} {
		var ps []*autograd.Var
		var want [][]float32
		for i, n := range sizes {
			w := tensor.New(n)
			for j := range w.Data {
				w.Data[j] = float32(math.Sin(float64(i*n+j))) * 0.5
			}
			p := autograd.NewParam(w)
			want = append(want, append([]float32(nil), w.Data...))
			ps = append(ps, p)
		}
		idle := autograd.NewParam(tensor.FromSlice([]float32{1, 2, 3}, 3)) // no gradient
		opt := &Adam{Beta1: 0.9, Beta2: 0.98, Eps: 1e-9, WeightDecay: 0.05, Decoupled: decoupled,
			NoDecay: map[*autograd.Var]bool{ps[1]: true}}
		ms, vs := make([][]float32, len(ps)), make([][]float32, len(ps))
		for i, n := range sizes {
			ms[i], vs[i] = make([]float32, n), make([]float32, n)
		}
		const lr = 1e-2
		for step := 1; step <= 3; step++ {
			for i, p := range ps {
				g := p.GradData()
				for j := range g {
					g[j] = float32(math.Cos(float64(step*7+i*3+j))) * 0.1
				}
				// The reference: one pass of the kernel over the whole parameter.
				wd := opt.WeightDecay
				if i == 1 {
					wd = 0
				}
				b1, b2, rate := float32(0.9), float32(0.98), float32(lr)
				bc1 := 1 - math.Pow(float64(b1), float64(step))
				bc2 := 1 - math.Pow(float64(b2), float64(step))
				s := tensor.AdamStep{Beta1: b1, Beta2: b2, C1: 1 - b1, C2: 1 - b2, Eps: 1e-9,
					StepSize: float32(float64(rate) / bc1), InvBc2Sqrt: 1 / float32(math.Sqrt(bc2)), WeightDecay: wd, Decay: 1}
				if decoupled {
					s.WeightDecay, s.Decay = 0, 1-rate*wd
				}
				tensor.Adam(want[i], g, ms[i], vs[i], &s)
			}
			opt.Update(append(ps, idle), lr)
			for i, p := range ps {
				for j, v := range p.Value.Data {
					if math.Float32bits(v) != math.Float32bits(want[i][j]) {
						t.Fatalf("decoupled %v, step %d, size %d: w[%d] = %v, want %v", decoupled, step, sizes[i], j, v, want[i][j])
					}
				}
			}
			if got := idle.Value.Data; got[0] != 1 || got[1] != 2 || got[2] != 3 {
				t.Fatalf("a parameter without a gradient changed: %v", got)
			}
		}
		if a := testing.AllocsPerRun(5, func() { opt.Update(ps, lr) }); a > 2 {
			t.Errorf("decoupled %v: a steady Update allocated %v times", decoupled, a)
		}
	}
	// A parameter listed twice is updated once, as if listed once.
	twice, once := autograd.NewParam(tensor.New(3*adamPieceLen)), autograd.NewParam(tensor.New(3*adamPieceLen))
	for _, p := range []*autograd.Var{twice, once} {
		g := p.GradData()
		for j := range g {
			g[j] = float32(j%11) - 5
		}
	}
	NewAdam().Update([]*autograd.Var{twice, twice}, 1e-2)
	NewAdam().Update([]*autograd.Var{once}, 1e-2)
	for j := range once.Value.Data {
		if math.Float32bits(twice.Value.Data[j]) != math.Float32bits(once.Value.Data[j]) {
			t.Fatalf("listed twice: w[%d] = %v, listed once %v", j, twice.Value.Data[j], once.Value.Data[j])
		}
	}
}
