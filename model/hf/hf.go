// Package hf reads HuggingFace model folders: config.json, and the weights
// in model.safetensors or in the shards that model.safetensors.index.json
// lists, presented as one memory-mapped set of tensors.
package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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

// Lookup returns the tensor stored under the canonical name.
func (c *Checkpoint) Lookup(name string) (*Tensor, bool) {
	t, ok := c.tensors[name]
	return t, ok
}
