package llama

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
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
		mats = append(mats, l.matrices()...)
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
	for _, name := range []string{"llama-tiny", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny", "gemma2-tiny", "smollm3-tiny", "mistral-tiny", "phi3-tiny", "granite-tiny", "olmo2-tiny", "mixtral-tiny", "qwen3moe-tiny", "olmoe-tiny", "granitemoe-tiny", "granitemoeshared-tiny", "qwen2moe-tiny"} {
		t.Run(name, func(t *testing.T) {
			full, half := load(t, name), load(t, name)
			toBF16(full)
			toBF16(half)
			if !half.KeepBF16() {
				t.Fatal("a model rounded to bfloat16 was not kept")
			}
			prompt, _, _ := sameSteps(t, "the bfloat16 model", full, half)
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

// halfFolder copies the test folder name to a temporary one with its
// weights stored in the 16-bit format dtype (rounded to nearest even),
// except those named in other: stored in the format given there, F32
// holding dtype's values or, when exact is false, values nudged off them.
func halfFolder(t *testing.T, name string, dtype safetensors.DType, other map[string]safetensors.DType, exact bool) string {
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
	conv := func(dtype safetensors.DType) (func(float32) uint16, func(uint16) float32) {
		if dtype == safetensors.DTypeF16 {
			return safetensors.Float32ToFloat16, safetensors.Float16ToFloat32
		}
		return safetensors.Float32ToBFloat16, safetensors.BFloat16ToFloat32
	}
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		v, shape, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		dt := dtype
		if o, ok := other[n]; ok && o != safetensors.DTypeF32 {
			dt = o
		}
		round, widen := conv(dt)
		if other[n] == safetensors.DTypeF32 {
			for i := range v {
				v[i] = widen(round(v[i]))
				if !exact {
					v[i] = math.Nextafter32(v[i], 1)
				}
			}
			ts = append(ts, safetensors.F32(n, shape, v))
			continue
		}
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], round(x))
		}
		ts = append(ts, safetensors.Tensor{Name: n, DType: dt, Shape: shape, Data: b})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLoadHalf: a checkpoint stored in BF16 or in F16 loads straight into
// its 16 bits (no matrix, fused or not, holds float32 values) and gives
// bit for bit the logits of Load's float32 model, for each family's test
// model (untied, q/k/v biases, q/k norms and tied): a prompt of more than
// 16 positions (the packed kernels), single steps, a batch; widened, it
// holds Load's values. A float32 matrix among the BF16 ones loads through
// float32 and is kept if its values are bfloat16 ones, else the model
// stays float32; so does one in F16 among BF16 ones.
func TestLoadHalf(t *testing.T) {
	for _, dtype := range []safetensors.DType{safetensors.DTypeBF16, safetensors.DTypeF16} {
		for _, name := range []string{"llama-tiny", "qwen2-tiny", "qwen3-tiny", "llama-tiny-llama3", "gemma3-tiny", "gemma2-tiny", "smollm3-tiny", "mistral-tiny", "phi3-tiny", "phi3-tiny-longrope", "granite-tiny", "olmo2-tiny", "mixtral-tiny", "qwen3moe-tiny", "olmoe-tiny", "granitemoe-tiny", "granitemoeshared-tiny", "qwen2moe-tiny"} {
			t.Run(fmt.Sprint(dtype, "/", name), func(t *testing.T) {
				dir := halfFolder(t, name, dtype, nil, true)
				half, err := LoadHalf(dir)
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
					mats = append(mats, l.matrices()...)
					mats = append(mats, l.Attn.Q.Weight, l.Attn.K.Weight, l.Attn.V.Weight)
					for _, f := range l.ffns() {
						mats = append(mats, f.Gate.Weight, f.Up.Weight)
					}
				}
				for i, v := range mats {
					if v != nil && v.Value.Data != nil {
						t.Errorf("matrix %d holds float32 values", i)
					}
				}
				_, fc, hc := sameSteps(t, "the 16-bit model (against Load's)", full, half)
				fcs, hcs := []*Cache{fc, full.NewCache()}, []*Cache{hc, half.NewCache()}
				want, _ := full.StepBatch(NewBatchBuffers(), fcs, []int{3, 4})
				got, err := half.StepBatch(NewBatchBuffers(), hcs, []int{3, 4})
				if err != nil || !slices.Equal(got.Data, want.Data) {
					t.Errorf("a batch: the logits differ from Load's (%v)", err)
				}
				half.Widen()
				for i, p := range half.Params() {
					if !slices.Equal(p.Value.Data, full.Params()[i].Value.Data) {
						t.Errorf("widened, %s differs from Load's", p.Name)
					}
				}
			})
		}
	}
	one := "model.layers.1.mlp.down_proj.weight"
	for _, tc := range []struct {
		what  string
		other safetensors.DType
		exact bool
		half  bool
	}{
		{"a float32 matrix of bfloat16 values", safetensors.DTypeF32, true, true},
		{"a float32 matrix of other values", safetensors.DTypeF32, false, false},
		{"an F16 matrix", safetensors.DTypeF16, true, false},
	} {
		m, err := LoadHalf(halfFolder(t, "llama-tiny", safetensors.DTypeBF16, map[string]safetensors.DType{one: tc.other}, tc.exact))
		if err != nil || m.Halved() != tc.half || !tc.half && m.Layers[0].qkv.Value.Data == nil {
			t.Errorf("%s among BF16 ones: halved %v (%v); want %v", tc.what, m != nil && m.Halved(), err, tc.half)
		}
	}
}

// TestLoadHalfTiedAlias: a tied model whose checkpoint stores its
// embeddings only as lm_head.weight (which Load reads them from) is kept
// in 16 bits as the other matrices are when that copy shares their format,
// and otherwise loads through float32 as a mixed checkpoint does, with
// Load's logits either way (it had been refused: the alias's dtype was
// never compared with the others').
func TestLoadHalfTiedAlias(t *testing.T) {
	for _, tc := range []struct {
		dtype, alias safetensors.DType
		half         bool
	}{
		{safetensors.DTypeBF16, safetensors.DTypeBF16, true},
		{safetensors.DTypeF16, safetensors.DTypeF16, true},
		{safetensors.DTypeBF16, safetensors.DTypeF32, true}, // its values bfloat16 ones: KeepBF16
		{safetensors.DTypeF16, safetensors.DTypeF32, false},
		{safetensors.DTypeF16, safetensors.DTypeBF16, false},
	} {
		dir := halfFolder(t, "qwen3-tiny", tc.dtype, map[string]safetensors.DType{"model.embed_tokens.weight": tc.alias}, true)
		renameTensor(t, dir, "model.embed_tokens.weight", "lm_head.weight")
		what := fmt.Sprintf("%s matrices, the embeddings stored as lm_head.weight in %s", tc.dtype, tc.alias)
		full, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: Load: %v", what, err)
		}
		half, err := LoadHalf(dir)
		if err != nil {
			t.Errorf("%s: LoadHalf: %v", what, err)
			continue
		}
		if half.Halved() != tc.half {
			t.Errorf("%s: halved %v; want %v", what, half.Halved(), tc.half)
		}
		prompt := []int{3, 10, 17, 24, 31}
		want, _ := full.Step(full.NewCache(), prompt)
		got, err := half.Step(half.NewCache(), prompt)
		if err != nil || !slices.Equal(got.Data, want.Data) {
			t.Errorf("%s: the logits differ from Load's (%v)", what, err)
		}
	}
}

// TestLoadConfigShapes: a config.json whose sizes the checkpoint's
// tensors do not have (absurd ones included), or a checkpoint missing a
// matrix, is refused by name by Load and LoadHalf alike, before any buffer
// of the config's sizes is allocated (LoadHalf's 16-bit buffers, and both
// loads' fused projections, had been made before the checks: a vocabulary
// or an intermediate size of 2⁵⁰ panicked).
func TestLoadConfigShapes(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		val       int64
		drop      string
		want      string
	}{
		{"llama-tiny", "vocab_size", 99, "", "does not match config"},
		{"llama-tiny", "vocab_size", 1 << 50, "", "does not match config"},
		{"llama-tiny", "intermediate_size", 1 << 50, "", "does not match config"},
		{"qwen3-tiny", "vocab_size", 1 << 50, "model.embed_tokens.weight", "missing tensor"},
	} {
		what := fmt.Sprintf("%s, %s %d", tc.name, tc.key, tc.val)
		want := tc.want
		if tc.val > math.MaxInt { // a 32-bit int cannot hold it: the config is refused, naming the field
			want = tc.key
		}
		dir := halfFolder(t, tc.name, safetensors.DTypeBF16, nil, true)
		if tc.drop != "" {
			renameTensor(t, dir, tc.drop, "")
		}
		path := filepath.Join(dir, "config.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg[tc.key] = tc.val
		if raw, err = json.Marshal(cfg); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, load := range []struct {
			name string
			f    func(string) (*Model, error)
		}{{"Load", Load}, {"LoadHalf", LoadHalf}} {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s: %s panicked: %v", what, load.name, r)
					}
				}()
				if _, err := load.f(dir); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %s: %v; want %q", what, load.name, err, want)
				}
			}()
		}
	}
}

// renameTensor stores the tensor from of the folder's model.safetensors
// under the name to, or drops it when to is "".
func renameTensor(t *testing.T, dir, from, to string) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		b, info, err := f.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		if n == from {
			if n = to; n == "" {
				continue
			}
		}
		ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: slices.Clone(b)})
	}
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// TestQuantizeQ8: each family's test model quantized to 8 bits computes bit
// for bit as the float32 model of its dequantized weights (a prompt of
// more than 16 positions, single steps, a batch), the down projections,
// whose rows of 40 are no whole blocks, left as they were; widened, it
// holds those weights; it does not train until widened; a BF16 model
// quantizes, a matrix at a time, to what its float32 load does.
func TestQuantizeQ8(t *testing.T) {
	for _, name := range []string{"llama-tiny", "qwen2-tiny", "qwen3-tiny", "llama-tiny-llama3", "gemma3-tiny", "gemma2-tiny", "smollm3-tiny", "mistral-tiny", "phi3-tiny", "phi3-tiny-longrope", "granite-tiny", "olmo2-tiny", "mixtral-tiny", "qwen3moe-tiny", "olmoe-tiny", "granitemoe-tiny", "granitemoeshared-tiny", "qwen2moe-tiny"} {
		t.Run(name, func(t *testing.T) {
			q, ref := load(t, name), load(t, name)
			q.QuantizeQ8()
			if q.Format() != "q8" || q.KeepBF16() {
				t.Fatalf("format %q, KeepBF16 %v; want q8, false (not in 16 bits)", q.Format(), q.KeepBF16())
			}
			deq := func(v *autograd.Var) {
				cols := v.Value.Shape[len(v.Value.Shape)-1]
				if cols%tensor.Q8Block != 0 {
					return
				}
				qs, s := tensor.QuantizeQ8(v.Value.Data, cols)
				tensor.DequantizeQ8(v.Value.Data, qs, s)
			}
			deq(ref.Embed.Weight)
			if ref.LMHead != nil {
				deq(ref.LMHead)
			}
			for i, l := range ref.Layers {
				for _, v := range l.matrices() {
					deq(v)
				}
				down := q.Layers[i].ffns()[0].Down.Weight
				if q.Layers[i].qkv.Value.Data != nil || down.Value.Data == nil {
					t.Errorf("layer %d: q|k|v kept in float32 (%v), or down not (%v)", i, q.Layers[i].qkv.Value.Data != nil, down.Value.Data == nil)
				}
			}
			prompt, rc, qc := sameSteps(t, "the 8-bit model (against the dequantized float32 model)", ref, q)
			want, _ := ref.StepBatch(NewBatchBuffers(), []*Cache{rc, ref.NewCache()}, []int{3, 4})
			got, err := q.StepBatch(NewBatchBuffers(), []*Cache{qc, q.NewCache()}, []int{3, 4})
			if err != nil || !slices.Equal(got.Data, want.Data) {
				t.Errorf("a batch: the logits differ (%v)", err)
			}
			tp := autograd.NewTape(tensor.NewRNG(1))
			if _, err := q.Forward(tp, prompt, 1, len(prompt)); err == nil || !strings.Contains(err.Error(), "8 bits") {
				t.Errorf("training an 8-bit model: %v; want an error naming its 8 bits", err)
			}
			q.Widen()
			for i, p := range q.Params() {
				if !slices.Equal(p.Value.Data, ref.Params()[i].Value.Data) {
					t.Errorf("widened, %s differs from the dequantized weights", p.Name)
				}
			}
		})
	}
	dir := halfFolder(t, "llama-tiny", safetensors.DTypeBF16, nil, true)
	half, err := LoadHalf(dir)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := Load(dir)
	half.QuantizeQ8()
	full.QuantizeQ8()
	want, _ := full.Step(full.NewCache(), []int{1, 2, 3})
	got, _ := half.Step(half.NewCache(), []int{1, 2, 3})
	if half.Format() != "q8" || !slices.Equal(got.Data, want.Data) {
		t.Errorf("a BF16 model quantized: format %q, logits equal to its float32 load's quantized: %v", half.Format(), slices.Equal(got.Data, want.Data))
	}
}

// sameSteps checks that m gives bit for bit ref's logits for a prompt of 21
// positions (more than 16: the packed kernels) and then for two single
// steps, and returns the prompt and the two caches, for batches after it.
func sameSteps(t *testing.T, what string, ref, m *Model) (prompt []int, rc, mc *Cache) {
	t.Helper()
	prompt = make([]int, 21)
	for i := range prompt {
		prompt[i] = (7*i + 3) % ref.Cfg.VocabSize
	}
	rc, mc = ref.NewCache(), m.NewCache()
	want, _ := ref.Step(rc, prompt)
	got, err := m.Step(mc, prompt)
	if err != nil || !slices.Equal(got.Data, want.Data) {
		t.Fatalf("prompt: %s's logits differ (%v)", what, err)
	}
	for _, id := range []int{7, 11} {
		want, _ := ref.StepLast(rc, []int{id})
		got, _ := m.StepLast(mc, []int{id})
		if !slices.Equal(got.Data, want.Data) {
			t.Fatalf("token %d: %s's logits differ", id, what)
		}
	}
	return prompt, rc, mc
}

// TestLoadQ8: LoadQ8 gives LoadHalf's model quantized (QuantizeQ8) bit for
// bit, for every family's folder: those stored in BF16 or F16 quantized a
// layer at a time as they load, the float32 ones after; a folder missing a
// tensor fails before anything is read, naming it.
func TestLoadQ8(t *testing.T) {
	for _, name := range tinyFolders {
		dir := filepath.Join(golden.Root(t), "testdata", "hf", name)
		got, err := LoadQ8(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := LoadHalf(dir)
		if err != nil {
			t.Fatal(err)
		}
		want.QuantizeQ8()
		if got.Format() != "q8" {
			t.Errorf("%s: format %q", name, got.Format())
		}
		ids := []int{5, 9, 14, 3, 27, 8}
		a, err := got.Step(got.NewCache(), ids)
		b, _ := want.Step(want.NewCache(), ids)
		if err != nil || !slices.Equal(a.Data, b.Data) {
			t.Errorf("%s: LoadQ8's logits differ from LoadHalf's quantized (%v)", name, err)
		}
	}
	// An encoder (no output layer) in 8 bits, loaded so.
	enc := filepath.Join(golden.Root(t), "testdata", "hf", "llama-tiny-llama3")
	got, err := LoadEncoderQ8(enc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := LoadEncoder(enc)
	if err != nil {
		t.Fatal(err)
	}
	want.QuantizeQ8()
	a, err := got.Hidden([]int{5, 9, 14, 3})
	b, _ := want.Hidden([]int{5, 9, 14, 3})
	if err != nil || got.Format() != "q8" || !slices.Equal(a.Data, b.Data) {
		t.Errorf("LoadEncoderQ8: format %q, hidden states equal %v (%v)", got.Format(), err == nil && slices.Equal(a.Data, b.Data), err)
	}
	dir := copyTiny(t, "qwen3moe-tiny")
	renameTensor(t, dir, "model.layers.2.mlp.experts.5.down_proj.weight", "")
	if _, err := LoadQ8(dir); err == nil || !strings.Contains(err.Error(), "layers.2.mlp.experts.5.down_proj.weight") {
		t.Errorf("a BF16 folder missing a tensor: %v", err)
	}
}
