package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"slices"

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/train"
)

// loadViT loads a ViT classifier folder (HuggingFace layout) and its image
// processor (preprocessor_config.json, ViTImageProcessor's defaults
// without one).
func loadViT(dir, command string) (*vit.Model, vit.Processor, error) {
	m, p, err := loadViTModel(dir, command)
	if err == nil && !m.HasClassifier() {
		return nil, vit.Processor{}, fmt.Errorf("%s has no classifier (a ViTModel checkpoint); attn %s needs a ViTForImageClassification one", dir, command)
	}
	return m, p, err
}

// loadViTModel is loadViT for any ViT folder, with or without a classifier.
func loadViTModel(dir, command string) (*vit.Model, vit.Processor, error) {
	dir, _, err := modelOfType(dir, command, "vit", "deit")
	if err != nil {
		return nil, vit.Processor{}, err
	}
	m, err := vit.Load(dir)
	if err != nil {
		return nil, vit.Processor{}, err
	}
	p, err := vit.LoadProcessor(dir, m.Cfg)
	if err != nil {
		return nil, vit.Processor{}, err
	}
	return m, p, nil
}

// imagePixels prepares n images, decoding one at a time (so that only one
// full-size image is in memory) and turning it into the model's input;
// errors start with name(i). ctx, if not nil, is checked between images.
func imagePixels(ctx context.Context, p vit.Processor, n int, name func(i int) string, decode func(i int) (image.Image, error)) ([]float32, error) {
	var px []float32
	for i := range n {
		if ctx != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		img, err := decode(i)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name(i), err)
		}
		x, err := p.Pixels(img)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name(i), err)
		}
		px = append(px, x...)
	}
	return px, nil
}

// readImages prepares image files on all cores, one file per core at a
// time: decoding and resizing a photo takes as long as the model's pass
// over it.
func readImages(p vit.Processor, paths []string) ([]float32, error) {
	per := make([][]float32, len(paths))
	errs := make([]error, len(paths))
	tensor.ParallelFor(len(paths), func(i int) {
		img, err := vit.DecodeFile(paths[i])
		if err == nil {
			per[i], err = p.Pixels(img)
		}
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", paths[i], err)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(per...), nil
}

// embedImages returns one vector per image of pixels (n images, as
// imagePixels prepares them): the final state of the class
// token (cls, what HF's ViTModel gives as last_hidden_state[:, 0]) or the
// mean over the patch tokens (mean, timm's average pooling), divided by its
// L2 norm if normalize.
func embedImages(m *vit.Model, px []float32, n int, pool bert.Pooling, normalize bool) ([][]float32, error) {
	hidden, _, err := m.Encode(px, n)
	if err != nil {
		return nil, err
	}
	// The tokens before the patches (the class token, DeiT's distillation
	// token) count as padding for the mean, which bert.Embed skips.
	k := m.Cfg.Prefix()
	t := k + m.Cfg.Patches()
	notPatch := make([]bool, n*t)
	for i := range n {
		for j := range k {
			notPatch[i*t+j] = true
		}
	}
	return bert.Embed(hidden, notPatch, pool, normalize)
}

// runEmbedImages is attn embed for a ViT folder: one JSON embedding per
// image, the images given as arguments or, without any (or with -), as
// paths on stdin, one per line.
func runEmbedImages(dir string, paths []string, pool bert.Pooling, normalize bool, batch int, stdout io.Writer) error {
	if batch < 1 {
		return fmt.Errorf("--batch %d must be positive", batch)
	}
	m, p, err := loadViTModel(dir, "embed")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	embed := func(paths []string) error {
		px, err := readImages(p, paths)
		if err != nil {
			return err
		}
		vecs, err := embedImages(m, px, len(paths), pool, normalize)
		if err != nil {
			return err
		}
		return writeEmbeddings(w, vecs)
	}
	return eachImageBatch(paths, batch, embed)
}

// label is one of an image's most probable classes.
type label struct {
	Label string  `json:"label"`
	ID    int     `json:"id"`
	Score float32 `json:"score"`
}

// classifyImages returns the k most probable labels of each image, most
// probable first, as HF's image-classification pipeline reports them
// (a softmax over the logits, or a sigmoid of each for multi-label
// classification and a single output).
func classifyImages(m *vit.Model, px []float32, images, k int) ([][]label, error) {
	logits, err := m.Classify(px, images)
	if err != nil {
		return nil, err
	}
	n := m.Labels()
	problem := "single_label_classification"
	if m.Cfg.UsesSigmoid(n) {
		problem = "multi_label_classification" // bert.Config.Scores: a sigmoid of each
	}
	return scoreRows(bert.Config{ProblemType: problem}, logits.Data, images, k, m.Cfg.Label), nil
}

// scoreRows returns the k most probable labels of each of the rows of
// logits, most probable first, scored as score's problem_type says
// (bert.Config.Scores), named by name.
func scoreRows(score bert.Config, logits []float32, rows, k int, name func(int) string) [][]label {
	n := len(logits) / max(rows, 1)
	out := make([][]label, rows)
	for i := range rows {
		for _, pr := range score.Scores(logits[i*n:(i+1)*n], k) {
			out[i] = append(out[i], label{name(pr.ID), pr.ID, pr.Prob})
		}
	}
	return out
}

// writeLabels prints one image's or text's labels: a JSON line {key: name,
// "labels": [...]}, or the name and a line per label.
func writeLabels(w io.Writer, key, name string, labels []label, asJSON bool) {
	if asJSON {
		k, _ := json.Marshal(key)
		n, _ := json.Marshal(name)
		l, _ := json.Marshal(labels)
		fmt.Fprintf(w, "{%s:%s,\"labels\":%s}\n", k, n, l)
		return
	}
	fmt.Fprintln(w, name)
	for _, l := range labels {
		fmt.Fprintf(w, "  %.4f  %s\n", l.Score, l.Label)
	}
}

func runClassify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "a ViT or DeiT folder (HuggingFace layout: config.json, model.safetensors, preprocessor_config.json), a CLIP or SigLIP folder (zero-shot, by --labels), or a BERT, RoBERTa, DistilBERT or ModernBERT sequence classifier (images as arguments; for a text classifier, a file of lines or stdin, a tab between the two texts of a pair)")
	topK := fs.Int("top-k", 5, "labels to show per image or text")
	asJSON := fs.Bool("json", false, `print one JSON object per image or text: {"image" or "text", "labels": [{"label", "id", "score"}]}`)
	batch := fs.Int("batch", 16, "images or lines run together")
	labels := fs.String("labels", "", `CLIP, SigLIP: the classes, comma-separated ("cat,dog,car"): each image is scored by its similarity to each class's caption`)
	template := fs.String("template", clipTemplate, "CLIP, SigLIP: the caption of a class, {} standing for its label (HF's zero-shot-image-classification default)")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if *topK < 1 || *batch < 1 {
		return fmt.Errorf("--top-k %d and --batch %d must be positive", *topK, *batch)
	}
	dir, typ, err := modelOfType(*model, "classify", "vit", "deit", "bert", "clip", "siglip")
	if err != nil {
		return err
	}
	if typ == "clip" || typ == "siglip" {
		return runClassifyCLIP(dir, fs.Args(), *labels, *template, *topK, *batch, *asJSON, stdout)
	}
	if given := setFlags(fs); given["labels"] || given["template"] {
		return fmt.Errorf("--labels and --template are for a CLIP or SigLIP model; %s is a %s model, whose classes are its own", dir, typ)
	}
	if family(typ) == "bert" {
		return runClassifyText(dir, fs.Args(), *topK, *batch, *asJSON, stdout)
	}
	if fs.NArg() == 0 {
		return errors.New("usage: attn classify --model DIR IMAGE... (PNG, JPEG or GIF files)")
	}
	m, p, err := loadViT(dir, "classify")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	return inBatches(fs.Args(), *batch, func(paths []string) error {
		px, err := readImages(p, paths)
		if err != nil {
			return err
		}
		labels, err := classifyImages(m, px, len(paths), *topK)
		if err != nil {
			return err
		}
		for i, path := range paths {
			writeLabels(w, "image", path, labels[i], *asJSON)
		}
		return w.Flush()
	})
}

// evalImages reports a ViT classifier's accuracy and mean cross-entropy on
// a folder of labelled images (dir/<label>/<image>, labels named as in the
// model's id2label).
func evalImages(model, dir string, asJSON bool, stdout io.Writer) error {
	m, p, err := loadViT(model, "eval")
	if err != nil {
		return err
	}
	labels := make([]string, m.Labels())
	for i := range labels {
		labels[i] = m.Cfg.Label(i)
	}
	ims, _, err := data.ListImages(dir, labels)
	if err != nil {
		return err
	}
	loss, acc, err := train.EvaluateImages(m, p, ims, 32)
	if err != nil {
		return err
	}
	reportAccuracy(stdout, asJSON, acc, loss, len(ims), "image")
	return nil
}

// reportAccuracy prints a classifier's evaluation over n items of a kind
// ("text", "image"): a line, or a JSON object.
func reportAccuracy(w io.Writer, asJSON bool, acc, loss float64, n int, unit string) {
	if asJSON {
		b, _ := json.Marshal(map[string]any{"accuracy": acc, "loss": loss, unit + "s": n})
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "accuracy %.4f, loss %.4f nats/%s over %d %ss\n", acc, loss, unit, n, unit)
}
