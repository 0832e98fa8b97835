package train

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/attn-go/attn/safetensors"
)

// AverageCheckpoints writes to out a model folder whose weights are the
// element-wise mean of the model.safetensors of dirs (the paper averages the
// last 5 checkpoints, §6.1); the other files (config.json, tokenizers) are
// copied from the first folder. Every folder must hold the same tensors with
// the same shapes.
func AverageCheckpoints(out string, dirs []string) error {
	if len(dirs) == 0 {
		return fmt.Errorf("train: no checkpoints to average")
	}
	var names []string
	var shapes [][]int
	var sums [][]float64
	for k, dir := range dirs {
		f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			return err
		}
		if k == 0 {
			names = f.Names()
			sums = make([][]float64, len(names))
			shapes = make([][]int, len(names))
		} else if len(f.Names()) != len(names) {
			f.Close()
			return fmt.Errorf("train: %s holds %d tensors; %s holds %d", dir, len(f.Names()), dirs[0], len(names))
		}
		for i, name := range names {
			data, shape, err := f.Float32(name)
			if err != nil {
				f.Close()
				return fmt.Errorf("train: %s: %w", dir, err)
			}
			if k == 0 {
				sums[i], shapes[i] = make([]float64, len(data)), shape
			} else if !equalInts(shape, shapes[i]) {
				f.Close()
				return fmt.Errorf("train: tensor %q is %v in %s but %v in %s", name, shape, dir, shapes[i], dirs[0])
			}
			for j, v := range data {
				sums[i][j] += float64(v)
			}
		}
		f.Close()
	}
	ts := make([]safetensors.Tensor, len(names))
	for i, name := range names {
		avg := make([]float32, len(sums[i]))
		for j, s := range sums[i] {
			avg[j] = float32(s / float64(len(dirs)))
		}
		ts[i] = safetensors.F32(name, shapes[i], avg)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dirs[0])
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case e.IsDir(), name == "model.safetensors", name == "optimizer.safetensors", name == "trainer_state.json":
		default:
			b, err := os.ReadFile(filepath.Join(dirs[0], name))
			if err != nil {
				return err
			}
			if err := writeSynced(filepath.Join(out, name), b); err != nil {
				return err
			}
		}
	}
	return safetensors.WriteFile(filepath.Join(out, "model.safetensors"), ts, map[string]string{"format": "pt"})
}
