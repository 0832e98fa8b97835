package hf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unsafe"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// LoadOptions says which stored tensors are not parameters of their own.
type LoadOptions struct {
	// Tied maps the canonical name of a weight that HF ties to a parameter
	// (and may or may not save) to that parameter's name, e.g.
	// "cls.predictions.decoder.weight" → "embeddings.word_embeddings.weight".
	// A stored alias must equal the parameter; when only the alias is
	// stored, the parameter is loaded from it.
	Tied map[string]string
	// Ignore matches canonical names of stored tensors that are not weights
	// of the model (buffers such as position_ids, heads it does not build).
	Ignore []*regexp.Regexp
	// Stored, if not nil, gives the name a checkpoint renamed by Rename
	// stores a parameter under, so that a missing tensor is named as the
	// checkpoint would name it.
	Stored func(name string) string
	// Half, if not nil, holds parameters to load in 16 bits as stored, into
	// the given buffers (one value per element) rather than into their
	// float32 Data, which stays nil: each must be stored in BF16 or F16, as
	// all of them are. A model keeping its matrices so never holds their
	// float32 values, so a checkpoint that fits in memory as stored loads.
	Half map[*autograd.Var][]uint16
	// CheckOnly makes Load check the parameters against the headers and
	// return, reading and allocating nothing; Partial makes it load ps as
	// some of the model's parameters, a stored tensor none of them reads
	// not being unexpected. A model loaded in parts (a layer at a time,
	// each quantized before the next is read) checks the whole set once,
	// then loads each part.
	CheckOnly, Partial bool
}

// Load fills the parameters ps (their names canonical, as nn.Params gives
// them) from the checkpoint. First every name, shape and dtype is checked
// against the headers, so a bad checkpoint is reported before anything is
// read: a parameter not stored (under none of its names when it is shared,
// nor as a tied alias), a stored tensor that is neither a parameter, a tied
// alias nor ignored, a shape other than the parameter's (which the model's
// config fixed), and a dtype other than F32, F16, BF16 or F64 are errors
// naming the tensor and its file. Then each parameter is converted to
// float32 once, straight from the mapped file into its buffer, the tensors
// spread over the CPUs. A parameter stored more than once (a shared one
// under several names, or with tied aliases) is read from its first name;
// the other copies must hold the same values. A parameter whose Value.Data
// is nil gets its buffer here, after the checks, so a model can be built
// from a config without allocating anything a bad checkpoint would waste.
func (c *Checkpoint) Load(ps []nn.Param, opt LoadOptions) error {
	type group struct {
		v     *autograd.Var
		names []string
	}
	var groups []*group
	byVar := map[*autograd.Var]*group{}
	want := map[string]bool{}
	for _, p := range ps {
		g := byVar[p.Var]
		if g == nil {
			g = &group{v: p.Var}
			byVar[p.Var] = g
			groups = append(groups, g)
		}
		if !want[p.Name] {
			want[p.Name] = true
			g.names = append(g.names, p.Name)
		}
	}
	type job struct {
		src *Tensor
		dst *group
	}
	var jobs []job
	var copies [][2]*Tensor // a copy and the tensor it must equal
	var missing []string
	var halfDType safetensors.DType // of the parameters in opt.Half
	aliases := sortedKeys(opt.Tied)
	for _, g := range groups {
		var stored []*Tensor
		for _, n := range g.names {
			if t := c.tensors[n]; t != nil {
				stored = append(stored, t)
			}
		}
		for _, a := range aliases {
			if t := c.tensors[a]; t != nil && slices.Contains(g.names, opt.Tied[a]) {
				stored = append(stored, t)
			}
		}
		if len(stored) == 0 {
			name := g.names[0]
			if opt.Stored != nil {
				name = opt.Stored(name)
			}
			if !slices.Contains(missing, name) { // parameters read from one stack (experts) name it once
				missing = append(missing, name)
			}
			continue
		}
		for _, t := range stored {
			if err := t.check(g.v.Value.Shape); err != nil {
				return err
			}
		}
		if h, ok := opt.Half[g.v]; ok {
			t := stored[0]
			if t.DType != safetensors.DTypeBF16 && t.DType != safetensors.DTypeF16 {
				return fmt.Errorf("hf: tensor %q in %s: dtype %s, not the BF16 or F16 it is to be kept in", t.Name, t.File, t.DType)
			}
			if halfDType == "" {
				halfDType = t.DType
			}
			if t.DType != halfDType {
				return fmt.Errorf("hf: tensor %q in %s: dtype %s among %s tensors to be kept in 16 bits", t.Name, t.File, t.DType, halfDType)
			}
			if len(h) != tensor.Size(g.v.Value.Shape) {
				return fmt.Errorf("hf: %d 16-bit values for %q of shape %v", len(h), g.names[0], g.v.Value.Shape)
			}
		}
		jobs = append(jobs, job{stored[0], g})
		for _, t := range stored[1:] {
			copies = append(copies, [2]*Tensor{t, stored[0]})
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("hf: missing tensor %q%s in %s", missing[0], more(len(missing)), c.where())
	}
	if !opt.Partial { // a partial load leaves the other tensors to other calls
		var unexpected []*Tensor
		for _, name := range c.Names() {
			if _, tied := opt.Tied[name]; !want[name] && !tied && !ignored(name, opt.Ignore) {
				unexpected = append(unexpected, c.tensors[name])
			}
		}
		if len(unexpected) > 0 {
			t := unexpected[0]
			return fmt.Errorf("hf: unexpected tensor %q%s in %s: the model has no such parameter", t.Name, more(len(unexpected)), t.File)
		}
	}
	if opt.CheckOnly {
		return nil
	}
	for _, g := range groups {
		if _, half := opt.Half[g.v]; g.v.Value.Data == nil && !half {
			g.v.Value.Data = make([]float32, tensor.Size(g.v.Value.Shape))
		}
	}
	// Convert in pieces of at most decodeChunk values, so one large table
	// (the word embeddings) does not leave the other CPUs idle.
	type piece struct {
		src    *Tensor
		dst    []float32
		half   []uint16 // instead of dst, for a parameter kept in 16 bits
		offset int
	}
	var pieces []piece
	for _, j := range jobs {
		if h, ok := opt.Half[j.dst.v]; ok {
			for off := 0; off < len(h); off += decodeChunk {
				pieces = append(pieces, piece{src: j.src, half: h[off:min(off+decodeChunk, len(h))], offset: off})
			}
			continue
		}
		dst := j.dst.v.Value.Data
		for off := 0; off < len(dst); off += decodeChunk {
			pieces = append(pieces, piece{src: j.src, dst: dst[off:min(off+decodeChunk, len(dst))], offset: off})
		}
	}
	// Each piece's mapped pages are let go once copied, so that the
	// checkpoint is not held twice (its file's pages and the weights).
	tensor.Parallel(len(pieces), 1, func(lo, hi int) {
		for _, p := range pieces[lo:hi] {
			if p.half != nil {
				p.src.copyHalf(p.half, p.offset)
				p.src.release(p.offset, len(p.half))
				continue
			}
			p.src.decode(p.dst, p.offset)
			p.src.release(p.offset, len(p.dst))
		}
	})
	for _, cp := range copies {
		if !cp[0].equal(cp[1]) {
			return fmt.Errorf("hf: tensor %q in %s differs from %q, which it is tied to", cp[0].Name, cp[0].File, cp[1].Name)
		}
	}
	return nil
}

// more says how many further tensors share a problem.
func more(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", n-1)
}

// where names the checkpoint's files for an error message.
func (c *Checkpoint) where() string {
	if len(c.names) == 1 {
		return c.names[0]
	}
	return fmt.Sprintf("%s (%s)", IndexFile, strings.Join(c.names, ", "))
}

func ignored(name string, res []*regexp.Regexp) bool {
	for _, re := range res {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// check reports a shape other than want or a dtype that is not a float.
func (t *Tensor) check(want []int) error {
	if !tensor.EqualShape(t.Shape, want) {
		return fmt.Errorf("hf: tensor %q in %s: shape %v does not match config %v", t.Name, t.File, t.Shape, want)
	}
	switch t.DType {
	case safetensors.DTypeF32, safetensors.DTypeF16, safetensors.DTypeBF16, safetensors.DTypeF64:
		return nil
	}
	return fmt.Errorf("hf: tensor %q in %s: dtype %s is not F32, F16, BF16 or F64", t.Name, t.File, t.DType)
}

// Float32 returns the tensor converted to a new float32 slice.
func (t *Tensor) Float32() ([]float32, error) {
	if err := t.check(t.Shape); err != nil {
		return nil, err
	}
	dst := make([]float32, tensor.Size(t.Shape))
	t.decode(dst, 0)
	return dst, nil
}

// decodeChunk is the number of values Load converts as one piece of work.
const decodeChunk = 1 << 20

// decode converts values offset.. of the tensor, whose dtype check accepted,
// into dst.
func (t *Tensor) decode(dst []float32, offset int) {
	if t.values != nil {
		t.values(dst, offset)
		return
	}
	b, err := t.raw()
	if err != nil { // the file was closed under us: a programming error
		panic(err)
	}
	decodeBytes(dst, t.DType, b[offset*t.DType.Size():])
}

// decodeBytes converts the values of dtype (one decode accepts) that b
// starts with into dst.
func decodeBytes(dst []float32, dtype safetensors.DType, b []byte) {
	le := binary.LittleEndian
	switch dtype {
	case safetensors.DTypeF32:
		if littleEndian && len(dst) > 0 { // the stored bytes are the values: one memmove
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), b)
			return
		}
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case safetensors.DTypeF16:
		for i := range dst {
			dst[i] = safetensors.Float16ToFloat32(le.Uint16(b[2*i:]))
		}
	case safetensors.DTypeBF16:
		for i := range dst {
			dst[i] = safetensors.BFloat16ToFloat32(le.Uint16(b[2*i:]))
		}
	case safetensors.DTypeF64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	}
}

// release lets go of the mapped pages of values offset to offset+n of t
// (safetensors.File.Release).
func (t *Tensor) release(offset, n int) {
	if t.values != nil { // read in no order the pages could follow
		return
	}
	b, err := t.raw()
	if err != nil {
		return
	}
	size := t.DType.Size()
	t.file.Release(b[offset*size : (offset+n)*size])
}

// copyHalf copies values offset.. of a BF16 or F16 tensor into dst.
func (t *Tensor) copyHalf(dst []uint16, offset int) {
	if t.values != nil { // exact in the tensor's DType (see Tensor.values)
		var buf [1024]float32
		for at := 0; at < len(dst); at += len(buf) {
			part := buf[:min(len(buf), len(dst)-at)]
			t.values(part, offset+at)
			for i, v := range part {
				if t.DType == safetensors.DTypeF16 {
					dst[at+i] = safetensors.Float32ToFloat16(v)
				} else { // exact: the upper half of the float32
					dst[at+i] = uint16(math.Float32bits(v) >> 16)
				}
			}
		}
		return
	}
	b, err := t.raw()
	if err != nil { // the file was closed under us: a programming error
		panic(err)
	}
	b = b[2*offset:]
	if littleEndian && len(dst) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 2*len(dst)), b)
		return
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
}

// littleEndian is whether float32s in memory are laid out as safetensors
// stores them.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// equal reports whether two tensors of one shape hold the same values:
// their bytes when stored alike, else their float32 values.
func (t *Tensor) equal(u *Tensor) bool {
	if t.DType == u.DType && t.values == nil && u.values == nil {
		a, _ := t.raw()
		b, _ := u.raw()
		return bytes.Equal(a, b)
	}
	a, _ := t.Float32()
	b, _ := u.Float32()
	return slices.Equal(a, b)
}

// Init makes the parameters of a new model: drawn from RNG, or, when RNG is
// nil, shapes without data or gradient buffers, which Checkpoint.Load
// allocates and fills only once the checkpoint has passed its checks (so a
// config.json with absurd sizes costs nothing); gradient buffers come with
// the first gradient.
type Init struct{ RNG *tensor.RNG }

// Normal returns a parameter drawn from N(0, std²).
func (w Init) Normal(std float64, shape ...int) *autograd.Var {
	if w.RNG == nil {
		return autograd.NewParam(&tensor.Tensor{Shape: shape})
	}
	t := tensor.New(shape...)
	w.RNG.FillNormal(t, 0, std)
	return autograd.NewParam(t)
}

// Fill returns a parameter holding val everywhere.
func (w Init) Fill(val float32, shape ...int) *autograd.Var {
	if w.RNG == nil {
		return autograd.NewParam(&tensor.Tensor{Shape: shape})
	}
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = val
	}
	return autograd.NewParam(t)
}
