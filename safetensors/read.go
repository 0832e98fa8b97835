// Package safetensors reads and writes HuggingFace safetensors files,
// checking every header field so a hostile file yields an error, never a
// panic or a huge allocation.
package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxHeader caps the JSON header, as the reference implementation does, so
// a lying length cannot make us parse gigabytes of JSON.
const maxHeader = 100 << 20

const metadataKey = "__metadata__"

// Info locates one tensor; Begin and End are byte offsets into the data
// buffer that follows the header, as in the file.
type Info struct {
	Name  string
	DType DType
	Shape []int
	Begin int64
	End   int64
}

// File is a parsed safetensors file whose tensors are served straight from
// the underlying bytes (a read-only memory mapping when opened with Open).
// It is safe for concurrent reads, but not concurrently with Close.
type File struct {
	buf    []byte // the data buffer after the header
	infos  map[string]Info
	names  []string
	meta   map[string]string
	unmap  func() error
	closed bool
	mapped bool // buf came from Open: a file mapping on Unix systems (whose pages Release drops on Linux), read into memory elsewhere
}

// Open maps the file at path read-only and parses its header, so large
// checkpoints load lazily without copying; call Close to unmap it.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	f.unmap, f.mapped = unmap, len(data) > 0
	return f, nil
}

// Release tells the system that b, bytes of a tensor Raw returned, will
// not be read again soon: a loader that has copied a tensor out calls it,
// so that the file's pages it read do not stay in the process's memory
// beside the copy (a checkpoint then loads in about its own size, not
// twice it). Reading b again is still correct (it is paged in again). It
// does nothing for a File that Parse made, or where the file could not be
// mapped.
func (f *File) Release(b []byte) {
	if f.mapped && !f.closed {
		releasePages(b)
	}
}

// Parse checks and indexes a whole safetensors file held in memory; data
// must stay unchanged while the File is in use because tensors alias it.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// Close releases the mapping; slices returned by Raw must not be used after.
// Calling it again is a no-op.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.buf = nil
	if f.unmap != nil {
		return f.unmap()
	}
	return nil
}

// Names lists the tensor names in sorted order, for deterministic iteration.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info describes the named tensor without touching its data.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	in.Shape = slices.Clone(in.Shape)
	return in, ok
}

// Metadata returns a copy of the free-form "__metadata__" strings (nil if none).
func (f *File) Metadata() map[string]string { return maps.Clone(f.meta) }

// Raw returns the tensor's bytes without copying. The slice aliases the file
// (read-only memory when mapped): do not modify it or use it after Close.
func (f *File) Raw(name string) ([]byte, Info, error) {
	if f.closed {
		return nil, Info{}, errors.New("safetensors: file is closed")
	}
	in, ok := f.Info(name)
	if !ok {
		return nil, Info{}, fmt.Errorf("safetensors: no tensor %q", name)
	}
	return f.buf[in.Begin:in.End:in.End], in, nil
}

// Float32 returns a new slice holding an F32, F16, BF16 or F64 tensor
// converted to float32, plus its shape, so models load any float checkpoint
// the same way; other dtypes are an error.
func (f *File) Float32(name string) ([]float32, []int, error) {
	b, in, err := f.Raw(name)
	if err != nil {
		return nil, nil, err
	}
	le := binary.LittleEndian
	out := make([]float32, len(b)/in.DType.Size())
	switch in.DType {
	case DTypeF32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case DTypeF16:
		for i := range out {
			out[i] = Float16ToFloat32(le.Uint16(b[2*i:]))
		}
	case DTypeBF16:
		for i := range out {
			out[i] = BFloat16ToFloat32(le.Uint16(b[2*i:]))
		}
	case DTypeF64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: tensor %q: dtype %s cannot be read as float32", name, in.DType)
	}
	return out, in.Shape, nil
}

// Int64 returns a new slice holding an I64, I32, I16, I8, U32, U16, U8 or
// BOOL tensor widened to int64, plus its shape, for token ids, masks and
// counters; other dtypes (U64 included, which may not fit) are an error.
func (f *File) Int64(name string) ([]int64, []int, error) {
	b, in, err := f.Raw(name)
	if err != nil {
		return nil, nil, err
	}
	le := binary.LittleEndian
	out := make([]int64, len(b)/in.DType.Size())
	switch in.DType {
	case DTypeI64:
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
	case DTypeI32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case DTypeU32:
		for i := range out {
			out[i] = int64(le.Uint32(b[4*i:]))
		}
	case DTypeI16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(b[2*i:])))
		}
	case DTypeU16:
		for i := range out {
			out[i] = int64(le.Uint16(b[2*i:]))
		}
	case DTypeI8:
		for i := range out {
			out[i] = int64(int8(b[i]))
		}
	case DTypeU8:
		for i := range out {
			out[i] = int64(b[i])
		}
	case DTypeBOOL: // any non-zero byte is true
		for i := range out {
			if b[i] != 0 {
				out[i] = 1
			}
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: tensor %q: dtype %s cannot be read as int64", name, in.DType)
	}
	return out, in.Shape, nil
}

// parse does the work of Parse; its errors lack the "safetensors: " prefix
// so Open can add the path.
func parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeader {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit", n, maxHeader)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("header length %d exceeds the %d bytes after it", n, len(data)-8)
	}
	header := data[8 : 8+n]
	f := &File{buf: data[8+n:], infos: map[string]Info{}}
	if err := f.parseHeader(header); err != nil {
		return nil, err
	}
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeader walks the top-level object token by token, because decoding
// into a map would silently keep only the last of duplicate names.
func (f *File) parseHeader(header []byte) error {
	if !utf8.Valid(header) {
		return errors.New("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return errors.New("header is not a JSON object (must start with '{')")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return jsonError(err)
	}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("header is not valid JSON: unexpected %v", tok)
		}
		if name == metadataKey {
			if seenMeta {
				return fmt.Errorf("duplicate %q", metadataKey)
			}
			seenMeta = true
			if err := f.parseMetadata(dec); err != nil {
				return err
			}
			continue
		}
		if _, dup := f.infos[name]; dup {
			return fmt.Errorf("duplicate tensor %q", name)
		}
		in, err := parseEntry(dec, name)
		if err != nil {
			return fmt.Errorf("tensor %q: %v", name, err)
		}
		f.infos[name] = in
		f.names = append(f.names, name)
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("header has data after the JSON object (only trailing spaces are allowed)")
	}
	slices.Sort(f.names)
	return nil
}

func (f *File) parseMetadata(dec *json.Decoder) error {
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s is a JSON %s, not an object of strings", metadataKey, te.Value)
		}
		return jsonError(err)
	}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s %q: value %v is not a string", metadataKey, k, v)
		}
		if f.meta == nil {
			f.meta = map[string]string{}
		}
		f.meta[k] = s
	}
	return nil
}

// parseEntry decodes one tensor record. Going through a map keeps key
// matching exact (encoding/json structs match case-insensitively), and
// json.Number keeps strings, floats and huge values from being coerced.
func parseEntry(dec *json.Decoder, name string) (Info, error) {
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Info{}, fmt.Errorf("entry is a JSON %s, not an object", te.Value)
		}
		return Info{}, jsonError(err)
	}
	in := Info{Name: name}
	dtype, ok := m["dtype"].(string)
	if !ok {
		return in, errors.New("dtype is missing or not a string")
	}
	shape, ok := m["shape"].([]any)
	if !ok {
		return in, errors.New("shape is missing or not an array")
	}
	offsets, ok := m["data_offsets"].([]any)
	if !ok {
		return in, errors.New("data_offsets is missing or not an array")
	}
	in.DType = DType(dtype)
	if in.DType.Size() == 0 {
		return in, fmt.Errorf("unknown dtype %q", dtype)
	}
	in.Shape = make([]int, len(shape))
	for i, v := range shape {
		n, ok := v.(json.Number)
		d, err := strconv.Atoi(string(n))
		if !ok || err != nil {
			return in, fmt.Errorf("shape %v: dimension %v is not an integer", shape, v)
		}
		if d < 0 {
			return in, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		in.Shape[i] = d
	}
	badOffsets := func() error {
		return fmt.Errorf("data_offsets %v must be two non-negative integers", offsets)
	}
	if len(offsets) != 2 {
		return in, badOffsets()
	}
	var off [2]int64
	for i, v := range offsets {
		n, ok := v.(json.Number)
		o, err := strconv.ParseInt(string(n), 10, 64)
		if !ok || err != nil || o < 0 {
			return in, badOffsets()
		}
		off[i] = o
	}
	in.Begin, in.End = off[0], off[1]
	return in, nil
}

// checkLayout verifies each tensor's byte range and that the ranges tile the
// data buffer exactly, as the spec requires: no overlap, no gaps, no slack.
func (f *File) checkLayout() error {
	size := int64(len(f.buf))
	byOffset := make([]Info, 0, len(f.infos))
	for _, name := range f.names {
		in := f.infos[name]
		if in.Begin > in.End {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] begin > end", name, in.Begin, in.End)
		}
		if in.End > size {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] end beyond the %d-byte data buffer", name, in.Begin, in.End, size)
		}
		need, err := byteLen(in.Shape, in.DType)
		if err != nil {
			return fmt.Errorf("tensor %q: %v", name, err)
		}
		if have := in.End - in.Begin; have != need {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] hold %d bytes, shape %v %s needs %d",
				name, in.Begin, in.End, have, in.Shape, in.DType, need)
		}
		byOffset = append(byOffset, in)
	}
	slices.SortFunc(byOffset, func(a, b Info) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End))
	})
	var pos int64
	var prev Info
	for _, in := range byOffset {
		if in.Begin < pos {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] overlap tensor %q [%d %d]",
				in.Name, in.Begin, in.End, prev.Name, prev.Begin, prev.End)
		}
		if in.Begin > pos {
			return fmt.Errorf("tensor %q: gap of %d unused bytes before data_offsets [%d %d] (previous data ends at %d)",
				in.Name, in.Begin-pos, in.Begin, in.End, pos)
		}
		pos, prev = in.End, in
	}
	if pos != size {
		return fmt.Errorf("%d unused bytes after the last tensor (data ends at %d, buffer is %d bytes)", size-pos, pos, size)
	}
	return nil
}

// jsonError words a decoding failure; the decoder reports a cut-off header
// as a bare EOF.
func jsonError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("header is not valid JSON: unexpected end")
	}
	return fmt.Errorf("header is not valid JSON: %v", err)
}

// byteLen returns product(shape)*size, rejecting anything that overflows an
// int64 so a lying header cannot wrap around to a small number.
func byteLen(shape []int, dt DType) (int64, error) {
	n := uint64(dt.Size())
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v %s overflows the byte count", shape, dt)
		}
		n = lo
	}
	return int64(n), nil
}
