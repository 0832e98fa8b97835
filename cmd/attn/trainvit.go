package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/train"
)

// imageJobConfig is what a ViT run saves to resume: the data settings and
// where the images come from.
type imageJobConfig struct {
	train.ImageData
	Folder string `json:"folder,omitempty"` // an image folder (data.ImageFolder), or
	Digits int    `json:"digits,omitempty"` // this many generated digits (data.Digits)
}

// digitsModel is the preset's ViT: 32×32 images in 4×4 patches (64 tokens
// and the class token), width 96, 4 layers of 3 heads. Heads of 32 fill
// the GEMM kernels' 32-column tiles: with 4 heads of 24 a step took 1.4
// times as long.
func digitsModel() vit.Config {
	c := vit.DefaultConfig()
	c.ImageSize, c.PatchSize, c.Channels = 32, 4, 3
	c.Hidden, c.Layers, c.Heads, c.Intermediate = 96, 4, 3, 192
	return c
}

// runTrainImages trains a ViT image classifier: on generated digits (preset
// digits) or on a folder of labelled images (preset images), from scratch or
// fine-tuning a HuggingFace ViT folder.
func runTrainImages(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn train --preset digits|images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	presetName := fs.String("preset", "digits", "digits (a ViT from scratch on generated handwriting-like digits) or images (a folder of labelled images, --data)")
	dataDir := fs.String("data", "", "images: folder of labelled images, <label>/<image> (PNG, JPEG, GIF), or train/ and val/ folders of them")
	modelDir := fs.String("model", "", "images: a HuggingFace ViT or DeiT folder to fine-tune (a new classifier replaces one for other labels); without it, a ViT is trained from scratch")
	probe := fs.Bool("linear-probe", false, "images with --model: train only the classifier, on the frozen model's features (computed once per image)")
	augment := fs.Bool("augment", false, "images: vary each training image every time (a random crop of 8-100% of it, resized, mirrored half the time)")
	out := fs.String("out", "", "run folder: checkpoint, metrics.jsonl, loss plots (default runs/digits, or runs/<name of the --data folder>, -ft or -probe added when fine-tuning)")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	digits := fs.Int("digits", 22000, "digits: images to generate (a tenth of them for validation)")
	cfg := digitsModel()
	fs.IntVar(&cfg.ImageSize, "image-size", cfg.ImageSize, "from scratch: image side in pixels")
	fs.IntVar(&cfg.PatchSize, "patch", cfg.PatchSize, "from scratch: patch side in pixels")
	fs.IntVar(&cfg.Hidden, "d-model", cfg.Hidden, "from scratch: model width")
	fs.IntVar(&cfg.Layers, "layers", cfg.Layers, "from scratch: encoder layers")
	fs.IntVar(&cfg.Heads, "heads", cfg.Heads, "from scratch: attention heads")
	jc := imageJobConfig{ImageData: train.ImageData{Batch: 64, Smoothing: 0.1, Seed: 1}}
	fs.IntVar(&jc.Batch, "batch", jc.Batch, "images per step")
	rc := train.RunConfig{Steps: 4000, Accum: 1, Schedule: "cosine", PeakLR: 2e-3, MinLR: 2e-5, Warmup: 200,
		WeightDecay: 0.05, Beta2: 0.99, Eps: 1e-8, ClipNorm: 1, EvalEvery: 250, SaveEvery: 250, Seed: 1, TimeLimit: 300}
	fs.IntVar(&rc.Steps, "steps", rc.Steps, "optimizer steps (with --time-limit 0)")
	fs.Float64Var(&rc.PeakLR, "lr", rc.PeakLR, "peak learning rate (AdamW, warm-up then cosine decay)")
	limit := fs.Duration("time-limit", time.Duration(rc.TimeLimit)*time.Second, "fit the run to this much wall clock (0: use --steps)")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := setFlags(fs)
	rc.TimeLimit = limit.Seconds()
	if set["steps"] && !set["time-limit"] {
		rc.TimeLimit = 0
	}
	cfg.Intermediate = 2 * cfg.Hidden
	tensor.SetWorkers(*workers)
	switch *presetName {
	case "digits":
		if *dataDir != "" || *modelDir != "" {
			return errors.New("--data and --model belong to --preset images")
		}
		jc.Digits = *digits
	case "images":
		if *dataDir == "" && *resume == "" {
			return errors.New("--preset images needs --data DIR (a folder of <label>/<image> files)")
		}
		jc.Folder = *dataDir
		if *probe && *modelDir == "" && *resume == "" {
			return errors.New("--linear-probe needs --model (a trained model whose features to use)")
		}
		jc.Probe, jc.Augment = *probe, *augment
		if !set["image-size"] {
			cfg.ImageSize = 64
		}
		if !set["patch"] {
			cfg.PatchSize = 8
		}
	default:
		return fmt.Errorf("unknown preset %q", *presetName)
	}
	if *out == "" {
		*out = filepath.Join("runs", *presetName)
		if *presetName == "images" && *dataDir != "" {
			// runs/<folder>, -ft or -probe added for a model fine-tuned, so
			// that runs on one folder do not share a run folder.
			name := filepath.Base(filepath.Clean(*dataDir))
			switch {
			case *probe:
				name += "-probe"
			case *modelDir != "":
				name += "-ft"
			}
			*out = filepath.Join("runs", name)
		}
	}
	if *resume == "" {
		if err := train.NewRunFolder(*out); err != nil {
			return err
		}
	}

	var (
		m    *vit.Model
		proc vit.Processor
		ckpt string
		err  error
	)
	if *resume != "" {
		// The run continues as it was saved: settings of the data and the
		// model would change it.
		for _, name := range []string{"data", "model", "digits", "linear-probe", "augment", "batch", "image-size", "patch", "d-model", "layers", "heads", "steps", "lr", "time-limit", "out"} {
			if set[name] {
				return fmt.Errorf("--%s cannot change a run being resumed (%s continues with its saved settings)", name, *resume)
			}
		}
		if ckpt, err = train.CheckpointDir(*resume); err != nil {
			return err
		}
		st, err := train.ReadState(ckpt)
		if err != nil {
			return err
		}
		jc = imageJobConfig{} // the saved settings only, not the flags' defaults
		if err := json.Unmarshal(st.Job, &jc); err != nil {
			return fmt.Errorf("%s: job settings: %w", ckpt, err)
		}
		rc = st.Config
		if m, err = vit.Load(ckpt); err != nil {
			return err
		}
		if proc, err = vit.LoadProcessor(ckpt, m.Cfg); err != nil {
			return err
		}
		*out = *resume
	}

	var trainIms, valIms []data.Image
	var labels []string
	if jc.Folder != "" {
		if trainIms, valIms, labels, err = data.ImageFolder(jc.Folder); err != nil {
			return err
		}
	} else {
		if jc.Digits < 20 {
			return fmt.Errorf("--digits %d: want at least 20", jc.Digits)
		}
		t0, size := time.Now(), cfg.ImageSize
		if m != nil {
			size = m.Cfg.ImageSize
		}
		all := data.Digits(jc.Digits, size, jc.Seed)
		nVal := jc.Digits / 10
		trainIms, valIms, labels = all[nVal:], all[:nVal], data.DigitLabels
		fmt.Fprintf(stdout, "drew %d digits of %d×%d pixels in %s\n", jc.Digits, size, size, time.Since(t0).Round(time.Millisecond))
	}

	switch {
	case m != nil: // resumed
		if m.Labels() != len(labels) {
			return fmt.Errorf("%s has %d labels; the data has %d", ckpt, m.Labels(), len(labels))
		}
	case *modelDir != "":
		if m, proc, err = loadForFineTuning(*modelDir, labels, rc.Seed, stdout); err != nil {
			return err
		}
	default:
		cfg.Labels = hf.LabelsOf(labels)
		if m, err = vit.New(cfg, vit.Parts{Labels: len(labels)}, rc.Seed); err != nil {
			return err
		}
		proc = vit.DefaultProcessor(cfg)
	}

	job := &train.ImageJob{Data: jc.ImageData, Model: m, Processor: proc, Train: trainIms, Val: valIms}
	if err := job.Check(); err != nil {
		return err
	}
	run := &train.Run{Cfg: rc, Job: job, JobConfig: jc, Out: *out,
		Progress: &train.Progress{W: stdout, TTY: train.IsTerminal(stdout), Total: rc.Steps, Unit: "img"}}
	c := m.Cfg
	if ckpt != "" {
		if err := run.Resume(ckpt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resuming %s at step %d of %d\n", *out, run.Step(), run.Cfg.Steps)
	} else {
		what := "training ViT"
		if jc.Probe {
			what = fmt.Sprintf("training a classifier (%d parameters; the model's features computed once per image, on the first step and evaluation) on a frozen ViT", nn.Count(job.Params()))
		}
		fmt.Fprintf(stdout, "%s (%d layers, %d heads, width %d, %d×%d images in %d×%d patches; %.2fM parameters) on %d images of %d labels (%d for validation), %d images per step on %d cores\n",
			what, c.Layers, c.Heads, c.Hidden, c.ImageSize, c.ImageSize, c.PatchSize, c.PatchSize, float64(nn.Count(m.Params()))/1e6,
			len(trainIms), len(labels), len(valIms), jc.Batch, tensor.Workers())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	ev, err := run.Run(ctx)
	if err != nil {
		return err
	}
	if ev == nil && ctx.Err() == nil { // no step was left to train, so nothing was evaluated
		fmt.Fprintf(stdout, "nothing left to train in %s: step %d of %d\n", *out, run.Step(), run.Cfg.Steps)
		return nil
	}
	reportDone(stdout, start, run.Step(), ev, *out, [2]string{"validation loss", "val_loss"}, [2]string{"accuracy", "val_accuracy"})
	if jc.Folder == "" && ctx.Err() == nil {
		return writeExamples(filepath.Join(*out, "examples"), valIms[:min(10, len(valIms))], stdout)
	}
	return nil
}

// loadForFineTuning loads a ViT or DeiT folder to train on labels: a
// classifier for exactly these labels is kept (a distilled DeiT's two heads
// too), any other (or none) is replaced by a new one on the class token,
// drawn as HF initialises it; the pooler, which classification does not
// use, is dropped.
func loadForFineTuning(dir string, labels []string, seed uint64, stdout io.Writer) (*vit.Model, vit.Processor, error) {
	m, proc, err := loadViTModel(dir, "train")
	if err != nil {
		return nil, vit.Processor{}, err
	}
	m.Pooler = nil
	same := m.Labels() == len(labels)
	for i, l := range labels {
		same = same && m.Cfg.Label(i) == l
	}
	if !same {
		if m.HasClassifier() {
			fmt.Fprintf(stdout, "replacing the classifier of %d labels with a new one for the data's %d\n", m.Labels(), len(labels))
		}
		m.ReplaceClassifier(labels, seed)
	}
	// Loaded weights have no gradient buffers yet; every one is trained.
	for _, p := range m.Params() {
		if !p.RequiresGrad() {
			return nil, vit.Processor{}, fmt.Errorf("%s: parameter %s is not trainable", dir, p.Name)
		}
	}
	return m, proc, nil
}

// writeExamples saves a few validation digits as PNG files named after
// their label, to try `attn classify` on.
func writeExamples(dir string, ims []data.Image, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var names []string
	for i, im := range ims {
		name := filepath.Join(dir, fmt.Sprintf("%d-%s.png", i, data.DigitLabels[im.Label]))
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		err = png.Encode(f, im.Img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		names = append(names, filepath.Base(name))
	}
	slices.Sort(names)
	fmt.Fprintf(stdout, "wrote %d validation digits to %s (%s, …) to try attn classify on\n", len(names), dir, names[0])
	return nil
}
