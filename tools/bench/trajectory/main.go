// Command trajectory trains the model `attn bench train` times on real
// sentence pairs, Multi30k's German → English, and writes everything PyTorch
// needs to train the same model from the same weights on the same batches
// (tools/bench/torch_trajectory.py), so that the two loss curves can be
// compared step by step (tools/bench/trajectory.sh). The benchmark itself
// steps on one batch of random ids; this is its loss trajectory on a task
// that is learnt.
//
//	go run ./tools/bench/trajectory -dir DIR -write   # the shared inputs, then attn's run
//	go run ./tools/bench/trajectory -dir DIR -bf16    # attn's run again, products in bfloat16
//	go run ./tools/bench/trajectory -dir DIR -plot    # every run's loss minus PyTorch's float32 one
//
// The model is the benchmark's (nn.Transformer post-LN ReLU, separate source
// and target embeddings scaled by √d plus sinusoidal positions, an untied
// output layer with bias), the vocabulary a joint byte-level BPE of 8,000
// tokens trained on the training text, as `attn train --preset
// multi30k-de-en` trains it. Each step takes the next batch of sentence
// pairs in a fixed shuffled order, padded to its longest sentence, with
// label-smoothed (0.1) cross-entropy and Adam (0.9, 0.98, 1e-9) at a
// constant rate, as the benchmark's step. The validation loss (no
// smoothing, over the target tokens of 1,014 validation pairs, dropout off)
// is measured every -every steps. Results go to DIR/attn-<kernels>.json.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

const pad, bos, eos = 0, 1, 2 // <pad>, <s>, </s>, as attn train's translation vocabulary

// Config is what both sides train with; it is written to DIR/config.json.
type Config struct {
	Shape     string  `json:"shape"`
	DModel    int     `json:"d_model"`
	Heads     int     `json:"heads"`
	Layers    int     `json:"layers"`
	DFF       int     `json:"d_ff"`
	Vocab     int     `json:"vocab"`
	Batch     int     `json:"batch"`
	MaxLen    int     `json:"max_len"`
	Steps     int     `json:"steps"`
	Every     int     `json:"every"`
	LR        float32 `json:"lr"`
	Dropout   float32 `json:"dropout"`
	Smoothing float32 `json:"label_smoothing"`
	Pad       int     `json:"pad"`
	Seed      uint64  `json:"seed"`
}

// Result is one side's run.
type Result struct {
	Side    string             `json:"side"`
	Losses  []float64          `json:"losses"`   // before each step's update
	ValLoss map[string]float64 `json:"val_loss"` // after that many steps
	Seconds float64            `json:"seconds"`  // training steps only
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "trajectory:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "folder for the shared inputs and the results (required)")
	write := flag.Bool("write", false, "write the shared inputs (config, initial weights, batches) before training")
	c := Config{Pad: pad, Smoothing: 0.1, Seed: 1}
	flag.StringVar(&c.Shape, "shape", "small", "the benchmark's model: small or base")
	flag.IntVar(&c.Steps, "steps", 300, "training steps")
	flag.IntVar(&c.Every, "every", 100, "measure the validation loss every this many steps")
	flag.IntVar(&c.MaxLen, "max-len", 32, "tokens a sentence is cut to (the target's </s> or <s> included)")
	var lr, dropout float64
	flag.Float64Var(&lr, "lr", 3e-4, "Adam's learning rate (constant)")
	flag.Float64Var(&dropout, "dropout", 0, "dropout (the benchmark's is 0.1; 0 makes both sides compute the same numbers)")
	bf16 := flag.Bool("bf16", false, "products in bfloat16, as attn's ATTN_MATMUL=bf16")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	plot := flag.Bool("plot", false, "instead of training, plot the runs in DIR against PyTorch's float32 one (DIR/trajectory.png, .svg)")
	flag.Parse()
	if *dir == "" {
		return fmt.Errorf("-dir is required")
	}
	if *plot {
		return plotRuns(*dir)
	}
	c.LR, c.Dropout = float32(lr), float32(dropout)
	switch c.Shape {
	case "small":
		c.DModel, c.Heads, c.Layers, c.DFF, c.Batch = 256, 4, 3, 1024, 32
	case "base":
		c.DModel, c.Heads, c.Layers, c.DFF, c.Batch = 512, 8, 6, 2048, 16
	default:
		return fmt.Errorf("unknown shape %q (want small or base)", c.Shape)
	}
	if c.Steps < 1 || c.Every < 1 || c.MaxLen < 2 {
		return fmt.Errorf("-steps, -every must be positive and -max-len at least 2")
	}

	trainPairs, valPairs, vocab, err := pairs(c.MaxLen)
	if err != nil {
		return err
	}
	c.Vocab = vocab
	cfg := transformer.DefaultConfig() // as attn bench train builds it
	cfg.SrcVocab, cfg.TgtVocab = vocab, vocab
	cfg.ShareEmbeddings, cfg.TieOutput, cfg.FinalNorm = false, false, true
	cfg.DModel, cfg.Heads, cfg.EncoderLayers, cfg.DecoderLayers, cfg.DFF = c.DModel, c.Heads, c.Layers, c.Layers, c.DFF
	cfg.Dropout = c.Dropout
	m, err := transformer.New(cfg, c.Seed)
	if err != nil {
		return err
	}
	order := tensor.NewRNG(c.Seed).Perm(len(trainPairs))
	batch := func(step int) []data.Pair {
		out := make([]data.Pair, c.Batch)
		for i := range out {
			out[i] = trainPairs[order[(step*c.Batch+i)%len(order)]]
		}
		return out
	}
	var valBatches [][]data.Pair
	for i := 0; i < len(valPairs); i += 64 {
		valBatches = append(valBatches, valPairs[i:min(i+64, len(valPairs))])
	}
	if *write {
		if err := writeInputs(*dir, c, m, batch, valBatches); err != nil {
			return err
		}
	} else if err := sameConfig(*dir, c); err != nil {
		return err
	}

	if err := tensor.SetMatmulBF16(*bf16); err != nil {
		return err
	}
	kernels, err := tensor.Kernels()
	if err != nil {
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := trainRun("attn "+kernels, c, m, batch, valBatches)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*dir, "attn-"+kernels+".json"), append(b, '\n'), 0o644)
}

// trainRun trains m for c.Steps steps on batch(0), batch(1), … and
// measures the validation loss every c.Every steps and after the last.
// Seconds counts the training steps alone.
func trainRun(side string, c Config, m *transformer.Model, batch func(int) []data.Pair, val [][]data.Pair) (Result, error) {
	res := Result{Side: side, ValLoss: map[string]float64{}}
	ps := nn.Unique(m.Params())
	opt := train.NewAdam()
	tp := autograd.NewTape(tensor.NewRNG(c.Seed + 1))
	var trained time.Duration
	for k := 0; k <= c.Steps; k++ {
		if k%c.Every == 0 || k == c.Steps {
			v, err := valLoss(m, val)
			if err != nil {
				return Result{}, err
			}
			res.ValLoss[fmt.Sprint(k)] = v
			fmt.Printf("%s: step %d, validation loss %.4f\n", side, k, v)
		}
		if k == c.Steps {
			break
		}
		t0 := time.Now()
		for _, p := range ps {
			p.ZeroGrad()
		}
		src, tgtIn, tgtOut := tensors(batch(k))
		logits, err := m.Forward(tp, src, tgtIn)
		if err != nil {
			return Result{}, err
		}
		loss := tp.CrossEntropy(logits, tgtOut, pad, c.Smoothing)
		res.Losses = append(res.Losses, float64(loss.Item()))
		tp.Backward(loss)
		opt.Update(ps, c.LR)
		trained += time.Since(t0)
	}
	res.Seconds = trained.Seconds()
	return res, nil
}

// pairs returns Multi30k's training and validation pairs in token ids, cut
// to maxLen−1 tokens (the target then gains <s> or </s>), and the size of
// the vocabulary they were tokenized with.
func pairs(maxLen int) (trainPairs, valPairs []data.Pair, vocab int, err error) {
	de, en, err := data.Multi30kSplit("train")
	if err != nil {
		return nil, nil, 0, err
	}
	vde, ven, err := data.Multi30kSplit("val")
	if err != nil {
		return nil, nil, 0, err
	}
	trainer := &tokenizer.BPETrainer{VocabSize: 8000, MinFrequency: 2, SpecialTokens: []string{"<pad>", "<s>", "</s>"},
		InitialAlphabet: tokenizer.ByteLevelAlphabet(), ByteLevel: true}
	tok, err := trainer.Train(strings.NewReader(strings.Join(de, "\n") + "\n" + strings.Join(en, "\n") + "\n"))
	if err != nil {
		return nil, nil, 0, err
	}
	encode := func(src, tgt []string) ([]data.Pair, error) {
		s, err := tok.EncodeBatch(src, false)
		if err != nil {
			return nil, err
		}
		t, err := tok.EncodeBatch(tgt, false)
		if err != nil {
			return nil, err
		}
		ps := make([]data.Pair, 0, len(s))
		for i := range s {
			if len(s[i].IDs) == 0 || len(t[i].IDs) == 0 {
				continue // an empty line: nothing to attend to or to predict
			}
			ps = append(ps, data.Pair{Src: s[i].IDs[:min(len(s[i].IDs), maxLen-1)], Tgt: t[i].IDs[:min(len(t[i].IDs), maxLen-1)]})
		}
		return ps, nil
	}
	if trainPairs, err = encode(de, en); err != nil {
		return nil, nil, 0, err
	}
	if valPairs, err = encode(vde, ven); err != nil {
		return nil, nil, 0, err
	}
	return trainPairs, valPairs, tok.VocabSize(), nil
}

// tensors returns a batch's padded source, the decoder's input (<s> and
// the target) and its expected output (the target and </s>, pad where the
// loss ignores it).
func tensors(ps []data.Pair) (src, tgtIn transformer.Batch, tgtOut []int) {
	srcs, tgts := make([][]int, len(ps)), make([][]int, len(ps))
	for i, p := range ps {
		srcs[i], tgts[i] = p.Src, p.Tgt
	}
	tgtIn, tgtOut = transformer.TeacherForcing(tgts, bos, eos, pad)
	return transformer.MakeBatch(srcs, pad), tgtIn, tgtOut
}

// valLoss returns the cross-entropy (no smoothing) over every target token
// of the validation batches, dropout off.
func valLoss(m *transformer.Model, batches [][]data.Pair) (float64, error) {
	var sum float64
	n := 0
	for _, ps := range batches {
		src, tgtIn, tgtOut := tensors(ps)
		tp := autograd.BorrowInferenceTape()
		logits, err := m.Forward(tp, src, tgtIn)
		if err != nil {
			return 0, err
		}
		tokens := 0
		for _, t := range tgtOut {
			if t != pad {
				tokens++
			}
		}
		sum += float64(tp.CrossEntropy(logits, tgtOut, pad, 0).Item()) * float64(tokens)
		n += tokens
		autograd.ReturnInferenceTape(tp)
	}
	return sum / float64(n), nil
}

// writeInputs writes DIR/config.json, DIR/init.safetensors (the initial
// weights under their PyTorch names) and DIR/batches.safetensors (for each
// step k, train.src.k, train.tgt_in.k and train.tgt_out.k; the validation
// batches as val.*).
func writeInputs(dir string, c Config, m *transformer.Model, batch func(int) []data.Pair, val [][]data.Pair) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "init.safetensors"), m.Tensors(), nil); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	add := func(name string, ps []data.Pair) {
		src, tgtIn, tgtOut := tensors(ps)
		ts = append(ts, ids(name+".src", src.B, src.T, src.IDs), ids(name+".tgt_in", tgtIn.B, tgtIn.T, tgtIn.IDs),
			ids(name+".tgt_out", tgtIn.B, tgtIn.T, tgtOut))
	}
	for k := range c.Steps {
		add(fmt.Sprintf("train.%05d", k), batch(k))
	}
	for i, ps := range val {
		add(fmt.Sprintf("val.%05d", i), ps)
	}
	return safetensors.WriteFile(filepath.Join(dir, "batches.safetensors"), ts, nil)
}

// sameConfig checks that DIR/config.json, which PyTorch's side reads, is
// c: a run on other settings would not compare.
func sameConfig(dir string, c Config) error {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return fmt.Errorf("%w (write the shared inputs first, with -write)", err)
	}
	var w Config
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	if w != c {
		return fmt.Errorf("the inputs in %s were written for %+v; this run is %+v", dir, w, c)
	}
	return nil
}

// plotRuns draws each run's loss minus PyTorch's float32 loss at the same
// step: the curves themselves lie on top of each other.
func plotRuns(dir string) error {
	var c Config
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*-*.json"))
	if err != nil {
		return err
	}
	var runs []Result
	var ref *Result
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if r.Side == "torch fp32" {
			ref = &r
			continue
		}
		runs = append(runs, r)
	}
	if ref == nil {
		return fmt.Errorf("no PyTorch float32 run (torch-fp32.json) in %s", dir)
	}
	colors := []color.RGBA{train.TrainColor, train.ValColor, {0x2c, 0xa0, 0x2c, 0xff}, {0x94, 0x67, 0xbd, 0xff}}
	p := train.Plot{Title: fmt.Sprintf("%s model, Multi30k, dropout %g: loss minus PyTorch float32's", c.Shape, c.Dropout),
		XLabel: "step", YLabel: "x 0.001"}
	for i, r := range runs {
		s := train.Series{Name: r.Side, Color: colors[i%len(colors)]}
		for k := range min(len(r.Losses), len(ref.Losses)) {
			s.X = append(s.X, float64(k+1))
			s.Y = append(s.Y, 1000*(r.Losses[k]-ref.Losses[k]))
		}
		p.Series = append(p.Series, s)
	}
	png, err := p.PNG()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "trajectory.png"), png, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "trajectory.svg"), p.SVG(), 0o644)
}

func ids(name string, b, t int, v []int) safetensors.Tensor {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return safetensors.I64(name, []int{b, t}, out)
}
