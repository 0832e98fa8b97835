// Command tohalf writes a copy of a HuggingFace model folder with its
// floating-point tensors stored in BF16 or F16 (rounded to nearest even,
// as PyTorch's .bfloat16() and .half() do), its other files linked: the
// benchmarks' random-weight folders made the dtypes checkpoints ship in.
//
//	go run ./tools/bench/tohalf /tmp/attn-llama /tmp/attn-llama-bf16
//	go run ./tools/bench/tohalf -f16 /tmp/attn-llama /tmp/attn-llama-f16
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/safetensors"
)

// f16 is whether to write F16 rather than BF16.
var f16 = flag.Bool("f16", false, "write F16 (IEEE half precision) rather than BF16")

func main() {
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: tohalf [-f16] SRC-DIR DST-DIR")
		os.Exit(2)
	}
	if err := convert(flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "tohalf:", err)
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
		if info.DType != safetensors.DTypeF32 && info.DType != safetensors.DTypeF16 && info.DType != safetensors.DTypeBF16 {
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
		round, dtype := safetensors.Float32ToBFloat16, safetensors.DTypeBF16
		if *f16 {
			round, dtype = safetensors.Float32ToFloat16, safetensors.DTypeF16
		}
		data := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(data[2*i:], round(v))
		}
		out = append(out, safetensors.Tensor{Name: name, DType: dtype, Shape: shape, Data: data})
	}
	return safetensors.WriteFile(to, out, f.Metadata())
}

// setDType copies config.json with torch_dtype bfloat16 or float16.
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
	if *f16 {
		cfg["torch_dtype"] = "float16"
	}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
