package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attn-go/attn/tensor"
)

// TestBenchGemmPeak checks that attn bench gemm reports each product's
// fraction of the FMA peak measured beside it: a rate that is neither zero
// nor beyond what the peak allows many times over.
func TestBenchGemmPeak(t *testing.T) {
	out, code := attn(t, "bench", "gemm", "--m", "96", "--n", "80", "--k", "64", "--reps", "3", "--json")
	if code != 0 {
		t.Fatalf("attn bench gemm: exit %d\n%s", code, out)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Bench != "gemm" || r.GFLOPS <= 0 || r.PeakGFLOPS <= 0 || r.OfPeak <= 0 || r.OfPeak > 3 {
		t.Fatalf("attn bench gemm --json: %+v", r)
	}
}

// TestBenchTrainLosses checks that attn bench train reports the loss of
// every step it ran (the warm-up and the timed ones), and that the model
// learns its one batch: the benchmark times training, not a step that
// changes nothing.
func TestBenchTrainLosses(t *testing.T) {
	out, code := attn(t, "bench", "train", "--shape", "small", "--reps", "2", "--json")
	if code != 0 {
		t.Fatalf("attn bench train: exit %d\n%s", code, out)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Per pair of sequences, by hand: the encoder's 3 layers 3 × (32 ×
	// (4·256² + 2·256·1,024) + 2·32²·256) = 77,070,336 multiply-adds, the
	// decoder's 3 × (32 × (6·256² + 2·256·1,024) + 32·2·256² + 4·32²·256) =
	// 103,809,024, the logits 32·256·8,000 = 65,536,000; 32 pairs, two
	// operations each, three passes: 47.312 GFLOP a step.
	if got := r.GFLOPS * r.Ms / 1e3; math.Abs(got-47.312) > 0.01 {
		t.Errorf("GFLOP/s × time = %.3f GFLOP a step, want 47.312", got)
	}
	if len(r.Losses) != 3 {
		t.Fatalf("%d losses for a warm-up and 2 timed steps: %s", len(r.Losses), out)
	}
	// Label-smoothed cross-entropy over 8,000 classes starts near ln 8000 = 8.99.
	if l := r.Losses; !(l[0] > 8 && l[0] < 10.5 && l[2] < l[1] && l[1] < l[0]) {
		t.Fatalf("losses %v: want a start near 9 and a fall at every step", l)
	}
}

// TestBenchBreakdown checks that --breakdown accounts for a training step:
// its logged products are the step's linear layers (attention's products
// run inside its loop over heads and count there), and the three parts add
// up to the step's time.
func TestBenchBreakdown(t *testing.T) {
	out, code := attn(t, "bench", "train", "--shape", "small", "--reps", "1", "--breakdown", "--json")
	if code != 0 {
		t.Fatalf("attn bench train --breakdown: exit %d\n%s", code, out)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b := r.Breakdown
	if b == nil || len(b.Products) == 0 || b.ProductsMs <= 0 || b.LoopsMs <= 0 || b.SerialMs < 0 {
		t.Fatalf("attn bench train --breakdown --json: %s", out)
	}
	// TestBenchTrainLosses's 47.312 GFLOP less attention's 3 × (2 + 4) ·
	// 32²·256 multiply-adds a pair: 32 × 241,696,768 × 2 × 3.
	var gflop, ms float64
	for _, p := range b.Products {
		gflop += 2 * float64(p.M) * float64(p.N) * float64(p.K) * p.Calls / 1e9
		ms += p.Ms
		if p.GFLOPS <= 0 || p.Op == "" {
			t.Errorf("product %+v: want an op and a rate", p)
		}
	}
	if math.Abs(gflop-46.405779456) > 1e-6 {
		t.Errorf("the logged products hold %.9f GFLOP a step, want 46.405779456", gflop)
	}
	if math.Abs(ms-b.ProductsMs) > 0.01 {
		t.Errorf("the products' times add up to %.3f ms, products_ms says %.3f", ms, b.ProductsMs)
	}
	// Adam's loops are named after the function that started them.
	adam := false
	for _, l := range b.Loops {
		adam = adam || strings.HasPrefix(l.Caller, "github.com/attn-go/attn/train.(*Adam).Update ← ")
	}
	if !adam {
		t.Errorf("no loops started by train.(*Adam).Update: %+v", b.Loops)
	}
	if sum := b.ProductsMs + b.LoopsMs + b.SerialMs; math.Abs(sum-r.Ms) > 0.01*r.Ms {
		t.Errorf("products %.3f + loops %.3f + serial %.3f = %.3f ms, the step took %.3f", b.ProductsMs, b.LoopsMs, b.SerialMs, sum, r.Ms)
	}
}

// TestBenchBadFlags: flags a benchmark cannot run with are refused, naming
// the flag.
func TestBenchBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string // the flag the error names
	}{
		{[]string{"bench", "gemm", "--m", "8", "--n", "8", "--k", "8", "--reps", "0"}, "--reps"},
		{[]string{"bench", "encode", "--preset", "gpt2", "--batch", "1", "--t", "8", "--reps", "1"}, "--preset"},
		// Sizes below 1 used to panic deep in the benchmark.
		{[]string{"bench", "gemm", "--m", "-1"}, "--m -1"},
		{[]string{"bench", "gemm", "--k", "0"}, "--k 0"},
		{[]string{"bench", "attention", "--heads", "0"}, "--heads 0"},
		{[]string{"bench", "attention", "--d-head", "-3"}, "--d-head -3"},
		{[]string{"bench", "decode", "--t", "-5"}, "--t -5"},
		{[]string{"bench", "gemm", "--workers", "-2"}, "--workers -2"},
		{[]string{"bench", "gemm", "--m", "100000", "--n", "100000", "--k", "100000"}, "GB of operands"},
		{[]string{"bench", "attention", "--t", "1000000", "--batch", "64"}, "GB of operands"},
	} {
		if out, code := attn(t, tc.args...); code == 0 || !strings.Contains(out, tc.flag) {
			t.Errorf("attn %v: exit %d\n%s", tc.args, code, out)
		}
	}
}

// TestBenchLoadFirst: attn bench load reports the process's first load
// (first_ms, memory faulted in fresh) beside the median of the loads after
// it, for a GPT-2 and a Llama-family folder.
func TestBenchLoadFirst(t *testing.T) {
	for _, name := range []string{"gpt2-tiny", "llama-tiny"} {
		dir := filepath.Join("..", "..", "testdata", "hf", name)
		out, code := attn(t, "bench", "load", "--model", dir, "--reps", "2", "--json")
		if code != 0 {
			t.Fatalf("attn bench load --model %s: exit %d\n%s", name, code, out)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		first, ok := r.Params["first_ms"].(float64)
		if r.Bench != "load" || r.Ms <= 0 || !ok || first <= 0 {
			t.Errorf("attn bench load --model %s --json: want ms and params.first_ms above 0: %s", name, out)
		}
	}
}

// TestRunPairs: runPairs alternates the order within blocks of two pairs,
// so an advantage for whichever variant runs second cancels, and it
// reports the median block's ratio and each variant's median time.
func TestRunPairs(t *testing.T) {
	var order []int32
	secondFaster := func(base time.Duration) func(v int32) time.Duration {
		return func(v int32) time.Duration {
			order = append(order, v)
			d := base
			if v == 1 {
				d = base * 2 / 3
			}
			if len(order)%2 == 0 { // the second run of a pair is 10% faster
				d = d * 9 / 10
			}
			return d
		}
	}
	p := runPairs(7, secondFaster(3*time.Millisecond))
	want := []int32{0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0}
	if !slices.Equal(order, want) {
		t.Fatalf("runs in the order %v, want %v", order, want)
	}
	if p.Pairs != 8 || math.Abs(p.Speedup-1.5) > 1e-9 || p.Q1 != p.Speedup || p.Q3 != p.Speedup {
		t.Errorf("%+v: want 8 pairs, a speedup of 1.5 at every quartile", p)
	}
	if p.Ms0 != 3 || p.Ms1 != 2 {
		t.Errorf("medians %v and %v ms, want 3 and 2", p.Ms0, p.Ms1)
	}
}

// TestBenchPairs: --pairs reports the pairs beside the usual result, in
// text and JSON, and refuses what it cannot pair.
func TestBenchPairs(t *testing.T) {
	out, code := attn(t, "bench", "gemm", "--m", "64", "--n", "64", "--k", "64", "--reps", "4", "--pairs", "--json")
	if code != 0 {
		t.Fatalf("attn bench gemm --pairs: exit %d\n%s", code, out)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if p := r.Pairs; p == nil || p.Pairs != 4 || p.Speedup <= 0 || p.Q1 > p.Speedup || p.Speedup > p.Q3 || p.Ms0 <= 0 || p.Ms1 <= 0 {
		t.Errorf("attn bench gemm --pairs --json: %s", out)
	}
	if tensor.Experiment() != 0 {
		t.Errorf("tensor.Experiment is %d after the pairs, want 0", tensor.Experiment())
	}
	if out, code := attn(t, "bench", "gemm", "--m", "64", "--n", "64", "--k", "64", "--reps", "2", "--pairs"); code != 0 || !strings.Contains(out, "pairs: Experiment 1 ran") {
		t.Errorf("attn bench gemm --pairs: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"bench", "peak", "--pairs"}, {"bench", "train", "--pairs", "--breakdown"}} {
		if out, code := attn(t, args...); code == 0 || !strings.Contains(out, "pairs") {
			t.Errorf("attn %v: exit %d, want an error naming --pairs\n%s", args, code, out)
		}
	}
}
