package train

import (
	"fmt"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// TestMuonMatchesPyTorch replays four Muon steps of the reference update
// (tools/golden/torch_transformer.py, case muon) on a wide and a tall
// matrix, stored [in, out] as GPT-2's Conv1D weights are, and compares the
// weights after every step.
func TestMuonMatchesPyTorch(t *testing.T) {
	f := golden.Open(t, "torch/muon.safetensors")
	opt := NewMuon(1, 0.1) // the schedule's lr is Muon's lr here
	ps := map[string]*autograd.Var{"w": autograd.NewParam(f.Tensor("input.w0")), "u": autograd.NewParam(f.Tensor("input.u0"))}
	list := []*autograd.Var{ps["w"], ps["u"]}
	worst := 0.0
	for step := 1; step <= 4; step++ {
		for name, p := range ps {
			copy(p.GradData(), f.Tensor(fmt.Sprintf("input.grad.%s.step%d", name, step)).Data)
		}
		opt.Update(list, 0.02)
		for name, p := range ps {
			want := f.Tensor(fmt.Sprintf("output.%s.step%d", name, step))
			worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("%s step %d", name, step), p.Value.Data, want.Data, 2e-6))
		}
	}
	t.Logf("worst weight error over 4 steps %.1e", worst)
}

// BenchmarkMuon times one Muon step on the hidden matrices of the
// shakespeare-char preset (4 blocks of width 192):
//
//	go test -run '^$' -bench Muon ./train
func BenchmarkMuon(b *testing.B) {
	rng := tensor.NewRNG(1)
	var ps []*autograd.Var
	for range 4 {
		for _, s := range [][2]int{{192, 576}, {192, 192}, {192, 768}, {768, 192}} {
			p := autograd.NewParam(tensor.New(s[0], s[1]))
			rng.FillNormal(p.Value, 0, 0.02)
			rng.FillNormal(tensor.FromSlice(p.GradData(), p.Value.Len()), 0, 1)
			ps = append(ps, p)
		}
	}
	opt := NewMuon(10, 0)
	for b.Loop() {
		opt.Update(ps, 2e-3)
	}
}
