package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

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
	encs, err := truncatedOnly(mt.tok, nil).EncodeBatch(lines, false)
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
// A source of no tokens (an empty line) translates as an empty text
// without the model: alone it would make a batch of no positions, and
// beside others an encoder output of padding only, a text made of nothing.
func (mt *mtModel) translateIDs(srcs [][]int, beam int, alpha float64, batch int) ([]string, error) {
	var some [][]int
	for _, s := range srcs {
		if len(s) > 0 {
			some = append(some, s)
		}
	}
	out := make([]string, len(srcs))
	if len(some) == 0 {
		return out, nil
	}
	hs, err := generate.Translate(mt.m, some, mtPad, batch, generate.BeamOpts{Beam: beam, Alpha: alpha, BOS: mtBOS, EOS: mtEOS})
	if err != nil {
		return nil, err
	}
	for i := range out {
		if len(srcs[i]) == 0 {
			continue
		}
		s, err := mt.tok.DecodeWith(hs[0].Tokens, true)
		if err != nil {
			return nil, err
		}
		out[i], hs = strings.TrimSpace(s), hs[1:]
	}
	return out, nil
}

// translateLines translates sentences (see translate).
func (mt *mtModel) translateLines(lines []string, beam int, alpha float64, batch int) ([]string, error) {
	srcs, err := mt.encode(lines)
	if err != nil {
		return nil, err
	}
	return mt.translateIDs(srcs, beam, alpha, batch)
}

func bleuOf(hyps, refs []string) (float64, error) {
	s, err := eval.BLEU(hyps, [][]string{refs})
	return s.BLEU, err
}

// mtFiles names the parallel text of a translation run trained on the
// user's files (Multi30k, embedded, when Src is empty), with the SHA-256 of
// each file so that resuming can refuse files changed since.
type mtFiles struct {
	Src     string      `json:"src"`
	Tgt     string      `json:"tgt"`
	ValSrc  string      `json:"val_src,omitempty"`
	ValTgt  string      `json:"val_tgt,omitempty"`
	TestSrc string      `json:"test_src,omitempty"`
	TestTgt string      `json:"test_tgt,omitempty"`
	SHA256  sourceFiles `json:"sha256,omitempty"`
}

// relocate points a resumed run at its data files where moved gives them
// (the --src, --tgt, ... of attn train --resume): each must be the file of
// its role the run was started on, which read then checks by its SHA-256.
// Two roles may share a file only if they shared its content.
func (f *mtFiles) relocate(moved mtFiles) error {
	roles := []struct {
		flag  string
		path  *string
		given string
	}{
		{"--src", &f.Src, moved.Src}, {"--tgt", &f.Tgt, moved.Tgt},
		{"--val-src", &f.ValSrc, moved.ValSrc}, {"--val-tgt", &f.ValTgt, moved.ValTgt},
		{"--test-src", &f.TestSrc, moved.TestSrc}, {"--test-tgt", &f.TestTgt, moved.TestTgt},
	}
	hashes := sourceFiles{} // where each role's file is now, and its content
	for _, r := range roles {
		if *r.path == "" {
			if r.given != "" {
				return fmt.Errorf("%s %s: the run being resumed has no such file to find elsewhere", r.flag, r.given)
			}
			continue
		}
		hash, ok := f.SHA256[*r.path]
		if !ok {
			return fmt.Errorf("%s: the run being resumed recorded no SHA-256 for %s", r.flag, *r.path)
		}
		if r.given != "" {
			abs, err := filepath.Abs(r.given)
			if err != nil {
				return err
			}
			*r.path = abs
		}
		if prev, ok := hashes[*r.path]; ok && prev != hash {
			return fmt.Errorf("%s %s: that file stands for another of the run's files, whose content differs", r.flag, *r.path)
		}
		hashes[*r.path] = hash
	}
	f.SHA256 = hashes
	return nil
}

// mtJobConfig is a translation run's job settings in trainer_state.json.
type mtJobConfig struct {
	train.Seq2SeqData
	Files *mtFiles `json:"files,omitempty"`
}

// mtText is the text of a translation run: source and target sentences of
// the training, validation and (optional) test sets.
type mtText struct {
	train, val, test [2][]string
	name, testName   string
	skipped          int // training pairs with an empty side, left out
}

// nonEmpty returns the pairs whose source and target both hold more than
// white space (a blank line has nothing to learn from, and a batch of
// them has no tokens), and how many it left out.
func nonEmpty(pairs [2][]string) ([2][]string, int) {
	var out [2][]string
	for i, s := range pairs[0] {
		if strings.TrimSpace(s) != "" && strings.TrimSpace(pairs[1][i]) != "" {
			out[0], out[1] = append(out[0], s), append(out[1], pairs[1][i])
		}
	}
	return out, len(pairs[0]) - len(out[0])
}

// read returns Multi30k's de→en splits when no files are named, or reads
// the files: the pairs line for line, validation held out from the
// training pairs when not given. Paths are made absolute and the files'
// hashes recorded on the first read, and checked on later ones.
func (f *mtFiles) read() (mtText, error) {
	var t mtText
	if f.Src == "" {
		if f.Tgt != "" || f.ValSrc != "" || f.ValTgt != "" || f.TestSrc != "" || f.TestTgt != "" {
			return t, errors.New("--tgt, --val-src, --val-tgt, --test-src and --test-tgt go with --src")
		}
		t.name, t.testName = "Multi30k de→en", "test_2016_flickr"
		for _, s := range []struct {
			split string
			to    *[2][]string
		}{{"train", &t.train}, {"val", &t.val}, {"test_2016_flickr", &t.test}} {
			de, en, err := data.Multi30kSplit(s.split)
			if err != nil {
				return t, err
			}
			*s.to = [2][]string{de, en}
		}
		return t, nil
	}
	for _, pair := range [][2]*string{{&f.Src, &f.Tgt}, {&f.ValSrc, &f.ValTgt}, {&f.TestSrc, &f.TestTgt}} {
		if (*pair[0] == "") != (*pair[1] == "") {
			return t, errors.New("--src, --val-src and --test-src each need their --tgt, --val-tgt, --test-tgt (and the other way round)")
		}
	}
	if f.SHA256 == nil {
		f.SHA256 = sourceFiles{}
	}
	readPair := func(src, tgt *string) ([2][]string, error) {
		var out [2][]string
		for i, path := range []*string{src, tgt} {
			b, err := f.SHA256.read(path)
			if err != nil {
				return out, err
			}
			if out[i], err = data.ReadLines(bytes.NewReader(b)); err != nil {
				return out, fmt.Errorf("%s: %w", *path, err)
			}
			for n, line := range out[i] {
				if !utf8.ValidString(line) {
					return out, fmt.Errorf("%s: line %d is not UTF-8 text", *path, n+1)
				}
			}
		}
		if len(out[0]) != len(out[1]) {
			return out, fmt.Errorf("%s has %d lines and %s %d: a translation pair is a line of each", *src, len(out[0]), *tgt, len(out[1]))
		}
		return out, nil
	}
	var err error
	if t.train, err = readPair(&f.Src, &f.Tgt); err != nil {
		return t, err
	}
	if t.train, t.skipped = nonEmpty(t.train); len(t.train[0]) == 0 {
		return t, fmt.Errorf("%s and %s hold no pair of non-empty lines", f.Src, f.Tgt)
	}
	if f.ValSrc != "" {
		if t.val, err = readPair(&f.ValSrc, &f.ValTgt); err != nil {
			return t, err
		}
		if t.val, _ = nonEmpty(t.val); len(t.val[0]) == 0 {
			return t, fmt.Errorf("%s and %s hold no pair of non-empty lines", f.ValSrc, f.ValTgt)
		}
	} else {
		n := len(t.train[0])
		held := min(1000, n/20)
		if held == 0 {
			return t, fmt.Errorf("%s: %d pairs are too few to hold out a validation set; give --val-src and --val-tgt", f.Src, n)
		}
		t.val = [2][]string{t.train[0][n-held:], t.train[1][n-held:]}
		t.train = [2][]string{t.train[0][:n-held], t.train[1][:n-held]}
	}
	if f.TestSrc != "" {
		if t.test, err = readPair(&f.TestSrc, &f.TestTgt); err != nil {
			return t, err
		}
		if t.test, _ = nonEmpty(t.test); len(t.test[0]) == 0 {
			return t, fmt.Errorf("%s and %s hold no pair of non-empty lines", f.TestSrc, f.TestTgt)
		}
		t.testName = filepath.Base(f.TestSrc)
	}
	t.name = filepath.Base(f.Src) + "→" + filepath.Base(f.Tgt)
	return t, nil
}

// runTrainTranslation trains the Transformer on German→English Multi30k, or
// on the user's sentence pairs (--src, --tgt).
func runTrainTranslation(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn train --preset multi30k-de-en (or --src FILE --tgt FILE)", flag.ContinueOnError)
	fs.SetOutput(stderr)
	p := multi30kPreset()
	fs.String("preset", "multi30k-de-en", "multi30k-de-en")
	defaultOut := filepath.Join("runs", "multi30k-de-en")
	out := fs.String("out", defaultOut, "run folder (runs/translation with --src)")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	limit := fs.Duration("time-limit", time.Duration(p.Train.TimeLimit)*time.Second, "fit the run to this much wall clock (0: use --steps)")
	fs.IntVar(&p.Train.Steps, "steps", p.Train.Steps, "optimizer steps (turns the time limit off unless --time-limit is given)")
	fs.IntVar(&p.Data.MaxTokens, "max-tokens", p.Data.MaxTokens, "source (and target) tokens per batch")
	fs.IntVar(&p.Vocab, "vocab", p.Vocab, "joint BPE vocabulary size")
	fs.IntVar(&p.Model.DModel, "d-model", p.Model.DModel, "model width")
	fs.IntVar(&p.Model.Heads, "heads", p.Model.Heads, "attention heads")
	layers := fs.Int("layers", p.Model.EncoderLayers, "encoder and decoder layers")
	fs.IntVar(&p.Model.DFF, "d-ff", p.Model.DFF, "feed-forward width")
	fs.IntVar(&p.Train.Warmup, "warmup", p.Train.Warmup, "warm-up steps of the paper's schedule (with --model: of AdamW's, default 100 or a tenth of --steps)")
	fs.Float64Var(&p.Train.PeakLR, "lr-factor", p.Train.PeakLR, "factor of the paper's schedule")
	fs.IntVar(&p.Data.EvalSentences, "eval-sentences", p.Data.EvalSentences, "validation sentences translated for BLEU each epoch (0: all)")
	var files mtFiles
	fs.StringVar(&files.Src, "src", "", "train on your own sentence pairs instead of Multi30k: source sentences, one per line (.gz read as well)")
	fs.StringVar(&files.Tgt, "tgt", "", "with --src: their translations, line for line")
	fs.StringVar(&files.ValSrc, "val-src", "", "with --src: validation source sentences (default: the last 5% of the pairs, at most 1,000, held out)")
	fs.StringVar(&files.ValTgt, "val-tgt", "", "with --val-src: their translations")
	fs.StringVar(&files.TestSrc, "test-src", "", "with --src: test source sentences, translated at the end for BLEU (default: none)")
	fs.StringVar(&files.TestTgt, "test-tgt", "", "with --test-src: their reference translations")
	fs.String("data", "", "")
	from := fs.String("model", "", "with --src: fine-tune this T5 folder (text to text; its tokenizer) instead of training a Transformer from scratch")
	lr := fs.Float64("lr", 3e-4, "with --model: peak learning rate of AdamW, after --warmup steps, decaying to a tenth along a cosine")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, ok := flagValue(args, "data"); ok {
		return errors.New("--data is a text for a GPT or labelled lines for a BERT; a translation model or a T5 trains on pairs: --src and --tgt")
	}
	p.Model.DecoderLayers, p.Model.EncoderLayers = *layers, *layers
	p.Train.NoamDModel = p.Model.DModel
	p.Train.TimeLimit = limit.Seconds()
	set := setFlags(fs)
	if set["steps"] && !set["time-limit"] {
		p.Train.TimeLimit = 0
	}
	tensor.SetWorkers(*workers)

	var mt seq2seq
	var ckpt string
	var err error
	if *from != "" && *resume == "" {
		if files.Src == "" {
			return errors.New("--model fine-tunes a T5 on pairs of texts: give --src and --tgt")
		}
		if !(*lr > 0) || math.IsInf(*lr, 0) {
			return fmt.Errorf("--lr %v: want a positive learning rate", *lr)
		}
		for _, name := range []string{"vocab", "d-model", "heads", "layers", "d-ff", "lr-factor"} {
			if set[name] {
				return fmt.Errorf("--%s sets up a Transformer trained from scratch; the model from --model keeps its own", name)
			}
		}
		dir, _, err := modelOfType(*from, "train --src --tgt --model", "t5", "mt5")
		if err != nil {
			return err
		}
		if mt, err = loadSeq2Seq(dir); err != nil {
			return err
		}
		// HF's recipe for fine-tuning T5 on pairs: AdamW, a small learning
		// rate, no label smoothing; greedy decoding for the validation BLEU.
		warmup := 100
		if set["steps"] {
			warmup = min(warmup, p.Train.Steps/10)
		}
		if set["warmup"] {
			warmup = p.Train.Warmup
		}
		p.Train = train.RunConfig{Steps: p.Train.Steps, Accum: 1, Schedule: "cosine", PeakLR: *lr, MinLR: *lr / 10, Warmup: warmup,
			WeightDecay: 0.01, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, Seed: p.Train.Seed, Snapshots: p.Train.Snapshots, TimeLimit: p.Train.TimeLimit,
			Optimizer: "adamw"}
		p.Data.Smoothing = 0
	} else if set["lr"] && *resume == "" {
		return errors.New("--lr is for fine-tuning a T5 (--model); the Transformer trained from scratch takes the paper's schedule (--lr-factor, --warmup)")
	}
	if *resume != "" {
		moved := files // data files given again: where the run's files are now
		var fixed []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "resume", "workers", "steps", "preset", "src", "tgt", "val-src", "val-tgt", "test-src", "test-tgt":
			default:
				fixed = append(fixed, "--"+f.Name)
			}
		})
		if len(fixed) > 0 {
			return fmt.Errorf("%s cannot change a run being resumed (only --steps can; its folder stays)", strings.Join(fixed, ", "))
		}
		steps := p.Train.Steps
		if ckpt, err = train.CheckpointDir(*resume); err != nil {
			return err
		}
		if mt, err = loadSeq2Seq(ckpt); err != nil {
			return err
		}
		st, err := train.ReadState(ckpt)
		if err != nil {
			return err
		}
		job := mtJobConfig{Seq2SeqData: p.Data}
		if err := json.Unmarshal(st.Job, &job); err != nil {
			return fmt.Errorf("%s: job settings: %w", ckpt, err)
		}
		p.Data = job.Seq2SeqData
		files = mtFiles{}
		if job.Files != nil {
			files = *job.Files
		}
		if err := files.relocate(moved); err != nil {
			return err
		}
		p.Train = st.Config
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "steps" { // the count asked for, not one fitted to a time limit
				p.Train.Steps, p.Train.TimeLimit, p.Train.TimeFitPending = steps, 0, false
			}
		})
		*out = *resume
	}
	text, err := files.read()
	if errors.Is(err, os.ErrNotExist) && ckpt != "" {
		return fmt.Errorf("%w (if the run's data files have moved, give their new places: --src, --tgt, --val-src, ... with --resume)", err)
	}
	if err != nil {
		return err
	}
	trainDE, trainEN, valDE, valEN, testDE, testEN := text.train[0], text.train[1], text.val[0], text.val[1], text.test[0], text.test[1]
	if text.skipped > 0 && ckpt == "" {
		fmt.Fprintf(stdout, "left out %d training pairs with an empty side\n", text.skipped)
	}
	if ckpt == "" && files.Src != "" && !set["out"] {
		*out = filepath.Join("runs", "translation")
		if *from != "" {
			*out = filepath.Join("runs", "t5-ft")
		}
	}
	if *from != "" && ckpt == "" {
		if err := notOverwriting(*out, *from); err != nil {
			return err
		}
	}
	if ckpt == "" {
		if err := train.NewRunFolder(*out); err != nil {
			return err
		}
	}
	if mt == nil {
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
		s, err := mt.encodeSrc(src)
		if err != nil {
			return nil, err
		}
		t, err := mt.encodeTgt(tgt)
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
	pad, bos, eos := mt.specials()
	job := &train.Seq2SeqJob{
		Data: p.Data, Model: mt.trainable(), Train: trainPairs, Val: valPairs, ValRefs: valEN,
		Pad: pad, BOS: bos, EOS: eos, Save: mt.save, BLEU: bleuOf,
		Translate: func(srcs [][]int) ([]string, error) { return mt.translate(srcs, p.Beam) },
	}
	p.Train.EvalEvery, p.Train.SaveEvery = job.StepsPerEpoch(), job.StepsPerEpoch()
	jobConfig := mtJobConfig{Seq2SeqData: p.Data}
	if files.Src != "" {
		jobConfig.Files = &files
	}
	run := &train.Run{Cfg: p.Train, Job: job, JobConfig: jobConfig, Out: *out,
		Progress: &train.Progress{W: stdout, TTY: train.IsTerminal(stdout), Total: p.Train.Steps}}
	if ckpt != "" {
		if err := run.Resume(ckpt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resuming %s at step %d\n", *out, run.Step())
	} else if *from != "" {
		fmt.Fprintf(stdout, "fine-tuning %s (%.1fM parameters) with adamw at lr %.2g on %s: %d pairs, %d batches of ≤%d tokens per epoch, on %d cores\n",
			*from, float64(nn.Count(job.Params()))/1e6, p.Train.PeakLR, text.name, len(trainPairs), job.StepsPerEpoch(), p.Data.MaxTokens, tensor.Workers())
	} else {
		fmt.Fprintf(stdout, "training a Transformer (d_model %d, %d heads, %d+%d layers, d_ff %d; %.1fM parameters) on %s: %d pairs, %d batches of ≤%d tokens per epoch, on %d cores\n",
			p.Model.DModel, p.Model.Heads, p.Model.EncoderLayers, p.Model.DecoderLayers, p.Model.DFF,
			float64(nn.Count(job.Params()))/1e6, text.name, len(trainPairs), job.StepsPerEpoch(), p.Data.MaxTokens, tensor.Workers())
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
	testName := text.testName
	if testDE == nil { // no test set: the validation set stands in
		testDE, testEN, testName = valDE, valEN, "validation"
	}
	testSrc, err := mt.encodeSrc(testDE)
	if err != nil {
		return err
	}
	report := func(name string, m seq2seq) error {
		t0 := time.Now()
		hyps, err := m.translate(testSrc, 4)
		if err != nil {
			return err
		}
		s, err := eval.BLEU(hyps, [][]string{testEN})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s, %s, beam 4, α 0.6 (%s): %s\n", testName, name, time.Since(t0).Round(time.Second), s)
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
		avg, err := loadSeq2Seq(avgDir)
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
	model := fs.String("model", "", "model folder: one from attn train (or its run folder), a HuggingFace Marian (opus-mt) folder, or an M2M100 (NLLB-200) folder with its tokenizer.json")
	srcLang := fs.String("src-lang", "", "an M2M100 (NLLB) model's source language, by its token (eng_Latn)")
	tgtLang := fs.String("tgt-lang", "", "an M2M100 (NLLB) model's target language, by its token (fra_Latn)")
	beam := fs.Int("beam", 4, "beam size (1: greedy)")
	alpha := fs.Float64("alpha", 0.6, "length penalty exponent")
	batch := fs.Int("batch", 32, "sentences decoded together")
	quantize := fs.String("quantize", "", "q8: a Marian model's matrices quantized to 8 bits as it loads (Q8_0: decoding faster, the numbers slightly changed)")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	dir, typ, err := modelOfType(*model, "translate", transformer.ModelType, "marian", "m2m_100")
	if err != nil {
		return err
	}
	if err := checkQuantize(*quantize, typ); err != nil {
		return err
	}
	if typ != "m2m_100" && (*srcLang != "" || *tgtLang != "") {
		return fmt.Errorf("--src-lang and --tgt-lang are for M2M100 (NLLB) models; %s is a %s model", dir, typ)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if typ == "m2m_100" {
		mt, err := loadNLLB(dir)
		if err != nil {
			return err
		}
		src, tgt, err := mt.langs(*srcLang, *tgtLang, [2]string{"--src-lang", "--tgt-lang"})
		if err != nil {
			return err
		}
		if *quantize == "q8" {
			mt.m.QuantizeQ8()
		}
		return eachBatch(fs.Arg(0), *batch, func(lines []string) error {
			if err := mt.translate(lines, src, tgt, *beam, *alpha, w); err != nil {
				return err
			}
			return w.Flush()
		})
	}
	if typ == "marian" {
		mt, err := loadMarian(dir)
		if err != nil {
			return err
		}
		if *quantize == "q8" {
			mt.m.QuantizeQ8()
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
