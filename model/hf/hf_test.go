package hf

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// f16 and bf16 encode float32 values (exact in both for the test's values).
func f16(name string, shape []int, data []float32) safetensors.Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], safetensors.Float32ToFloat16(v))
	}
	return safetensors.Tensor{Name: name, DType: safetensors.DTypeF16, Shape: shape, Data: b}
}

func bf16(name string, shape []int, data []float32) safetensors.Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], safetensors.Float32ToBFloat16(v))
	}
	return safetensors.Tensor{Name: name, DType: safetensors.DTypeBF16, Shape: shape, Data: b}
}

func f64(name string, shape []int, data []float32) safetensors.Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(v)))
	}
	return safetensors.Tensor{Name: name, DType: safetensors.DTypeF64, Shape: shape, Data: b}
}

// write writes files (name → tensors) and extra text files into a new folder.
func write(t *testing.T, files map[string][]safetensors.Tensor, text map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, ts := range files {
		if err := safetensors.WriteFile(filepath.Join(dir, name), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range text {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// params returns fresh zero parameters "emb.weight" [3, 2], "ln.weight" [2],
// "ln.bias" [2] and "head.bias" [3].
func params() []nn.Param {
	p := func(name string, shape ...int) nn.Param {
		return nn.Param{Name: name, Var: autograd.NewParam(tensor.New(shape...))}
	}
	return []nn.Param{p("emb.weight", 3, 2), p("ln.weight", 2), p("ln.bias", 2), p("head.bias", 3)}
}

var (
	embData = []float32{0.5, -1, 2, 0.25, -0.125, 3}
	lnW     = []float32{1, 1.5}
	lnB     = []float32{0, -0.5}
	headB   = []float32{0.75, 0, -2}
)

// good returns the tensors params wants, as a BertForMaskedLM-style class
// would store them: the base model under "bert.", the head without.
func good() []safetensors.Tensor {
	return []safetensors.Tensor{
		safetensors.F32("bert.emb.weight", []int{3, 2}, embData),
		safetensors.F32("bert.ln.weight", []int{2}, lnW),
		safetensors.F32("bert.ln.bias", []int{2}, lnB),
		safetensors.F32("head.bias", []int{3}, headB),
	}
}

func load(dir string, opt LoadOptions) ([]nn.Param, error) {
	ck, err := Open(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	ps := params()
	return ps, ck.Load(ps, opt)
}

func checkValues(t *testing.T, ps []nn.Param) {
	t.Helper()
	for i, want := range [][]float32{embData, lnW, lnB, headB} {
		if got := ps[i].Value.Data; !slices.Equal(got, want) {
			t.Errorf("%s = %v; want %v", ps[i].Name, got, want)
		}
	}
}

func TestLoadDTypesAndPrefixes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   []safetensors.Tensor
	}{
		{"f32 bert.", good()},
		{"f16", []safetensors.Tensor{f16("emb.weight", []int{3, 2}, embData), f16("ln.weight", []int{2}, lnW), f16("ln.bias", []int{2}, lnB), f16("head.bias", []int{3}, headB)}},
		{"bf16 model.", []safetensors.Tensor{bf16("model.emb.weight", []int{3, 2}, embData), bf16("model.ln.weight", []int{2}, lnW), bf16("model.ln.bias", []int{2}, lnB), bf16("head.bias", []int{3}, headB)}},
		{"f64 transformer. gamma beta", []safetensors.Tensor{f64("transformer.emb.weight", []int{3, 2}, embData), f64("transformer.ln.gamma", []int{2}, lnW), f64("transformer.ln.beta", []int{2}, lnB), f64("head.bias", []int{3}, headB)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := load(write(t, map[string][]safetensors.Tensor{WeightsFile: tc.ts}, nil), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkValues(t, ps)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	with := func(extra ...safetensors.Tensor) []safetensors.Tensor { return append(good(), extra...) }
	without := func(name string) []safetensors.Tensor {
		return slices.DeleteFunc(good(), func(s safetensors.Tensor) bool { return s.Name == name })
	}
	replace := func(s safetensors.Tensor) []safetensors.Tensor {
		ts := good()
		for i := range ts {
			if ts[i].Name == s.Name {
				ts[i] = s
			}
		}
		return ts
	}
	tied := LoadOptions{Tied: map[string]string{"head.weight": "emb.weight"}}
	for _, tc := range []struct {
		name string
		ts   []safetensors.Tensor
		opt  LoadOptions
		want string // "" for success
	}{
		{"missing", without("bert.ln.bias"), LoadOptions{}, `hf: missing tensor "ln.bias" in model.safetensors`},
		{"two missing", without("bert.ln.bias")[1:], LoadOptions{}, `hf: missing tensor "emb.weight" (and 1 more) in model.safetensors`},
		{"wrong shape", replace(safetensors.F32("bert.emb.weight", []int{2, 3}, embData)), LoadOptions{},
			`hf: tensor "bert.emb.weight" in model.safetensors: shape [2 3] does not match config [3 2]`},
		{"int dtype", replace(safetensors.I64("head.bias", []int{3}, []int64{1, 2, 3})), LoadOptions{},
			`hf: tensor "head.bias" in model.safetensors: dtype I64 is not F32, F16, BF16 or F64`},
		{"unexpected", with(safetensors.F32("bert.pooler.weight", []int{1}, []float32{1})), LoadOptions{},
			`hf: unexpected tensor "bert.pooler.weight" in model.safetensors: the model has no such parameter`},
		{"ignored", with(safetensors.I64("bert.position_ids", []int{1, 3}, []int64{0, 1, 2})),
			LoadOptions{Ignore: []*regexp.Regexp{regexp.MustCompile(`^position_ids$`)}}, ""},
		{"tied alias equal", with(safetensors.F32("head.weight", []int{3, 2}, embData)), tied, ""},
		{"tied alias in f16", with(f16("head.weight", []int{3, 2}, embData)), tied, ""},
		{"tied alias only", append(without("bert.emb.weight"), safetensors.F32("head.weight", []int{3, 2}, embData)), tied, ""},
		{"tied alias differs", with(safetensors.F32("head.weight", []int{3, 2}, make([]float32, 6))), tied,
			`hf: tensor "head.weight" in model.safetensors differs from "bert.emb.weight", which it is tied to`},
		{"tied alias wrong shape", with(safetensors.F32("head.weight", []int{6}, embData)), tied,
			`hf: tensor "head.weight" in model.safetensors: shape [6] does not match config [3 2]`},
		{"tied alias unwanted", with(safetensors.F32("head.weight", []int{3, 2}, embData)), LoadOptions{},
			`hf: unexpected tensor "head.weight"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := load(write(t, map[string][]safetensors.Tensor{WeightsFile: tc.ts}, nil), tc.opt)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.want == "":
				checkValues(t, ps)
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Errorf("Load error %v; want %q", err, tc.want)
			}
		})
	}
}

const (
	shard1 = "model-00001-of-00002.safetensors"
	shard2 = "model-00002-of-00002.safetensors"
)

// sharded returns good() split over two shards, and its index.
func sharded() (map[string][]safetensors.Tensor, string) {
	ts := good()
	return map[string][]safetensors.Tensor{shard1: ts[:2], shard2: ts[2:]}, `{"metadata": {"total_size": 52}, "weight_map": {
		"bert.emb.weight": "` + shard1 + `", "bert.ln.weight": "` + shard1 + `",
		"bert.ln.bias": "` + shard2 + `", "head.bias": "` + shard2 + `"}}`
}

func TestSharded(t *testing.T) {
	files, ix := sharded()
	ps, err := load(write(t, files, map[string]string{IndexFile: ix}), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, ps)

	// A single model.safetensors wins over an index, as in HF.
	files[WeightsFile] = good()
	dir := write(t, files, map[string]string{IndexFile: "not json"})
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if got := ck.Files(); !slices.Equal(got, []string{WeightsFile}) {
		t.Errorf("Files() = %v; want [%s]", got, WeightsFile)
	}
}

func TestShardedErrors(t *testing.T) {
	files, ix := sharded()
	badShape := map[string][]safetensors.Tensor{shard1: files[shard1], shard2: {safetensors.F32("bert.ln.bias", []int{3}, headB), files[shard2][1]}}
	for _, tc := range []struct {
		name  string
		files map[string][]safetensors.Tensor
		index string
		want  string
	}{
		{"bad json", files, `{"weight_map": `, "model.safetensors.index.json: unexpected end of JSON input"},
		{"no weight_map", files, `{"metadata": {}}`, "weight_map is missing or empty"},
		{"path in shard name", files, `{"weight_map": {"head.bias": "../x.safetensors"}}`, `shard "../x.safetensors" is not a file name in the folder`},
		{"missing shard", map[string][]safetensors.Tensor{shard1: files[shard1]}, ix, shard2 + ": no such file"},
		{"unlisted tensor", files, strings.Replace(ix, `"head.bias": "`+shard2+`"`, `"x": "`+shard2+`"`, 1),
			`lists tensor "x" in ` + shard2 + `, which does not hold it`},
		{"tensor in another shard", files, strings.Replace(ix, `"head.bias": "`+shard2+`"`, `"head.bias": "`+shard1+`"`, 1),
			`lists tensor "head.bias" in ` + shard1 + `, which does not hold it`},
		{"shape in shard 2", badShape, ix, `hf: tensor "bert.ln.bias" in ` + shard2 + `: shape [3] does not match config [2]`},
		{"missing across shards", map[string][]safetensors.Tensor{shard1: files[shard1], shard2: files[shard2][1:]},
			strings.Replace(ix, `"bert.ln.bias": "`+shard2+`",`, "", 1),
			`hf: missing tensor "ln.bias" in model.safetensors.index.json (` + shard1 + ", " + shard2 + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(write(t, tc.files, map[string]string{IndexFile: tc.index}), LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load error %v; want %q", err, tc.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	// A tensor in a shard that the index does not list for it.
	files, ix := sharded()
	files[shard2] = append(files[shard2], safetensors.F32("extra", []int{1}, []float32{1}))
	_, err := Open(write(t, files, map[string]string{IndexFile: ix}))
	if want := `hf: tensor "extra" in ` + shard2 + " is not listed for that file in " + IndexFile; err == nil || err.Error() != want {
		t.Errorf("Open error %v; want %q", err, want)
	}

	// Two stored names for one parameter.
	_, err = Open(write(t, map[string][]safetensors.Tensor{WeightsFile: append(good(), safetensors.F32("emb.weight", []int{3, 2}, embData))}, nil))
	if want := `hf: tensors "bert.emb.weight" (model.safetensors) and "emb.weight" (model.safetensors) are both "emb.weight"`; err == nil || err.Error() != want {
		t.Errorf("Open error %v; want %q", err, want)
	}

	// No weights; a pickle is named as such.
	_, err = Open(write(t, nil, map[string]string{"pytorch_model.bin": "x"}))
	if err == nil || !strings.Contains(err.Error(), "has neither model.safetensors nor model.safetensors.index.json (pytorch_model.bin is a Python pickle") {
		t.Errorf("Open error %v; want one naming the missing files and the pickle", err)
	}

	// A truncated file gives the safetensors package's error with its path.
	dir := write(t, map[string][]safetensors.Tensor{WeightsFile: good()}, nil)
	path := filepath.Join(dir, WeightsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 5, 20, len(data) - 4} {
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); err == nil || !strings.HasPrefix(err.Error(), "safetensors: "+path+": ") {
			t.Errorf("Open of %d of %d bytes: error %v; want a safetensors error naming the file", n, len(data), err)
		}
	}
}

func TestModelType(t *testing.T) {
	dir := write(t, nil, map[string]string{ConfigFile: `{"model_type": "bert", "hidden_size": 32}`})
	if mt, err := ModelType(dir); mt != "bert" || err != nil {
		t.Errorf("ModelType = %q, %v; want bert", mt, err)
	}
	dir = write(t, nil, map[string]string{ConfigFile: `{"hidden_size": 32}`})
	if _, err := ModelType(dir); err == nil || !strings.Contains(err.Error(), "has no model_type") {
		t.Errorf("ModelType error %v; want has no model_type", err)
	}
	dir = write(t, nil, map[string]string{ConfigFile: `{"model_type": `})
	if _, err := ModelType(dir); err == nil || !strings.Contains(err.Error(), "config.json: unexpected end of JSON input") {
		t.Errorf("ModelType error %v; want config.json: unexpected end of JSON input", err)
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range [][2]string{
		{"bert.encoder.layer.0.output.dense.weight", "encoder.layer.0.output.dense.weight"},
		{"model.encoder.layers.0.fc1.bias", "encoder.layers.0.fc1.bias"},
		{"transformer.h.0.attn.c_attn.weight", "h.0.attn.c_attn.weight"},
		{"cls.predictions.bias", "cls.predictions.bias"},
		{"bert.embeddings.LayerNorm.gamma", "embeddings.LayerNorm.weight"},
		{"bert.embeddings.LayerNorm.beta", "embeddings.LayerNorm.bias"},
		{"bert.model.x", "model.x"}, // one prefix only
	} {
		if got := Canonical(tc[0]); got != tc[1] {
			t.Errorf("Canonical(%q) = %q; want %q", tc[0], got, tc[1])
		}
	}
}

// FuzzIndex requires Open to answer any index file with a checkpoint or an
// error, never a panic.
func FuzzIndex(f *testing.F) {
	_, ix := sharded()
	f.Add(ix)
	f.Add(`{"weight_map": {"a": "model-00001-of-00002.safetensors"}}`)
	f.Add(`{"weight_map": {"a": ""}}`)
	f.Add(`{"weight_map": null}`)
	f.Add(`[]`)
	dir := f.TempDir()
	files, _ := sharded()
	for name, ts := range files {
		if err := safetensors.WriteFile(filepath.Join(dir, name), ts, nil); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, index string) {
		if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o644); err != nil {
			t.Fatal(err)
		}
		ck, err := Open(dir)
		if err == nil {
			ps := params()
			_ = ck.Load(ps, LoadOptions{})
			ck.Close()
		}
	})
}

// TestSharedParameter loads one variable listed under two names (as
// nn.Params lists a shared embedding): either name suffices, and both must
// agree when both are stored.
func TestSharedParameter(t *testing.T) {
	v := autograd.NewParam(tensor.New(3, 2))
	ps := []nn.Param{{Name: "shared.weight", Var: v}, {Name: "encoder.embed_tokens.weight", Var: v}}
	other := []float32{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		name string
		ts   []safetensors.Tensor
		want string
	}{
		{"first name", []safetensors.Tensor{safetensors.F32("model.shared.weight", []int{3, 2}, embData)}, ""},
		{"second name", []safetensors.Tensor{safetensors.F32("model.encoder.embed_tokens.weight", []int{3, 2}, embData)}, ""},
		{"both", []safetensors.Tensor{safetensors.F32("model.shared.weight", []int{3, 2}, embData), bf16("model.encoder.embed_tokens.weight", []int{3, 2}, embData)}, ""},
		{"both differ", []safetensors.Tensor{safetensors.F32("model.shared.weight", []int{3, 2}, embData), safetensors.F32("model.encoder.embed_tokens.weight", []int{3, 2}, other)},
			`hf: tensor "model.encoder.embed_tokens.weight" in model.safetensors differs from "model.shared.weight", which it is tied to`},
		{"neither", []safetensors.Tensor{safetensors.F32("x", []int{1}, other[:1])}, `hf: missing tensor "shared.weight" in model.safetensors`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v.Value.Zero()
			ck, err := Open(write(t, map[string][]safetensors.Tensor{WeightsFile: tc.ts}, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			err = ck.Load(ps, LoadOptions{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.want == "" && !slices.Equal(v.Value.Data, embData):
				t.Errorf("loaded %v; want %v", v.Value.Data, embData)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("Load error %v; want %q", err, tc.want)
			}
		})
	}
}

// FuzzWeights requires Open and Load to answer any model.safetensors with a
// checkpoint or an error, never a panic.
func FuzzWeights(f *testing.F) {
	var seed strings.Builder
	if err := safetensors.Write(&seed, good(), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(seed.String()))
	var mixed strings.Builder
	ts := []safetensors.Tensor{f16("bert.emb.weight", []int{3, 2}, embData), f64("ln.gamma", []int{2}, lnW), bf16("ln.bias", []int{2}, lnB), safetensors.I64("head.bias", []int{3}, []int64{1, 2, 3})}
	if err := safetensors.Write(&mixed, ts, nil); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(mixed.String()))
	dir := f.TempDir()
	path := filepath.Join(dir, WeightsFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ck, err := Open(dir)
		if err != nil {
			return
		}
		defer ck.Close()
		ps := params()
		for _, p := range ps[:2] {
			p.Value.Data = nil // as a model built for loading has them
		}
		_ = ck.Load(ps, LoadOptions{Tied: map[string]string{"head.weight": "emb.weight"}})
	})
}

// TestLoadHalf: a parameter given a 16-bit buffer gets the stored BF16
// values there and no float32 ones; one stored in float32, one in F16
// among BF16 ones, or a buffer of the wrong size, is refused by name.
func TestLoadHalf(t *testing.T) {
	ts := []safetensors.Tensor{bf16("emb.weight", []int{3, 2}, embData), f16("ln.weight", []int{2}, lnW), bf16("ln.bias", []int{2}, lnB), safetensors.F32("head.bias", []int{3}, headB)}
	dir := write(t, map[string][]safetensors.Tensor{WeightsFile: ts}, nil)
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	ps := params()
	ps[0].Value.Data = nil // as a model built to load has it
	emb := make([]uint16, 6)
	if err := ck.Load(ps, LoadOptions{Half: map[*autograd.Var][]uint16{ps[0].Var: emb}}); err != nil {
		t.Fatal(err)
	}
	for i, h := range emb {
		if got := safetensors.BFloat16ToFloat32(h); got != embData[i] {
			t.Errorf("emb[%d] = %v; want %v", i, got, embData[i])
		}
	}
	if ps[0].Value.Data != nil || !slices.Equal(ps[1].Value.Data, lnW) {
		t.Errorf("emb.weight's float32 values %v (want none), ln.weight %v", ps[0].Value.Data, ps[1].Value.Data)
	}
	for _, tc := range []struct {
		ps   []int
		n    int
		want string
	}{
		{[]int{3}, 3, `hf: tensor "head.bias" in model.safetensors: dtype F32, not the BF16 or F16 it is to be kept in`},
		{[]int{0, 1}, 6, `hf: tensor "ln.weight" in model.safetensors: dtype F16 among BF16 tensors to be kept in 16 bits`},
		{[]int{0}, 5, `hf: 5 16-bit values for "emb.weight" of shape [3 2]`},
	} {
		ps := params()
		half := map[*autograd.Var][]uint16{}
		for _, i := range tc.ps {
			half[ps[i].Var] = make([]uint16, tc.n)
		}
		err := ck.Load(ps, LoadOptions{Half: half})
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v; want %s", err, tc.want)
		}
	}
}

// TestSplitRows3D: a [E, R, C] tensor splits as the [E·R, C] matrix it is
// in memory (a mixture of experts' matrices stored as one), in F32 and
// BF16; rows that do not add up are an error naming the tensor.
func TestSplitRows3D(t *testing.T) {
	vals := make([]float32, 2*3*2) // 2 experts of [3, 2]: gate rows 0–1, up row 2
	for i := range vals {
		vals[i] = float32(i) / 4
	}
	for _, stored := range []safetensors.Tensor{safetensors.F32("experts.w", []int{2, 3, 2}, vals), bf16("experts.w", []int{2, 3, 2}, vals)} {
		dir := write(t, map[string][]safetensors.Tensor{"model.safetensors": {stored}}, nil)
		ck, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{"e0.gate", "e0.up", "e1.gate", "e1.up"}
		if err := ck.SplitRows("experts.w", names, []int{2, 1, 2, 1}); err != nil {
			t.Fatal(err)
		}
		var ps []nn.Param
		for i, n := range names {
			ps = append(ps, nn.Param{Name: n, Var: autograd.NewParam(tensor.New(2-i%2, 2))})
		}
		if err := ck.Load(ps, LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		at := 0
		for _, p := range ps {
			if want := vals[at : at+len(p.Value.Data)]; !slices.Equal(p.Value.Data, want) {
				t.Errorf("%s %s = %v; want %v", stored.DType, p.Name, p.Value.Data, want)
			}
			at += len(p.Value.Data)
		}
		ck.Close()
	}
	dir := write(t, map[string][]safetensors.Tensor{"model.safetensors": {safetensors.F32("experts.w", []int{2, 3, 2}, vals)}}, nil)
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if err := ck.SplitRows("experts.w", []string{"a", "b"}, []int{3, 2}); err == nil || !strings.Contains(err.Error(), `"experts.w"`) || !strings.Contains(err.Error(), "[2 3 2]") {
		t.Errorf("5 rows of 6: %v", err)
	}
}

// TestDequantizeMXFP4: blocks and scales read as values 2^(scale−127)
// times the E2M1 codes, the lower nibble first, and then split, transposed,
// by Derive; a half pair or mismatched shapes are refused by name.
func TestDequantizeMXFP4(t *testing.T) {
	// Two rows of one block of 32 values: row 0's bytes hold codes 1, 2
	// (0.5, 1) then 0 (0) and 15 (−6); row 1 is code 7 (6) throughout.
	blocks := make([]byte, 2*16)
	blocks[0], blocks[1] = 0x21, 0xF0
	for i := 16; i < 32; i++ {
		blocks[i] = 0x77
	}
	scales := []byte{128, 125} // ×2 and ×1/4
	c := openTensors(t,
		safetensors.Tensor{Name: "w_blocks", DType: safetensors.DTypeU8, Shape: []int{2, 1, 16}, Data: blocks},
		safetensors.Tensor{Name: "w_scales", DType: safetensors.DTypeU8, Shape: []int{2, 1}, Data: scales})
	if err := c.DequantizeMXFP4("w"); err != nil {
		t.Fatal(err)
	}
	w, ok := c.Lookup("w")
	if !ok || !slices.Equal(w.Shape, []int{2, 32}) {
		t.Fatalf("w: %v %v", ok, w)
	}
	got, err := w.Float32()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 64)
	want[0], want[1], want[2], want[3] = 1, 2, 0, -12
	for i := 32; i < 64; i++ {
		want[i] = 1.5
	}
	if !slices.Equal(got, want) {
		t.Errorf("decoded %v; want %v", got, want)
	}
	// Every piece of a larger tensor, at any offset and length, decodes as
	// the formula says value by value (the decoder walks whole bytes and
	// blocks).
	rb, rs := make([]byte, 3*2*16), []byte{0, 1, 126, 127, 200, 254}
	for i := range rb {
		rb[i] = byte(i*37 + 11)
	}
	c2 := openTensors(t,
		safetensors.Tensor{Name: "v_blocks", DType: safetensors.DTypeU8, Shape: []int{3, 2, 16}, Data: rb},
		safetensors.Tensor{Name: "v_scales", DType: safetensors.DTypeU8, Shape: []int{3, 2}, Data: rs})
	if err := c2.DequantizeMXFP4("v"); err != nil {
		t.Fatal(err)
	}
	v, _ := c2.Lookup("v")
	ref := make([]float32, 192)
	for i := range ref {
		code := rb[i/2] >> (4 * (i % 2)) & 15
		ref[i] = float32(math.Ldexp(float64(fp4[code]), int(rs[i/32])-127))
	}
	for off := 0; off < len(ref); off++ {
		for n := 0; off+n <= len(ref); n += 1 + n/3 {
			got := make([]float32, n)
			v.decode(got, off)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(ref[off+i]) {
					t.Fatalf("values %d.. (%d of them): value %d is %v, want %v", off, n, off+i, got[i], ref[off+i])
				}
			}
		}
	}
	// Derive: the transpose [32, 2].
	if err := c.Derive("w", []int{2, 32}, []string{"wt"}, [][]int{{32, 2}}, func(_, i int) (int, int) { return i%2*32 + i/2, 1 }); err != nil {
		t.Fatal(err)
	}
	wt, _ := c.Lookup("wt")
	tr, _ := wt.Float32()
	if tr[0] != 1 || tr[1] != 1.5 || tr[2] != 2 || tr[6] != -12 || tr[7] != 1.5 {
		t.Errorf("transposed %v", tr)
	}
	if err := c.Derive("wt", []int{2, 32}, []string{"x"}, [][]int{{64}}, func(_, i int) (int, int) { return i, 64 - i }); err == nil || !strings.Contains(err.Error(), "shape [32 2], where the config's x need [2 32]") {
		t.Errorf("a mis-shaped source: %v", err)
	}
	for _, tc := range []struct {
		ts   []safetensors.Tensor
		want string
	}{
		{[]safetensors.Tensor{{Name: "w_blocks", DType: safetensors.DTypeU8, Shape: []int{2, 1, 16}, Data: blocks}}, `"w_blocks" in model.safetensors has no w_scales beside it`},
		{[]safetensors.Tensor{{Name: "w_blocks", DType: safetensors.DTypeU8, Shape: []int{2, 1, 16}, Data: blocks},
			{Name: "w_scales", DType: safetensors.DTypeU8, Shape: []int{1, 2}, Data: scales}}, "want blocks [..., G, 16] and scales [..., G]"},
		{[]safetensors.Tensor{{Name: "w_blocks", DType: safetensors.DTypeU8, Shape: []int{2, 1, 16}, Data: blocks},
			{Name: "w_scales", DType: safetensors.DTypeI8, Shape: []int{2, 1}, Data: scales}}, "dtypes U8 and I8, want U8"},
	} {
		if err := openTensors(t, tc.ts...).DequantizeMXFP4("w"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want %q", tc.ts[len(tc.ts)-1].Shape, err, tc.want)
		}
	}
}

// openTensors opens a folder whose model.safetensors holds ts, closed when
// the test ends.
func openTensors(t *testing.T, ts ...safetensors.Tensor) *Checkpoint {
	t.Helper()
	c, err := Open(write(t, map[string][]safetensors.Tensor{"model.safetensors": ts}, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
