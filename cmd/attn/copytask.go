package main

import (
	"context"
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

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/train"
)

// runTrainCopy trains the encoder-decoder on the copy or reverse task.
func runTrainCopy(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn train --preset copy|reverse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := train.DefaultCopyTask()
	preset := fs.String("preset", "copy", "copy or reverse (random sequences of symbols)")
	out := fs.String("out", "", "directory for the trained model (default runs/<preset>)")
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimizer steps")
	fs.IntVar(&c.Batch, "batch", c.Batch, "sequences per batch")
	fs.Float64Var(&c.PeakLR, "lr", c.PeakLR, "peak learning rate (linear warm-up, then cosine decay)")
	fs.IntVar(&c.Warmup, "warmup", c.Warmup, "warm-up steps")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed (weights, data, dropout)")
	fs.IntVar(&c.Model.DModel, "d-model", c.Model.DModel, "model width")
	fs.IntVar(&c.Model.Heads, "heads", c.Model.Heads, "attention heads")
	fs.IntVar(&c.Model.EncoderLayers, "layers", c.Model.EncoderLayers, "encoder and decoder layers")
	fs.IntVar(&c.Model.DFF, "d-ff", c.Model.DFF, "feed-forward width")
	dropout := fs.Float64("dropout", float64(c.Model.Dropout), "dropout probability")
	fs.IntVar(&c.Task.Len, "len", c.Task.Len, "sequence length")
	fs.IntVar(&c.Task.Symbols, "symbols", c.Task.Symbols, "number of distinct symbols")
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch *preset {
	case "copy":
	case "reverse":
		c.Task.Reverse = true
	default:
		return fmt.Errorf("unknown preset %q (want copy or reverse)", *preset)
	}
	if c.Steps <= 0 || c.Batch <= 0 || c.Task.Len <= 0 || c.Task.Symbols <= 0 {
		return errors.New("--steps, --batch, --len and --symbols must be positive")
	}
	c.Model.DecoderLayers = c.Model.EncoderLayers
	c.Model.Dropout = float32(*dropout)
	c.Model.MaxLen = max(c.Model.MaxLen, c.Task.Len+2)
	tensor.SetWorkers(*workers)
	if *out == "" {
		*out = filepath.Join("runs", *preset)
	}
	c.Log, c.LogEvery = stdout, max(1, c.Steps/10)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "training a Transformer (d_model %d, %d heads, %d+%d layers) to %s sequences of %d symbols, %d steps on %d cores\n",
		c.Model.DModel, c.Model.Heads, c.Model.EncoderLayers, c.Model.DecoderLayers, *preset, c.Task.Len, c.Steps, tensor.Workers())
	start := time.Now()
	m, err := train.TrainCopyTask(ctx, c)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "interrupted: saving the model as it is")
	}
	fmt.Fprintf(stdout, "trained in %s\n", time.Since(start).Round(time.Second))
	acc, err := train.CopyTaskAccuracy(m, c.Task, 500, c.Seed+100)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exact-sequence accuracy on 500 new sequences (greedy decoding): %.1f%%\n", 100*acc)
	srcs, _ := c.Task.Samples(tensor.NewRNG(c.Seed+200), 3)
	outs, err := m.Greedy(srcs, data.BOS, data.EOS, data.Pad, c.Task.Len+5)
	if err != nil {
		return err
	}
	for i := range srcs {
		fmt.Fprintf(stdout, "  %s  ->  %s\n", symbols(srcs[i]), symbols(outs[i]))
	}
	if err := transformer.Save(*out, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %s (config.json, model.safetensors)\n", *out)
	return nil
}

// symbols prints task ids as letters, so examples read like words.
func symbols(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		if id >= data.First && id < data.First+26 {
			sb.WriteByte(byte('a' + id - data.First))
		} else {
			fmt.Fprintf(&sb, "<%d>", id)
		}
	}
	return sb.String()
}
