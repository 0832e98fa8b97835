package main

import (
	"bufio"
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

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/eval"
	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

// Special tokens of the translation vocabularies we train: their ids are
// 0, 1, 2 in this order.
var mtSpecials = []string{"<pad>", "<s>", "</s>"}

const mtPad, mtBOS, mtEOS = 0, 1, 2

// mtPreset is a translation model and its training recipe.
type mtPreset struct {
	Vocab int                `json:"vocab"` // joint byte-level BPE vocabulary size
	Model transformer.Config `json:"model"`
	Data  train.Seq2SeqData  `json:"data"`
	Train train.RunConfig    `json:"train"`
	Beam  int                `json:"eval_beam"` // beam for the per-epoch validation BLEU
}

// multi30kPreset is the paper's recipe (label smoothing 0.1, Adam 0.9/0.98/
// 1e-9, the warm-up schedule, dropout 0.1, shared and tied embeddings, post-LN)
// on a model sized for two cores, fitted to 60 minutes.
func multi30kPreset() mtPreset {
	m := transformer.DefaultConfig()
	m.DModel, m.Heads, m.EncoderLayers, m.DecoderLayers, m.DFF, m.MaxLen = 256, 4, 3, 3, 1024, 256
	return mtPreset{
		Vocab: 8000,
		Model: m,
		Data:  train.Seq2SeqData{MaxTokens: 4096, Smoothing: 0.1, EvalSentences: 500, Seed: 1},
		Train: train.RunConfig{Steps: 100000, Accum: 1, Schedule: "noam", NoamDModel: 256, PeakLR: 0.3, Warmup: 400,
			Beta2: 0.98, Eps: 1e-9, ClipNorm: 1, Seed: 1, Snapshots: 5, TimeLimit: 3600},
		Beam: 1,
	}
}

// mtModel is a trained translation model with its tokenizer.
type mtModel struct {
	m   *transformer.Model
	tok *tokenizer.Pipeline
}

func loadMT(dir string) (*mtModel, error) {
	dir, err := modelDir(dir)
	if err != nil {
		return nil, err
	}
	m, err := transformer.Load(dir)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Open(dir)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > m.Cfg.SrcVocab {
		return nil, fmt.Errorf("%s: tokenizer has %d tokens, the model %d", dir, tok.VocabSize(), m.Cfg.SrcVocab)
	}
	return &mtModel{m: m, tok: tok}, nil
}

func (mt *mtModel) save(dir string) error {
	if err := transformer.Save(dir, mt.m); err != nil {
		return err
	}
	return mt.tok.Save(filepath.Join(dir, "tokenizer.json"))
}

// encode tokenizes sentences (no special tokens), cutting each to fit the
// model's positions.
func (mt *mtModel) encode(lines []string) ([][]int, error) {
	encs, err := mt.tok.EncodeBatch(lines, false)
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(encs))
	limit := mt.m.Cfg.MaxLen - 2
	for i, e := range encs {
		out[i] = e.IDs[:min(len(e.IDs), limit)]
	}
	return out, nil
}

// translate decodes token sequences, batch of them together, with beam
// search and GNMT's length penalty (exponent alpha), and returns the text.
func (mt *mtModel) translate(srcs [][]int, beam int, alpha float64, batch int) ([]string, error) {
	hs, err := generate.Translate(mt.m, srcs, mtPad, batch, generate.BeamOpts{Beam: beam, Alpha: alpha, BOS: mtBOS, EOS: mtEOS})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		s, err := mt.tok.DecodeWith(h.Tokens, true)
		if err != nil {
			return nil, err
		}
		out[i] = strings.TrimSpace(s)
	}
	return out, nil
}

// translateLines translates sentences (see translate).
func (mt *mtModel) translateLines(lines []string, beam int, alpha float64, batch int) ([]string, error) {
	srcs, err := mt.encode(lines)
	if err != nil {
		return nil, err
	}
	return mt.translate(srcs, beam, alpha, batch)
}

func bleuOf(hyps, refs []string) (float64, error) {
	s, err := eval.BLEU(hyps, [][]string{refs})
	return s.BLEU, err
}

// runTrainTranslation trains the Multi30k German→English model.
func runTrainTranslation(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn train --preset multi30k-de-en", flag.ContinueOnError)
	fs.SetOutput(stderr)
	p := multi30kPreset()
	fs.String("preset", "multi30k-de-en", "multi30k-de-en")
	out := fs.String("out", filepath.Join("runs", "multi30k-de-en"), "run folder")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	limit := fs.Duration("time-limit", time.Duration(p.Train.TimeLimit)*time.Second, "fit the run to this much wall clock (0: use --steps)")
	fs.IntVar(&p.Train.Steps, "steps", p.Train.Steps, "optimizer steps (with --time-limit 0)")
	fs.IntVar(&p.Data.MaxTokens, "max-tokens", p.Data.MaxTokens, "source (and target) tokens per batch")
	fs.IntVar(&p.Vocab, "vocab", p.Vocab, "joint BPE vocabulary size")
	fs.IntVar(&p.Model.DModel, "d-model", p.Model.DModel, "model width")
	fs.IntVar(&p.Model.Heads, "heads", p.Model.Heads, "attention heads")
	layers := fs.Int("layers", p.Model.EncoderLayers, "encoder and decoder layers")
	fs.IntVar(&p.Model.DFF, "d-ff", p.Model.DFF, "feed-forward width")
	fs.IntVar(&p.Train.Warmup, "warmup", p.Train.Warmup, "warm-up steps of the paper's schedule")
	fs.Float64Var(&p.Train.PeakLR, "lr-factor", p.Train.PeakLR, "factor of the paper's schedule")
	fs.IntVar(&p.Data.EvalSentences, "eval-sentences", p.Data.EvalSentences, "validation sentences translated for BLEU each epoch (0: all)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	p.Model.DecoderLayers, p.Model.EncoderLayers = *layers, *layers
	p.Train.NoamDModel = p.Model.DModel
	p.Train.TimeLimit = limit.Seconds()
	tensor.SetWorkers(*workers)

	trainDE, trainEN, err := data.Multi30kSplit("train")
	if err != nil {
		return err
	}
	valDE, valEN, err := data.Multi30kSplit("val")
	if err != nil {
		return err
	}
	testDE, testEN, err := data.Multi30kSplit("test_2016_flickr")
	if err != nil {
		return err
	}
	var mt *mtModel
	var ckpt string
	if *resume != "" {
		if ckpt, err = train.CheckpointDir(*resume); err != nil {
			return err
		}
		if mt, err = loadMT(ckpt); err != nil {
			return err
		}
		st, err := train.ReadState(ckpt)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(st.Job, &p.Data); err != nil {
			return fmt.Errorf("%s: job settings: %w", ckpt, err)
		}
		p.Train, p.Model = st.Config, mt.m.Cfg
		*out = *resume
	} else {
		start := time.Now()
		trainer := &tokenizer.BPETrainer{VocabSize: p.Vocab, MinFrequency: 2, SpecialTokens: mtSpecials,
			InitialAlphabet: tokenizer.ByteLevelAlphabet(), ByteLevel: true}
		corpus := strings.Join(trainDE, "\n") + "\n" + strings.Join(trainEN, "\n") + "\n"
		tok, err := trainer.Train(strings.NewReader(corpus))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "trained a joint byte-level BPE vocabulary of %d tokens on the training text in %s\n", tok.VocabSize(), time.Since(start).Round(time.Millisecond))
		p.Model.SrcVocab, p.Model.TgtVocab = tok.VocabSize(), tok.VocabSize()
		m, err := transformer.New(p.Model, p.Train.Seed)
		if err != nil {
			return err
		}
		mt = &mtModel{m: m, tok: tok}
	}
	pairs := func(src, tgt []string) ([]data.Pair, error) {
		s, err := mt.encode(src)
		if err != nil {
			return nil, err
		}
		t, err := mt.encode(tgt)
		if err != nil {
			return nil, err
		}
		ps := make([]data.Pair, len(s))
		for i := range s {
			ps[i] = data.Pair{Src: s[i], Tgt: t[i]}
		}
		return ps, nil
	}
	trainPairs, err := pairs(trainDE, trainEN)
	if err != nil {
		return err
	}
	valPairs, err := pairs(valDE, valEN)
	if err != nil {
		return err
	}
	job := &train.Seq2SeqJob{
		Data: p.Data, Model: mt.m, Train: trainPairs, Val: valPairs, ValRefs: valEN,
		Pad: mtPad, BOS: mtBOS, EOS: mtEOS, Save: mt.save, BLEU: bleuOf,
		Translate: func(srcs [][]int) ([]string, error) { return mt.translate(srcs, p.Beam, 0.6, 32) },
	}
	p.Train.EvalEvery, p.Train.SaveEvery = job.StepsPerEpoch(), job.StepsPerEpoch()
	run := &train.Run{Cfg: p.Train, Job: job, JobConfig: p.Data, Out: *out,
		Progress: &train.Progress{W: stdout, TTY: train.IsTerminal(stdout), Total: p.Train.Steps}}
	if ckpt != "" {
		if err := run.Resume(ckpt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resuming %s at step %d\n", *out, run.Step())
	} else {
		fmt.Fprintf(stdout, "training a Transformer (d_model %d, %d heads, %d+%d layers, d_ff %d; %.1fM parameters) on Multi30k de→en: %d pairs, %d batches of ≤%d tokens per epoch, on %d cores\n",
			p.Model.DModel, p.Model.Heads, p.Model.EncoderLayers, p.Model.DecoderLayers, p.Model.DFF,
			float64(nn.Count(mt.m.Params()))/1e6, len(trainPairs), job.StepsPerEpoch(), p.Data.MaxTokens, tensor.Workers())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	ev, err := run.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %s: step %d (epoch %d), validation loss %.4f, validation BLEU %.2f (beam %d)\n",
		time.Since(start).Round(time.Second), run.Step(), job.Epoch(), ev["val_loss"], ev["val_bleu"], p.Beam)
	if ctx.Err() != nil {
		return nil
	}
	testSrc, err := mt.encode(testDE)
	if err != nil {
		return err
	}
	report := func(name string, m *mtModel) error {
		t0 := time.Now()
		hyps, err := m.translate(testSrc, 4, 0.6, 32)
		if err != nil {
			return err
		}
		s, err := eval.BLEU(hyps, [][]string{testEN})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "test_2016_flickr, %s, beam 4, α 0.6 (%s): %s\n", name, time.Since(t0).Round(time.Second), s)
		return nil
	}
	if err := report("last checkpoint", mt); err != nil {
		return err
	}
	if snaps, err := train.Snapshots(*out); err == nil && len(snaps) > 1 {
		avgDir := filepath.Join(*out, "averaged")
		if err := train.AverageCheckpoints(avgDir, snaps); err != nil {
			return err
		}
		avg, err := loadMT(avgDir)
		if err != nil {
			return err
		}
		if err := report(fmt.Sprintf("average of the last %d epochs", len(snaps)), avg); err != nil {
			return err
		}
	}
	return nil
}

func runTranslate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model folder: one from attn train (or its run folder), or a HuggingFace Marian (opus-mt) folder")
	beam := fs.Int("beam", 4, "beam size (1: greedy)")
	alpha := fs.Float64("alpha", 0.6, "length penalty exponent")
	batch := fs.Int("batch", 32, "sentences decoded together")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	dir, typ, err := modelOfType(*model, "translate", transformer.ModelType, "marian")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if typ == "marian" {
		mt, err := loadMarian(dir)
		if err != nil {
			return err
		}
		return eachBatch(fs.Arg(0), *batch, func(lines []string) error {
			if err := mt.translate(lines, *beam, *alpha, w); err != nil {
				return err
			}
			return w.Flush()
		})
	}
	mt, err := loadMT(dir)
	if err != nil {
		return err
	}
	return eachBatch(fs.Arg(0), *batch, func(lines []string) error {
		out, err := mt.translateLines(lines, *beam, *alpha, *batch)
		if err != nil {
			return err
		}
		for _, s := range out {
			fmt.Fprintln(w, s)
		}
		return w.Flush()
	})
}
