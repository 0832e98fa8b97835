package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/clip"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// clipTokenizer opens the folder's tokenizer.json. CLIP's vocab.json and
// merges.txt alone are refused: read as GPT-2's files they would tokenize
// without CLIP's lowercasing, end-of-word marks and end-of-text token.
func clipTokenizer(dir string, m *clip.Model) (*tokenizer.Pipeline, error) {
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, fmt.Errorf("%s: a CLIP folder's texts need its tokenizer.json (%v)", dir, err)
	}
	return openTokenizer(dir, m.Cfg.Text.VocabSize)
}

// clipTextEmbeds returns the embeddings of texts, tokenized with the
// folder's special tokens and cut to the model's positions (the end-of-text
// token kept, as HF's truncation keeps it).
func clipTextEmbeds(m *clip.Model, tok *tokenizer.Pipeline, texts []string) (*tensor.Tensor, error) {
	trunc := &tokenizer.Truncation{MaxLength: m.Cfg.Text.MaxPositions, Strategy: "LongestFirst", Direction: "Right"}
	encs, err := truncatedOnly(tok, trunc).EncodeBatch(texts, true)
	if err != nil {
		return nil, err
	}
	seqs := make([][]int, len(encs))
	for i, e := range encs {
		if len(e.IDs) == 0 {
			return nil, fmt.Errorf("text %d gives no tokens", i+1)
		}
		seqs[i] = e.IDs
	}
	// Padding sits after each text's end-of-text token: the causal text
	// tower never lets it reach the pooled state, whatever its id.
	ids, pad, b, t := bert.Batch(seqs, 0)
	return m.TextEmbeds(ids, pad, b, t)
}

// unitRows scales each row of x [N, D] to unit length.
func unitRows(x *tensor.Tensor) [][]float32 {
	n, d := x.Shape[0], x.Shape[1]
	out := make([][]float32, n)
	for i := range n {
		row := append([]float32(nil), x.Data[i*d:(i+1)*d]...)
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		if ss > 0 {
			r := 1 / math.Sqrt(ss)
			for j := range row {
				row[j] = float32(float64(row[j]) * r)
			}
		}
		out[i] = row
	}
	return out
}

// rowsOf returns x [N, D]'s rows.
func rowsOf(x *tensor.Tensor) [][]float32 {
	n, d := x.Shape[0], x.Shape[1]
	out := make([][]float32, n)
	for i := range n {
		out[i] = x.Data[i*d : (i+1)*d]
	}
	return out
}

// runEmbedCLIP writes the CLIP embedding (HF's get_text_features or
// get_image_features, in the shared space) of each line of the text file
// (or stdin), or with images of each image named by the arguments (or by
// the lines of stdin).
func runEmbedCLIP(dir string, args []string, images, normalize bool, batch int, stdout io.Writer) error {
	if batch < 1 {
		return fmt.Errorf("--batch %d must be positive", batch)
	}
	m, err := clip.Load(dir)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	write := func(x *tensor.Tensor) error {
		if normalize {
			return writeEmbeddings(w, unitRows(x))
		}
		return writeEmbeddings(w, rowsOf(x))
	}
	if images {
		p, err := clip.LoadProcessor(dir, m.Cfg)
		if err != nil {
			return err
		}
		embed := func(paths []string) error {
			px, err := readImages(p, paths)
			if err != nil {
				return err
			}
			x, err := m.ImageEmbeds(px, len(paths))
			if err != nil {
				return err
			}
			return write(x)
		}
		if len(args) == 0 || (len(args) == 1 && args[0] == "-") {
			return eachBatch("-", batch, embed)
		}
		for len(args) > 0 {
			n := min(batch, len(args))
			if err := embed(args[:n]); err != nil {
				return err
			}
			args = args[n:]
		}
		return nil
	}
	if len(args) > 1 {
		return fmt.Errorf("texts come from one file (or stdin), not %d arguments; --images embeds images", len(args))
	}
	tok, err := clipTokenizer(dir, m)
	if err != nil {
		return err
	}
	file := ""
	if len(args) == 1 {
		file = args[0]
	}
	return eachBatch(file, batch, func(lines []string) error {
		x, err := clipTextEmbeds(m, tok, lines)
		if err != nil {
			return err
		}
		return write(x)
	})
}

// runClassifyCLIP labels images by their similarity to a caption for each
// label (zero-shot, as HF's zero-shot-image-classification pipeline does):
// the template with the label in place of {}, a softmax over the labels of
// CLIP's logits.
func runClassifyCLIP(dir string, paths []string, labels, template string, topK, batch int, asJSON bool, stdout io.Writer) error {
	var names []string
	for _, l := range strings.Split(labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	switch {
	case len(names) == 0:
		return errors.New(`a CLIP model classifies by captions: --labels "cat,dog,car" names the classes`)
	case !strings.Contains(template, "{}"):
		return fmt.Errorf("--template %q has no {} for the label", template)
	case len(paths) == 0:
		return errors.New("usage: attn classify --model CLIP --labels A,B,... IMAGE... (PNG, JPEG or GIF files)")
	}
	m, err := clip.Load(dir)
	if err != nil {
		return err
	}
	p, err := clip.LoadProcessor(dir, m.Cfg)
	if err != nil {
		return err
	}
	tok, err := clipTokenizer(dir, m)
	if err != nil {
		return err
	}
	captions := make([]string, len(names))
	for i, n := range names {
		captions[i] = strings.ReplaceAll(template, "{}", n)
	}
	texts, err := clipTextEmbeds(m, tok, captions)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	score := bert.Config{ProblemType: "single_label_classification"}
	for len(paths) > 0 {
		n := min(batch, len(paths))
		px, err := readImages(p, paths[:n])
		if err != nil {
			return err
		}
		imgs, err := m.ImageEmbeds(px, n)
		if err != nil {
			return err
		}
		logits, err := m.Similarities(imgs, texts)
		if err != nil {
			return err
		}
		k := len(names)
		for i, path := range paths[:n] {
			var ls []label
			for _, pr := range score.Scores(logits.Data[i*k:(i+1)*k], topK) {
				ls = append(ls, label{names[pr.ID], pr.ID, pr.Prob})
			}
			writeLabels(w, "image", path, ls, asJSON)
		}
		paths = paths[n:]
	}
	return nil
}
