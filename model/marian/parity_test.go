package marian

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// goldenModel loads testdata/hf/marian-tiny with Load and its golden file
// (tools/golden/torch_marian.py).
func goldenModel(t *testing.T) (*Model, *golden.File) {
	t.Helper()
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", "marian-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	return m, golden.Open(t, filepath.Join("hf", "marian-tiny", "golden.safetensors"))
}

// TestForwardMatchesPyTorch compares the position table, the encoder output
// and the logits of a padded batch of 2 with HF MarianMTModel's forward in
// float64 PyTorch.
func TestForwardMatchesPyTorch(t *testing.T) {
	m, f := goldenModel(t)
	pe := f.Tensor("output.positions")
	dp := golden.CheckAbs(t, "sinusoidal positions", Sinusoidal(pe.Shape[0], pe.Shape[1]).Data, pe.Data, 1e-6)
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
	t.Logf("max abs error: positions %.2e, encoder %.2e, logits %.2e", dp, de, dl)
}

// TestGreedyMatchesPyTorch decodes 8 greedy tokens with the cached Decoder
// and requires PyTorch's tokens (the pad token banned, as the config's
// bad_words_ids say); each step's logits must equal those of Forward on the
// whole prefix, banned tokens −Inf.
func TestGreedyMatchesPyTorch(t *testing.T) {
	m, f := goldenModel(t)
	src, pad, want := f.Ints("input.src"), f.Bools("input.src_pad"), f.Ints("output.greedy")
	b, steps := 2, len(want)/2
	s, v := len(src)/b, m.Cfg.VocabSize
	d, err := m.NewDecoder(src, pad, b, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Banned, []int{m.Cfg.PadTokenID}) {
		t.Errorf("Decoder.Banned = %v; want the pad token [%d] (bad_words_ids)", d.Banned, m.Cfg.PadTokenID)
	}
	start := m.Cfg.DecoderStartTokenID
	seqs := [][]int{{start}, {start}}
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
			got := logits.Data[i*v : (i+1)*v]
			seqs[i] = append(seqs[i], tensor.Argmax(got))
			got = slices.Clone(got)
			last := slices.Clone(full.Value.Data[(i*(step+1)+step)*v : (i*(step+1)+step+1)*v])
			for _, b := range d.Banned {
				if !math.IsInf(float64(got[b]), -1) {
					t.Errorf("step %d, sequence %d: logit of banned token %d = %v; want -Inf", step, i, b, got[b])
				}
				got[b], last[b] = 0, 0
			}
			worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("step %d, sequence %d: cached logits", step, i), got, last, 1e-5))
		}
	}
	for i := range b {
		if got := seqs[i][1:]; !slices.Equal(got, want[i*steps:(i+1)*steps]) {
			t.Errorf("greedy tokens of sequence %d = %v; want %v (PyTorch)", i, got, want[i*steps:(i+1)*steps])
		}
	}
	t.Logf("greedy tokens %v; cached vs full-prefix logits: max abs error %.2e", [][]int{seqs[0][1:], seqs[1][1:]}, worst)
}
