package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/safetensors"
)

func TestAverageCheckpoints(t *testing.T) {
	root := t.TempDir()
	mk := func(name string, w []float32, shape []int) string {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"d_model":2}`), 0o644)
		if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), []safetensors.Tensor{safetensors.F32("w", shape, w)}, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b, c := mk("a", []float32{1, 2}, []int{2}), mk("b", []float32{3, 6}, []int{2}), mk("c", []float32{1, 2, 3}, []int{3})
	out := filepath.Join(root, "avg")
	if err := AverageCheckpoints(out, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _, _ := f.Float32("w")
	if w[0] != 2 || w[1] != 4 {
		t.Errorf("average of [1 2] and [3 6] = %v; want [2 4]", w)
	}
	if cfg, _ := os.ReadFile(filepath.Join(out, "config.json")); string(cfg) != `{"d_model":2}` {
		t.Errorf("config.json not copied: %q", cfg)
	}
	if err := AverageCheckpoints(out, []string{a, c}); err == nil || !strings.Contains(err.Error(), `tensor "w" is [3]`) {
		t.Errorf("mismatched shapes: err = %v", err)
	}
}
