package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model"
	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

// runTrain dispatches on --preset: the GPT presets train a language model,
// multi30k-de-en, copy and reverse the encoder-decoder, digits and images a
// ViT image classifier. Without --preset, a folder of images as --data or a
// ViT as --model means images, and sentence pairs (--src) translation; a run
// resumed continues as what its checkpoint holds.
func runTrain(args []string, stdout, stderr io.Writer) error {
	preset, ok := flagValue(args, "preset")
	if !ok {
		preset = "shakespeare-char"
		dir, _ := flagValue(args, "data")
		st, err := os.Stat(dir)
		isDir := err == nil && st.IsDir()
		typ := ""
		if m, ok := flagValue(args, "model"); ok {
			if d, err := modelDir(m); err == nil {
				typ, _ = model.Type(d)
			}
			if typ == transformer.ModelType {
				return fmt.Errorf("%s is a translation model: attn train --model fine-tunes GPT, Llama, BERT, T5 and ViT models (attn train --resume continues the run that made it)", m)
			}
		}
		_, src := flagValue(args, "src")
		if r, ok := flagValue(args, "resume"); ok {
			if ckpt, err := train.CheckpointDir(r); err == nil {
				typ, _ = model.Type(ckpt)
				src = src || typ == "t5" || typ == "mt5" // a T5 is trained on pairs
			}
		}
		switch {
		case isDir || typ == "vit" || typ == "deit":
			preset, args = "images", append([]string{"--preset", "images"}, args...)
		case src || typ == transformer.ModelType || typ == "t5" || typ == "mt5":
			preset = "multi30k-de-en"
		case family(typ) == "bert":
			return runTrainText(args, stdout, stderr)
		case family(typ) == "llama":
			return runTrainLlama(args, stdout, stderr)
		}
	}
	switch preset {
	case "classify":
		return runTrainText(args, stdout, stderr)
	case "copy", "reverse":
		return runTrainCopy(args, stdout, stderr)
	case "multi30k-de-en":
		return runTrainTranslation(args, stdout, stderr)
	case "digits", "images":
		return runTrainImages(args, stdout, stderr)
	}
	return runTrainLM(args, stdout, stderr)
}

// lmPreset is a GPT model and its training recipe.
type lmPreset struct {
	Model gpt.Config      `json:"model"`
	Data  train.LMData    `json:"data"`
	Train train.RunConfig `json:"train"`
}

// lmPresets are the named recipes. shakespeare-char is fitted to ten
// minutes of training; baby-gpt is nanoGPT's CPU "baby GPT" (for benchmarks
// side by side).
func lmPresets() map[string]lmPreset {
	optim := train.RunConfig{Accum: 1, Schedule: "cosine", WeightDecay: 0.1, Beta2: 0.99, Eps: 1e-8, ClipNorm: 1, Seed: 1337}
	shakespeare := optim
	shakespeare.Steps, shakespeare.PeakLR, shakespeare.MinLR, shakespeare.Warmup = 3000, 2e-3, 0, 100
	shakespeare.EvalEvery, shakespeare.SaveEvery, shakespeare.TimeLimit = 500, 500, 600
	shakespeare.Optimizer, shakespeare.MuonLR, shakespeare.MuonWeightDecay = "muon", 0.02, 0.1
	baby := optim
	baby.Steps, baby.PeakLR, baby.MinLR, baby.Warmup, baby.EvalEvery, baby.SaveEvery = 2000, 1e-3, 1e-4, 100, 250, 1000
	return map[string]lmPreset{
		"shakespeare-char": {
			// Sized for ten minutes on two cores (validation loss,
			// BENCHMARKS.md). Muon trains the blocks' matrices: with AdamW
			// the best was width 128 (1.522 in 4,882 steps, steps counting
			// more than parameters); Muon takes fewer steps to the same
			// loss, so width 192 wins (1.467–1.475 in about 2,150 steps)
			// and 256 is too slow per step. Dropout hurts at every setting
			// tried (0.1: 1.63 against 1.49); Muon's weight decay 0.1 helps
			// (1.482 against 1.493 at width 128), and so does decaying the
			// learning rate to 0 (1.455).
			Model: gpt.Config{NPositions: 128, NEmbd: 192, NLayer: 4, NHead: 6, Dropout: 0, Eps: 1e-5},
			Data:  train.LMData{Context: 128, Batch: 16, EvalBatches: 20, Seed: 1337},
			Train: shakespeare,
		},
		"baby-gpt": {
			Model: gpt.Config{NPositions: 64, NEmbd: 128, NLayer: 4, NHead: 4, Dropout: 0, Eps: 1e-5},
			Data:  train.LMData{Context: 64, Batch: 12, EvalBatches: 20, Seed: 1337},
			Train: baby,
		},
	}
}

// bindLMFlags registers the flags that override a preset. Flags for float32
// fields go through float64 values; the returned func stores them after
// parsing.
func bindLMFlags(fs *flag.FlagSet, p *lmPreset) (apply func()) {
	t, m, d := &p.Train, &p.Model, &p.Data
	fs.IntVar(&t.Steps, "steps", t.Steps, "optimizer steps (turns off the preset's time limit unless --time-limit is given)")
	fs.Func("time-limit", "fit the number of steps to this much wall clock, e.g. 10m (0: off; shakespeare-char: 10m)", func(v string) error {
		dur, err := time.ParseDuration(v)
		if err != nil || dur < 0 {
			return fmt.Errorf("--time-limit %q: want a duration such as 10m or 90s", v)
		}
		t.TimeLimit = dur.Seconds()
		return nil
	})
	fs.IntVar(&d.Batch, "batch", d.Batch, "sequences per micro-batch")
	fs.IntVar(&t.Accum, "accum", t.Accum, "micro-batches per step (gradient accumulation)")
	fs.IntVar(&d.Context, "context", d.Context, "tokens per training sequence (at most the model's n_positions)")
	fs.Float64Var(&t.PeakLR, "lr", t.PeakLR, "peak learning rate (linear warm-up, then cosine decay)")
	fs.Float64Var(&t.MinLR, "min-lr", t.MinLR, "final learning rate")
	fs.IntVar(&t.Warmup, "warmup", t.Warmup, "warm-up steps")
	wd := fs.Float64("weight-decay", float64(t.WeightDecay), "AdamW weight decay on matrices")
	clip := fs.Float64("clip", float64(t.ClipNorm), "gradient clipping by global norm (0: off)")
	fs.StringVar(&t.Optimizer, "optimizer", t.Optimizer, "adamw, or muon: Muon for the blocks' weight matrices, AdamW for the rest")
	fs.Float64Var(&t.MuonLR, "muon-lr", t.MuonLR, "muon: peak learning rate of the Muon matrices (the schedule's shape)")
	muonWD := fs.Float64("muon-weight-decay", float64(t.MuonWeightDecay), "muon: decoupled weight decay of the Muon matrices")
	fs.IntVar(&t.EvalEvery, "eval-every", t.EvalEvery, "steps between validation runs")
	fs.IntVar(&d.EvalBatches, "eval-batches", d.EvalBatches, "batches per validation run")
	fs.IntVar(&t.SaveEvery, "save-every", t.SaveEvery, "steps between checkpoints")
	seed := fs.Uint64("seed", t.Seed, "random seed (weights, data order, dropout)")
	fs.IntVar(&m.NLayer, "layers", m.NLayer, "transformer blocks")
	fs.IntVar(&m.NHead, "heads", m.NHead, "attention heads")
	fs.IntVar(&m.NEmbd, "d-model", m.NEmbd, "model width")
	fs.IntVar(&m.NPositions, "positions", m.NPositions, "context window of the model")
	dropout := fs.Float64("dropout", float64(m.Dropout), "dropout probability")
	return func() {
		t.WeightDecay, t.ClipNorm, m.Dropout = float32(*wd), float32(*clip), float32(*dropout)
		t.MuonWeightDecay = float32(*muonWD)
		t.Seed, d.Seed = *seed, *seed
	}
}

func runTrainLM(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	presetName := fs.String("preset", "shakespeare-char", "what to train: shakespeare-char, baby-gpt (GPT on the embedded Tiny Shakespeare, or on --data), multi30k-de-en (translation), copy or reverse (encoder-decoder on synthetic tasks), digits or images (ViT image classifier; attn train --preset digits -h), classify (BERT text classifier; attn train --preset classify -h)")
	out := fs.String("out", "", "run folder: checkpoint, metrics.jsonl, loss plots (default runs/<preset>, or runs/<name of the --data file>; -ft added when fine-tuning)")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	configFile := fs.String("config", "", `JSON file of settings: {"model": {GPT-2 config.json names}, "data": {...}, "train": {...}} (see trainer_state.json of a run); flags override it`)
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	sampleLen := fs.Int("sample", 400, "tokens to generate at the end (characters, with a character tokenizer)")
	dataFile := fs.String("data", "", "train on this UTF-8 text file (.gz read as well) instead of Tiny Shakespeare (its last 10% is the validation text)")
	from := fs.String("model", "", "fine-tune this GPT model folder (a GPT-2 folder with its tokenizer, or an attn run; a Llama-family folder has its own recipe: attn train --model LLAMA -h) instead of training from scratch, with AdamW at --lr 1e-4 decaying to a tenth (a model of a few million parameters takes 1e-3)")
	bpe := fs.Int("bpe", 0, "from scratch: learn a byte-level BPE tokenizer of this many tokens from the text (0: one token per character)")
	// First pass: find the preset and config file; the second pass applies
	// flags on top of them. The first pass's defaults are the default
	// preset's, which -h shows.
	scratch := lmPresets()["shakespeare-char"]
	bindLMFlags(fs, &scratch)
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	p, ok := lmPresets()[*presetName]
	if !ok {
		return fmt.Errorf("unknown preset %q (want shakespeare-char, baby-gpt, multi30k-de-en, copy, reverse, digits, images or classify)", *presetName)
	}
	set := setFlags(fs)
	if *bpe < 0 || *bpe > 0 && *bpe < 257 {
		return fmt.Errorf("--bpe %d: a byte-level BPE needs at least 257 tokens (256 bytes and an end-of-text token)", *bpe)
	}
	var ckpt string
	var model *gpt.Model
	var tok tokenizer.Tokenizer
	if *resume != "" {
		if set["time-limit"] {
			return errors.New("--time-limit fits the steps of a new run; give a resumed run --steps")
		}
		// The checkpoint holds the model, the tokenizer and every setting
		// of the run, which continues bit for bit as it would have: only
		// its length can change (as with the other models' runs). --data
		// names the text it trained on, checked below.
		for name := range set {
			switch name {
			case "resume", "steps", "workers", "sample", "data", "preset":
			default:
				return fmt.Errorf("--%s cannot change a run being resumed (only --steps can)", name)
			}
		}
		var err error
		if ckpt, err = train.CheckpointDir(*resume); err != nil {
			return err
		}
		if p.Data, p.Train, err = train.ReadLMData(ckpt); err != nil {
			return err
		}
		if model, err = gpt.Load(ckpt); err != nil {
			return err
		}
		p.Model = model.Cfg
		*out = *resume
	}
	if *from != "" {
		if *bpe != 0 {
			return errors.New("--bpe learns a tokenizer for a model trained from scratch; a model given with --model keeps its own")
		}
		for _, name := range []string{"layers", "heads", "d-model", "positions"} {
			if set[name] {
				return fmt.Errorf("--%s sets the shape of a new model; the model from --model keeps its own", name)
			}
		}
		var err error
		if model, tok, err = loadLM(*from, "train"); err != nil {
			return err
		}
		p.Model = model.Cfg
		// A recipe for adapting a trained model rather than growing one:
		// AdamW on every weight at a small learning rate, a short warm-up,
		// and the model's own context when it is shorter than the preset's.
		p.Train.Optimizer, p.Train.PeakLR, p.Train.MinLR, p.Train.Warmup = "adamw", 1e-4, 1e-5, 20
		p.Data.Context = min(p.Data.Context, model.Cfg.NPositions)
	}
	if *configFile != "" {
		b, err := os.ReadFile(*configFile)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return fmt.Errorf("%s: %w", *configFile, err)
		}
		var sections struct{ Model json.RawMessage }
		if json.Unmarshal(b, &sections) == nil && len(sections.Model) > 0 && model != nil {
			return fmt.Errorf("%s: a \"model\" section cannot reshape the model from --model", *configFile)
		}
	}
	fs2 := flag.NewFlagSet("attn train", flag.ContinueOnError)
	fs2.SetOutput(io.Discard)
	for _, name := range []string{"preset", "out", "resume", "config", "data", "model"} {
		fs2.String(name, "", "")
	}
	fs2.Int("workers", 0, "")
	fs2.Int("sample", 0, "")
	fs2.Int("bpe", 0, "")
	apply := bindLMFlags(fs2, &p)
	if err := fs2.Parse(args); err != nil {
		return err
	}
	apply()
	if set["steps"] && !set["time-limit"] {
		p.Train.TimeLimit = 0
	}
	if *from != "" && set["lr"] && !set["min-lr"] {
		p.Train.MinLR = p.Train.PeakLR / 10
	}
	if model != nil {
		if set["dropout"] {
			if err := model.SetDropout(p.Model.Dropout); err != nil {
				return err
			}
		}
		p.Model = model.Cfg
	}
	tensor.SetWorkers(*workers)

	if ckpt == "" { // a new run: not the file of the run a --config came from
		p.Data.Text, p.Data.TextSHA256 = "", ""
	}
	text, name, err := lmText(*dataFile, &p.Data, ckpt != "")
	if err != nil {
		return err
	}
	if *out == "" {
		*out = runFolder(*presetName, *dataFile, *from != "")
	}
	if *from != "" {
		if err := notOverwriting(*out, *from); err != nil {
			return err
		}
	}
	if ckpt == "" {
		if err := train.NewRunFolder(*out); err != nil {
			return err
		}
	}
	switch {
	case ckpt != "":
		if tok, err = tokenizer.Open(ckpt); err != nil {
			return err
		}
	case tok != nil: // from --model
	case *bpe > 0:
		start := time.Now()
		tr := &tokenizer.BPETrainer{VocabSize: *bpe, ByteLevel: true, InitialAlphabet: tokenizer.ByteLevelAlphabet(),
			SpecialTokens: []string{"<|endoftext|>"}, Workers: tensor.Workers()}
		if tok, err = tr.Train(strings.NewReader(text)); err != nil {
			return err
		}
		learnt := fmt.Sprintf("%d tokens", tok.VocabSize())
		if tok.VocabSize() < *bpe {
			learnt += fmt.Sprintf(" (of the %d asked for: no pair left to merge)", *bpe)
		}
		fmt.Fprintf(stdout, "learnt a byte-level BPE tokenizer of %s from %s in %s\n", learnt, name, time.Since(start).Round(time.Millisecond))
	default:
		tok = tokenizer.NewChars(text)
	}
	enc, err := tok.Encode(text)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := checkLossless(tok, text, enc.IDs); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	trainIDs, valIDs := data.Split(enc.IDs, 0.9)
	if p.Data.Context > p.Model.NPositions {
		return fmt.Errorf("--context %d exceeds the model's %d positions (n_positions)", p.Data.Context, p.Model.NPositions)
	}
	if model == nil {
		p.Model.VocabSize = tok.VocabSize()
		if model, err = gpt.New(p.Model, p.Train.Seed); err != nil {
			return err
		}
	} else if tok.VocabSize() > model.Cfg.VocabSize {
		return fmt.Errorf("the tokenizer has %d tokens, the model only %d", tok.VocabSize(), model.Cfg.VocabSize)
	}
	// The checkpoint keeps the tokenizer: the model's own tokenizer.json
	// byte for byte where it has one (a fine-tuned model's HuggingFace
	// settings intact, a resumed run's unchanged), otherwise ours.
	tokJSON, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	if tokDir := cmp.Or(ckpt, *from); tokDir != "" {
		if dir, err := modelDir(tokDir); err == nil {
			if b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json")); err == nil {
				tokJSON = b
			}
		}
	}
	job := &train.LMJob{Data: p.Data, Model: model, Train: trainIDs, Val: valIDs,
		Save: func(dir string) error { return gpt.Save(dir, model) }, Tokenizer: tokJSON}
	if err := job.Check(); err != nil {
		return err
	}
	run := &train.Run{Cfg: p.Train, Job: job, JobConfig: p.Data, Out: *out,
		Progress: &train.Progress{W: stdout, TTY: train.IsTerminal(stdout), Total: p.Train.Steps}}
	unit := "tokens"
	if _, ok := tok.(*tokenizer.Chars); ok {
		unit = "characters"
	}
	if ckpt != "" {
		if err := run.Resume(ckpt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resuming %s at step %d of %d\n", *out, run.Step(), p.Train.Steps)
	} else {
		what := fmt.Sprintf("training GPT (%d layers, %d heads, width %d, context %d; %.2fM parameters)",
			p.Model.NLayer, p.Model.NHead, p.Model.NEmbd, p.Data.Context, float64(nn.Count(model.Params()))/1e6)
		if *from != "" {
			what = fmt.Sprintf("fine-tuning %s (%d layers, %d heads, width %d; %.2fM parameters) with %s at lr %.2g, dropout %.2g, context %d,",
				*from, p.Model.NLayer, p.Model.NHead, p.Model.NEmbd, float64(nn.Count(model.Params()))/1e6, p.Train.Optimizer, p.Train.PeakLR, p.Model.Dropout, p.Data.Context)
		}
		fmt.Fprintf(stdout, "%s on %s (%d training, %d validation %s), %d×%d tokens per step on %d cores\n",
			what, name, len(trainIDs), len(valIDs), unit, p.Data.Batch*p.Train.Accum, p.Data.Context, tensor.Workers())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	ev, err := run.Run(ctx)
	if err != nil {
		return err
	}
	reportDone(stdout, start, run.Step(), ev, *out, [2]string{"validation loss", "val_loss"})
	if ctx.Err() != nil || *sampleLen <= 0 {
		return nil
	}
	fmt.Fprintln(stdout, "\nsample (temperature 0.8, top-k 200):")
	prompt, err := encodePrompt(tok, "\n")
	if err != nil || len(prompt) == 0 { // a vocabulary without a newline
		prompt = valIDs[:1]
	}
	s := &generate.Sampler{Temperature: 0.8, TopK: 200, Vocab: tok.VocabSize(), RNG: tensor.NewRNG(p.Train.Seed)}
	emit := func(text string) { fmt.Fprint(stdout, text) }
	_, _, rest, err := sampleText(tok, nil, model.EndsText, emit, func(each func(int) bool) ([]int, error) {
		return generate.Text(model, prompt, *sampleLen, s, each)
	})
	fmt.Fprintln(stdout, rest)
	return err
}

// gunzip returns b uncompressed if it is gzip data (path names it in
// errors), else b itself.
func gunzip(path string, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err == nil {
		b, err = io.ReadAll(zr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// runFolder is a run's default folder: runs/<preset>, or runs/<name of the
// data file>; a fine-tuning run's name ends in -ft, so that it does not
// replace the run it starts from.
func runFolder(preset, dataFile string, fineTune bool) string {
	name := preset
	if dataFile != "" {
		base := filepath.Base(dataFile)
		name = cmp.Or(strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), filepath.Ext(strings.TrimSuffix(base, ".gz"))), base)
	}
	if fineTune {
		name += "-ft"
	}
	return filepath.Join("runs", name)
}

// notOverwriting fails if the run folder out is the model folder from, or
// the run folder around it: the first checkpoint would replace the model
// being fine-tuned.
func notOverwriting(out, from string) error {
	dirs := []string{from}
	if d, err := modelDir(from); err == nil {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		for _, o := range []string{out, filepath.Join(out, "ckpt")} {
			if sameDir(o, d) {
				return fmt.Errorf("--out %s would overwrite the model being fine-tuned (%s): give another --out", out, from)
			}
		}
	}
	return nil
}

// sameDir reports whether a and b name the same folder (either may not
// exist yet).
func sameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

// flagValue returns the value of flag name in args (-name v, --name=v and
// the like; the last one wins), before the flags are parsed.
func flagValue(args []string, name string) (string, bool) {
	v, found := "", false
	for i, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		k, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if k != name {
			continue
		}
		if hasVal {
			v, found = val, true
		} else if i+1 < len(args) {
			v, found = args[i+1], true
		}
	}
	return v, found
}

// lmText returns the text a language model trains on and a name for it: the
// embedded Tiny Shakespeare, or the UTF-8 file at path. The file's absolute
// path and SHA-256 are recorded in d, so that a resumed run rereads its text
// (path empty) and refuses any other.
func lmText(path string, d *train.LMData, resuming bool) (text, name string, err error) {
	if resuming && path != "" && d.Text == "" {
		return "", "", errors.New("--data cannot change a run being resumed: it trained on Tiny Shakespeare")
	}
	if path == "" && d.Text == "" {
		return data.Shakespeare, "Tiny Shakespeare", nil
	}
	if path == "" {
		path = d.Text
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	hash := sha256Hex(b)
	if b, err = gunzip(path, b); err != nil {
		return "", "", err
	}
	if len(b) == 0 {
		return "", "", fmt.Errorf("%s is empty", path)
	}
	if !utf8.Valid(b) {
		return "", "", fmt.Errorf("%s is not UTF-8 text", path)
	}
	if d.TextSHA256 != "" && d.TextSHA256 != hash {
		return "", "", fmt.Errorf("%s differs from the text the run started on (%s, SHA-256 %s…): resuming needs the same text", path, d.Text, d.TextSHA256[:min(12, len(d.TextSHA256))])
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	d.Text, d.TextSHA256 = path, hash
	return string(b), filepath.Base(path), nil
}

// reportDone prints a run's last line: its time, its step and its last
// validation metrics (label, key), or that it stopped before any
// evaluation (interrupted early).
func reportDone(w io.Writer, since time.Time, step int, ev map[string]float64, out string, metrics ...[2]string) {
	what := "stopped before any evaluation"
	if ev != nil {
		var parts []string
		for _, m := range metrics {
			parts = append(parts, fmt.Sprintf("%s %.4f", m[0], ev[m[1]]))
		}
		what = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "done in %s: step %d, %s; run folder %s (ckpt/, metrics.jsonl, loss.png, loss.svg)\n", time.Since(since).Round(time.Second), step, what, out)
}
