package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// packLE stores the low size bytes of each value little-endian.
func packLE(size int, vals ...uint64) []byte {
	b := make([]byte, 0, size*len(vals))
	for _, v := range vals {
		for i := range size {
			b = append(b, byte(v>>(8*i)))
		}
	}
	return b
}

func neg(v int64) uint64 { return uint64(v) }

func f32bits(vals ...float32) []uint64 {
	out := make([]uint64, len(vals))
	for i, v := range vals {
		out[i] = uint64(math.Float32bits(v))
	}
	return out
}

func halves(conv func(float32) uint16, vals ...float32) []uint64 {
	out := make([]uint64, len(vals))
	for i, v := range vals {
		out[i] = uint64(conv(v))
	}
	return out
}

// roundTripCases hold one tensor per dtype with the values a reader should see.
var roundTripCases = []struct {
	t      Tensor
	floats []float32
	ints   []int64
}{
	{t: Tensor{"f64", DTypeF64, []int{2, 2}, packLE(8, math.Float64bits(1), math.Float64bits(-2.5), math.Float64bits(0.5), math.Float64bits(1e30))},
		floats: []float32{1, -2.5, 0.5, 1e30}},
	{t: F32("f32", []int{2, 2}, []float32{1, -2.5, 0.5, 1e30}), floats: []float32{1, -2.5, 0.5, 1e30}},
	{t: Tensor{"f16", DTypeF16, []int{4}, packLE(2, halves(Float32ToFloat16, 1, -2.5, 65504, 0.5)...)},
		floats: []float32{1, -2.5, 65504, 0.5}},
	{t: Tensor{"bf16", DTypeBF16, []int{1, 4}, packLE(2, halves(Float32ToBFloat16, 1, -2.5, 3, 0.5)...)},
		floats: []float32{1, -2.5, 3, 0.5}},
	{t: I64("i64", []int{3}, []int64{-1, 1 << 40, 7}), ints: []int64{-1, 1 << 40, 7}},
	{t: Tensor{"i32", DTypeI32, []int{3}, packLE(4, neg(-1), 1<<30, 7)}, ints: []int64{-1, 1 << 30, 7}},
	{t: Tensor{"i16", DTypeI16, []int{3}, packLE(2, neg(-32768), 32767, 7)}, ints: []int64{-32768, 32767, 7}},
	{t: Tensor{"i8", DTypeI8, []int{3}, packLE(1, neg(-128), 127, 7)}, ints: []int64{-128, 127, 7}},
	{t: Tensor{"u32", DTypeU32, []int{2}, packLE(4, math.MaxUint32, 7)}, ints: []int64{math.MaxUint32, 7}},
	{t: Tensor{"u16", DTypeU16, []int{2}, packLE(2, math.MaxUint16, 7)}, ints: []int64{math.MaxUint16, 7}},
	{t: Tensor{"u8", DTypeU8, []int{3}, []byte{255, 0, 7}}, ints: []int64{255, 0, 7}},
	{t: Tensor{"bool", DTypeBOOL, []int{3}, []byte{0, 1, 2}}, ints: []int64{0, 1, 1}},
	{t: Tensor{"u64", DTypeU64, []int{1}, packLE(8, math.MaxUint64)}},
	{t: Tensor{"f8e4m3", DTypeF8E4M3, []int{2}, []byte{0x38, 0xb8}}},
	{t: Tensor{"f8e5m2", DTypeF8E5M2, []int{2}, []byte{0x3c, 0xbc}}},
	{t: F32("scalar", nil, []float32{42}), floats: []float32{42}},
	{t: F32("empty", []int{0, 3}, nil), floats: []float32{}},
}

func TestRoundTrip(t *testing.T) {
	var tensors []Tensor
	for _, c := range roundTripCases {
		tensors = append(tensors, c.t)
	}
	meta := map[string]string{"format": "pt", "note": "<&> ünïcode"}
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatalf("Write() = %v; want nil", err)
	}
	data := buf.Bytes()
	if n := binary.LittleEndian.Uint64(data); (8+n)%8 != 0 {
		t.Errorf("header length %d: data starts at %d; want a multiple of 8", n, 8+n)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(Write(...)) = %v; want nil", err)
	}
	if got := f.Metadata(); !reflect.DeepEqual(got, meta) {
		t.Errorf("Metadata() = %v; want %v", got, meta)
	}
	if got := len(f.Names()); got != len(tensors) {
		t.Errorf("len(Names()) = %d; want %d", got, len(tensors))
	}
	var prevEnd int64
	for _, name := range f.Names() { // name order is data order
		in, _ := f.Info(name)
		if in.Begin != prevEnd {
			t.Errorf("Info(%q).Begin = %d; want %d (tensors laid out in name order)", name, in.Begin, prevEnd)
		}
		prevEnd = in.End
	}
	for _, c := range roundTripCases {
		raw, in, err := f.Raw(c.t.Name)
		if err != nil {
			t.Errorf("Raw(%q) error %v; want nil", c.t.Name, err)
			continue
		}
		wantShape := c.t.Shape
		if wantShape == nil {
			wantShape = []int{}
		}
		if !bytes.Equal(raw, c.t.Data) || in.DType != c.t.DType || !reflect.DeepEqual(in.Shape, wantShape) {
			t.Errorf("Raw(%q) = %x, %s %v; want %x, %s %v", c.t.Name, raw, in.DType, in.Shape, c.t.Data, c.t.DType, wantShape)
		}
		fl, shape, ferr := f.Float32(c.t.Name)
		if c.floats != nil {
			if ferr != nil || !reflect.DeepEqual(fl, c.floats) || !reflect.DeepEqual(shape, wantShape) {
				t.Errorf("Float32(%q) = %v, %v, %v; want %v, %v, nil", c.t.Name, fl, shape, ferr, c.floats, wantShape)
			}
		} else if ferr == nil || !strings.Contains(ferr.Error(), string(c.t.DType)) || !strings.Contains(ferr.Error(), c.t.Name) {
			t.Errorf("Float32(%q) error = %v; want one naming the tensor and %s", c.t.Name, ferr, c.t.DType)
		}
		in64, shape, ierr := f.Int64(c.t.Name)
		if c.ints != nil {
			if ierr != nil || !reflect.DeepEqual(in64, c.ints) || !reflect.DeepEqual(shape, wantShape) {
				t.Errorf("Int64(%q) = %v, %v, %v; want %v, %v, nil", c.t.Name, in64, shape, ierr, c.ints, wantShape)
			}
		} else if ierr == nil || !strings.Contains(ierr.Error(), string(c.t.DType)) || !strings.Contains(ierr.Error(), c.t.Name) {
			t.Errorf("Int64(%q) error = %v; want one naming the tensor and %s", c.t.Name, ierr, c.t.DType)
		}
	}
	if _, _, err := f.Raw("missing"); err == nil || !strings.Contains(err.Error(), `no tensor "missing"`) {
		t.Errorf(`Raw("missing") error = %v; want no tensor "missing"`, err)
	}
}

func TestWriteHeader(t *testing.T) {
	var buf bytes.Buffer
	tensors := []Tensor{F32("b", []int{1}, []float32{1}), I64("a", nil, []int64{5})}
	if err := Write(&buf, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatalf("Write() = %v; want nil", err)
	}
	n := binary.LittleEndian.Uint64(buf.Bytes())
	header := string(buf.Bytes()[8 : 8+n])
	want := `{"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
	if strings.TrimRight(header, " ") != want || len(header)-len(want) >= 8 {
		t.Errorf("Write() header = %q; want %q padded with < 8 spaces", header, want)
	}
	if got, wantLen := buf.Len(), 8+int(n)+12; got != wantLen {
		t.Errorf("Write() wrote %d bytes; want %d", got, wantLen)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"short data", []Tensor{F32("w", []int{2, 2}, []float32{1, 2, 3})}, nil,
			`tensor "w": data holds 12 bytes, shape [2 2] F32 needs 16`},
		{"long data", []Tensor{I64("w", []int{1}, []int64{1, 2})}, nil, `tensor "w": data holds 16 bytes`},
		{"duplicate", []Tensor{F32("w", nil, []float32{1}), F32("w", nil, []float32{1})}, nil, `duplicate tensor "w"`},
		{"reserved", []Tensor{F32("__metadata__", nil, []float32{1})}, nil, `"__metadata__" is reserved`},
		{"unknown dtype", []Tensor{{Name: "w", DType: "F7", Data: []byte{1}}}, nil, `tensor "w": unknown dtype "F7"`},
		{"negative dim", []Tensor{F32("w", []int{-1}, nil)}, nil, `tensor "w": shape [-1] has a negative dimension`},
		{"overflow", []Tensor{F32("w", []int{1 << 30, 1 << 30, 1 << 30}, nil)}, nil, `overflows`},
		{"bad utf8 name", []Tensor{F32("w\xff", nil, []float32{1})}, nil, `not valid UTF-8`},
		{"bad utf8 meta", nil, map[string]string{"k": "\xff"}, `__metadata__ "k": key or value is not valid UTF-8`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		err := Write(&buf, tt.tensors, tt.meta)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Write(%s) = %v; want error containing %q", tt.name, err, tt.want)
		}
		if buf.Len() != 0 {
			t.Errorf("Write(%s) wrote %d bytes before failing; want 0", tt.name, buf.Len())
		}
	}
}

// rawFile assembles a file from a header length, header text and buffer size.
func rawFile(n uint64, header string, bufLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	b = append(b, header...)
	return append(b, make([]byte, bufLen)...)
}

// file assembles a file whose length prefix matches the header.
func file(header string, bufLen int) []byte {
	return rawFile(uint64(len(header)), header, bufLen)
}

func TestParseErrors(t *testing.T) {
	entry := func(name, dtype, shape, offsets string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "file is 0 bytes, shorter than the 8-byte header length"},
		{"7 bytes", make([]byte, 7), "file is 7 bytes"},
		{"huge header length", rawFile(200<<20, "{}", 0), "header length 209715200 exceeds the 104857600-byte limit"},
		{"max uint64 length", rawFile(math.MaxUint64, "{}", 0), "exceeds the 104857600-byte limit"},
		{"length beyond file", rawFile(100, "{}", 8), "header length 100 exceeds the 10 bytes after it"},
		{"zero length header", file("", 0), "not a JSON object"},
		{"array header", file("[1,2]", 0), "not a JSON object"},
		{"leading space", file(" {}", 0), "not a JSON object"},
		{"invalid utf8", file("{\"\xff\":1}", 0), "not valid UTF-8"},
		{"unterminated", file(`{"a":`, 0), "header is not valid JSON: unexpected end"},
		{"bad key", file(`{1:2}`, 0), "header is not valid JSON"},
		{"trailing object", file(`{} {}`, 0), "data after the JSON object"},
		{"trailing garbage", file(`{}x`, 0), "data after the JSON object"},
		{"nul padding", file("{}\x00\x00", 0), "data after the JSON object"},
		{"entry number", file(`{"a":5}`, 0), `tensor "a": entry is a JSON number, not an object`},
		{"entry null", file(`{"a":null}`, 0), `tensor "a": dtype is missing or not a string`},
		{"dtype number", file(`{"a":{"dtype":5,"shape":[],"data_offsets":[0,0]}}`, 0), `tensor "a": dtype is missing or not a string`},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `tensor "a": shape is missing or not an array`},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[1]}}`, 4), `tensor "a": data_offsets is missing or not an array`},
		{"key case matters", file(`{"a":{"DTYPE":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": dtype is missing`},
		{"shape string", file(`{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}`, 4), `tensor "a": shape is missing or not an array`},
		{"unknown dtype", file(`{`+entry("a", "F7", "[1]", "[0,1]")+`}`, 1), `tensor "a": unknown dtype "F7"`},
		{"negative dim", file(`{`+entry("a", "F32", "[2,-1]", "[0,0]")+`}`, 0), `tensor "a": shape [2 -1] has a negative dimension`},
		{"fractional dim", file(`{`+entry("a", "F32", "[1.5]", "[0,4]")+`}`, 4), `tensor "a": shape [1.5]: dimension 1.5 is not an integer`},
		{"string dim", file(`{`+entry("a", "F32", `["2"]`, "[0,8]")+`}`, 8), `dimension 2 is not an integer`},
		{"huge dim", file(`{`+entry("a", "F32", "[1e30]", "[0,4]")+`}`, 4), `dimension 1e30 is not an integer`},
		{"shape overflow", file(`{`+entry("a", "F32", "[1073741824,1073741824,1073741824]", "[0,4]")+`}`, 4),
			`tensor "a": shape [1073741824 1073741824 1073741824] F32 overflows`},
		{"one offset", file(`{`+entry("a", "F32", "[1]", "[0]")+`}`, 4), `tensor "a": data_offsets [0] must be two non-negative integers`},
		{"three offsets", file(`{`+entry("a", "F32", "[1]", "[0,4,8]")+`}`, 4), `must be two non-negative integers`},
		{"empty offsets", file(`{`+entry("a", "F32", "[1]", "[]")+`}`, 4), `must be two non-negative integers`},
		{"negative offset", file(`{`+entry("a", "F32", "[1]", "[-4,0]")+`}`, 4), `must be two non-negative integers`},
		{"string offset", file(`{`+entry("a", "F32", "[1]", `["0",4]`)+`}`, 4), `must be two non-negative integers`},
		{"float offset", file(`{`+entry("a", "F32", "[1]", `[0,4.0]`)+`}`, 4), `must be two non-negative integers`},
		{"begin > end", file(`{`+entry("a", "F32", "[1]", "[8,4]")+`}`, 8), `tensor "a": data_offsets [8 4] begin > end`},
		{"end beyond buffer", file(`{`+entry("a", "F32", "[4]", "[0,16]")+`}`, 8), `tensor "a": data_offsets [0 16] end beyond the 8-byte data buffer`},
		{"size mismatch", file(`{`+entry("h.0.attn.c_attn.weight", "F32", "[5,6]", "[0,100]")+`}`, 100),
			`safetensors: tensor "h.0.attn.c_attn.weight": data_offsets [0 100] hold 100 bytes, shape [5 6] F32 needs 120`},
		{"overlap", file(`{`+entry("a", "F32", "[2]", "[0,8]")+`,`+entry("b", "F32", "[2]", "[4,12]")+`}`, 12),
			`tensor "b": data_offsets [4 12] overlap tensor "a" [0 8]`},
		{"same range", file(`{`+entry("a", "F32", "[2]", "[0,8]")+`,`+entry("b", "I32", "[2]", "[0,8]")+`}`, 8),
			`tensor "b": data_offsets [0 8] overlap tensor "a" [0 8]`},
		{"empty inside another", file(`{`+entry("a", "F32", "[2]", "[0,8]")+`,`+entry("b", "F32", "[0]", "[4,4]")+`}`, 8),
			`tensor "b": data_offsets [4 4] overlap tensor "a"`},
		{"gap", file(`{`+entry("a", "F32", "[1]", "[0,4]")+`,`+entry("b", "F32", "[1]", "[8,12]")+`}`, 12),
			`tensor "b": gap of 4 unused bytes before data_offsets [8 12] (previous data ends at 4)`},
		{"gap at start", file(`{`+entry("a", "F32", "[1]", "[4,8]")+`}`, 8), `tensor "a": gap of 4 unused bytes`},
		{"trailing bytes", file(`{`+entry("a", "F32", "[1]", "[0,4]")+`}`, 8), `4 unused bytes after the last tensor (data ends at 4, buffer is 8 bytes)`},
		{"bytes but no tensors", file(`{}`, 3), `3 unused bytes after the last tensor`},
		{"duplicate name", file(`{`+entry("a", "F32", "[1]", "[0,4]")+`,`+entry("a", "F32", "[1]", "[0,4]")+`}`, 4), `duplicate tensor "a"`},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, 0), `duplicate "__metadata__"`},
		{"metadata number", file(`{"__metadata__":{"k":1}}`, 0), `__metadata__ "k": value 1 is not a string`},
		{"metadata null value", file(`{"__metadata__":{"k":null}}`, 0), `__metadata__ "k": value <nil> is not a string`},
		{"metadata array", file(`{"__metadata__":[1]}`, 0), `__metadata__ is a JSON array, not an object of strings`},
	}
	for _, tt := range tests {
		f, err := Parse(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v; want error containing %q", tt.name, err, tt.want)
		}
		if f != nil {
			t.Errorf("Parse(%s) returned a File along with error", tt.name)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "safetensors: ") {
			t.Errorf("Parse(%s) error %q; want prefix \"safetensors: \"", tt.name, err)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		names []string
	}{
		{"empty object", file(`{}`, 0), nil},
		{"padded", file(`{}      `, 0), nil},
		{"whitespace inside", file("{\n \"a\" : {\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}\n}", 1), []string{"a"}},
		{"null metadata", file(`{"__metadata__":null}`, 0), nil},
		{"extra field ignored", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), []string{"a"}},
		{"empty tensors share an offset", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},`+
			`"b":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},"c":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, 1), []string{"a", "b", "c"}},
		{"escaped name", file(`{"a\"\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), []string{"a\"é"}},
	}
	for _, tt := range tests {
		f, err := Parse(tt.data)
		if err != nil {
			t.Errorf("Parse(%s) = %v; want nil", tt.name, err)
			continue
		}
		if got := f.Names(); !reflect.DeepEqual(got, tt.names) && len(got)+len(tt.names) > 0 {
			t.Errorf("Parse(%s).Names() = %q; want %q", tt.name, got, tt.names)
		}
	}
}

// sample is a small valid file used by several tests.
func sample(t testing.TB) []byte {
	var buf bytes.Buffer
	err := Write(&buf, []Tensor{
		F32("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		I64("ids", []int{2}, []int64{7, -8}),
		{Name: "h", DType: DTypeF16, Shape: []int{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc1}},
		F32("empty", []int{0}, nil),
	}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatalf("Write(sample) = %v; want nil", err)
	}
	return buf.Bytes()
}

func TestTruncated(t *testing.T) {
	data := sample(t)
	if _, err := Parse(data); err != nil {
		t.Fatalf("Parse(sample) = %v; want nil", err)
	}
	for i := range len(data) {
		if f, err := Parse(data[:i]); err == nil {
			t.Errorf("Parse(sample[:%d]) = %v, nil; want an error", i, f.Names())
		}
	}
}

func TestOpenMatchesParse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	data := sample(t)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mf, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q) = %v; want nil", path, err)
	}
	pf, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(sample) = %v; want nil", err)
	}
	if !reflect.DeepEqual(mf.Names(), pf.Names()) || !reflect.DeepEqual(mf.Metadata(), pf.Metadata()) {
		t.Errorf("Open: Names() = %q, Metadata() = %v; want %q, %v", mf.Names(), mf.Metadata(), pf.Names(), pf.Metadata())
	}
	for _, name := range pf.Names() {
		mr, mi, merr := mf.Raw(name)
		pr, pi, perr := pf.Raw(name)
		if merr != nil || perr != nil || !bytes.Equal(mr, pr) || !reflect.DeepEqual(mi, pi) {
			t.Errorf("Open: Raw(%q) = %x, %+v, %v; want %x, %+v, %v", name, mr, mi, merr, pr, pi, perr)
		}
	}
	if got, _, err := mf.Float32("h"); err != nil || !reflect.DeepEqual(got, []float32{1, -2.5}) {
		t.Errorf(`Open: Float32("h") = %v, %v; want [1 -2.5], nil`, got, err)
	}
	if err := mf.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	if err := mf.Close(); err != nil {
		t.Errorf("second Close() = %v; want nil", err)
	}
	if _, _, err := mf.Raw("w"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf(`Raw("w") after Close = %v; want "file is closed" error`, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing"), "no such file"},
		{write("empty", nil), "empty: file is 0 bytes"},
		{write("short", sample(t)[:20]), "short: header length"},
		{dir, "safetensors: "},
	}
	for _, tt := range tests {
		f, err := Open(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) = %v; want error containing %q", tt.path, err, tt.want)
		}
		if f != nil {
			f.Close()
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	good := []Tensor{F32("w", []int{2}, []float32{1, 2})}
	if err := WriteFile(path, good, nil); err != nil {
		t.Fatalf("WriteFile(good) = %v; want nil", err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := Parse(before); err != nil || len(f.Names()) != 1 {
		t.Fatalf("Parse(WriteFile(good)) = %v; want 1 tensor", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("WriteFile mode = %v; want 0644", st.Mode().Perm())
	}

	bad := []Tensor{F32("v", []int{2}, []float32{9}), F32("w", []int{3}, []float32{1, 2, 3})}
	err = WriteFile(path, bad, nil)
	if err == nil || !strings.Contains(err.Error(), `tensor "v": data holds 4 bytes, shape [2] F32 needs 8`) {
		t.Errorf("WriteFile(bad) = %v; want data length error", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, before) {
		t.Errorf("WriteFile(bad) changed the file: %q; want %q", after, before)
	}

	// A failure after the temp file is written (renaming onto a directory)
	// must also leave no temporary file behind.
	target := filepath.Join(dir, "adir")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, good, nil); err == nil {
		t.Errorf("WriteFile(onto a directory) = nil; want an error")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"adir", "model.safetensors"}; !reflect.DeepEqual(names, want) {
		t.Errorf("directory holds %q after failed writes; want %q", names, want)
	}
}

// TestRelease: a mapped tensor's bytes read the same after Release, which
// lets go of their pages (the kernel pages them in again), as do those
// of a File that Parse made, where Release does nothing; and after Close,
// Release is a no-op rather than a fault.
func TestRelease(t *testing.T) {
	big := make([]float32, 3<<14) // several pages, not page-aligned in the file
	for i := range big {
		big[i] = float32(i) * 0.5
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, []Tensor{F32("a", []int{3}, []float32{1, 2, 3}), F32("big", []int{len(big)}, big)}, nil); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*File{mapped, parsed} {
		b, _, err := f.Raw("big")
		if err != nil {
			t.Fatal(err)
		}
		f.Release(b)
		f.Release(b[5:999])
		got, _, err := f.Float32("big")
		if err != nil || !slices.Equal(got, big) {
			t.Errorf("after Release: %v, values equal %v", err, slices.Equal(got, big))
		}
	}
	b, _, _ := mapped.Raw("big")
	mapped.Close()
	mapped.Release(b)
}
