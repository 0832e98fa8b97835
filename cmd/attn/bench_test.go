package main

import (
	"encoding/json"
	"strings"
	"testing"
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

// TestBenchBadFlags: flags a benchmark cannot run with are refused, naming
// the flag.
func TestBenchBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string // the flag the error names
	}{
		{[]string{"bench", "gemm", "--m", "8", "--n", "8", "--k", "8", "--reps", "0"}, "--reps"},
		{[]string{"bench", "encode", "--preset", "gpt2", "--batch", "1", "--t", "8", "--reps", "1"}, "--preset"},
	} {
		if out, code := attn(t, tc.args...); code == 0 || !strings.Contains(out, tc.flag) {
			t.Errorf("attn %v: exit %d\n%s", tc.args, code, out)
		}
	}
}
