// Command tobf16 writes a copy of a HuggingFace model folder with its
// floating-point tensors stored in BF16 (rounded to nearest even, as
// PyTorch's .bfloat16() does), its other files linked: the benchmarks'
// random-weight folders made the dtype most checkpoints ship in.
//
//	go run ./tools/bench/tobf16 /tmp/attn-llama /tmp/attn-llama-bf16
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/safetensors"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tobf16 SRC-DIR DST-DIR")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "tobf16:", err)
		os.Exit(1)
	}
}

func convert(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		os.Remove(to)
		switch {
		case strings.HasSuffix(e.Name(), ".safetensors"):
			if err := convertFile(from, to); err != nil {
				return fmt.Errorf("%s: %w", from, err)
			}
		case e.Name() == "config.json":
			if err := setDType(from, to); err != nil {
				return err
			}
		default:
			abs, err := filepath.Abs(from)
			if err != nil {
				return err
			}
			if err := os.Symlink(abs, to); err != nil {
				return err
			}
		}
	}
	return nil
}

func convertFile(from, to string) error {
	f, err := safetensors.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	var out []safetensors.Tensor
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		if info.DType != safetensors.DTypeF32 && info.DType != safetensors.DTypeF16 {
			raw, info, err := f.Raw(name)
			if err != nil {
				return err
			}
			out = append(out, safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: raw})
			continue
		}
		vals, shape, err := f.Float32(name)
		if err != nil {
			return err
		}
		data := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(data[2*i:], safetensors.Float32ToBFloat16(v))
		}
		out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeBF16, Shape: shape, Data: data})
	}
	return safetensors.WriteFile(to, out, f.Metadata())
}

// setDType copies config.json with torch_dtype bfloat16.
func setDType(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	cfg["torch_dtype"] = "bfloat16"
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
