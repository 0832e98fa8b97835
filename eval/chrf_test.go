package eval

import (
	"math"
	"strings"
	"testing"
)

// TestChrFSacreBLEU replays sacreBLEU's test/test_chrf.py (tolerance 1e-4, as there):
// test_chrf (beta 3, epsilon smoothing), test_chrf_eff_order (beta 3, effective order),
// test_chrf_keep_whitespace (beta 3, whitespace kept) and test_chrf_sentence_level
// (sentence_chrf's defaults with epsilon smoothing). Each case is a one-reference corpus.
func TestChrFSacreBLEU(t *testing.T) {
	beta3Eps := chrFOptions{charOrder: 6, beta: 3, epsSmoothing: true}
	beta3 := chrFOptions{charOrder: 6, beta: 3}
	beta3Space := chrFOptions{charOrder: 6, beta: 3, whitespace: true}
	beta2Eps := chrFOptions{charOrder: 6, beta: 2, epsSmoothing: true}
	tests := []struct {
		name       string
		hyps, refs []string
		o          chrFOptions
		want       float64
	}{
		{"test_chrf", []string{"abcdefg"}, []string{"hijklmnop"}, beta3Eps, 0.0},
		{"test_chrf", []string{"a"}, []string{"b"}, beta3Eps, 0.0},
		{"test_chrf", []string{""}, []string{"b"}, beta3Eps, 0.0},
		{"test_chrf", []string{""}, []string{"ref"}, beta3Eps, 0.0},
		{"test_chrf", []string{""}, []string{"reference"}, beta3Eps, 0.0},
		{"test_chrf", []string{"aa"}, []string{"ab"}, beta3Eps, 8.3333},
		{"test_chrf", []string{"a", "b"}, []string{"a", "c"}, beta3Eps, 8.3333},
		{"test_chrf", []string{"a"}, []string{"a"}, beta3Eps, 16.6667},
		{"test_chrf", []string{"a b c"}, []string{"a b c"}, beta3Eps, 50.0},
		{"test_chrf", []string{"a b c"}, []string{"abc"}, beta3Eps, 50.0},
		{"test_chrf",
			[]string{" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
			[]string{"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."},
			beta3Eps, 63.361730},
		{"test_chrf",
			[]string{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
			[]string{"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."},
			beta3Eps, 64.1302698},
		{"test_chrf", []string{"Niemand hat die Absicht, eine Mauer zu errichten"}, []string{"Niemand hat die Absicht, eine Mauer zu errichten"}, beta3Eps, 100.0},

		{"test_chrf_eff_order", []string{"a"}, []string{"a"}, beta3, 100.0},
		{"test_chrf_eff_order", []string{""}, []string{"reference"}, beta3, 0.0},
		{"test_chrf_eff_order", []string{"a b c"}, []string{"a b c"}, beta3, 100.0},
		{"test_chrf_eff_order", []string{"a b c"}, []string{"abc"}, beta3, 100.0},
		{"test_chrf_eff_order", []string{""}, []string{"c"}, beta3, 0.0},
		{"test_chrf_eff_order", []string{"a", "b"}, []string{"a", "c"}, beta3, 50.0},
		{"test_chrf_eff_order", []string{"aa"}, []string{"ab"}, beta3, 25.0},

		{"test_chrf_keep_whitespace",
			[]string{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
			[]string{"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."},
			beta3Space, 67.3481606},
		{"test_chrf_keep_whitespace",
			[]string{"risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
			[]string{"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."},
			beta3Space, 65.2414427},

		{"test_chrf_sentence_level",
			[]string{"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře."},
			[]string{"Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře."},
			beta2Eps, 39.14078509},
		{"test_chrf_sentence_level",
			[]string{"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři."},
			[]string{"A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři."},
			beta2Eps, 31.22557079},
		{"test_chrf_sentence_level",
			[]string{"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly."},
			[]string{"Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli."},
			beta2Eps, 57.15704367},
	}
	for _, tt := range tests {
		s, err := chrF(tt.hyps, [][]string{tt.refs}, tt.o)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if math.Abs(s.ChrF-tt.want) > 1e-4 {
			t.Errorf("%s(%q, %q) = %.6f; want %.6f", tt.name, tt.hyps, tt.refs, s.ChrF, tt.want)
		}
	}
}

// TestChrFREADME checks sacreBLEU README's CHRF().corpus_score(sys, refs) = "chrF2 = 59.73"
// on its two-reference example.
func TestChrFREADME(t *testing.T) {
	s, err := ChrF(readmeHyps, readmeRefs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "chrF2 = 59.73"; got != want {
		t.Errorf("ChrF(readme).String() = %q; want %q", got, want)
	}
}

func TestSplitPunctuation(t *testing.T) {
	tests := []struct{ in, want string }{
		{"(hi)", "[(hi )]"}, // sacreBLEU issue #124: only one mark comes off
		{"hi.", "[hi .]"},
		{"'hi", "[' hi]"},
		{"a . b", "[a . b]"},
		{"über„ x", "[über„ x]"}, // only ASCII punctuation
		{"--", "[- -]"},
	}
	for _, tt := range tests {
		got := splitPunctuation(tt.in)
		if s := "[" + strings.Join(got, " ") + "]"; s != tt.want {
			t.Errorf("splitPunctuation(%q) = %s; want %s", tt.in, s, tt.want)
		}
	}
}

func TestChrFString(t *testing.T) {
	tests := []struct {
		s    ChrFScore
		want string
	}{
		{ChrFScore{ChrF: 52.3449, Beta: 2, CharOrder: 6}, "chrF2 = 52.34"},
		{ChrFScore{ChrF: 49.0, Beta: 2, CharOrder: 6, WordOrder: 2}, "chrF2++ = 49.00"},
		{ChrFScore{ChrF: 100, Beta: 3, CharOrder: 6}, "chrF3 = 100.00"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%+v.String() = %q; want %q", tt.s, got, tt.want)
		}
	}
}
