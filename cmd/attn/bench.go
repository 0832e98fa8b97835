package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/clip"
	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/t5"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/train"
)

// benchResult is one measurement; with --json it is printed as one line.
type benchResult struct {
	Bench      string         `json:"bench"`
	Params     map[string]any `json:"params"`
	Ms         float64        `json:"ms"` // median
	GFLOPS     float64        `json:"gflops,omitempty"`
	TokensPerS float64        `json:"tokens_per_s,omitempty"`
	Allocs     float64        `json:"allocs"`      // heap allocations per run
	AllocBytes float64        `json:"alloc_bytes"` // heap bytes allocated per run
	// gemm: the FMA peak measured right after each timed product, for as
	// long, and the median of the products' fractions of it, pair by pair.
	PeakGFLOPS float64 `json:"peak_gflops,omitempty"`
	OfPeak     float64 `json:"of_peak,omitempty"`
	// train: the loss of every step run, the warm-up's first, so that a
	// comparison can see both sides train the same model.
	Losses []float64 `json:"losses,omitempty"`
	// --breakdown: where the timed runs' time went, per run.
	Breakdown *breakdown `json:"breakdown,omitempty"`
	// --pairs: variant 1's speed against variant 0's.
	Pairs *pairResult `json:"pairs,omitempty"`
}

// pairResult is what --pairs measured: runs of tensor.Experiment 0 and 1
// in pairs, and how much faster 1 ran.
type pairResult struct {
	Pairs   int     `json:"pairs"`
	Speedup float64 `json:"speedup"` // the median over blocks of two pairs of Σt0/Σt1
	Q1      float64 `json:"q1"`      // its quartiles
	Q3      float64 `json:"q3"`
	Ms0     float64 `json:"ms0"` // each variant's median time
	Ms1     float64 `json:"ms1"`
}

// runPairs times n pairs of runs (n rounded up to even), step(0) and
// step(1), in blocks of two pairs: 0 1 then 1 0. Always in the same order,
// the same code run twice was measured 1.4% faster second (the small
// training step, 200 pairs), which would read as a gain; a block's summed
// times cancel such a bias, and the median over the blocks keeps a block
// the machine slowed from moving the result.
func runPairs(n int, step func(v int32) time.Duration) pairResult {
	n = (n + 1) &^ 1
	ratios := make([]float64, 0, n/2)
	var times [2][]time.Duration
	for range n / 2 {
		var sum [2]time.Duration
		for _, order := range [2][2]int32{{0, 1}, {1, 0}} {
			for _, v := range order {
				d := step(v)
				sum[v] += d
				times[v] = append(times[v], d)
			}
		}
		ratios = append(ratios, sum[0].Seconds()/sum[1].Seconds())
	}
	slices.Sort(ratios)
	median := func(t []time.Duration) float64 {
		slices.Sort(t)
		return float64(t[len(t)/2]) / 1e6
	}
	b := len(ratios)
	return pairResult{Pairs: n, Speedup: ratios[b/2], Q1: ratios[b/4], Q3: ratios[3*b/4], Ms0: median(times[0]), Ms1: median(times[1])}
}

// breakdown splits a run's time between its products, by shape, the other
// parallel loops, by the function that started them, and the serial rest
// (tensor.StartTimeLog).
type breakdown struct {
	ProductsMs float64         `json:"products_ms"`
	LoopsMs    float64         `json:"loops_ms"`
	SerialMs   float64         `json:"serial_ms"`
	Products   []productPerRun `json:"products"`
	Loops      []loopPerRun    `json:"loops"`
}

type productPerRun struct {
	Op     string  `json:"op"` // A·B, Aᵀ·B, A·Bᵀ or Aᵀ·Bᵀ
	M      int     `json:"m"`
	N      int     `json:"n"`
	K      int     `json:"k"`
	Calls  float64 `json:"calls"`
	Ms     float64 `json:"ms"`
	GFLOPS float64 `json:"gflops"`
}

type loopPerRun struct {
	Caller string  `json:"caller"` // the function that started the loops and its caller, "f ← g", package paths and all
	Calls  float64 `json:"calls"`
	Ms     float64 `json:"ms"`
}

// newBreakdown turns the log of runs that took total into one run's
// breakdown.
func newBreakdown(l tensor.TimeLog, runs int, total time.Duration) *breakdown {
	per := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(runs) }
	b := &breakdown{ProductsMs: per(l.ProductsTime()), LoopsMs: per(l.LoopsTime()), Products: []productPerRun{}, Loops: []loopPerRun{}}
	b.SerialMs = max(0, per(total)-b.ProductsMs-b.LoopsMs)
	ops := map[[2]bool]string{{false, false}: "A·B", {true, false}: "Aᵀ·B", {false, true}: "A·Bᵀ", {true, true}: "Aᵀ·Bᵀ"}
	for _, p := range l.Products {
		b.Products = append(b.Products, productPerRun{Op: ops[[2]bool{p.TransA, p.TransB}], M: p.M, N: p.N, K: p.K,
			Calls: float64(p.Calls) / float64(runs), Ms: per(p.Time), GFLOPS: p.FLOPs() / p.Time.Seconds() / 1e9})
	}
	for _, p := range l.Loops {
		b.Loops = append(b.Loops, loopPerRun{Caller: p.Caller, Calls: float64(p.Calls) / float64(runs), Ms: per(p.Time)})
	}
	return b
}

// print writes the breakdown as two tables, the callers' names without
// their package paths.
func (b *breakdown) print(w io.Writer) {
	total := b.ProductsMs + b.LoopsMs + b.SerialMs
	pct := func(x float64) float64 { return 100 * x / total }
	fmt.Fprintf(w, "  per run: products %.2f ms (%.0f%%), other parallel loops %.2f ms (%.0f%%), serial work %.2f ms (%.0f%%)\n",
		b.ProductsMs, pct(b.ProductsMs), b.LoopsMs, pct(b.LoopsMs), b.SerialMs, pct(b.SerialMs))
	fmt.Fprintf(w, "  %-6s %20s %9s %9s %9s\n", "op", "M×N×K", "calls/run", "ms/run", "GFLOP/s")
	for _, p := range b.Products {
		fmt.Fprintf(w, "  %-6s %20s %9.4g %9.3f %9.1f\n", p.Op, fmt.Sprintf("%d×%d×%d", p.M, p.N, p.K), p.Calls, p.Ms, p.GFLOPS)
	}
	fmt.Fprintf(w, "  %-80s %9s %9s\n", "loops started by ← its caller", "calls/run", "ms/run")
	for _, p := range b.Loops {
		names := strings.Split(p.Caller, " ← ")
		for i, n := range names {
			names[i] = n[strings.LastIndex(n, "/")+1:]
		}
		fmt.Fprintf(w, "  %-80s %9.4g %9.3f\n", strings.Join(names, " ← "), p.Calls, p.Ms)
	}
}

// measure runs fn once to warm up, then reps times, and returns the median
// time and the mean number of heap allocations per run; lastBytes holds the
// mean bytes allocated per run. With profileTo set, the timed runs (not the
// warm-up, which pays for first-touch allocations) are CPU-profiled into it.
var (
	lastBytes float64
	lastMin   time.Duration // fastest timed run
	profileTo *os.File
	// With logTimes set, measure logs where its last call's timed runs'
	// time went into lastLog, their number into lastRuns and their total
	// time into lastTotal.
	logTimes  bool
	lastLog   tensor.TimeLog
	lastTotal time.Duration
	lastRuns  int
	// With pairRuns set, measure times pairs of runs (runPairs) instead,
	// and leaves what they measured in lastPairs.
	pairRuns  bool
	lastPairs *pairResult
)

func measure(reps int, fn func()) (time.Duration, float64) {
	fn()
	if profileTo != nil && pprof.StartCPUProfile(profileTo) == nil {
		defer pprof.StopCPUProfile()
	}
	times := make([]time.Duration, reps)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if logTimes {
		tensor.StartTimeLog()
	}
	runs := reps
	if pairRuns { // reps pairs, reported as variant 0's times
		times = times[:0]
		p := runPairs(reps, func(v int32) time.Duration {
			tensor.SetExperiment(v)
			t0 := time.Now()
			fn()
			d := time.Since(t0)
			if v == 0 {
				times = append(times, d)
			}
			return d
		})
		tensor.SetExperiment(0)
		lastPairs, runs = &p, 2*p.Pairs
	} else {
		for i := range times {
			t0 := time.Now()
			fn()
			times[i] = time.Since(t0)
		}
	}
	if logTimes {
		lastLog = tensor.StopTimeLog()
		lastTotal, lastRuns = 0, reps
		for _, t := range times {
			lastTotal += t
		}
	}
	runtime.ReadMemStats(&ms1)
	slices.Sort(times)
	lastMin = times[0]
	lastBytes = float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(runs)
	return times[len(times)/2], float64(ms1.Mallocs-ms0.Mallocs) / float64(runs)
}

// benchNames lists attn bench's benchmarks, for its usage and errors.
const benchNames = "peak, gemm, attention, train, train-gpt, train-llama, prompt, decode, load, vit, train-vit, clip, encode, train-bert or train-t5"

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) > 0 {
			fmt.Fprintln(stderr, "usage: attn bench BENCHMARK [flags]: "+benchNames+" (attn bench gemm -h for flags)")
			return flag.ErrHelp
		}
		return errors.New("which benchmark? " + benchNames + " (attn bench gemm -h for flags)")
	}
	fs := flag.NewFlagSet("attn bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per result")
	reps := fs.Int("reps", 5, "timed repetitions (the median is reported)")
	workers := fs.Int("workers", tensor.Workers(), "goroutines for the math")
	m := fs.Int("m", 1024, "gemm: rows of A and C")
	n := fs.Int("n", 1024, "gemm: columns of B and C")
	k := fs.Int("k", 1024, "gemm: inner dimension")
	t := fs.Int("t", 1024, "attention, encode, train-bert, train-llama: sequence length; train-t5: source and target length; prompt: its tokens; decode: cached tokens")
	heads := fs.Int("heads", 8, "attention: heads")
	dhead := fs.Int("d-head", 64, "attention: width of one head")
	batch := fs.Int("batch", 1, "attention, vit, train-vit, encode, train-bert, train-t5, train-llama: batch size; decode: sequences decoded together (as attn serve does)")
	shape := fs.String("shape", "small", "train: nn.Transformer shape, small or base")
	preset := fs.String("preset", "baby-gpt", "train-gpt, prompt, decode: GPT preset (see attn train), or gpt2 for GPT-2 small's shape (124M, random weights); encode, train-bert: modernbert for ModernBERT-base's shape (default BERT-base)")
	quantize := quantizeFlag(fs)
	modelFlag := fs.String("model", "", "prompt, decode, load: a GPT-2 or Llama-family model folder (instead of --preset); train-llama: the Llama folder")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the benchmark's timed runs (not its warm-up) to this file (read it with go tool pprof)")
	showBreakdown := fs.Bool("breakdown", false, "also report where the timed runs' time went: each product shape's time and rate, the other parallel loops, the serial rest")
	pairsFlag := fs.Bool("pairs", false, "time --reps pairs of runs, one with tensor.Experiment 0 and one with 1, in blocks of 0 1 1 0, and report how much faster 1 ran: a change that reads it, timed against the code it replaces in one process (the other numbers are 0's)")
	if err := fs.Parse(args[1:]); err != nil {
		return err // -h: run answers 0
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		profileTo = f
		defer func() { profileTo = nil }()
	}
	if *reps < 1 {
		return fmt.Errorf("--reps %d: want at least 1", *reps)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"m", *m}, {"n", *n}, {"k", *k}, {"t", *t}, {"heads", *heads}, {"d-head", *dhead}, {"batch", *batch}, {"workers", *workers}} {
		if f.v < 1 {
			return fmt.Errorf("--%s %d: want at least 1", f.name, f.v)
		}
	}
	// The floats a gemm or attention benchmark allocates for its operands:
	// what could not fit is refused here rather than fail in an allocation.
	var operands float64
	switch args[0] {
	case "gemm":
		operands = float64(*m)*float64(*k) + float64(*k)*float64(*n) + float64(*m)*float64(*n)
	case "attention": // q, k, v, the output and their gradients, and the product's scratch
		operands = 12 * float64(*batch) * float64(*t) * float64(*heads) * float64(*dhead)
	}
	const maxFloats = 1 << 31 // 8 GiB
	if operands > maxFloats {
		return fmt.Errorf("%s with these sizes needs %.0f GB of operands; want at most %d GiB", args[0], operands*4/1e9, maxFloats*4/(1<<30))
	}
	tensor.SetWorkers(*workers)
	if *pairsFlag && *showBreakdown {
		return errors.New("--pairs and --breakdown: choose one (a breakdown of pairs would mix the two variants)")
	}
	if *pairsFlag && args[0] == "peak" {
		return errors.New("peak --pairs: peak times no runs to pair")
	}
	logTimes, lastRuns = *showBreakdown, 0
	pairRuns, lastPairs = *pairsFlag, nil
	defer func() { logTimes, pairRuns = false, false }()
	var r benchResult
	switch args[0] {
	case "peak":
		peak := tensor.PeakGFLOPS(2 * time.Second)
		triad, read := tensor.StreamGBps(*reps)
		cpu := tensor.CPU()
		r = benchResult{Bench: "peak", Params: map[string]any{"stream_gbps": triad, "read_gbps": read}, GFLOPS: peak}
		if p := r.Params; cpu.Vendor != "" { // CPU(), unless this build cannot ask (not amd64, or purego)
			p["cpu"], p["cpu_vendor"], p["cpu_family"], p["cpu_model"] = cpu.Name, cpu.Vendor, cpu.Family, cpu.Model
			p["l1d_kib"], p["l2_kib"] = cpu.L1D>>10, cpu.L2>>10
		}
		if !*asJSON {
			name, _ := tensor.Kernels()
			fmt.Fprintf(stdout, "FMA peak: %.1f GFLOP/s on %d workers (%s kernels); memory bandwidth: %.1f GB/s STREAM triad, %.1f GB/s reading\n", peak, tensor.Workers(), name, triad, read)
			if cpu.Vendor != "" {
				fmt.Fprintf(stdout, "CPU: %s (%s family %d model %d), caches: L1d %d KiB, L2 %d KiB\n", cpu.Name, cpu.Vendor, cpu.Family, cpu.Model, cpu.L1D>>10, cpu.L2>>10)
			}
			return nil
		}
	case "gemm":
		r = benchGemm(*m, *n, *k, *reps)
	case "attention":
		r = benchAttention(*batch, *heads, *t, *dhead, *reps)
	case "train":
		var err error
		if r, err = benchTrain(*shape, *reps); err != nil {
			return err
		}
	case "train-gpt":
		p, ok := lmPresets()[*preset]
		p.Model.VocabSize = 65
		if *preset == "gpt2" { // GPT-2 small fine-tuned on a text: 16 windows of 128 tokens, no dropout
			p, ok = lmPreset{Model: gpt.DefaultConfig(), Data: train.LMData{Batch: 16, Context: 128}, Train: train.RunConfig{WeightDecay: 0.1}}, true
			p.Model.Dropout = 0
		}
		if !ok {
			return fmt.Errorf("unknown preset %q", *preset)
		}
		var err error
		if r, err = benchTrainGPT(*preset, p, *reps); err != nil {
			return err
		}
	case "train-t5":
		var err error
		if r, err = benchTrainT5(*batch, *t, *reps); err != nil {
			return err
		}
	case "train-llama":
		var err error
		if r, err = benchTrainLlama(*modelFlag, *batch, *t, *reps); err != nil {
			return err
		}
	case "encode", "train-bert":
		var err error
		if r, err = benchEncode(*batch, *t, *reps, args[0] == "train-bert", *preset); err != nil {
			return err
		}
	case "vit", "train-vit":
		var err error
		if r, err = benchViT(*batch, *reps, args[0] == "train-vit"); err != nil {
			return err
		}
	case "clip":
		var err error
		if r, err = benchCLIP(*batch, *reps); err != nil {
			return err
		}
	case "prompt", "decode", "load":
		var err error
		if r, err = benchInference(args[0], *modelFlag, *preset, *quantize, *t, *batch, *reps); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown benchmark %q (want %s)", args[0], benchNames)
	}
	r.Params["workers"] = tensor.Workers()
	r.Params["kernels"], _ = tensor.Kernels()
	r.AllocBytes = lastBytes
	if *showBreakdown && lastRuns > 0 { // peak times no runs
		r.Breakdown = newBreakdown(lastLog, lastRuns, lastTotal)
	}
	if *pairsFlag {
		if lastPairs == nil {
			return fmt.Errorf("%s --pairs: it timed no runs to pair", args[0])
		}
		r.Pairs = lastPairs
	}
	if *asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	fmt.Fprintf(stdout, "%-10s %v: %.3f ms", r.Bench, r.Params, r.Ms)
	if r.GFLOPS > 0 {
		fmt.Fprintf(stdout, ", %.1f GFLOP/s", r.GFLOPS)
	}
	if r.OfPeak > 0 {
		kind := "FMA"
		if tensor.MatmulBF16() {
			kind = "bfloat16 (twice the FMA)"
		}
		fmt.Fprintf(stdout, " (%.0f%% of the %.1f GFLOP/s %s peak measured beside it)", 100*r.OfPeak, r.PeakGFLOPS, kind)
	}
	if r.TokensPerS > 0 {
		fmt.Fprintf(stdout, ", %.0f tokens/s", r.TokensPerS)
	}
	if n := len(r.Losses); n > 0 {
		fmt.Fprintf(stdout, ", loss %.4f → %.4f over %d steps", r.Losses[0], r.Losses[n-1], n)
	}
	fmt.Fprintf(stdout, ", %.0f allocs (%.1f MB)\n", r.Allocs, r.AllocBytes/1e6)
	if r.Breakdown != nil {
		r.Breakdown.print(stdout)
	}
	if p := r.Pairs; p != nil {
		fmt.Fprintf(stdout, "  pairs: Experiment 1 ran %.4f× as fast as 0 (the median over %d pairs, in blocks of 0 1 1 0; quartiles %.4f–%.4f); medians %.3f and %.3f ms\n", p.Speedup, p.Pairs, p.Q1, p.Q3, p.Ms0, p.Ms1)
	}
	return nil
}

func benchGemm(m, n, k, reps int) benchResult {
	rng := tensor.NewRNG(1)
	a, b, c := tensor.New(m, k), tensor.New(k, n), tensor.New(m, n)
	rng.FillNormal(a, 0, 1)
	rng.FillNormal(b, 0, 1)
	product := func() { tensor.Gemm(false, false, m, n, k, 1, a.Data, k, b.Data, n, 0, c.Data, n) }
	flops := 2 * float64(m) * float64(n) * float64(k)
	d, allocs := measure(reps, product)
	// Products in bfloat16 do twice the multiply-adds per instruction
	// (VDPBF16PS), so their peak is twice the FMA loop's.
	perFMA := 1.0
	if tensor.MatmulBF16() {
		perFMA = 2
	}
	// The goal is a fraction of the FMA peak, and on a shared machine the
	// peak itself moves by up to 2× from one minute to the next (a core's
	// sibling hyperthread is another tenant's), so each product is paired
	// with the peak measured right after it, and the fraction read pair by
	// pair.
	peaks, fracs := make([]float64, reps), make([]float64, reps)
	for i := range reps {
		product() // untimed: the pool's helpers slept through the peak loop
		t0 := time.Now()
		product()
		dt := time.Since(t0)
		peaks[i] = perFMA * tensor.PeakGFLOPS(max(dt, 5*time.Millisecond))
		fracs[i] = flops / dt.Seconds() / 1e9 / peaks[i]
	}
	slices.Sort(peaks)
	slices.Sort(fracs)
	return benchResult{Bench: "gemm", Params: map[string]any{"m": m, "n": n, "k": k}, Ms: ms(d),
		GFLOPS: flops / d.Seconds() / 1e9, Allocs: allocs, PeakGFLOPS: peaks[reps/2], OfPeak: fracs[reps/2]}
}

// benchAttention times causal attention forward and backward.
func benchAttention(b, h, t, d, reps int) benchResult {
	rng := tensor.NewRNG(1)
	mk := func() *autograd.Var {
		x := tensor.New(b, t, h*d)
		rng.FillNormal(x, 0, 1)
		return autograd.NewParam(x)
	}
	q, k, v := mk(), mk(), mk()
	proj := tensor.New(b, t, h*d)
	rng.FillNormal(proj, 0, 1)
	dur, allocs := measure(reps, func() {
		tp := autograd.NewTape(nil)
		y := tp.Attention(q, k, v, h, autograd.AttentionOpts{Causal: true})
		tp.Backward(tp.Sum(tp.Mul(y, autograd.Const(proj))))
	})
	// Causal: half of the 4·T²·D multiply-adds of forward, 8·T²·D of backward.
	flops := float64(b*h) * (2*2*float64(t)*float64(t)*float64(d) + 4*2*float64(t)*float64(t)*float64(d)) / 2
	return benchResult{Bench: "attention", Params: map[string]any{"batch": b, "heads": h, "t": t, "d_head": d, "causal": true},
		Ms: ms(dur), GFLOPS: flops / dur.Seconds() / 1e9, Allocs: allocs}
}

// benchTrain times one training step of PyTorch's nn.Transformer shapes
// (issue 3's "small" and "base"): forward, label-smoothed loss, backward and
// Adam, batch of random ids, source and target length 32.
func benchTrain(shape string, reps int) (benchResult, error) {
	cfg := transformer.DefaultConfig()
	cfg.SrcVocab, cfg.TgtVocab = 8000, 8000
	cfg.ShareEmbeddings, cfg.TieOutput, cfg.FinalNorm = false, false, true
	batch := 16
	switch shape {
	case "small":
		cfg.DModel, cfg.Heads, cfg.EncoderLayers, cfg.DecoderLayers, cfg.DFF = 256, 4, 3, 3, 1024
		batch = 32
	case "base":
	default:
		return benchResult{}, fmt.Errorf("unknown shape %q (want small or base)", shape)
	}
	m, err := transformer.New(cfg, 1)
	if err != nil {
		return benchResult{}, err
	}
	const seqLen = 32
	rng := tensor.NewRNG(2)
	ids := func() transformer.Batch {
		b := transformer.Batch{IDs: make([]int, batch*seqLen), B: batch, T: seqLen}
		for i := range b.IDs {
			b.IDs[i] = 1 + rng.Intn(cfg.SrcVocab-1)
		}
		return b
	}
	src, tgt, out := ids(), ids(), ids()
	ps := nn.Unique(m.Params())
	opt := train.NewAdam()
	tp := autograd.NewTape(tensor.NewRNG(3))
	var stepErr error
	var losses []float64
	dur, allocs := measure(reps, func() {
		for _, p := range ps {
			p.ZeroGrad()
		}
		logits, err := m.Forward(tp, src, tgt)
		if err != nil {
			stepErr = err
			return
		}
		loss := tp.CrossEntropy(logits, out.IDs, 0, 0.1)
		losses = append(losses, float64(loss.Item()))
		tp.Backward(loss)
		opt.Update(ps, 1e-4)
	})
	if stepErr != nil {
		return benchResult{}, stepErr
	}
	tokens := float64(2 * batch * seqLen)
	flops := transformerStepFLOPs(cfg, batch, seqLen, seqLen)
	return benchResult{Bench: "train", Params: map[string]any{"shape": shape, "batch": batch, "seq_len": seqLen, "d_model": cfg.DModel, "layers": cfg.EncoderLayers},
		Ms: ms(dur), GFLOPS: flops / dur.Seconds() / 1e9, TokensPerS: tokens / dur.Seconds(), Allocs: allocs, Losses: losses}, nil
}

// transformerStepFLOPs counts the floating-point operations of one
// training step of an encoder-decoder Transformer on batch pairs of src
// and tgt tokens: the products' multiply-adds, two operations each, the
// backward pass twice the forward (the convention of the other training
// benchmarks). Attention counts every score, as PyTorch's explicit
// attention computes them; element-wise work is left out.
func transformerStepFLOPs(cfg transformer.Config, batch, src, tgt int) float64 {
	d, ff, s, t := float64(cfg.DModel), float64(cfg.DFF), float64(src), float64(tgt)
	enc := s*(4*d*d+2*d*ff) + 2*s*s*d   // Q, K, V and output projections, feed-forward; scores and weighted values
	dec := t*(6*d*d+2*d*ff) + s*2*d*d + // self-attention's four projections, cross-attention's query and output; its keys and values of the memory
		2*t*t*d + 2*t*s*d // self- and cross-attention scores and weighted values
	out := t * d * float64(cfg.TgtVocab) // the logits
	macs := float64(batch) * (float64(cfg.EncoderLayers)*enc + float64(cfg.DecoderLayers)*dec + out)
	return 3 * 2 * macs
}

// benchEncode times BERT-base (random weights, with its pooler), or with
// preset modernbert ModernBERT-base, encoding a batch of b sequences of t
// tokens, as attn embed does.
func benchEncode(b, t, reps int, training bool, preset string) (benchResult, error) {
	c, model, parts := bert.DefaultConfig(), "bert-base", bert.Parts{Pooler: true, Labels: 2}
	switch preset {
	case "baby-gpt": // the flag's default: BERT-base
	case "modernbert": // ModernBERT-base: ModernBertConfig's defaults
		if err := json.Unmarshal([]byte(`{"model_type": "modernbert"}`), &c); err != nil {
			return benchResult{}, err
		}
		model, parts = "modernbert-base", bert.Parts{Labels: 2}
	default:
		return benchResult{}, fmt.Errorf("--preset %q: encode and train-bert run BERT-base, or modernbert", preset)
	}
	if t > c.MaxPositions {
		return benchResult{}, fmt.Errorf("--t %d exceeds the model's %d positions", t, c.MaxPositions)
	}
	m, err := bert.New(c, parts, 1)
	if err != nil {
		return benchResult{}, err
	}
	rng := tensor.NewRNG(2)
	ids := make([]int, b*t)
	for i := range ids {
		ids[i] = 1000 + rng.Intn(20000)
	}
	labels := make([]int, b)
	for i := range labels {
		labels[i] = rng.Intn(2)
	}
	ps := nn.Unique(m.Params())
	opt := train.NewAdamW(0.01)
	tp := autograd.NewTape(tensor.NewRNG(3)) // dropout as in training
	var runErr error
	var losses []float64
	dur, allocs := measure(reps, func() {
		if !training {
			if _, _, err := m.Encode(ids, nil, nil, b, t); err != nil {
				runErr = err
			}
			return
		}
		for _, p := range ps {
			p.ZeroGrad()
		}
		h, err := m.Forward(tp, ids, nil, nil, b, t)
		if err != nil {
			runErr = err
			return
		}
		logits, _ := m.ClassLogits(tp, h, nil)
		loss := tp.CrossEntropy(logits, labels, -1, 0)
		losses = append(losses, float64(loss.Item()))
		tp.Backward(loss)
		opt.Update(ps, 2e-5)
	})
	d, mlp := c.Hidden, 2*c.Hidden*c.Intermediate
	if c.Modern != nil { // the GeGLU's Wi is twice as wide; local layers counted as global
		mlp = 3 * c.Hidden * c.Intermediate
	}
	flops := 2 * float64(b) * float64(c.Layers) * (float64(t)*float64(4*d*d+mlp) + 2*float64(t*t*d))
	name := "encode"
	if training {
		name, flops = "train-bert", 3*flops // a fine-tuning step: the backward pass is about twice the forward
	}
	return benchResult{Bench: name, Params: map[string]any{"model": model, "batch": b, "seq_len": t},
		Ms: ms(dur), GFLOPS: flops / dur.Seconds() / 1e9, TokensPerS: float64(b*t) / dur.Seconds(), Allocs: allocs, Losses: losses}, runErr
}

// benchTrainT5 times a T5 fine-tuning step as attn train --model T5 runs
// it: t5-small's shape (60M parameters, random weights, dropout 0.1), b
// pairs of t source and t target tokens, teacher-forced cross-entropy,
// backward, AdamW. Tokens/s counts source and target tokens.
func benchTrainT5(b, t, reps int) (benchResult, error) {
	c := t5.DefaultConfig()
	m, err := t5.New(c, 1)
	if err != nil {
		return benchResult{}, err
	}
	rng := tensor.NewRNG(2)
	src, tgtIn, tgtOut := make([]int, b*t), make([]int, b*t), make([]int, b*t)
	for i := range src {
		src[i], tgtOut[i] = 2+rng.Intn(c.VocabSize-2), 2+rng.Intn(c.VocabSize-2)
	}
	for i := range tgtIn { // the targets shifted right behind decoder_start_token_id
		if i%t == 0 {
			tgtIn[i] = c.DecoderStartTokenID
		} else {
			tgtIn[i] = tgtOut[i-1]
		}
	}
	ps := nn.Unique(m.Params())
	opt := train.NewAdamW(0.01)
	tp := autograd.NewTape(tensor.NewRNG(3))
	var runErr error
	var losses []float64
	dur, allocs := measure(reps, func() {
		for _, p := range ps {
			p.ZeroGrad()
		}
		logits, err := m.Forward(tp, src, nil, tgtIn, b, t, t)
		if err != nil {
			runErr = err
			return
		}
		loss := tp.CrossEntropy(logits, tgtOut, -100, 0)
		losses = append(losses, float64(loss.Item()))
		tp.Backward(loss)
		opt.Update(ps, 3e-4)
	})
	d, f := float64(c.DModel), float64(c.DFF)
	enc := float64(c.NumLayers) * (4*d*d + 2*d*f)
	dec := float64(c.NumDecoderLayers)*(8*d*d+2*d*f) + d*float64(c.VocabSize)
	attn := float64(c.NumLayers+2*c.NumDecoderLayers) * 2 * float64(t*t) * d // multiply-adds of the scores and weighted sums
	flops := 3 * 2 * float64(b) * (float64(t)*(enc+dec) + attn)              // forward, and a backward of about twice it
	return benchResult{Bench: "train-t5", Params: map[string]any{"model": "t5-small", "batch": b, "seq_len": t},
		Ms: ms(dur), GFLOPS: flops / dur.Seconds() / 1e9, TokensPerS: float64(2*b*t) / dur.Seconds(), Allocs: allocs, Losses: losses}, runErr
}

// benchCLIP times CLIP ViT-B/32's embedding (HF's CLIPConfig defaults,
// random weights) of a batch of b images and b captions of 77 tokens, as
// indexing captioned images runs it: get_image_features and
// get_text_features.
func benchCLIP(batch, reps int) (benchResult, error) {
	c := clip.DefaultConfig()
	m, err := clip.New(c, 1)
	if err != nil {
		return benchResult{}, err
	}
	rng := tensor.NewRNG(2)
	px := tensor.New(batch, 3, c.Vision.ImageSize, c.Vision.ImageSize)
	rng.FillNormal(px, 0, 1)
	t := c.Text.MaxPositions
	ids := make([]int, batch*t)
	for i := range ids {
		ids[i] = 1000 + rng.Intn(40000) // no end-of-text id: each caption pools at position 0, which costs the same
	}
	var runErr error
	dur, allocs := measure(reps, func() {
		if _, err := m.ImageEmbeds(px.Data, batch); err != nil {
			runErr = err
		}
		if _, err := m.TextEmbeds(ids, nil, batch, t); err != nil {
			runErr = err
		}
	})
	layer := func(tw clip.Tower, n int) float64 { // one layer's multiply-adds over n tokens
		d := float64(tw.Hidden)
		return float64(n)*(4*d*d+2*d*float64(tw.Intermediate)) + 2*float64(n*n)*d
	}
	v := c.Vision
	n := v.Patches() + 1
	flops := 2 * float64(batch) * (float64(v.Patches()*3*v.PatchSize*v.PatchSize*v.Hidden) + float64(v.Layers)*layer(v.Tower, n) +
		float64(c.Text.Layers)*layer(c.Text.Tower, t) + float64(c.ProjectionDim*(v.Hidden+c.Text.Hidden)))
	return benchResult{Bench: "clip", Params: map[string]any{"model": "clip-vit-base-patch32", "batch": batch, "seq_len": t, "pairs_per_s": float64(batch) / dur.Seconds()},
		Ms: ms(dur), GFLOPS: flops / dur.Seconds() / 1e9, Allocs: allocs}, runErr
}

// benchViT times ViT-B/16 at 224 pixels (random weights, a 1,000-label
// classifier) on a batch of random images: its forward pass from pixels to
// logits, or with training a fine-tuning step (forward, cross-entropy,
// backward, AdamW).
func benchViT(batch, reps int, training bool) (benchResult, error) {
	c := vit.DefaultConfig()
	m, err := vit.New(c, vit.Parts{Labels: 1000}, 1)
	if err != nil {
		return benchResult{}, err
	}
	px := tensor.New(batch, c.Channels, c.ImageSize, c.ImageSize)
	rng := tensor.NewRNG(2)
	rng.FillNormal(px, 0, 1)
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.Intn(1000)
	}
	ps := nn.Unique(m.Params())
	opt := train.NewAdamW(0.05)
	tp := autograd.NewTape(tensor.NewRNG(3))
	var runErr error
	var losses []float64
	dur, allocs := measure(reps, func() {
		if !training {
			if _, err := m.Classify(px.Data, batch); err != nil {
				runErr = err
			}
			return
		}
		for _, p := range ps {
			p.ZeroGrad()
		}
		h, err := m.Forward(tp, px.Data, batch)
		if err != nil {
			runErr = err
			return
		}
		logits, _ := m.Logits(tp, h)
		loss := tp.CrossEntropy(logits, labels, -1, 0)
		losses = append(losses, float64(loss.Item()))
		tp.Backward(loss)
		opt.Update(ps, 1e-4)
	})
	// Multiply-adds: the patch projection, per layer the four C×C
	// projections, the feed-forward net and attention's two T×T products,
	// and the classifier.
	t, d, p := c.Patches()+1, c.Hidden, c.PatchSize
	flops := 2 * float64(batch) * (float64(c.Patches()*c.Channels*p*p*d) +
		float64(c.Layers)*(float64(t)*float64(4*d*d+2*d*c.Intermediate)+2*float64(t*t*d)) + float64(1000*d))
	name := "vit"
	if training {
		name, flops = "train-vit", 3*flops // the backward pass is about twice the forward
	}
	return benchResult{Bench: name, Params: map[string]any{"model": "vit-base-patch16-224", "batch": batch, "images_per_s": float64(batch) / dur.Seconds()},
		Ms: ms(dur), GFLOPS: flops / dur.Seconds() / 1e9, Allocs: allocs, Losses: losses}, runErr
}

// benchTrainGPT times one training step of a GPT preset (dropout as the
// preset sets it) on random ids.
func benchTrainGPT(name string, p lmPreset, reps int) (benchResult, error) {
	m, err := gpt.New(p.Model, 1)
	if err != nil {
		return benchResult{}, err
	}
	rng := tensor.NewRNG(2)
	b, t := p.Data.Batch, p.Data.Context
	ids := make([]int, b*t)
	for i := range ids {
		ids[i] = rng.Intn(p.Model.VocabSize)
	}
	ps := nn.Unique(m.Params())
	opt := train.NewAdamW(p.Train.WeightDecay)
	opt.NoDecay = m.NoDecay()
	tp := autograd.NewTape(tensor.NewRNG(3))
	var stepErr error
	var losses []float64
	dur, allocs := measure(reps, func() {
		for _, p := range ps {
			p.ZeroGrad()
		}
		loss, err := m.Loss(tp, ids, ids, b, t)
		if err != nil {
			stepErr = err
			return
		}
		losses = append(losses, float64(loss.Item()))
		tp.Backward(loss)
		train.ClipGradNorm(ps, 1)
		opt.Update(ps, 1e-3)
	})
	return benchResult{Bench: "train-gpt", Params: map[string]any{"preset": name, "batch": b, "context": t, "n_embd": p.Model.NEmbd, "n_layer": p.Model.NLayer},
		Ms: ms(dur), TokensPerS: float64(b*t) / dur.Seconds(), Allocs: allocs, Losses: losses}, stepErr
}

// benchTrainLlama times one fine-tuning step of the Llama-family model in
// dir (what attn train --model runs): batch windows of t random tokens,
// forward, loss, backward, clipping and AdamW.
func benchTrainLlama(dir string, batch, t, reps int) (benchResult, error) {
	if dir == "" {
		return benchResult{}, errors.New("train-llama needs --model DIR (a Llama-family folder)")
	}
	dir, _, err := modelOfType(dir, "bench train-llama", "llama")
	if err != nil {
		return benchResult{}, err
	}
	m, err := llama.Load(dir)
	if err != nil {
		return benchResult{}, err
	}
	rng := tensor.NewRNG(2)
	ids, targets := make([]int, batch*t), make([]int, batch*t)
	for i := range ids {
		ids[i], targets[i] = rng.Intn(m.Cfg.VocabSize), rng.Intn(m.Cfg.VocabSize)
	}
	ps := nn.Unique(m.Params())
	opt := train.NewAdamW(0.1)
	opt.NoDecay = m.NoDecay()
	tp := autograd.NewTape(nil)
	var stepErr error
	dur, allocs := measure(reps, func() {
		for _, p := range ps {
			p.ZeroGrad()
		}
		loss, err := m.Loss(tp, ids, targets, batch, t)
		if err != nil {
			stepErr = err
			return
		}
		tp.Backward(loss)
		train.ClipGradNorm(ps, 1)
		opt.Update(ps, 1e-5)
	})
	return benchResult{Bench: "train-llama", Params: map[string]any{"model": dir, "batch": batch, "t": t, "hidden": m.Cfg.Hidden, "layers": m.Cfg.Layers},
		Ms: ms(dur), TokensPerS: float64(batch*t) / dur.Seconds(), Allocs: allocs}, stepErr
}

// benchInference times a GPT model from dir (or, without one, a preset's
// shape with random weights): "prompt" runs a t-token prompt through a fresh
// KV cache, "decode" generates one token with t tokens cached, "load" reads
// the folder.
func benchInference(which, dir, preset, quantize string, t, batch, reps int) (benchResult, error) {
	var cfg gpt.Config
	params := map[string]any{}
	switch {
	case dir != "":
		params["model"] = dir
	case which == "load":
		return benchResult{}, errors.New("attn bench load needs --model DIR")
	case preset == "gpt2":
		cfg = gpt.DefaultConfig()
	default:
		p, ok := lmPresets()[preset]
		if !ok {
			return benchResult{}, fmt.Errorf("unknown preset %q", preset)
		}
		cfg, cfg.VocabSize = p.Model, 65
	}
	if dir == "" {
		params["preset"] = preset
		cfg.NPositions = max(cfg.NPositions, t+1)
	}
	if dir != "" {
		typ, err := model.Type(dir)
		if err == nil && family(typ) == "llama" {
			return benchLlama(which, dir, quantize, t, batch, reps, params)
		}
		if err == nil {
			if err := checkQuantize(quantize, typ); err != nil {
				return benchResult{}, err
			}
		}
	} else if quantize != "" {
		return benchResult{}, errors.New("--quantize is for a Llama-family --model")
	}
	load := func() (*gpt.Model, error) {
		if dir == "" {
			return gpt.New(cfg, 1)
		}
		dir, _, err := modelOfType(dir, "bench "+which, "gpt2", "llama")
		if err != nil {
			return nil, err
		}
		return gpt.Load(dir)
	}
	t0 := time.Now()
	m, err := load()
	if err != nil {
		return benchResult{}, err
	}
	firstLoad(params, which, time.Since(t0))
	params["n_embd"], params["n_layer"] = m.Cfg.NEmbd, m.Cfg.NLayer
	var runErr error
	var dur time.Duration
	var allocs float64
	switch which {
	case "load":
		m = nil
		dur, allocs = measure(reps, func() {
			if _, err := load(); err != nil {
				runErr = err
			}
		})
		return benchResult{Bench: which, Params: params, Ms: ms(dur), Allocs: allocs}, runErr
	case "prompt":
		cache := m.NewCache(1)
		prompt := make([]int, t)
		for i := range prompt {
			prompt[i] = i % m.Cfg.VocabSize
		}
		dur, allocs = measure(reps, func() {
			cache.Reset()
			_, runErr = m.StepLast(cache, prompt, 1)
		})
		params["tokens"] = t
		return benchResult{Bench: which, Params: params, Ms: ms(dur), TokensPerS: float64(t) / dur.Seconds(), Allocs: allocs}, runErr
	}
	if batch < 1 {
		return benchResult{}, fmt.Errorf("--batch %d; want at least 1", batch)
	}
	if batch > 1 { // as attn serve decodes several sequences
		m.BatchLayout()
	}
	caches := make([]*gpt.Cache, batch)
	for i := range caches {
		caches[i] = m.NewCache(1)
		if _, err := m.StepLast(caches[i], make([]int, t), 1); err != nil {
			return benchResult{}, err
		}
	}
	next, bt := make([]int, batch), gpt.NewBatchBuffers()
	dur, allocs = measure(reps, func() {
		if batch == 1 {
			_, runErr = m.StepLast(caches[0], next, 1)
		} else {
			_, runErr = m.StepBatch(bt, caches, next)
		}
		for _, c := range caches {
			c.Truncate(t)
		}
	})
	params["cached"], params["batch"] = t, batch
	// The floor: a decode step reads every weight once (of the position
	// table, one row), at best at the machine's read bandwidth, measured
	// here, in the same run, with the same kernels, as the best of 5 runs;
	// x_floor is the median step over the floor, x_floor_best the fastest.
	var bytes int
	for _, p := range m.Params() {
		if p.Var != m.WPE.Weight {
			bytes += 4 * tensor.Size(p.Value.Shape) // Len is 0 for a weight BatchLayout moved
		}
	}
	_, read := tensor.StreamGBps(5)
	floor := float64(bytes) / (read * 1e9)
	params["weight_mb"] = math.Round(float64(bytes) / 1e6)
	params["read_gbps"] = math.Round(read*10) / 10
	params["floor_ms"] = math.Round(floor*1e5) / 100
	params["x_floor"] = math.Round(dur.Seconds()/floor*100) / 100
	params["x_floor_best"] = math.Round(lastMin.Seconds()/floor*100) / 100
	return benchResult{Bench: which, Params: params, Ms: ms(dur), TokensPerS: float64(batch) / dur.Seconds(), Allocs: allocs}, runErr
}

// firstLoad records, for "load", how long the process's first load took
// (first_ms): what a user of attn generate waits for, its memory faulted in
// fresh, where the median (ms) times loads into memory the process has
// held before.
func firstLoad(params map[string]any, which string, d time.Duration) {
	if which == "load" {
		params["first_ms"] = ms(d)
	}
}

// benchLlama is benchInference for a Llama-family folder: load, a prompt
// of t tokens, or one token decoded for each of batch sequences with t
// cached.
func benchLlama(which, dir, quantize string, t, batch, reps int, params map[string]any) (benchResult, error) {
	if batch < 1 {
		return benchResult{}, fmt.Errorf("--batch %d; want at least 1", batch)
	}
	if err := checkQuantize(quantize, "llama"); err != nil {
		return benchResult{}, err
	}
	load := llamaLoader(quantize) // as attn generate runs it
	t0 := time.Now()
	m, err := load(dir)
	if err != nil {
		return benchResult{}, err
	}
	firstLoad(params, which, time.Since(t0))
	params["hidden"], params["layers"], params["kv_heads"] = m.Cfg.Hidden, m.Cfg.Layers, cmp.Or(m.Cfg.KVHeads, m.Cfg.Heads)
	params["weights"] = m.Format()
	var runErr error
	var dur time.Duration
	var allocs float64
	cache := m.NewCache()
	tokens := make([]int, t)
	for i := range tokens {
		tokens[i] = i % m.Cfg.VocabSize
	}
	switch which {
	case "load":
		m = nil
		dur, allocs = measure(reps, func() {
			if _, err := load(dir); err != nil {
				runErr = err
			}
		})
		return benchResult{Bench: which, Params: params, Ms: ms(dur), Allocs: allocs}, runErr
	case "prompt":
		dur, allocs = measure(reps, func() {
			cache.Reset()
			_, runErr = m.StepLast(cache, tokens)
		})
		params["tokens"] = t
		return benchResult{Bench: which, Params: params, Ms: ms(dur), TokensPerS: float64(t) / dur.Seconds(), Allocs: allocs}, runErr
	}
	caches := []*llama.Cache{cache}
	for len(caches) < batch {
		caches = append(caches, m.NewCache())
	}
	for _, c := range caches {
		if _, err := m.StepLast(c, tokens); err != nil {
			return benchResult{}, err
		}
	}
	next, bt := make([]int, batch), llama.NewBatchBuffers()
	dur, allocs = measure(reps, func() {
		if batch == 1 {
			_, runErr = m.StepLast(cache, next)
		} else {
			_, runErr = m.StepBatch(bt, caches, next)
		}
		for _, c := range caches {
			c.Truncate(t)
		}
	})
	// The floor, as for GPT-2: every weight read once a token (of the
	// embeddings one row, unless they are the output layer too), two bytes
	// a value of the matrices kept in 16 bits, 1 and a 32nd of a 4-byte
	// scale of those in 8 (they have no float32 values). A mixture of
	// experts' step reads the experts its tokens chose: with k of E chosen
	// at random for each of the batch's tokens, a share 1 − (1 − k/E)^batch
	// of them on average.
	var bytes float64
	share := 1.0
	if e := m.Cfg.Experts; e > 0 {
		share = 1 - math.Pow(1-float64(m.Cfg.ExpertsPerToken)/float64(e), float64(batch))
		params["experts_read"] = math.Round(share*float64(e)*10) / 10
	}
	for _, p := range m.Params() {
		if p.Var != m.Embed.Weight || m.Cfg.Tied {
			n := float64(tensor.Size(p.Value.Shape))
			if strings.Contains(p.Name, ".mlp.experts.") {
				n *= share
			}
			switch {
			case p.Value.Data != nil:
				bytes += 4 * n
			case m.Format() == "q8":
				bytes += n + n/8
			default:
				bytes += 2 * n
			}
		}
	}
	_, read := tensor.StreamGBps(5)
	floor := bytes / (read * 1e9)
	params["cached"], params["batch"] = t, batch
	params["weight_mb"] = math.Round(bytes / 1e6)
	params["read_gbps"] = math.Round(read*10) / 10
	params["floor_ms"] = math.Round(floor*1e5) / 100
	params["x_floor"] = math.Round(dur.Seconds()/floor*100) / 100
	return benchResult{Bench: which, Params: params, Ms: ms(dur), TokensPerS: float64(batch) / dur.Seconds(), Allocs: allocs}, runErr
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
