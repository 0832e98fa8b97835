package safetensors

import (
	"bytes"
	"maps"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that anything it accepts
// survives a Write and a second Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Add(sample(f))
	f.Add(file(`{}`, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse(data)
		if err != nil {
			return
		}
		var tensors []Tensor
		for _, name := range sf.Names() {
			raw, in, err := sf.Raw(name)
			if err != nil {
				t.Fatalf("Raw(%q) = %v after a successful Parse", name, err)
			}
			sf.Float32(name) // must not panic whatever the dtype
			sf.Int64(name)
			tensors = append(tensors, Tensor{Name: name, DType: in.DType, Shape: in.Shape, Data: raw})
		}
		var buf bytes.Buffer
		if err := Write(&buf, tensors, sf.Metadata()); err != nil {
			t.Fatalf("Write(Parse(data)) = %v; want nil", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("Parse(Write(Parse(data))) = %v; want nil", err)
		}
		if !reflect.DeepEqual(again.Names(), sf.Names()) || !maps.Equal(again.Metadata(), sf.Metadata()) {
			t.Fatalf("re-parse: Names() = %q, Metadata() = %v; want %q, %v",
				again.Names(), again.Metadata(), sf.Names(), sf.Metadata())
		}
		for _, tt := range tensors {
			raw, in, err := again.Raw(tt.Name)
			if err != nil || in.DType != tt.DType || !reflect.DeepEqual(in.Shape, tt.Shape) || !bytes.Equal(raw, tt.Data) {
				t.Fatalf("re-parse: Raw(%q) = %x, %s %v, %v; want %x, %s %v",
					tt.Name, raw, in.DType, in.Shape, err, tt.Data, tt.DType, tt.Shape)
			}
		}
	})
}
