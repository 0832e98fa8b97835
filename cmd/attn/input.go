package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/attn-go/attn/model"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/tokenizer"
)

// modelDir returns the model folder dir names: dir itself when it holds a
// config.json, or the checkpoint of a run folder from attn train (dir/ckpt).
func modelDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("--model is required")
	}
	for _, d := range []string{dir, filepath.Join(dir, "ckpt")} {
		if _, err := os.Stat(filepath.Join(d, "config.json")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s holds no model (no config.json there or in ckpt/)", dir)
}

// eachBatch reads the lines of path (or standard input for "" and "-") and
// calls fn with them batch lines at a time, so output can stream while the
// input is still being read.
func eachBatch(path string, batch int, fn func(lines []string) error) error {
	in := io.Reader(os.Stdin)
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == max(batch, 1) {
			if err := fn(lines); err != nil {
				return err
			}
			lines = lines[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	return fn(lines)
}

// eachImageBatch calls fn with the image paths batch at a time: the
// arguments, or without any (or with -) the lines of standard input.
func eachImageBatch(paths []string, batch int, fn func(paths []string) error) error {
	if len(paths) == 0 || (len(paths) == 1 && paths[0] == "-") {
		return eachBatch("-", batch, fn)
	}
	return inBatches(paths, batch, fn)
}

// inBatches calls fn with paths batch at a time.
func inBatches(paths []string, batch int, fn func(paths []string) error) error {
	for len(paths) > 0 {
		n := min(max(batch, 1), len(paths))
		if err := fn(paths[:n]); err != nil {
			return err
		}
		paths = paths[n:]
	}
	return nil
}

// usesOf says which commands run each architecture, for the error a command
// gives when handed a model it cannot run.
var usesOf = map[string]string{
	"gpt2": "attn generate, attn eval, attn serve, attn train --model", "llama": "attn generate, attn eval, attn serve, attn train --model, attn embed", "bert": "attn embed, attn fill-mask, attn classify, attn serve",
	"t5": "attn generate, attn serve, attn train --model --src --tgt", "mt5": "attn generate, attn serve, attn train --model --src --tgt",
	"marian": "attn translate, attn serve", "m2m_100": "attn translate, attn serve", transformer.ModelType: "attn translate, attn serve",
	"vit":  "attn classify, attn eval, attn serve, attn train --preset images --model",
	"deit": "attn classify, attn eval, attn serve, attn train --preset images --model",
	"clip": "attn embed, attn classify --labels, attn serve", "siglip": "attn embed, attn classify --labels, attn serve",
}

// family returns the architecture package's name for a model_type: "bert"
// for RoBERTa, XLM-R, DistilBERT and ModernBERT, which the bert package runs (the same
// encoder with positions, names or heads of their own), "llama" for Qwen2
// and Qwen3, which the llama package runs, the model_type itself otherwise.
func family(typ string) string {
	switch {
	case slices.Contains(bertLike, typ):
		return "bert"
	case slices.Contains(llamaLike, typ):
		return "llama"
	}
	return typ
}

// bertLike and llamaLike are the model_types besides bert and llama that
// the bert and llama packages run.
var (
	bertLike  = []string{"roberta", "xlm-roberta", "distilbert", "modernbert"}
	llamaLike = []string{"qwen2", "qwen3", "mistral", "gemma2", "gemma3_text", "gemma3", "smollm3", "phi3", "granite", "olmo2", "mixtral", "qwen3_moe", "olmoe", "granitemoe", "granitemoeshared", "qwen2_moe", "gpt_oss"}
)

// llamaTypes lists the model_types the llama package runs, for messages.
func llamaTypes() string { return strings.Join(append([]string{"llama"}, llamaLike...), ", ") }

// modelOfType resolves dir (see modelDir) and returns it with its
// model_type, which must be one of accept: the command (e.g. "generate")
// fails otherwise, naming the commands that do run that model.
func modelOfType(dir, command string, accept ...string) (string, string, error) {
	dir, err := modelDir(dir)
	if err != nil {
		return "", "", err
	}
	typ, err := model.Type(dir)
	if err != nil {
		return "", "", err
	}
	if slices.Contains(accept, family(typ)) {
		return dir, typ, nil
	}
	names := slices.Clone(accept)
	if i := slices.Index(names, "bert"); i >= 0 {
		names = slices.Insert(names, i+1, bertLike...)
	}
	if i := slices.Index(names, "llama"); i >= 0 {
		names = slices.Insert(names, i+1, llamaLike...)
	}
	msg := fmt.Sprintf("%s is a %s model; attn %s runs %s models", dir, typ, command, strings.Join(names, ", "))
	if uses := usesOf[family(typ)]; uses != "" {
		msg += " (use " + uses + ")"
	}
	return "", "", errors.New(msg)
}

// sourceFiles records the data files a run reads, by absolute path and
// SHA-256, so that resuming rereads them and refuses any that changed.
type sourceFiles map[string]string

// read returns the file at *path, making *path absolute and recording its
// hash the first time, and checking the hash when it is already recorded.
func (s sourceFiles) read(path *string) ([]byte, error) {
	b, err := os.ReadFile(*path)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(*path); err == nil {
		*path = abs
	}
	hash := sha256Hex(b)
	if want, ok := s[*path]; ok && want != hash {
		return nil, fmt.Errorf("%s differs from the file the run started on (SHA-256 %s…): resuming needs the same data", *path, want[:min(12, len(want))])
	}
	s[*path] = hash
	return b, nil
}

// sha256Hex returns the SHA-256 of b in hex.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// setFlags returns the names of the flags given on the command line (a
// flag left at its default is not among them).
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// truncatedOnly returns a copy of tok that pads nothing and truncates as
// trunc says (nil: not at all): a tokenizer file's own padding and
// truncation are what transformers applies when a caller asks for them, and
// pads left in would be taken for text.
func truncatedOnly(tok *tokenizer.Pipeline, trunc *tokenizer.Truncation) *tokenizer.Pipeline {
	t := *tok
	t.Padding, t.Truncation = nil, trunc
	return &t
}
