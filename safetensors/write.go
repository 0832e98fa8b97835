package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/attn-go/attn/internal/atomicfile"
)

// Tensor is one tensor to write: raw little-endian bytes plus what they mean.
// Use F32 and I64 to build the common cases from Go slices.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32 encodes float32 values as an F32 tensor. A length that does not match
// the shape is reported by Write, so constructors stay chainable.
func F32(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: DTypeF32, Shape: shape, Data: b}
}

// I64 encodes int64 values as an I64 tensor; mismatches are reported by Write.
func I64(name string, shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: DTypeI64, Shape: shape, Data: b}
}

// Write serializes tensors and metadata deterministically: header keys
// sorted, data laid out in name order, and the header padded with spaces so
// the data starts 8-byte aligned for zero-copy readers. Everything is
// validated before the first byte is written.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, sorted, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	return writeTo(w, header, sorted)
}

// WriteFile writes the file atomically: it fills a temporary file in the
// same directory, syncs it and renames it over path, so a failure or crash
// leaves any previous file intact.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	header, sorted, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	err = atomicfile.WriteFunc(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := writeTo(bw, header, sorted); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

func writeTo(w io.Writer, header []byte, sorted []Tensor) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, t := range sorted {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// headerEntry keeps the conventional field order of safetensors headers.
type headerEntry struct {
	DType   DType    `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// encodeHeader validates the tensors and returns the padded header JSON and
// the tensors in name (and thus data) order.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, []Tensor, error) {
	sorted := slices.Clone(tensors)
	slices.SortFunc(sorted, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	obj := make(map[string]any, len(sorted)+1) // json sorts map keys
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("safetensors: %s %q: key or value is not valid UTF-8", metadataKey, k)
		}
	}
	if metadata != nil {
		obj[metadataKey] = metadata
	}
	var off int64
	for i, t := range sorted {
		switch {
		case t.Name == metadataKey:
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is reserved", t.Name)
		case !utf8.ValidString(t.Name):
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", t.Name)
		case i > 0 && t.Name == sorted[i-1].Name:
			return nil, nil, fmt.Errorf("safetensors: duplicate tensor %q", t.Name)
		case t.DType.Size() == 0:
			return nil, nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		need, err := byteLen(t.Shape, t.DType)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %v", t.Name, err)
		}
		if int64(len(t.Data)) != need {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: data holds %d bytes, shape %v %s needs %d",
				t.Name, len(t.Data), t.Shape, t.DType, need)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar is [], never null
		}
		obj[t.Name] = headerEntry{t.DType, shape, [2]int64{off, off + need}}
		off += need
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	header := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if pad := (8 - len(header)%8) % 8; pad > 0 {
		header = append(header, strings.Repeat(" ", pad)...)
	}
	return header, sorted, nil
}
