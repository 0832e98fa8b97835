package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

// llamaRecipe is how attn train fine-tunes a Llama-family model: AdamW at a
// small learning rate with a short warm-up, windows of 256 tokens (or the
// model's context, if shorter), 4 a step.
func llamaRecipe() lmPreset {
	t := train.RunConfig{Accum: 1, Schedule: "cosine", Optimizer: "adamw", WeightDecay: 0.1, Beta2: 0.99, Eps: 1e-8, ClipNorm: 1, Seed: 1337,
		Steps: 200, PeakLR: 1e-4, MinLR: 1e-5, Warmup: 20, EvalEvery: 50, SaveEvery: 50}
	return lmPreset{Data: train.LMData{Context: 256, Batch: 4, EvalBatches: 10, Seed: 1337}, Train: t}
}

// runTrainLlama fine-tunes a Llama-family folder (llama and llamaLike's
// types) on a text (attn train --model DIR --data FILE), or resumes such a
// run.
func runTrainLlama(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn train --model LLAMA-FOLDER --data FILE", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("model", "", "the Llama-family folder (model_type "+llamaTypes()+") to fine-tune")
	dataFile := fs.String("data", "", "fine-tune on this UTF-8 text file (.gz read as well; its last 10% is the validation text) instead of Tiny Shakespeare")
	out := fs.String("out", "", "run folder: checkpoint, metrics.jsonl, loss plots (default runs/<name of the --data file>-ft)")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	sampleLen := fs.Int("sample", 100, "tokens to generate at the end")
	p := llamaRecipe()
	apply := bindLMFlags(fs, &p)
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	apply()
	set := setFlags(fs)
	for _, name := range []string{"layers", "heads", "d-model", "positions", "dropout", "muon-lr", "muon-weight-decay"} {
		if set[name] {
			return fmt.Errorf("--%s: a Llama fine-tunes with its own shape, no dropout and AdamW", name)
		}
	}
	if p.Train.Optimizer != "adamw" {
		return fmt.Errorf("--optimizer %s: a Llama fine-tunes with adamw", p.Train.Optimizer)
	}
	if set["lr"] && !set["min-lr"] { // decay to a tenth of the rate given, as the GPT recipe does
		p.Train.MinLR = p.Train.PeakLR / 10
	}
	var ckpt string
	var m *llama.Model
	var tok tokenizer.Tokenizer
	var err error
	switch {
	case *resume != "" && (*from != "" || *out != ""):
		return errors.New("--model and --out cannot change a run being resumed")
	case *resume != "":
		for name := range set { // the run's own settings, from its checkpoint
			if name != "resume" && name != "steps" && name != "workers" && name != "sample" && name != "data" {
				return fmt.Errorf("--%s cannot change a run being resumed (only --steps can)", name)
			}
		}
		if ckpt, err = train.CheckpointDir(*resume); err != nil {
			return err
		}
		steps := p.Train.Steps
		if p.Data, p.Train, err = train.ReadLMData(ckpt); err != nil {
			return err
		}
		if set["steps"] {
			p.Train.Steps = steps
		}
		if m, tok, err = loadLlama(ckpt); err != nil {
			return err
		}
		*out = *resume
	case *from == "":
		return errors.New("usage: attn train --model LLAMA-FOLDER --data FILE")
	default:
		dir, _, err := modelOfType(*from, "train", "llama")
		if err != nil {
			return err
		}
		if m, tok, err = loadLlama(dir); err != nil {
			return err
		}
		if !set["context"] {
			p.Data.Context = min(p.Data.Context, m.Window())
		}
		*from = dir
	}
	if p.Data.Context > m.Window() {
		return fmt.Errorf("--context %d exceeds the model's window of %d positions (max_position_embeddings)", p.Data.Context, m.Window())
	}
	tensor.SetWorkers(*workers)
	if ckpt == "" {
		p.Data.Text, p.Data.TextSHA256 = "", ""
	}
	text, name, err := lmText(*dataFile, &p.Data, ckpt != "")
	if err != nil {
		return err
	}
	if *out == "" {
		*out = runFolder("llama", *dataFile, true)
	}
	if ckpt == "" {
		if err := notOverwriting(*out, *from); err != nil {
			return err
		}
		if err := train.NewRunFolder(*out); err != nil {
			return err
		}
	}
	enc, err := tok.Encode(text)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := checkLossless(tok, text, enc.IDs); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	trainIDs, valIDs := data.Split(enc.IDs, 0.9)
	// The checkpoint keeps the model's own tokenizer.json byte for byte (or,
	// from vocab.json and merges.txt, ours), and its tokenizer_config.json
	// (the chat template), special_tokens_map.json and
	// generation_config.json, as they are.
	src := cmp.Or(ckpt, *from)
	tokJSON, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	if errors.Is(err, iofs.ErrNotExist) {
		tokJSON, err = json.Marshal(tok)
	}
	if err != nil {
		return err
	}
	extra := map[string][]byte{}
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json", "generation_config.json"} {
		if b, err := os.ReadFile(filepath.Join(src, name)); err == nil {
			extra[name] = b
		}
	}
	job := &train.LMJob{Data: p.Data, Model: m, Train: trainIDs, Val: valIDs, Tokenizer: tokJSON,
		Save: func(dir string) error {
			if err := llama.Save(dir, m); err != nil {
				return err
			}
			return writeFiles(dir, extra)
		}}
	if err := job.Check(); err != nil {
		return err
	}
	run := &train.Run{Cfg: p.Train, Job: job, JobConfig: p.Data, Out: *out,
		Progress: &train.Progress{W: stdout, TTY: train.IsTerminal(stdout), Total: p.Train.Steps}}
	if ckpt != "" {
		if err := run.Resume(ckpt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resuming %s at step %d of %d\n", *out, run.Step(), p.Train.Steps)
	} else {
		fmt.Fprintf(stdout, "fine-tuning %s (%s: %d layers, %d heads over %d key/value heads, width %d; %.2fM parameters) with adamw at lr %.2g, context %d, on %s (%d training, %d validation tokens), %d×%d tokens per step on %d cores\n",
			*from, m.Cfg.Type, m.Cfg.Layers, m.Cfg.Heads, cmp.Or(m.Cfg.KVHeads, m.Cfg.Heads), m.Cfg.Hidden, float64(nn.Count(m.Params()))/1e6,
			p.Train.PeakLR, p.Data.Context, name, len(trainIDs), len(valIDs), p.Data.Batch*p.Train.Accum, p.Data.Context, tensor.Workers())
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
	prompt := valIDs[:min(8, len(valIDs))]
	s := &generate.Sampler{Temperature: 0.8, TopK: 200, Vocab: tok.VocabSize(), RNG: tensor.NewRNG(p.Train.Seed)}
	head, _ := tok.Decode(prompt)
	fmt.Fprint(stdout, head)
	_, _, rest, err := sampleText(continuing(m, tok, prompt), nil, m.EndsText, func(t string) { fmt.Fprint(stdout, t) }, func(each func(int) bool) ([]int, error) {
		return generate.Text(m, prompt, *sampleLen, s, each)
	})
	fmt.Fprintln(stdout, rest)
	return err
}
