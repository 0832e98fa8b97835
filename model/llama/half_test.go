package llama

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// TestKeepBF16: a checkpoint stored in BF16 keeps its matrices in bfloat16
// and gives bit for bit the float32 model's logits, one sequence (every
// position of a prompt, then a token at a time) and batches of 3 and 12;
// it refuses to train until widened, and widened it holds its float32
// values again; a float32 checkpoint is left as it is.
func TestKeepBF16(t *testing.T) {
	full, half := load(t, "llama-tiny-llama3"), load(t, "llama-tiny-llama3")
	if !half.KeepBF16() || !half.Halved() {
		t.Fatal("a BF16 checkpoint was not kept in bfloat16")
	}
	if half.Embed.Weight.Value.Data != nil || half.Layers[0].Attn.Q.Weight.Value.Data != nil {
		t.Error("the float32 matrices are still held")
	}
	prompt := []int{1, 5, 9, 14, 3, 22, 8}
	fc, hc := full.NewCache(), half.NewCache()
	want, _ := full.Step(fc, prompt)
	got, err := half.Step(hc, prompt)
	if err != nil || !slices.Equal(got.Data, want.Data) {
		t.Fatalf("prompt: the bfloat16 model's logits differ (%v)", err)
	}
	for _, id := range []int{7, 11, 2} {
		want, _ := full.StepLast(fc, []int{id})
		got, _ := half.StepLast(hc, []int{id})
		if !slices.Equal(got.Data, want.Data) {
			t.Fatalf("token %d: the bfloat16 model's logits differ", id)
		}
	}
	for _, b := range []int{3, 12} {
		var fcs, hcs []*Cache
		var ids []int
		for i := range b {
			f, h := full.NewCache(), half.NewCache()
			full.StepLast(f, prompt[:1+i%6])
			half.StepLast(h, prompt[:1+i%6])
			fcs, hcs, ids = append(fcs, f), append(hcs, h), append(ids, 3+i)
		}
		want, _ := full.StepBatch(NewBatchBuffers(), fcs, ids)
		got, err := half.StepBatch(NewBatchBuffers(), hcs, ids)
		if err != nil || !slices.Equal(got.Data, want.Data) {
			t.Errorf("%d sequences: the bfloat16 model's logits differ (%v)", b, err)
		}
	}
	tp := autograd.NewTape(tensor.NewRNG(1))
	if _, err := half.Forward(tp, prompt, 1, len(prompt)); err == nil || !strings.Contains(err.Error(), "Widen it first") {
		t.Errorf("training a bfloat16 model: %v", err)
	}
	half.Widen()
	for i, p := range half.Params() {
		if !slices.Equal(p.Value.Data, full.Params()[i].Value.Data) {
			t.Errorf("widened, %s differs from the float32 model's", p.Name)
		}
	}
	if _, err := half.Forward(tp, prompt, 1, len(prompt)); err != nil {
		t.Errorf("training the widened model: %v", err)
	}
	f32 := load(t, "llama-tiny")
	if f32.KeepBF16() || f32.Halved() || f32.Embed.Weight.Value.Data == nil {
		t.Error("a float32 checkpoint was kept in bfloat16")
	}
}

// toBF16 rounds the model's matrices (those KeepBF16 keeps) to bfloat16
// by dropping their low halves, as a BF16 copy of the checkpoint holds.
func toBF16(m *Model) {
	mats := []*autograd.Var{m.Embed.Weight}
	if m.LMHead != nil {
		mats = append(mats, m.LMHead)
	}
	for _, l := range m.Layers {
		mats = append(mats, l.qkv, l.Attn.O.Weight, l.gateUp, l.MLP.Down.Weight)
	}
	for _, v := range mats {
		for i, x := range v.Value.Data {
			v.Value.Data[i] = math.Float32frombits(math.Float32bits(x) &^ 0xffff)
		}
	}
}

// TestKeepBF16Families: every family's test model, its matrices rounded
// to bfloat16, gives bit for bit the float32 model's logits kept in
// bfloat16: an untied output layer (Llama), q/k/v biases (Qwen2), q/k
// norms (Qwen3); a prompt of more than 16 positions (the packed kernels),
// single steps, and batches on either side of 16 rows.
func TestKeepBF16Families(t *testing.T) {
	for _, name := range []string{"llama-tiny", "qwen2-tiny", "qwen3-tiny"} {
		t.Run(name, func(t *testing.T) {
			full, half := load(t, name), load(t, name)
			toBF16(full)
			toBF16(half)
			if !half.KeepBF16() {
				t.Fatal("a model rounded to bfloat16 was not kept")
			}
			prompt := make([]int, 21)
			for i := range prompt {
				prompt[i] = (7*i + 3) % full.Cfg.VocabSize
			}
			fc, hc := full.NewCache(), half.NewCache()
			want, _ := full.Step(fc, prompt)
			got, err := half.Step(hc, prompt)
			if err != nil || !slices.Equal(got.Data, want.Data) {
				t.Fatalf("prompt: the bfloat16 model's logits differ (%v)", err)
			}
			for _, id := range []int{7, 11} {
				want, _ := full.StepLast(fc, []int{id})
				got, _ := half.StepLast(hc, []int{id})
				if !slices.Equal(got.Data, want.Data) {
					t.Fatalf("token %d: the bfloat16 model's logits differ", id)
				}
			}
			for _, b := range []int{3, 16, 20} {
				var fcs, hcs []*Cache
				var ids []int
				for i := range b {
					f, h := full.NewCache(), half.NewCache()
					full.StepLast(f, prompt[:1+i%6])
					half.StepLast(h, prompt[:1+i%6])
					fcs, hcs, ids = append(fcs, f), append(hcs, h), append(ids, (3+i)%full.Cfg.VocabSize)
				}
				want, _ := full.StepBatch(NewBatchBuffers(), fcs, ids)
				got, err := half.StepBatch(NewBatchBuffers(), hcs, ids)
				if err != nil || !slices.Equal(got.Data, want.Data) {
					t.Errorf("%d sequences: the bfloat16 model's logits differ (%v)", b, err)
				}
			}
		})
	}
}

// bf16Folder copies the test folder name to a temporary one with its
// weights stored in BF16 (rounded to nearest even), except those named in
// f32, stored in F32 and, when exact is false, nudged off bfloat16.
func bf16Folder(t *testing.T, name string, f32 map[string]bool, exact bool) string {
	t.Helper()
	src := filepath.Join(golden.Root(t), "testdata", "hf", name)
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		v, shape, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		if f32[n] {
			for i := range v {
				v[i] = safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(v[i]))
				if !exact {
					v[i] = math.Nextafter32(v[i], 1)
				}
			}
			ts = append(ts, safetensors.F32(n, shape, v))
			continue
		}
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], safetensors.Float32ToBFloat16(x))
		}
		ts = append(ts, safetensors.Tensor{Name: n, DType: safetensors.DTypeBF16, Shape: shape, Data: b})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLoadKeepingBF16: a checkpoint stored in BF16 loads straight into
// bfloat16 (no matrix, fused or not, holds float32 values) with the
// numbers of Load followed by KeepBF16, for each family's test model
// (untied, q/k/v biases, q/k norms and tied); widened, it holds Load's
// values. A float32 matrix among the BF16 ones loads through float32 and
// is kept if its values are bfloat16 ones, else the model stays float32.
func TestLoadKeepingBF16(t *testing.T) {
	for _, name := range []string{"llama-tiny", "qwen2-tiny", "qwen3-tiny", "llama-tiny-llama3"} {
		t.Run(name, func(t *testing.T) {
			dir := bf16Folder(t, name, nil, true)
			half, err := LoadKeepingBF16(dir)
			if err != nil {
				t.Fatal(err)
			}
			full, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !half.Halved() || full.Halved() {
				t.Fatalf("halved: %v and %v; want true and false", half.Halved(), full.Halved())
			}
			mats := []*autograd.Var{half.Embed.Weight, half.LMHead}
			for _, l := range half.Layers {
				mats = append(mats, l.qkv, l.gateUp, l.Attn.Q.Weight, l.Attn.K.Weight, l.Attn.V.Weight, l.Attn.O.Weight, l.MLP.Gate.Weight, l.MLP.Up.Weight, l.MLP.Down.Weight)
			}
			for i, v := range mats {
				if v != nil && v.Value.Data != nil {
					t.Errorf("matrix %d holds float32 values", i)
				}
			}
			prompt := []int{1, 5, 9, 14, 3, 22, 8}
			kept := bf16Folder(t, name, nil, true)
			ref, _ := Load(kept)
			ref.KeepBF16()
			rc, hc := ref.NewCache(), half.NewCache()
			want, _ := ref.Step(rc, prompt)
			got, err := half.Step(hc, prompt)
			if err != nil || !slices.Equal(got.Data, want.Data) {
				t.Errorf("the logits differ from Load and KeepBF16's (%v)", err)
			}
			half.Widen()
			for i, p := range half.Params() {
				if !slices.Equal(p.Value.Data, full.Params()[i].Value.Data) {
					t.Errorf("widened, %s differs from Load's", p.Name)
				}
			}
		})
	}
	one := "model.layers.1.mlp.down_proj.weight"
	m, err := LoadKeepingBF16(bf16Folder(t, "llama-tiny", map[string]bool{one: true}, true))
	if err != nil || !m.Halved() {
		t.Errorf("a float32 matrix of bfloat16 values among BF16 ones: halved %v (%v); want true", m != nil && m.Halved(), err)
	}
	m, err = LoadKeepingBF16(bf16Folder(t, "llama-tiny", map[string]bool{one: true}, false))
	if err != nil || m.Halved() || m.Layers[0].qkv.Value.Data == nil {
		t.Errorf("a float32 matrix of other values among BF16 ones: halved %v (%v); want a float32 model", m != nil && m.Halved(), err)
	}
}
