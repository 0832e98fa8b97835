package gpt

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// TestBatchLayout: a model in its batch layout decodes as the model in
// HF's layout does (to the order of the sums), and gives each of up to
// eight sequences decoded together its numbers alone, bit for bit; a
// training tape through it, Tensors and Columns find the [in, out]
// weights exactly as they were.
func TestBatchLayout(t *testing.T) {
	cfg := Config{VocabSize: 31, NPositions: 20, NEmbd: 64, NLayer: 2, NHead: 4, Eps: 1e-5}
	ref, m := smallModel(t, cfg), smallModel(t, cfg)
	m.BatchLayout()
	if got, want := nn.Count(m.Params()), nn.Count(ref.Params()); got != want {
		t.Errorf("batch layout: nn.Count %d parameters; want %d", got, want)
	}
	for _, l := range []*Conv1D{m.H[0].Attn.CAttn, m.H[1].MLP.CProj} {
		in, out := l.Weight.Value.Shape[0], l.Weight.Value.Shape[1]
		if l.Weight.Value.Data != nil || !tensor.EqualShape(l.rows.Value.Shape, []int{out, in}) {
			t.Fatalf("batch layout: weight values kept %v, rows %v; want dropped, [%d %d]", l.Weight.Value.Data != nil, l.rows.Value.Shape, out, in)
		}
	}
	v, r := cfg.VocabSize, tensor.NewRNG(9)
	prompt := randIDs(r, 7, v)
	const b = 5
	batched, alone, hf := make([]*Cache, b), make([]*Cache, b), make([]*Cache, b)
	for i := range b {
		batched[i], alone[i], hf[i] = m.NewCache(1), m.NewCache(1), ref.NewCache(1)
		for j, c := range []*Cache{batched[i], alone[i], hf[i]} {
			model := m
			if j == 2 {
				model = ref
			}
			if _, err := model.Step(c, prompt[:i+1], 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	bt, worst := NewBatchBuffers(), 0.0
	for step := range 4 {
		ids := randIDs(r, b, v)
		got, err := m.StepBatch(bt, batched, ids)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			one, err := m.StepLast(alone[i], ids[i:i+1], 1)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.StepLast(hf[i], ids[i:i+1], 1)
			if err != nil {
				t.Fatal(err)
			}
			row := got.Data[i*v : (i+1)*v]
			if !slices.Equal(row, one.Data) {
				t.Errorf("step %d, sequence %d: decoded with %d others, its logits differ from its own", step, i, b-1)
			}
			worst = max(worst, golden.CheckAbs(t, fmt.Sprintf("step %d, sequence %d against HF's layout", step, i), row, want.Data, 1e-4))
		}
	}
	t.Logf("batch layout against HF's: max abs error %.2e", worst)
	if worst == 0 {
		t.Errorf("batch layout computed exactly HF's numbers: its products did not run against the transposed weights")
	}

	// Training puts the weights back: the same loss and gradients.
	ids := randIDs(r, 2*8, v)
	var losses [2]float32
	for j, model := range []*Model{ref, m} {
		tp := autograd.NewTape(nil)
		loss, err := model.Loss(tp, ids[:len(ids)-2], ids[2:], 2, 7)
		if err != nil {
			t.Fatal(err)
		}
		tp.Backward(loss)
		losses[j] = loss.Item()
	}
	if losses[0] != losses[1] {
		t.Errorf("loss after the batch layout %v; want %v", losses[1], losses[0])
	}
	pr, pm := ref.Params(), m.Params()
	for i := range pr {
		if !slices.Equal(pr[i].Value.Data, pm[i].Value.Data) || !slices.Equal(pr[i].Grad.Data, pm[i].Grad.Data) {
			t.Errorf("%s: value or gradient differs after training through the batch layout", pr[i].Name)
		}
	}

	// Saving puts them back too.
	m.BatchLayout()
	tr, tm := ref.Tensors(), m.Tensors()
	for i := range tr {
		if tr[i].Name != tm[i].Name || !slices.Equal(tr[i].Shape, tm[i].Shape) || !bytes.Equal(tr[i].Data, tm[i].Data) {
			t.Errorf("Tensors after the batch layout: %s %v differs from HF's layout", tm[i].Name, tm[i].Shape)
		}
	}
	if !m.batchLayout() {
		t.Errorf("Tensors left the model in HF's layout")
	}
}
