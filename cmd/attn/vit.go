package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/train"
)

// loadViT loads a ViT folder (HuggingFace layout) and its image processor
// (preprocessor_config.json, ViTImageProcessor's defaults without one).
func loadViT(dir, command string) (*vit.Model, vit.Processor, error) {
	dir, _, err := modelOfType(dir, command, "vit")
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
	if m.Classifier == nil {
		return nil, vit.Processor{}, fmt.Errorf("%s has no classifier (a ViTModel checkpoint); attn %s needs a ViTForImageClassification one", dir, command)
	}
	return m, p, nil
}

// label is one of an image's most probable classes.
type label struct {
	Label string  `json:"label"`
	ID    int     `json:"id"`
	Score float32 `json:"score"`
}

// classifyImages returns the k most probable labels of each image, most
// probable first, as HF's image-classification pipeline reports them
// (softmax over the logits).
func classifyImages(m *vit.Model, p vit.Processor, imgs []image.Image, k int) ([][]label, error) {
	var px []float32
	for i, img := range imgs {
		x, err := p.Pixels(img)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i+1, err)
		}
		px = append(px, x...)
	}
	logits, err := m.Classify(px, len(imgs))
	if err != nil {
		return nil, err
	}
	n := m.Labels()
	out := make([][]label, len(imgs))
	for i := range imgs {
		for _, pr := range bert.TopK(logits.Data[i*n:(i+1)*n], k) {
			out[i] = append(out[i], label{m.Cfg.Label(pr.ID), pr.ID, pr.Prob})
		}
	}
	return out, nil
}

func runClassify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "ViT model folder (HuggingFace layout: config.json, model.safetensors, preprocessor_config.json)")
	topK := fs.Int("top-k", 5, "labels to show per image")
	asJSON := fs.Bool("json", false, `print one JSON object per image: {"image", "labels": [{"label", "id", "score"}]}`)
	batch := fs.Int("batch", 16, "images run together")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: attn classify --model DIR IMAGE... (PNG, JPEG or GIF files)")
	}
	if *topK < 1 || *batch < 1 {
		return fmt.Errorf("--top-k %d and --batch %d must be positive", *topK, *batch)
	}
	m, p, err := loadViT(*model, "classify")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	paths := fs.Args()
	for len(paths) > 0 {
		n := min(*batch, len(paths))
		imgs := make([]image.Image, n)
		for i, path := range paths[:n] {
			if imgs[i], err = vit.ReadImage(path); err != nil {
				return err
			}
		}
		labels, err := classifyImages(m, p, imgs, *topK)
		if err != nil {
			return err
		}
		for i, path := range paths[:n] {
			if *asJSON {
				line, _ := json.Marshal(struct {
					Image  string  `json:"image"`
					Labels []label `json:"labels"`
				}{path, labels[i]})
				w.Write(append(line, '\n'))
				continue
			}
			fmt.Fprintln(w, path)
			for _, l := range labels[i] {
				fmt.Fprintf(w, "  %.4f  %s\n", l.Score, l.Label)
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		paths = paths[n:]
	}
	return nil
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
	if asJSON {
		b, _ := json.Marshal(map[string]any{"accuracy": acc, "loss": loss, "images": len(ims)})
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	fmt.Fprintf(stdout, "accuracy %.4f, loss %.4f nats/image over %d images\n", acc, loss, len(ims))
	return nil
}
