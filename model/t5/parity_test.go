package t5

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// goldenCase loads testdata/hf/<name> with Load and its golden file
// (tools/golden/torch_t5.py).
func goldenCase(t *testing.T, name string) (*Model, *golden.File) {
	t.Helper()
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", name))
	if err != nil {
		t.Fatal(err)
	}
	return m, golden.Open(t, filepath.Join("hf", name, "golden.safetensors"))
}

// TestForwardMatchesPyTorch compares the encoder output and the logits of a
// padded batch of 2 with HF T5's forward in float64 PyTorch.
func TestForwardMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"t5-tiny", "flan-t5-tiny"} {
		t.Run(name, func(t *testing.T) {
			m, f := goldenCase(t, name)
			src, pad, tgt := f.Ints("input.src"), f.Bools("input.src_pad"), f.Ints("input.tgt")
			b := 2
			s, tt := len(src)/b, len(tgt)/b
			var tp *autograd.Tape
			mem, err := m.Encode(tp, src, pad, b, s)
			if err != nil {
				t.Fatal(err)
			}
			de := golden.CheckAbs(t, "encoder output", mem.Value.Data, f.Tensor("output.encoder").Data, 1e-4)
			logits, err := m.Forward(tp, src, pad, tgt, b, s, tt)
			if err != nil {
				t.Fatal(err)
			}
			dl := golden.CheckAbs(t, "logits", logits.Value.Data, f.Tensor("output.logits").Data, 1e-4)
			t.Logf("max abs error: encoder %.2e, logits %.2e", de, dl)
		})
	}
}

// TestGreedyMatchesPyTorch decodes 8 greedy tokens with the cached Decoder
// and requires PyTorch's tokens; each step's logits must equal those of
// Forward on the whole prefix.
func TestGreedyMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"t5-tiny", "flan-t5-tiny"} {
		t.Run(name, func(t *testing.T) {
			m, f := goldenCase(t, name)
			src, pad, want := f.Ints("input.src"), f.Bools("input.src_pad"), f.Ints("output.greedy")
			b, steps := 2, len(want)/2
			s, v := len(src)/b, m.Cfg.VocabSize
			d, err := m.NewDecoder(src, pad, b, s, 1)
			if err != nil {
				t.Fatal(err)
			}
			seqs := [][]int{{m.Cfg.DecoderStartTokenID}, {m.Cfg.DecoderStartTokenID}}
			worst := 0.0
			for step := range steps {
				logits, err := d.Step([]int{seqs[0][step], seqs[1][step]})
				if err != nil {
					t.Fatal(err)
				}
				full, err := m.Forward(nil, src, pad, slices.Concat(seqs...), b, s, step+1)
				if err != nil {
					t.Fatal(err)
				}
				for i := range b {
					last := full.Value.Data[(i*(step+1)+step)*v : (i*(step+1)+step+1)*v]
					worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("step %d, sequence %d: cached logits", step, i), logits.Data[i*v:(i+1)*v], last, 1e-5))
					seqs[i] = append(seqs[i], tensor.Argmax(logits.Data[i*v:(i+1)*v]))
				}
			}
			for i := range b {
				if got := seqs[i][1:]; !slices.Equal(got, want[i*steps:(i+1)*steps]) {
					t.Errorf("greedy tokens of sequence %d = %v; want %v (PyTorch)", i, got, want[i*steps:(i+1)*steps])
				}
			}
			t.Logf("greedy tokens %v; cached vs full-prefix logits: max abs error %.2e", [][]int{seqs[0][1:], seqs[1][1:]}, worst)
		})
	}
}

// TestRelativePositionBucket compares the buckets of relative positions
// -200..200 with HF's function (float32 logarithm), for the tiny models'
// setting and the published one (32 buckets, max distance 128), whose
// bidirectional boundaries at 16, 32 and 64 depend on float32 rounding.
func TestRelativePositionBucket(t *testing.T) {
	f := golden.Open(t, filepath.Join("hf", "t5-tiny", "golden.safetensors"))
	rel := f.Ints("input.rel")
	for _, c := range []struct {
		bi     bool
		nb, md int
	}{{true, 8, 16}, {false, 8, 16}, {true, 32, 128}, {false, 32, 128}} {
		dir := map[bool]string{true: "bi", false: "uni"}[c.bi]
		want := f.Ints(fmt.Sprintf("output.buckets.%s_%d_%d", dir, c.nb, c.md))
		for i, r := range rel {
			if got := RelativePositionBucket(r, c.bi, c.nb, c.md); got != want[i] {
				t.Errorf("RelativePositionBucket(%d, %v, %d, %d) = %d; want %d", r, c.bi, c.nb, c.md, got, want[i])
			}
		}
	}
}
