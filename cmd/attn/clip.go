package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/clip"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// clipTokens is a CLIP's or SigLIP's tokenizer (its tokenizer.json, or a
// first SigLIP's SiglipTokenizer), with the id SigLIP's texts are padded
// with.
type clipTokens struct {
	tok    *tokenizer.Pipeline
	siglip *tokenizer.Siglip
	padID  int
}

// ok reports whether texts can be tokenized.
func (t clipTokens) ok() bool { return t.tok != nil || t.siglip != nil }

// tokenToID looks a token up in whichever tokenizer there is.
func (t clipTokens) tokenToID(tok string) (int, bool) {
	if t.siglip != nil {
		return t.siglip.TokenToID(tok)
	}
	return t.tok.TokenToID(tok)
}

// clipTokenizer opens the folder's tokenizer.json, or a first SigLIP's
// spiece.model as SiglipTokenizer runs it (the first SigLIPs ship no
// tokenizer.json). CLIP's vocab.json and merges.txt alone are refused: read
// as GPT-2's files they would tokenize without CLIP's lowercasing,
// end-of-word marks and end-of-text token. A SigLIP pads with the
// tokenizer's pad token, as HF's pipeline does (SigLIP 2's Gemma
// tokenizer: <pad>, 0; the first SigLIPs': </s>), else the config's
// pad_token_id.
func clipTokenizer(dir string, m *clip.Model) (clipTokens, error) {
	t := clipTokens{padID: m.Cfg.Text.PadID}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		_, e := os.Stat(filepath.Join(dir, "spiece.model"))
		if e != nil || !m.Cfg.Siglip {
			return clipTokens{}, fmt.Errorf("%s: a %s folder's texts need its tokenizer.json (%v)", dir, map[bool]string{false: "CLIP", true: "SigLIP"}[m.Cfg.Siglip], err)
		}
		if t.siglip, err = tokenizer.LoadSiglip(dir); err != nil {
			return clipTokens{}, err
		}
		if n := t.siglip.VocabSize(); n > m.Cfg.Text.VocabSize {
			return clipTokens{}, fmt.Errorf("%s: tokenizer has %d tokens, the model only %d", dir, n, m.Cfg.Text.VocabSize)
		}
	} else {
		if t.tok, err = openTokenizer(dir, m.Cfg.Text.VocabSize); err != nil {
			return clipTokens{}, err
		}
	}
	if !m.Cfg.Siglip { // CLIP's padding never reaches a pooled state
		return t, nil
	}
	pad, ok, err := tokenizer.ConfigToken(dir, "pad_token")
	if err != nil {
		return clipTokens{}, err
	}
	if ok {
		id, found := t.tokenToID(pad)
		if !found {
			return clipTokens{}, fmt.Errorf("%s: the pad token %q is not in the tokenizer", dir, pad)
		}
		t.padID = id
	}
	return t, nil
}

// clipTextEmbeds returns the embeddings of texts, tokenized with the
// folder's special tokens and cut to the model's positions (the end-of-text
// token kept, as HF's truncation keeps it).
func clipTextEmbeds(m *clip.Model, tok clipTokens, texts []string) (*tensor.Tensor, error) {
	seqs := make([][]int, len(texts))
	if tok.siglip != nil {
		for i, text := range texts {
			ids, err := tok.siglip.Encode(text, m.Cfg.Text.MaxPositions)
			if err != nil {
				return nil, err
			}
			seqs[i] = ids
		}
	} else {
		trunc := &tokenizer.Truncation{MaxLength: m.Cfg.Text.MaxPositions, Strategy: "LongestFirst", Direction: "Right"}
		encs, err := truncatedOnly(tok.tok, trunc).EncodeBatch(texts, true)
		if err != nil {
			return nil, err
		}
		for i, e := range encs {
			seqs[i] = e.IDs
		}
	}
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("text %d gives no tokens", i+1)
		}
	}
	if m.Cfg.Siglip {
		// As SigLIP was trained and HF's pipeline runs it: every text
		// padded to the model's positions (the pipeline's 64, which
		// released models have) with the pad token, the padding attended
		// (no mask), the text read at the last position.
		t := m.Cfg.Text.MaxPositions
		ids := make([]int, 0, len(seqs)*t)
		for _, s := range seqs {
			ids = append(ids, s...)
			for range t - len(s) {
				ids = append(ids, tok.padID)
			}
		}
		return m.TextEmbeds(ids, nil, len(seqs), t)
	}
	// Padding sits after each text's end-of-text token: the causal text
	// tower never lets it reach the pooled state, whatever its id.
	ids, pad, b, t := bert.Batch(seqs, 0)
	return m.TextEmbeds(ids, pad, b, t)
}

// unitRows returns copies of x [N, D]'s rows scaled to unit length.
func unitRows(x *tensor.Tensor) [][]float32 {
	out := rowsOf(x)
	for i, row := range out {
		out[i] = slices.Clone(row)
		bert.Normalize(out[i])
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
		return eachImageBatch(args, batch, embed)
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

// clipTemplate is HF's zero-shot-image-classification's caption of a
// class.
const clipTemplate = "This is a photo of {}."

// clipCaptions returns the caption of each label: the template with the
// label in place of {}.
func clipCaptions(labels []string, template string) ([]string, error) {
	if len(labels) == 0 {
		return nil, errors.New("a CLIP model classifies by captions of the classes: name the labels")
	}
	if !strings.Contains(template, "{}") {
		return nil, fmt.Errorf("the template %q has no {} for the label", template)
	}
	captions := make([]string, len(labels))
	for i, l := range labels {
		if strings.TrimSpace(l) == "" {
			return nil, fmt.Errorf("label %d is empty", i+1)
		}
		captions[i] = strings.ReplaceAll(template, "{}", l)
	}
	return captions, nil
}

// zeroShot returns the k most probable labels of each image (embeddings
// imgs [I, D]) against the captions' embeddings texts [L, D], most
// probable first, as HF's zero-shot-image-classification pipeline scores
// them: a softmax over the labels of CLIP's logits, a sigmoid of each of
// SigLIP's.
func zeroShot(m *clip.Model, imgs, texts *tensor.Tensor, labels []string, k int) ([][]label, error) {
	logits, err := m.Similarities(imgs, texts)
	if err != nil {
		return nil, err
	}
	score := bert.Config{ProblemType: "single_label_classification"}
	if m.Cfg.Siglip {
		score.ProblemType = "multi_label_classification"
	}
	return scoreRows(score, logits.Data, imgs.Shape[0], k, func(i int) string { return labels[i] }), nil
}

// runClassifyCLIP labels images by their similarity to a caption for each
// label (zero-shot, as HF's zero-shot-image-classification pipeline does):
// the template with the label in place of {}, scored as zeroShot does.
func runClassifyCLIP(dir string, paths []string, labels, template string, topK, batch int, asJSON bool, stdout io.Writer) error {
	var names []string
	for _, l := range strings.Split(labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return errors.New(`a CLIP model classifies by captions: --labels "cat,dog,car" names the classes`)
	}
	captions, err := clipCaptions(names, template)
	if err != nil {
		return fmt.Errorf("--template: %w", err)
	}
	if len(paths) == 0 {
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
	texts, err := clipTextEmbeds(m, tok, captions)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	return inBatches(paths, batch, func(paths []string) error {
		px, err := readImages(p, paths)
		if err != nil {
			return err
		}
		imgs, err := m.ImageEmbeds(px, len(paths))
		if err != nil {
			return err
		}
		ls, err := zeroShot(m, imgs, texts, names, topK)
		if err != nil {
			return err
		}
		for i, path := range paths {
			writeLabels(w, "image", path, ls[i], asJSON)
		}
		return w.Flush()
	})
}

// embedCLIP answers /v1/embed for a CLIP: the embeddings of "input"'s texts
// or of "images".
func (s *server) embedCLIP(ctx context.Context, req embedRequest) (*embedResponse, error) {
	switch {
	case (req.Input == nil) == (req.Images == nil):
		return nil, errors.New(`a CLIP embeds texts ("input") or images ("images"): send one of them`)
	case req.Pooling != "" || req.PromptName != "" || req.Prompt != nil:
		return nil, errors.New(`"pooling" and prompts do not apply to a CLIP model (its embeddings are its projections)`)
	case req.Input != nil && !s.clipTok.ok():
		return nil, s.clipErr
	}
	if req.Input != nil {
		if err := checkInputs(req.Input); err != nil {
			return nil, err
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var x *tensor.Tensor
	var err error
	if req.Input != nil {
		x, err = clipTextEmbeds(s.clip, s.clipTok, req.Input)
	} else {
		var px []float32
		if px, err = s.imagePixels(ctx, req.Images); err == nil {
			x, err = s.clip.ImageEmbeds(px, len(req.Images))
		}
	}
	if err != nil {
		return nil, err
	}
	if req.Normalize != nil && *req.Normalize {
		return &embedResponse{Embeddings: unitRows(x)}, nil
	}
	return &embedResponse{Embeddings: rowsOf(x)}, nil
}

// classifyCLIP answers /v1/classify for a CLIP: "images" scored against a
// caption of each of "labels" (zero-shot).
func (s *server) classifyCLIP(ctx context.Context, req classifyRequest) (*classifyResponse, error) {
	if req.Input != nil {
		return nil, errors.New(`this server classifies images: send "images" and "labels", not "input"`)
	}
	captions, err := clipCaptions(req.Labels, cmp.Or(req.Template, clipTemplate))
	switch {
	case err != nil:
		return nil, fmt.Errorf(`"labels", "template": %w`, err)
	case len(req.Labels) > maxInputs:
		return nil, fmt.Errorf(`"labels" has %d labels; want 1 to %d`, len(req.Labels), maxInputs)
	case !s.clipTok.ok():
		return nil, s.clipErr
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	texts, err := clipTextEmbeds(s.clip, s.clipTok, captions)
	if err != nil {
		return nil, err
	}
	px, err := s.imagePixels(ctx, req.Images)
	if err != nil {
		return nil, err
	}
	imgs, err := s.clip.ImageEmbeds(px, len(req.Images))
	if err != nil {
		return nil, err
	}
	labels, err := zeroShot(s.clip, imgs, texts, req.Labels, req.TopK)
	if err != nil {
		return nil, err
	}
	return &classifyResponse{Labels: labels}, nil
}
