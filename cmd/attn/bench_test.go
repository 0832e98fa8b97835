package main

import (
	"encoding/json"
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
