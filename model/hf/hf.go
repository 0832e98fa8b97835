// Package hf reads HuggingFace model folders: config.json, and the weights
// in model.safetensors or in the shards that model.safetensors.index.json
// lists, presented as one memory-mapped set of tensors.
package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// The files of a HuggingFace model folder that this package reads.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
	IndexFile   = "model.safetensors.index.json"
)

// Prefixes are the name prefixes that HF's task classes put before the
// names of their base model (BertForMaskedLM's "bert.", BartForConditional-
// Generation's and MarianMTModel's "model.", GPT2LMHeadModel's
// "transformer.", RobertaForMaskedLM's "roberta.", DistilBERT's "distilbert.",
// ViTForImageClassification's "vit.", DeiT's "deit.").
// Open strips the first that matches, so a model looks up
// "encoder.layer.0.output.dense.weight" whichever class saved the file;
// heads outside the base model ("cls.predictions.bias", "lm_head.weight")
// keep their names.
var Prefixes = []string{"bert.", "roberta.", "distilbert.", "model.", "transformer.", "vit.", "deit."}

// ReadConfig decodes dir/config.json into v (a model's config type, which
// reads HF's field names).
func ReadConfig(dir string, v any) error {
	path := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("hf: %s: %w", path, err)
	}
	return nil
}

// ModelType returns config.json's model_type ("bert", "gpt2", "t5",
// "marian", ...), which picks the architecture.
func ModelType(dir string) (string, error) {
	var c struct {
		ModelType string `json:"model_type"`
	}
	if err := ReadConfig(dir, &c); err != nil {
		return "", err
	}
	if c.ModelType == "" {
		return "", fmt.Errorf("hf: %s has no model_type", filepath.Join(dir, ConfigFile))
	}
	return c.ModelType, nil
}

// Tensor describes one stored tensor of a Checkpoint.
type Tensor struct {
	Name  string // as stored, prefix included
	File  string // the file holding it, relative to the folder
	DType safetensors.DType
	Shape []int
	file  *safetensors.File
	canon string // Name without a prefix, legacy names renamed
	// offset is where the tensor starts in the stored one, in values: not
	// 0 only for a block of rows SplitRows cut from it.
	offset int
	// values, when not nil, computes values offset.. of a tensor Derive
	// or DequantizeMXFP4 made into dst; its DType is then one its values
	// are exact in (the stored tensor's; BF16 for MXFP4's, see there), so
	// that it can also load into 16-bit buffers.
	values func(dst []float32, offset int)
}

// raw returns the tensor's stored bytes.
func (t *Tensor) raw() ([]byte, error) {
	b, _, err := t.file.Raw(t.Name)
	if err != nil {
		return nil, err
	}
	size := t.DType.Size()
	return b[t.offset*size : (t.offset+tensor.Size(t.Shape))*size], nil
}

// Checkpoint is the weights of a model folder, memory-mapped: one file or
// every shard of a sharded set, looked up by name without the class prefix
// (see Prefixes). Close it when the weights are loaded.
type Checkpoint struct {
	Dir     string
	files   []*safetensors.File
	names   []string // file names relative to Dir, parallel to files
	tensors map[string]*Tensor
}

// Open maps the weights of the folder dir: model.safetensors if present,
// else the shards named by model.safetensors.index.json, which must agree
// with the shards exactly (every listed tensor in its shard, no tensor left
// unlisted). A corrupt or truncated file fails with the safetensors
// package's error, naming the file.
func Open(dir string) (*Checkpoint, error) {
	c := &Checkpoint{Dir: dir, tensors: map[string]*Tensor{}}
	single := filepath.Join(dir, WeightsFile)
	_, errSingle := os.Stat(single)
	index := filepath.Join(dir, IndexFile)
	_, errIndex := os.Stat(index)
	var err error
	switch {
	case errSingle == nil:
		err = c.add(WeightsFile, nil)
	case errIndex == nil:
		err = c.openSharded(index)
	default:
		msg := fmt.Sprintf("hf: %s has neither %s nor %s", dir, WeightsFile, IndexFile)
		if _, e := os.Stat(filepath.Join(dir, "pytorch_model.bin")); e == nil {
			msg += " (pytorch_model.bin is a Python pickle, which attn does not read; convert it to safetensors)"
		}
		err = errors.New(msg)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// index is model.safetensors.index.json.
type index struct {
	WeightMap map[string]string `json:"weight_map"`
}

func (c *Checkpoint) openSharded(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	var ix index
	if err := json.Unmarshal(raw, &ix); err != nil {
		return fmt.Errorf("hf: %s: %w", path, err)
	}
	if len(ix.WeightMap) == 0 {
		return fmt.Errorf("hf: %s: weight_map is missing or empty", path)
	}
	byFile := map[string]map[string]bool{}
	for name, file := range ix.WeightMap {
		if file == "" || file != filepath.Base(file) || file == "." || file == ".." {
			return fmt.Errorf("hf: %s: tensor %q: shard %q is not a file name in the folder", path, name, file)
		}
		if byFile[file] == nil {
			byFile[file] = map[string]bool{}
		}
		byFile[file][name] = true
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, f := range files {
		if err := c.add(f, byFile[f]); err != nil {
			return err
		}
	}
	return nil
}

// add maps one file and indexes its tensors; listed, if not nil, is what
// the index says the file holds.
func (c *Checkpoint) add(file string, listed map[string]bool) error {
	f, err := safetensors.Open(filepath.Join(c.Dir, file))
	if err != nil {
		return err
	}
	c.files = append(c.files, f)
	c.names = append(c.names, file)
	names := f.Names()
	for name := range listed {
		if _, ok := f.Info(name); !ok {
			return fmt.Errorf("hf: %s lists tensor %q in %s, which does not hold it", IndexFile, name, file)
		}
	}
	for _, name := range names {
		if listed != nil && !listed[name] {
			return fmt.Errorf("hf: tensor %q in %s is not listed for that file in %s", name, file, IndexFile)
		}
		in, _ := f.Info(name)
		t := &Tensor{Name: name, File: file, DType: in.DType, Shape: in.Shape, file: f, canon: Canonical(name)}
		if old, dup := c.tensors[t.canon]; dup {
			return fmt.Errorf("hf: tensors %q (%s) and %q (%s) are both %q", old.Name, old.File, name, file, t.canon)
		}
		c.tensors[t.canon] = t
	}
	return nil
}

// Canonical returns a stored name as models look it up: without the first
// of Prefixes it starts with, and with the LayerNorm names of old
// checkpoints (".gamma", ".beta") renamed to ".weight" and ".bias", as
// HF's loader renames them.
func Canonical(name string) string {
	for _, p := range Prefixes {
		if rest, ok := strings.CutPrefix(name, p); ok {
			name = rest
			break
		}
	}
	if rest, ok := strings.CutSuffix(name, ".gamma"); ok {
		return rest + ".weight"
	}
	if rest, ok := strings.CutSuffix(name, ".beta"); ok {
		return rest + ".bias"
	}
	return name
}

// Close unmaps every file; tensors read by Load are copies and stay valid.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Files lists the weight files, relative to the folder.
func (c *Checkpoint) Files() []string { return slices.Clone(c.names) }

// Names lists the canonical names of all stored tensors, sorted.
func (c *Checkpoint) Names() []string {
	names := make([]string, 0, len(c.tensors))
	for n := range c.tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Has reports whether a tensor is stored under the canonical name.
func (c *Checkpoint) Has(name string) bool { _, ok := c.tensors[name]; return ok }

// HasPrefix reports whether any tensor's canonical name starts with prefix
// (to see which optional parts, such as a pooler or a head, were saved).
func (c *Checkpoint) HasPrefix(prefix string) bool {
	for n := range c.tensors {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// Rename re-keys the stored tensors: canonical name n becomes f(n), for a
// model whose checkpoints name its layers otherwise than its package does
// (DistilBERT's, read into bert's layers). Two tensors renamed alike are an
// error.
// On an error the checkpoint is left as it was.
func (c *Checkpoint) Rename(f func(string) string) error {
	renamed := make(map[string]*Tensor, len(c.tensors))
	for _, n := range c.Names() {
		t := c.tensors[n]
		to := f(n)
		if old, dup := renamed[to]; dup {
			return fmt.Errorf("hf: tensors %q (%s) and %q (%s) are both read as %q", old.Name, old.File, t.Name, t.File, to)
		}
		renamed[to] = t
	}
	for to, t := range renamed {
		t.canon = to
	}
	c.tensors = renamed
	return nil
}

// SplitRows re-keys the stored tensor of canonical name name, a matrix,
// as blocks of its rows, the i-th of rows[i] rows under the name parts[i]:
// for a model that keeps apart what a checkpoint stores fused (Phi-3's
// qkv_proj, read as q_proj, k_proj and v_proj). A tensor of 3 dimensions
// [E, R, C] is split as the matrix [E·R, C] it is in memory (a mixture of
// experts' E matrices stored as one). A tensor not stored is left for Load
// to report; one whose rows are not the blocks' sum is an error naming it.
func (c *Checkpoint) SplitRows(name string, parts []string, rows []int) error {
	t, ok := c.tensors[name]
	if !ok {
		return nil
	}
	sum := 0
	for _, r := range rows {
		sum += r
	}
	shape := t.Shape
	if len(shape) == 3 {
		shape = []int{shape[0] * shape[1], shape[2]}
	}
	if len(shape) != 2 || shape[0] != sum || len(parts) != len(rows) {
		return fmt.Errorf("hf: tensor %q in %s: shape %v, where the config's %s need %d rows in all", t.Name, t.File, t.Shape, strings.Join(parts, ", "), sum)
	}
	for _, p := range parts {
		if old, dup := c.tensors[p]; dup && p != name {
			return fmt.Errorf("hf: tensors %q (%s) and %q (%s) are both read as %q", old.Name, old.File, t.Name, t.File, p)
		}
	}
	delete(c.tensors, name)
	at := t.offset
	for i, p := range parts {
		u := *t
		u.Shape, u.canon, u.offset = []int{rows[i], shape[1]}, p, at
		at += rows[i] * shape[1]
		c.tensors[p] = &u
	}
	return nil
}

// Derive re-keys the stored tensor of canonical name src as the tensors
// parts (of the given shapes), whose value i is src's value at j, where
// index(part, i) returns j and how many values from i on follow j's in src
// (a row's rest, or 1): for a model that keeps apart, transposed or
// de-interleaved, what a checkpoint stores as one (GPT-OSS's experts,
// stacked input-major with the gate and up columns alternating). src's
// shape must be want. A tensor not stored is left for Load to report.
func (c *Checkpoint) Derive(src string, want []int, parts []string, shapes [][]int, index func(part, i int) (j, run int)) error {
	t, ok := c.tensors[src]
	if !ok {
		return nil
	}
	if !tensor.EqualShape(t.Shape, want) {
		what := fmt.Sprintf("tensor %q", t.Name)
		if t.values != nil { // decoded (MXFP4)
			what = fmt.Sprintf("%s decoded (as %s)", what, src)
		}
		return fmt.Errorf("hf: %s in %s: shape %v, where the config's %s%s need %v", what, t.File, t.Shape, parts[0], more(len(parts)), want)
	}
	if t.values == nil {
		if err := t.check(t.Shape); err != nil {
			return err
		}
	}
	for _, p := range parts {
		if old, dup := c.tensors[p]; dup && p != src {
			return fmt.Errorf("hf: tensors %q (%s) and %q (%s) are both read as %q", old.Name, old.File, t.Name, t.File, p)
		}
	}
	delete(c.tensors, src)
	read := t.reader()
	for k, p := range parts {
		c.tensors[p] = &Tensor{Name: t.Name, File: t.File, DType: t.DType, Shape: shapes[k], canon: p,
			values: func(dst []float32, offset int) {
				for i := 0; i < len(dst); { // runs of consecutive source values, read at once
					j, n := index(k, offset+i)
					n = min(max(n, 1), len(dst)-i)
					read(dst[i:i+n], j)
					i += n
				}
			}}
	}
	return nil
}

// reader returns a function reading the tensor's values offset.. into
// dst, for Derive (as decode does, the stored bytes looked up once: Derive
// may read a value at a time).
func (t *Tensor) reader() func(dst []float32, offset int) {
	if t.values != nil {
		return t.values
	}
	raw := t.rawOnce()
	return func(dst []float32, offset int) { decodeBytes(dst, t.DType, raw()[offset*t.DType.Size():]) }
}

// rawOnce returns a function giving the tensor's stored bytes, looked up on
// its first call.
func (t *Tensor) rawOnce() func() []byte {
	return sync.OnceValue(func() []byte {
		b, err := t.raw()
		if err != nil { // the file was closed under us: a programming error
			panic(err)
		}
		return b
	})
}

// fp4 are the values of the 4-bit floats (E2M1) of MXFP4, by code (code 8
// is −0, which a Go constant cannot be).
var fp4 = [16]float32{0, 0.5, 1, 1.5, 2, 3, 4, 6, float32(math.Copysign(0, -1)), -0.5, -1, -1.5, -2, -3, -4, -6}

// fp4Table returns MXFP4's values by scale and code, fp4[code]·2^(scale−127)
// rounded to float32 (so ±Inf past its range, and ±0 for a code of 0 at
// any scale): a lookup per value where ldexp took most of the load.
var fp4Table = sync.OnceValue(func() *[256][16]float32 {
	var t [256][16]float32
	for s := range t {
		for c, v := range fp4 {
			t[s][c] = float32(math.Ldexp(float64(v), s-127))
		}
	}
	return &t
})

// DequantizeMXFP4 reads the stored pair name+"_blocks" (U8 [..., R, G,
// 16]) and name+"_scales" (U8 [..., R, G]), a matrix quantized to MXFP4 as
// OCP's microscaling format and GPT-OSS's checkpoints store it, as the
// tensor name of shape [..., R, G·32]: each block of 32 values shares the
// power of two 2^(scale − 127), and each byte holds two of them (E2M1),
// the lower nibble first. Its values can then be split or transposed by
// Derive. A pair not stored is left as it is; a half of one, or shapes
// that do not pair, are errors naming the tensors.
func (c *Checkpoint) DequantizeMXFP4(name string) error {
	bt, okB := c.tensors[name+"_blocks"]
	st, okS := c.tensors[name+"_scales"]
	switch {
	case !okB && !okS:
		return nil
	case !okB || !okS:
		have := map[bool]*Tensor{true: bt, false: st}[okB]
		return fmt.Errorf("hf: tensor %q in %s has no %s_%s beside it (MXFP4's blocks and scales come in pairs)", have.Name, have.File, name, map[bool]string{true: "scales", false: "blocks"}[okB])
	case bt.DType != safetensors.DTypeU8 || st.DType != safetensors.DTypeU8:
		return fmt.Errorf("hf: MXFP4 tensors %q and %q in %s: dtypes %s and %s, want U8", bt.Name, st.Name, bt.File, bt.DType, st.DType)
	}
	n := len(bt.Shape)
	if n < 2 || bt.Shape[n-1] != 16 || !tensor.EqualShape(bt.Shape[:n-1], st.Shape) {
		return fmt.Errorf("hf: MXFP4 tensors %q %v and %q %v in %s: want blocks [..., G, 16] and scales [..., G]", bt.Name, bt.Shape, st.Name, st.Shape, bt.File)
	}
	if _, dup := c.tensors[name]; dup {
		return fmt.Errorf("hf: tensor %q is stored both whole and as MXFP4 blocks and scales", name)
	}
	delete(c.tensors, name+"_blocks")
	delete(c.tensors, name+"_scales")
	shape := slices.Clone(st.Shape)
	shape[n-2] *= 32
	blocksOf, scalesOf := bt.rawOnce(), st.rawOnce()
	// Every value, a code of E2M1 (3 significant bits) times a power of
	// two, is exact in BF16, down to 2^−127; past BF16's largest value
	// (scale 254 with a code of 2 or more, or scale 255, which OCP's format
	// reserves for NaN) it is ±Inf, as HF's ldexp in BF16 gives it.
	c.tensors[name] = &Tensor{Name: bt.Name, File: bt.File, DType: safetensors.DTypeBF16, Shape: shape, canon: name,
		values: func(dst []float32, offset int) {
			blocks, scales, tbl := blocksOf(), scalesOf(), fp4Table()
			for i := 0; i < len(dst); { // a block of 32 values (or what of it dst holds) at a time
				j := offset + i
				row := &tbl[scales[j/32]]
				end := min(len(dst), i+32-j%32)
				if j%2 == 1 { // the upper half of a byte first
					dst[i] = row[blocks[j/2]>>4]
					i, j = i+1, j+1
				}
				for ; i+1 < end; i, j = i+2, j+2 {
					b := blocks[j/2]
					dst[i], dst[i+1] = row[b&15], row[b>>4]
				}
				if i < end {
					dst[i] = row[blocks[j/2]&15]
					i++
				}
			}
		}}
	return nil
}

// Lookup returns the tensor stored under the canonical name.
func (c *Checkpoint) Lookup(name string) (*Tensor, bool) {
	t, ok := c.tensors[name]
	return t, ok
}
