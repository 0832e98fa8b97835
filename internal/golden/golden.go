// Package golden loads the reference files under testdata/ (written by the
// scripts in tools/golden from PyTorch) and compares results with them,
// reporting the largest difference.
package golden

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// Root returns the module's root directory (the one holding go.mod), found by
// walking up from the working directory, as tests run inside their package.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("golden: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// File is an open golden file.
type File struct {
	*safetensors.File
	t testing.TB
}

// Open opens testdata/<rel> under the module root; the file is closed when
// the test ends.
func Open(t testing.TB, rel string) *File {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(Root(t), "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &File{File: f, t: t}
}

// Tensor returns the named tensor as float32.
func (f *File) Tensor(name string) *tensor.Tensor {
	f.t.Helper()
	data, shape, err := f.Float32(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return tensor.FromSlice(data, shape...)
}

// Ints returns the named integer tensor as ints.
func (f *File) Ints(name string) []int {
	f.t.Helper()
	data, _, err := f.Int64(name)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]int, len(data))
	for i, v := range data {
		out[i] = int(v)
	}
	return out
}

// Bools returns the named 0/1 tensor as bools.
func (f *File) Bools(name string) []bool {
	ints := f.Ints(name)
	out := make([]bool, len(ints))
	for i, v := range ints {
		out[i] = v != 0
	}
	return out
}

// Config decodes the JSON in the file's "config" metadata into v.
func (f *File) Config(v any) {
	f.t.Helper()
	if err := json.Unmarshal([]byte(f.Metadata()["config"]), v); err != nil {
		f.t.Fatalf("golden: config metadata: %v", err)
	}
}

// Get adapts the file to nn.Load: it returns the data stored under
// prefix+name.
func (f *File) Get(prefix string) func(name string) ([]float32, []int, bool, error) {
	return func(name string) ([]float32, []int, bool, error) {
		if _, ok := f.Info(prefix + name); !ok {
			return nil, nil, false, nil
		}
		data, shape, err := f.Float32(prefix + name)
		return data, shape, true, err
	}
}

// MaxAbs returns the largest |got[i] − want[i]| and its index.
func MaxAbs(got, want []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at
}

// RelErr returns max|got − want| / max|want|: the error relative to the
// tensor's scale, so tiny entries of a large gradient do not dominate.
func RelErr(got, want []float32) float64 {
	d, _ := MaxAbs(got, want)
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	if scale == 0 {
		return d
	}
	return d / scale
}

// CheckAbs fails the test if got and want differ by more than tol anywhere
// and returns the largest difference.
func CheckAbs(t testing.TB, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values; want %d", what, len(got), len(want))
		return math.Inf(1)
	}
	d, at := MaxAbs(got, want)
	if !(d <= tol) {
		t.Errorf("%s: max abs error %.3g at %d (got %v, want %v); want <= %g", what, d, at, got[at], want[at], tol)
	}
	return d
}

// CheckRel fails the test if RelErr(got, want) exceeds tol and returns it.
func CheckRel(t testing.TB, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values; want %d", what, len(got), len(want))
		return math.Inf(1)
	}
	r := RelErr(got, want)
	if !(r <= tol) {
		t.Errorf("%s: relative error %.3g; want <= %g", what, r, tol)
	}
	return r
}
