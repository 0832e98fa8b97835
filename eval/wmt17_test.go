package eval

import (
	"compress/bzip2"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// readWMT17 reads testdata/wmt17-en-de.tsv.bz2 (written by testdata/wmt17_extract.py from
// the WMT17 English-German outputs that sacreBLEU keeps in test/wmt17_en_de_systems.pkl.bz2)
// into the reference and each system's segments, by column name.
func readWMT17(t testing.TB) (ref []string, systems map[string][]string) {
	t.Helper()
	f, err := os.Open("testdata/wmt17-en-de.tsv.bz2")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := readSegments(bzip2.NewReader(f), "wmt17-en-de.tsv.bz2")
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Split(lines[0], "\t")
	cols := make([][]string, len(names))
	for i, l := range lines[1:] {
		fs := strings.Split(l, "\t")
		if len(fs) != len(names) {
			t.Fatalf("line %d has %d fields; want %d", i+2, len(fs), len(names))
		}
		for j, x := range fs {
			cols[j] = append(cols[j], x)
		}
	}
	systems = map[string][]string{}
	for j, n := range names[1:] {
		systems[n] = cols[j+1]
	}
	return cols[0], systems
}

// wmt17Want lists, per system of WMT17 English-German, the scores sacreBLEU publishes for
// it on newstest2017:
//   - mteval: BLEU of Moses' mteval-v13a.pl, test.sh's MTEVAL table, which sacreBLEU's
//     2-decimal score must match within 0.01;
//   - chrF, chrFpp: chrF and chrF++ of the official chrF++.py, test.sh's CHRF and CHRFPP
//     tables, which sacreBLEU with --chrf-eps-smoothing must match within 1e-6 at 4 decimals;
//   - readme*: what sacreBLEU's README prints with default settings for online-A (the
//     "Multi-system evaluation" table; the statistics of its JSON example; chrF2++ in "Using
//     multiple metrics") and C-3MA ("Confidence Intervals for Single System Evaluation"),
//     compared at the decimals printed there.
var wmt17Want = map[string]struct {
	mteval                  float64
	chrF, chrFpp            float64
	readmeBLEU, readmeChrF  string
	readmeChrFpp, readmeRHS string
}{
	"C-3MA.4959":             {mteval: 22.67, chrF: 51.9533, chrFpp: 49.1683, readmeBLEU: "22.675", readmeChrF: "51.953"},
	"FBK.4870":               {mteval: 26.33, chrF: 54.7152, chrFpp: 52.2330},
	"KIT.4950":               {mteval: 26.08},
	"LIUM-NMT.4900":          {mteval: 26.6},
	"LMU-nmt-reranked.4934":  {mteval: 27.11},
	"LMU-nmt-single.4893":    {mteval: 26.56},
	"PROMT-Rule-based.4735":  {mteval: 16.61},
	"RWTH-nmt-ensemble.4921": {mteval: 26.02},
	"SYSTRAN.4847":           {mteval: 26.71},
	"TALP-UPC.4834":          {mteval: 21.24},
	"online-A.0": {mteval: 20.8, readmeBLEU: "20.8", readmeChrF: "52.0", readmeChrFpp: "49.0",
		readmeRHS: "54.4/26.6/14.9/8.7 (BP = 1.000 ratio = 1.026 hyp_len = 62880 ref_len = 61287)"},
	"online-B.0":     {mteval: 26.65},
	"online-F.0":     {mteval: 15.45},
	"online-G.0":     {mteval: 18.16},
	"uedin-nmt.4722": {mteval: 28.3},
	"xmu.4910":       {mteval: 26.69},
}

// TestWMT17 scores the WMT17 English-German systems in testdata (those the extraction
// script kept) against newstest2017 and compares with wmt17Want.
func TestWMT17(t *testing.T) {
	if testing.Short() {
		t.Skip("scores 5 systems of 3004 segments")
	}
	ref, systems := readWMT17(t)
	refs := [][]string{ref}
	if len(systems) < 5 {
		t.Fatalf("testdata has %d systems; want at least 5", len(systems))
	}
	// sameAt reports whether got, printed with as many decimals as want, is want.
	sameAt := func(got float64, want string) bool {
		return fmt.Sprintf("%.*f", len(want)-strings.Index(want, ".")-1, got) == want
	}
	for name, hyps := range systems {
		short := strings.TrimSuffix(strings.TrimPrefix(name, "newstest2017."), ".en-de")
		want, ok := wmt17Want[short]
		if !ok {
			t.Errorf("%s: no expected scores", name)
			continue
		}
		b, err := BLEU(hyps, refs)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := strconv.ParseFloat(fmt.Sprintf("%.2f", b.BLEU), 64); math.Abs(got-want.mteval) > 0.01+1e-9 {
			t.Errorf("%s: BLEU = %.2f; mteval-v13a.pl gives %.2f", short, b.BLEU, want.mteval)
		}
		if want.readmeBLEU != "" && !sameAt(b.BLEU, want.readmeBLEU) {
			t.Errorf("%s: BLEU = %v; README gives %s", short, b.BLEU, want.readmeBLEU)
		}
		if want.readmeRHS != "" && !strings.HasSuffix(b.String(), want.readmeRHS) {
			t.Errorf("%s: BLEU = %q; README gives %q", short, b, want.readmeRHS)
		}
		chrFs := []struct {
			wordOrder int
			eps       bool
			want      string
			source    string
		}{
			{0, true, fmt.Sprintf("%.4f", want.chrF), "chrF++.py"},
			{2, true, fmt.Sprintf("%.4f", want.chrFpp), "chrF++.py"},
			{0, false, want.readmeChrF, "README"},
			{2, false, want.readmeChrFpp, "README"},
		}
		for _, c := range chrFs {
			if c.want == "" || c.want == "0.0000" {
				continue
			}
			o := chrFDefaults
			o.wordOrder, o.epsSmoothing = c.wordOrder, c.eps
			s, err := chrF(hyps, refs, o)
			if err != nil {
				t.Fatal(err)
			}
			if !sameAt(s.ChrF, c.want) {
				t.Errorf("%s: chrF (word order %d, eps %v) = %v; %s gives %s", short, c.wordOrder, c.eps, s.ChrF, c.source, c.want)
			}
		}
	}
}

// BenchmarkWMT17 scores one WMT17 system (3004 segments) with each metric.
func BenchmarkWMT17(b *testing.B) {
	ref, systems := readWMT17(b)
	hyps := systems["newstest2017.uedin-nmt.4722.en-de"]
	refs := [][]string{ref}
	b.Run("BLEU", func(b *testing.B) {
		for b.Loop() {
			BLEU(hyps, refs)
		}
		b.ReportMetric(float64(len(hyps))*float64(b.N)/b.Elapsed().Seconds(), "segments/s")
	})
	b.Run("chrF", func(b *testing.B) {
		for b.Loop() {
			ChrF(hyps, refs)
		}
		b.ReportMetric(float64(len(hyps))*float64(b.N)/b.Elapsed().Seconds(), "segments/s")
	})
}
