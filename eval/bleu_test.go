package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// The example of sacreBLEU's README and of test/test_bleu.py (_hyps, _refs): three
// segments, two reference streams.
var (
	readmeHyps = []string{
		"The dog bit the man.",
		"It wasn't surprising.",
		"The man had just bitten him.",
	}
	readmeRefs = [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
)

func identity(s string) string { return s }

// bleuWith is sacreBLEU's BLEU(tokenize=…, smooth_method=…, …, max_ngram_order=order)
// .corpus_score(hyps, refs), for replaying its tests.
func bleuWith(t *testing.T, hyps []string, refs [][]string, tok func(string) string, order int, o bleuOptions) (bleuCounts, bleuResult) {
	t.Helper()
	st, err := bleuStats(hyps, refs, tok, order)
	if err != nil {
		t.Fatalf("bleuStats: %v", err)
	}
	return st, computeBLEU(st, o)
}

// rawCorpusBLEU is sacreBLEU's compat.raw_corpus_bleu: no tokenization, "floor" smoothing,
// effective order.
func rawCorpusBLEU(t *testing.T, hyps []string, refs [][]string, floor float64) (bleuCounts, bleuResult) {
	t.Helper()
	return bleuWith(t, hyps, refs, identity, MaxOrder, bleuOptions{smooth: "floor", smoothValue: floor, effectiveOrder: true})
}

// TestBLEUREADME checks the whole line sacreBLEU's README prints for its example
// (README.md, "Using SacreBLEU from Python" and "Variable Number of References"; in the
// latter an empty string stands for a missing reference and counts as one of length 0).
func TestBLEUREADME(t *testing.T) {
	noFirst := [][]string{{"", readmeRefs[0][1], readmeRefs[0][2]}, readmeRefs[1]}
	tests := []struct {
		name string
		refs [][]string
		want string
	}{
		{"two refs", readmeRefs, "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"},
		{"variable refs", noFirst, "BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)"},
	}
	for _, tt := range tests {
		s, err := BLEU(readmeHyps, tt.refs)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("%s: BLEU().String() = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestCorpusBLEU replays test_bleu.py's test_corpus_bleu (tolerance 1e-8, as there);
// the intl tokenizer's case is not ported.
func TestCorpusBLEU(t *testing.T) {
	tests := []struct {
		name string
		hyps []string
		tok  func(string) string
		o    bleuOptions
		want float64
	}{
		{"defaults", readmeHyps, Tokenize13a, bleuDefaults, 48.530827},
		{"empty hypotheses are kept", []string{"", "", ""}, Tokenize13a, bleuDefaults, 0.0},
		{"tokenize none", readmeHyps, identity, bleuDefaults, 49.1919566},
		{"tokenize 13a", readmeHyps, Tokenize13a, bleuDefaults, 48.530827},
		{"smooth none", readmeHyps, Tokenize13a, bleuOptions{smooth: "none"}, 48.530827},
	}
	for _, tt := range tests {
		_, r := bleuWith(t, tt.hyps, readmeRefs, tt.tok, MaxOrder, tt.o)
		if math.Abs(r.score-tt.want) > 1e-8 {
			t.Errorf("%s: BLEU = %.10f; want %.10f", tt.name, r.score, tt.want)
		}
	}
	// The public entry point agrees with the defaults.
	s, err := BLEU(readmeHyps, readmeRefs)
	if err != nil || math.Abs(s.BLEU-48.530827) > 1e-8 {
		t.Errorf("BLEU(readme) = %v, %v; want 48.530827", s.BLEU, err)
	}
}

// TestMaxNgramOrder replays test_bleu.py's test_max_ngram_order.
func TestMaxNgramOrder(t *testing.T) {
	want := []string{"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"}
	for i, w := range want {
		_, r := bleuWith(t, readmeHyps, readmeRefs, Tokenize13a, i+1, bleuDefaults)
		if got := fmt.Sprintf("%.2f", r.score); got != w {
			t.Errorf("max_ngram_order=%d: BLEU = %s; want %s", i+1, got, w)
		}
	}
}

// TestRawCorpusBLEU replays test_bleu.py's test_raw_bleu, test_effective_order and
// test_offset: raw_corpus_bleu (no tokenization, floor smoothing, effective order); the
// expected values there are fractions, so they are scaled by 100 here.
func TestRawCorpusBLEU(t *testing.T) {
	tests := []struct {
		name  string
		hyps  []string
		refs  [][]string
		floor float64
		want  float64
	}{
		{"test_raw_bleu no match (#141)", []string{"this is a test", "another test"}, [][]string{{"ref1", "ref2"}}, 0.01, 0},
		{"test_raw_bleu exact", []string{"this is a test"}, [][]string{{"this is a test"}}, 0.01, 1},
		{"test_raw_bleu one word off", []string{"this is a fest"}, [][]string{{"this is a test"}}, 0.01, 0.223606797749979},
		{"test_effective_order test", []string{"test"}, [][]string{{"a test"}}, 0.01, 0.3678794411714425},
		{"test_effective_order a test", []string{"a test"}, [][]string{{"a test"}}, 0.01, 1},
		{"test_effective_order a little test", []string{"a little test"}, [][]string{{"a test"}}, 0.01, 0.03218297948685433},
		{"test_offset without offset", []string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}, 0, 0},
		{"test_offset with offset", []string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}, 0.1, 0.1555722182},
	}
	for _, tt := range tests {
		_, r := rawCorpusBLEU(t, tt.hyps, tt.refs, tt.floor)
		if got := r.score / 100; math.Abs(got-tt.want) > 1e-8 {
			t.Errorf("%s: raw_corpus_bleu = %.12f; want %.12f", tt.name, got, tt.want)
		}
	}
}

// TestBLEUStatistics replays test_bleu.py's test_statistics.
func TestBLEUStatistics(t *testing.T) {
	st, _ := rawCorpusBLEU(t, []string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}, 0.01)
	if fmt.Sprint(st.correct, st.total) != "[4 2 1 0] [6 5 4 3]" {
		t.Errorf("counts, totals = %v %v; want [4 2 1 0] [6 5 4 3]", st.correct, st.total)
	}
}

// TestComputeBLEU replays test_bleu.py's test_scoring (smoothing "none", the default of
// compute_bleu) and test_degenerate_statistics (floor smoothing, exactly 0).
func TestComputeBLEU(t *testing.T) {
	tests := []struct {
		name           string
		correct, total []int
		hypLen, refLen int
		o              bleuOptions
		want           float64
	}{
		{"test_scoring", []int{9, 7, 5, 3}, []int{10, 8, 6, 4}, 11, 11, bleuOptions{smooth: "none"}, 0.8375922397},
		{"degenerate 1", []int{0, 0, 0, 0}, []int{4, 4, 2, 1}, 0, 1, bleuOptions{smooth: "floor", smoothValue: 0}, 0},
		{"degenerate 2", []int{0, 0, 0, 0}, []int{10, 11, 12, 0}, 14, 10, bleuOptions{smooth: "floor", smoothValue: 0}, 0},
		{"degenerate 3", []int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, bleuOptions{smooth: "floor", smoothValue: 0}, 0},
		{"degenerate 4", []int{6, 5, 4, 0}, []int{6, 5, 4, 3}, 6, 6, bleuOptions{smooth: "floor", smoothValue: 0}, 0},
		{"degenerate 5", []int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, bleuOptions{smooth: "floor", smoothValue: 0.1}, 0},
		{"degenerate 6", []int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 1, 5, bleuOptions{smooth: "floor", smoothValue: 0.01}, 0},
	}
	for _, tt := range tests {
		r := computeBLEU(bleuCounts{hypLen: tt.hypLen, refLen: tt.refLen, correct: tt.correct, total: tt.total}, tt.o)
		if got := r.score / 100; math.Abs(got-tt.want) > 1e-8 || (tt.want == 0 && got != 0) {
			t.Errorf("%s: compute_bleu = %.12f; want %.12f", tt.name, got, tt.want)
		}
	}
}

// TestSentenceBLEU replays test_sentence_bleu.py (sentence_bleu with effective order,
// tolerance 1e-3): the example of sacreBLEU issue #98 under each smoothing method, and
// that of #141, which scores 0 under all of them. The char and intl tokenizers and
// lowercasing are not ported.
func TestSentenceBLEU(t *testing.T) {
	const (
		ref  = "producţia de zahăr brut se exprimă în zahăr alb;"
		sys  = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
		ref0 = "okay thanks"
		sys0 = "this is a cat"
	)
	tests := []struct {
		sys, ref string
		smooth   string
		value    float64
		tok      func(string) string
		want     float64
	}{
		{sys, ref, "exp", 0, Tokenize13a, 8.493},
		{sys, ref, "none", 0, Tokenize13a, 0.0},
		{sys, ref, "floor", 0.1, Tokenize13a, 4.51688}, // also the default value
		{sys, ref, "floor", 0.5, Tokenize13a, 10.10},
		{sys, ref, "add-k", 1, Tokenize13a, 14.882}, // also the default value
		{sys, ref, "add-k", 2, Tokenize13a, 21.389},
		{sys, ref, "exp", 0, identity, 7.347},
		{sys0, ref0, "exp", 0, Tokenize13a, 0},
		{sys0, ref0, "none", 0, Tokenize13a, 0},
		{sys0, ref0, "floor", 0.1, Tokenize13a, 0},
		{sys0, ref0, "add-k", 1, Tokenize13a, 0},
	}
	for _, tt := range tests {
		o := bleuOptions{smooth: tt.smooth, smoothValue: tt.value, effectiveOrder: true}
		_, r := bleuWith(t, []string{tt.sys}, [][]string{{tt.ref}}, tt.tok, MaxOrder, o)
		if math.Abs(r.score-tt.want) > 1e-3 {
			t.Errorf("sentence_bleu(%.13q, smooth %s %g) = %.5f; want %.5f", tt.sys, tt.smooth, tt.value, r.score, tt.want)
		}
	}
}

// TestClosestRefLen checks the effective reference length: the closest, the shorter on a
// tie (sacreBLEU's _get_closest_ref_len).
func TestClosestRefLen(t *testing.T) {
	tests := []struct {
		hyp  int
		refs []int
		want int
	}{
		{5, []int{5}, 5},
		{5, []int{3, 7}, 3},
		{5, []int{7, 3}, 3},
		{5, []int{9, 6, 4}, 4},
		{5, []int{9, 6}, 6},
		{0, []int{0, 2}, 0},
		{10, []int{1, 2, 3}, 3},
	}
	for _, tt := range tests {
		if got := closestRefLen(tt.hyp, tt.refs); got != tt.want {
			t.Errorf("closestRefLen(%d, %v) = %d; want %d", tt.hyp, tt.refs, got, tt.want)
		}
	}
}

// TestBLEUFormat checks the rounding of sacreBLEU's line and the degenerate corpora: an
// empty hypothesis has BP 0, and no match at all gives zeros, not NaN.
func TestBLEUFormat(t *testing.T) {
	tests := []struct {
		hyps []string
		refs [][]string
		want string
	}{
		{[]string{""}, [][]string{{"a b"}}, "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 2)"},
		{[]string{"a b"}, [][]string{{""}}, "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 0.000 hyp_len = 2 ref_len = 0)"},
		{[]string{""}, [][]string{{""}}, "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 0.000 hyp_len = 0 ref_len = 0)"},
		{[]string{"a b c d"}, [][]string{{"a b c d"}}, "BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)"},
		// The first order without matches gets 100/(2·total): 100/(2·1) = 50.
		{[]string{"a b c d"}, [][]string{{"a b c e"}}, "BLEU = 59.46 75.0/66.7/50.0/50.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)"},
		// A 3-word corpus has no 4-grams: log 0 is floored and BLEU is 0.
		{[]string{"a b c"}, [][]string{{"a b d"}}, "BLEU = 0.00 66.7/50.0/50.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)"},
	}
	for _, tt := range tests {
		s, err := BLEU(tt.hyps, tt.refs)
		if err != nil {
			t.Fatalf("BLEU(%q): %v", tt.hyps, err)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("BLEU(%q, %q) = %q; want %q", tt.hyps, tt.refs, got, tt.want)
		}
	}
}

func TestBLEUJSON(t *testing.T) {
	s, err := BLEU(readmeHyps, readmeRefs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bleu", "precisions", "bp", "ratio", "hyp_len", "ref_len", "counts", "totals"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s has no %q", b, k)
		}
	}
	if m["hyp_len"] != 17.0 || m["ref_len"] != 18.0 {
		t.Errorf("JSON %s: hyp_len, ref_len = %v, %v; want 17, 18", b, m["hyp_len"], m["ref_len"])
	}
}

func TestBLEUErrors(t *testing.T) {
	tests := []struct {
		hyps []string
		refs [][]string
		want string
	}{
		{nil, [][]string{{}}, "no hypotheses"},
		{[]string{"a"}, nil, "no reference streams"},
		{[]string{"a", "b"}, [][]string{{"a", "b"}, {"a"}}, "reference stream 2 has 1 segments, hypotheses have 2"},
	}
	for _, tt := range tests {
		if _, err := BLEU(tt.hyps, tt.refs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("BLEU(%q, %q) error = %v; want %q", tt.hyps, tt.refs, err, tt.want)
		}
		if _, err := ChrF(tt.hyps, tt.refs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ChrF(%q, %q) error = %v; want %q", tt.hyps, tt.refs, err, tt.want)
		}
	}
}
