package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

// textJobConfig is a text-classification run's job settings in
// trainer_state.json: the data settings, the files and their hashes.
type textJobConfig struct {
	train.TextData
	MaxLen int         `json:"max_len"`
	Data   string      `json:"data"`
	Val    string      `json:"val,omitempty"`
	Files  sourceFiles `json:"sha256"`
}

// labelledText is one line of a classification file: a text (two, tab
// separated, for a pair) and its label.
type labelledText struct {
	text, label string
	line        int
}

// readLabelled parses a tab-separated file (gzipped or not): "text<TAB>label" or
// "text<TAB>text<TAB>label" per line (tabs at the end of a line ignored),
// blank lines skipped, and a first line whose last field is "label" taken
// as a header.
func readLabelled(path string, b []byte) ([]labelledText, error) {
	lines, err := data.ReadLines(bytes.NewReader(b)) // gunzipped, \n and \r\n taken off
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []labelledText
	for i, line := range lines {
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("%s is not UTF-8 text", path)
		}
		line = strings.TrimRight(line, "\t")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		label := strings.TrimSpace(f[len(f)-1])
		if i == 0 && strings.EqualFold(label, "label") {
			if len(f) > 1 && strings.TrimSpace(f[0]) == "" {
				return nil, fmt.Errorf("%s:1: the header starts with an empty column, as pandas writes its index (to_csv(..., index=False) leaves it out)", path)
			}
			continue
		}
		if len(f) < 2 || len(f) > 3 || label == "" {
			return nil, fmt.Errorf("%s:%d: want text<TAB>label or text<TAB>text<TAB>label, got %d fields", path, i+1, len(f))
		}
		out = append(out, labelledText{strings.Join(f[:len(f)-1], "\t"), label, i + 1})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no labelled texts", path)
	}
	return out, nil
}

// labelNames returns the distinct labels in order: numerically when every
// label is an integer, else alphabetically.
func labelNames(ex []labelledText) []string {
	var names []string
	for _, e := range ex {
		if !slices.Contains(names, e.label) {
			names = append(names, e.label)
		}
	}
	numeric := true
	for _, n := range names {
		if _, err := strconv.Atoi(n); err != nil {
			numeric = false
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if numeric {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		}
		return strings.Compare(a, b)
	})
	return names
}

// classifierIDs maps label names onto a BERT classifier's outputs: its
// id2label names, and integers where an output has HF's default name
// LABEL_i (as HF's Trainer takes integer labels).
func classifierIDs(m *bert.Model) map[string]int {
	ids := map[string]int{}
	for i := range m.Labels() {
		ids[m.Cfg.Label(i)] = i
		if m.Cfg.Label(i) == "LABEL_"+strconv.Itoa(i) {
			ids[strconv.Itoa(i)] = i
		}
	}
	return ids
}

// textExamples tokenizes labelled texts (file names them in errors) for a
// classifier whose outputs ids maps label names to.
func textExamples(tok *tokenizer.Pipeline, set []labelledText, ids map[string]int, maxLen int, file string) ([]train.TextExample, error) {
	texts := make([]string, len(set))
	for i, e := range set {
		texts[i] = e.text
	}
	seqs, types, err := encodeTexts(tok, texts, maxLen, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := make([]train.TextExample, len(set))
	for i, e := range set {
		l, ok := ids[e.label]
		if !ok {
			names := make([]string, 0, len(ids))
			for n := range ids {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("%s:%d: label %q is not one of the classifier's (%s)", file, e.line, e.label, strings.Join(names, ", "))
		}
		out[i] = train.TextExample{IDs: seqs[i], Types: types[i], Label: l}
	}
	return out, nil
}

// evalTexts reports a BERT classifier's accuracy and mean cross-entropy on
// a file of labelled texts (as attn train reads them).
func evalTexts(dir, file string, asJSON bool, stdout io.Writer) error {
	m, tok, err := loadBERT(dir, "eval")
	if err != nil {
		return err
	}
	if m.Labels() == 0 {
		return fmt.Errorf("%s has no sequence classifier", dir)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	set, err := readLabelled(file, b)
	if err != nil {
		return err
	}
	ex, err := textExamples(tok, set, classifierIDs(m), m.Cfg.MaxLen(), file)
	if err != nil {
		return err
	}
	loss, acc, err := train.EvaluateTexts(m, ex, 32)
	if err != nil {
		return err
	}
	reportAccuracy(stdout, asJSON, acc, loss, len(ex), "text")
	return nil
}

// tokenizerFiles returns the tokenizer files a classifier's folder gets:
// those of the model it was fine-tuned from, byte for byte (HF reads
// tokenizer_config.json, and its do_lower_case, beside tokenizer.json), or
// for a model trained from scratch its tokenizer.json, vocab.txt and a
// tokenizer_config.json saying the vocabulary is cased.
func tokenizerFiles(tok *tokenizer.Pipeline, from string, maxLen int) (map[string][]byte, error) {
	files := map[string][]byte{}
	if from != "" {
		dir, err := modelDir(from)
		if err != nil {
			return nil, err
		}
		for _, name := range []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				files[name] = b
			}
		}
	}
	if files["tokenizer.json"] == nil {
		b, err := tok.MarshalJSON()
		if err != nil {
			return nil, err
		}
		files["tokenizer.json"] = b
	}
	if from == "" {
		var vocab strings.Builder
		for id := range tok.VocabSize() {
			t, _ := tok.IDToToken(id)
			vocab.WriteString(t + "\n")
		}
		files["vocab.txt"] = []byte(vocab.String())
		files["tokenizer_config.json"] = []byte(fmt.Sprintf(`{"tokenizer_class": "BertTokenizer", "do_lower_case": false, "model_max_length": %d}`+"\n", maxLen))
	}
	return files, nil
}

// learnWordPiece learns a cased WordPiece vocabulary for BERT from the
// training texts, as HF's WordPieceTrainer does: BPE merges over words
// split at white space and punctuation, word-inner pieces marked "##",
// then the vocabulary read as WordPiece's (greedy longest match).
func learnWordPiece(texts []labelledText, size int) (*tokenizer.Pipeline, error) {
	var corpus strings.Builder
	for _, e := range texts {
		corpus.WriteString(strings.ReplaceAll(e.text, "\t", "\n"))
		corpus.WriteByte('\n')
	}
	tr := &tokenizer.BPETrainer{VocabSize: size, MinFrequency: 2, SpecialTokens: []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"},
		ContinuingSubwordPrefix: "##", Workers: tensor.Workers()}
	bpe, err := tr.Train(strings.NewReader(corpus.String()))
	if err != nil {
		return nil, err
	}
	var vocab strings.Builder
	for id := range bpe.VocabSize() {
		t, ok := bpe.IDToToken(id)
		if !ok {
			return nil, fmt.Errorf("tokenizer: the learnt vocabulary has no token %d", id)
		}
		vocab.WriteString(t)
		vocab.WriteByte('\n')
	}
	return tokenizer.ParseWordPieceVocab([]byte(vocab.String()), false)
}

// runTrainText fine-tunes a BERT folder as a sequence classifier on a file
// of labelled texts (or resumes such a run).
func runTrainText(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn train --model BERT --data FILE (or --preset classify --data FILE)", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("model", "", "the BERT folder to fine-tune (HuggingFace layout, with vocab.txt or tokenizer.json)")
	dataFile := fs.String("data", "", "labelled texts, one per line: text<TAB>label, or text<TAB>text<TAB>label for pairs (a first line ending in \"label\" is a header)")
	valFile := fs.String("val", "", "validation texts in the same form (default: 10% of --data, at most 1,000, held out at random)")
	out := fs.String("out", "", "run folder (default runs/<name of the --data file>, -ft added when fine-tuning)")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	epochs := fs.Float64("epochs", 3, "passes over the training texts (BERT's recipe: 2 to 4)")
	steps := fs.Int("steps", 0, "optimizer steps (instead of --epochs)")
	batch := fs.Int("batch", 32, "texts per step")
	lr := fs.Float64("lr", 2e-5, "peak learning rate of AdamW (BERT's fine-tuning recipe: 2e-5 to 5e-5; 5e-4 from scratch), after a linear warm-up over 10% of the steps, decaying to 0 along a cosine")
	maxLen := fs.Int("max-len", 128, "tokens per text at most (longer ones are cut, keeping the final [SEP])")
	wd := fs.Float64("weight-decay", 0.01, "AdamW weight decay (not on biases and LayerNorms)")
	smoothing := fs.Float64("label-smoothing", 0, "label smoothing of the cross-entropy")
	seed := fs.Uint64("seed", 42, "random seed (the new classifier, the held-out split, the order of the texts, dropout)")
	fs.String("preset", "", "classify: a BERT classifier trained from scratch (with a WordPiece vocabulary learnt from --data), not fine-tuned")
	vocab := fs.Int("vocab", 8000, "from scratch: WordPiece vocabulary size")
	dModel := fs.Int("d-model", 128, "from scratch: model width (feed-forward 4×)")
	layers := fs.Int("layers", 2, "from scratch: encoder layers")
	heads := fs.Int("heads", 4, "from scratch: attention heads")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := setFlags(fs)
	tensor.SetWorkers(*workers)

	var m *bert.Model
	var tok *tokenizer.Pipeline
	var ckpt string
	var err error
	job := textJobConfig{TextData: train.TextData{Batch: *batch, Smoothing: float32(*smoothing), Seed: *seed}, MaxLen: *maxLen,
		Data: *dataFile, Val: *valFile, Files: sourceFiles{}}
	cfg := train.RunConfig{Accum: 1, Schedule: "cosine", PeakLR: *lr, WeightDecay: float32(*wd), Beta2: 0.999, Eps: 1e-8, ClipNorm: 1,
		Seed: *seed, Optimizer: "adamw"}
	if *resume != "" {
		for name := range set {
			if name != "resume" && name != "workers" && name != "steps" && name != "preset" {
				return fmt.Errorf("--%s cannot change a run being resumed (only --steps can)", name)
			}
		}
		if ckpt, err = train.CheckpointDir(*resume); err != nil {
			return err
		}
		st, err := train.ReadState(ckpt)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(st.Job, &job); err != nil {
			return fmt.Errorf("%s: job settings: %w", ckpt, err)
		}
		if job.Files == nil {
			job.Files = sourceFiles{}
		}
		cfg = st.Config
		if set["steps"] {
			cfg.Steps = *steps
		}
		*from, *out = ckpt, *resume
	}
	if job.MaxLen < 3 {
		return fmt.Errorf("--max-len %d: a sequence needs [CLS], a token and [SEP]", job.MaxLen)
	}
	if job.Data == "" {
		return errors.New("usage: attn train --model BERT-FOLDER --data FILE [--val FILE], or attn train --preset classify --data FILE (lines of text<TAB>label)")
	}
	if *out == "" {
		*out = runFolder("", job.Data, *from != "")
	}
	if ckpt == "" {
		if *from != "" {
			if err := notOverwriting(*out, *from); err != nil {
				return err
			}
		}
		if err := train.NewRunFolder(*out); err != nil {
			return err
		}
	}
	if *from == "" && job.MaxLen > 512 {
		return fmt.Errorf("--max-len %d: a BERT from scratch takes at most 512 positions", job.MaxLen)
	}
	if *from != "" {
		for _, name := range []string{"vocab", "d-model", "layers", "heads"} {
			if set[name] && ckpt == "" {
				return fmt.Errorf("--%s shapes a model trained from scratch (--preset classify); the model from --model keeps its own", name)
			}
		}
		if m, tok, err = loadBERT(*from, "train"); err != nil {
			return err
		}
	}
	b, err := job.Files.read(&job.Data)
	if err != nil {
		return err
	}
	trainTexts, err := readLabelled(job.Data, b)
	if err != nil {
		return err
	}
	var valTexts []labelledText
	if job.Val != "" {
		if b, err = job.Files.read(&job.Val); err != nil {
			return err
		}
		if valTexts, err = readLabelled(job.Val, b); err != nil {
			return err
		}
	} else {
		held := min(1000, len(trainTexts)/10)
		if held == 0 {
			return fmt.Errorf("%s: %d texts are too few to hold out a validation set; give --val", job.Data, len(trainTexts))
		}
		perm := tensor.NewRNG(tensor.Mix64(job.Seed ^ 0x7e57)).Perm(len(trainTexts))
		inVal := make([]bool, len(trainTexts))
		for _, i := range perm[:held] {
			inVal[i] = true
		}
		var rest []labelledText
		for i, e := range trainTexts {
			if inVal[i] {
				valTexts = append(valTexts, e)
			} else {
				rest = append(rest, e)
			}
		}
		trainTexts = rest
	}

	// The labels: the classifier's own when it is a single-label one that
	// has every label of the data (integer labels count as output indices
	// where its outputs have HF's default names, LABEL_i), else a new
	// classifier for the labels of the training texts (and of the texts
	// held out from them).
	all := append(trainTexts[:len(trainTexts):len(trainTexts)], valTexts...)
	names := labelNames(trainTexts)
	if job.Val == "" { // held out at random: a rare label may have landed there alone
		names = labelNames(all)
	}
	if len(names) < 2 {
		return fmt.Errorf("%s: every text has the label %q; a classifier needs at least two", job.Data, names[0])
	}
	if m == nil { // from scratch
		start := time.Now()
		if tok, err = learnWordPiece(trainTexts, *vocab); err != nil {
			return err
		}
		c := bert.DefaultConfig()
		c.VocabSize, c.Hidden, c.Layers, c.Heads, c.Intermediate = tok.VocabSize(), *dModel, *layers, *heads, 4**dModel
		c.MaxPositions = job.MaxLen
		if m, err = bert.New(c, bert.Parts{Pooler: true}, job.Seed); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "learnt a WordPiece vocabulary of %d tokens from %s in %s\n", tok.VocabSize(), filepath.Base(job.Data), time.Since(start).Round(time.Millisecond))
	}
	ids := classifierIDs(m)
	pt := m.Cfg.ProblemType
	keep := m.Labels() >= 2 && (pt == "" || pt == "single_label_classification")
	for _, e := range all {
		if _, ok := ids[e.label]; !ok {
			keep = false
		}
	}
	if !keep {
		if ckpt != "" {
			return fmt.Errorf("%s has labels the run's classifier does not", job.Data)
		}
		m.ReplaceClassifier(names, job.Seed)
		clear(ids)
		for i, n := range names {
			ids[n] = i
		}
		fmt.Fprintf(stdout, "a new classifier for %d labels: %s\n", len(names), strings.Join(names, ", "))
	}
	cut := min(job.MaxLen, m.Cfg.MaxLen())
	trainEx, err := textExamples(tok, trainTexts, ids, cut, job.Data)
	if err != nil {
		return err
	}
	valEx, err := textExamples(tok, valTexts, ids, cut, cmp.Or(job.Val, job.Data))
	if err != nil {
		return err
	}
	files, err := tokenizerFiles(tok, *from, m.Cfg.MaxLen())
	if err != nil {
		return err
	}
	tj := &train.TextJob{Data: job.TextData, Model: m, Train: trainEx, Val: valEx, Save: func(dir string) error {
		if err := bert.Save(dir, m); err != nil {
			return err
		}
		return writeFiles(dir, files)
	}}
	if err := tj.Check(); err != nil {
		return err
	}
	perEpoch := (len(trainEx) + job.Batch - 1) / job.Batch
	if ckpt == "" {
		if !(*epochs > 0) && !set["steps"] {
			return fmt.Errorf("--epochs %v: want a positive number (or --steps)", *epochs)
		}
		if *from == "" && !set["lr"] {
			cfg.PeakLR = 5e-4 // a model from scratch takes a larger step than fine-tuning
		}
		if *epochs*float64(perEpoch) > 1e8 {
			return fmt.Errorf("--epochs %v: %g steps are too many", *epochs, *epochs*float64(perEpoch))
		}
		cfg.Steps = max(1, int(*epochs*float64(perEpoch)+0.5))
		if set["steps"] {
			cfg.Steps = *steps
		}
		cfg.Warmup = cfg.Steps / 10
		cfg.EvalEvery, cfg.SaveEvery = perEpoch, perEpoch
	}
	run := &train.Run{Cfg: cfg, Job: tj, JobConfig: job, Out: *out,
		Progress: &train.Progress{W: stdout, TTY: train.IsTerminal(stdout), Total: cfg.Steps}}
	if ckpt != "" {
		if err := run.Resume(ckpt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resuming %s at step %d of %d\n", *out, run.Step(), cfg.Steps)
	} else {
		what := "fine-tuning " + *from
		if *from == "" {
			what = "training a BERT"
		}
		fmt.Fprintf(stdout, "%s (%d layers, width %d; %.1fM parameters) to classify %s: %d training and %d validation texts, %d per step, %d steps (%.3g epochs), AdamW at lr %.2g, on %d cores\n",
			what, m.Cfg.Layers, m.Cfg.Hidden, float64(nn.Count(m.Params()))/1e6, filepath.Base(job.Data), len(trainEx), len(valEx),
			job.Batch, cfg.Steps, float64(cfg.Steps)/float64(perEpoch), cfg.PeakLR, tensor.Workers())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	ev, err := run.Run(ctx)
	if err != nil {
		return err
	}
	reportDone(stdout, start, run.Step(), ev, *out, [2]string{"validation accuracy", "val_accuracy"}, [2]string{"loss", "val_loss"})
	return nil
}
