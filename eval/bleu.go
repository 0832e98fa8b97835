// Package eval scores translations as sacreBLEU does: corpus BLEU and chrF with its defaults.
package eval

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// MaxOrder is BLEU's n-gram order: precisions of 1- to 4-grams (Papineni et al., 2002).
const MaxOrder = 4

// Score is corpus BLEU with its sufficient statistics, as sacreBLEU's BLEUScore reports it.
// BLEU and Precisions are percentages. HypLen and RefLen count 13a tokens; RefLen sums,
// over segments, the reference length closest to the hypothesis length.
type Score struct {
	BLEU       float64           `json:"bleu"`
	Precisions [MaxOrder]float64 `json:"precisions"`
	BP         float64           `json:"bp"`
	Ratio      float64           `json:"ratio"`
	HypLen     int               `json:"hyp_len"`
	RefLen     int               `json:"ref_len"`
	Counts     [MaxOrder]int     `json:"counts"`
	Totals     [MaxOrder]int     `json:"totals"`
}

// String formats s as sacreBLEU prints a score without its signature, e.g.
// "BLEU = 30.59 63.6/38.1/25.5/17.0 (BP = 1.000 ratio = 1.020 hyp_len = 1234 ref_len = 1210)",
// so that lines from both tools can be compared by eye or by diff.
func (s Score) String() string {
	return formatBLEU(s.BLEU, s.Precisions[:], s.BP, s.Ratio, s.HypLen, s.RefLen)
}

func formatBLEU(score float64, precisions []float64, bp, ratio float64, hypLen, refLen int) string {
	p := make([]string, len(precisions))
	for i, x := range precisions {
		p[i] = fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("BLEU = %.2f %s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		score, strings.Join(p, "/"), bp, ratio, hypLen, refLen)
}

// BLEU computes corpus BLEU as sacreBLEU's defaults do (corpus_bleu(hyps, refs)): 13a
// tokenization, case-sensitive, n-grams up to 4, "exp" smoothing, and for each segment the
// reference length closest to the hypothesis length (the shorter on a tie).
//
// refs holds reference streams, each parallel to hyps: refs[k][i] is the k-th reference of
// hyps[i]. Every stream must have len(hyps) segments; an empty reference counts as one of
// length 0, as in sacreBLEU. Lines are right-trimmed before tokenization, as sacreBLEU does.
func BLEU(hyps []string, refs [][]string) (Score, error) {
	st, err := bleuStats(hyps, refs, Tokenize13a, MaxOrder)
	if err != nil {
		return Score{}, err
	}
	r := computeBLEU(st, bleuDefaults)
	s := Score{BLEU: r.score, BP: r.bp, Ratio: r.ratio, HypLen: st.hypLen, RefLen: st.refLen}
	copy(s.Precisions[:], r.precisions)
	copy(s.Counts[:], st.correct)
	copy(s.Totals[:], st.total)
	return s, nil
}

// checkStreams reports why hyps and refs cannot be scored together, or nil.
func checkStreams(hyps []string, refs [][]string) error {
	if len(hyps) == 0 {
		return errors.New("eval: no hypotheses")
	}
	if len(refs) == 0 {
		return errors.New("eval: no reference streams")
	}
	for k, r := range refs {
		if len(r) != len(hyps) {
			return fmt.Errorf("eval: reference stream %d has %d segments, hypotheses have %d", k+1, len(r), len(hyps))
		}
	}
	return nil
}

// bleuCounts holds BLEU's corpus statistics, summed over segments as sacreBLEU's
// sum_of_lists does: correct[n-1] clipped matches and total[n-1] hypothesis n-grams.
type bleuCounts struct {
	hypLen, refLen int
	correct, total []int
}

// bleuStats tokenizes every segment and sums the match statistics of orders 1..order.
// A hypothesis n-gram matches at most as often as it occurs in any one reference of its
// segment (counts are merged by max across references).
func bleuStats(hyps []string, refs [][]string, tok func(string) string, order int) (bleuCounts, error) {
	if err := checkStreams(hyps, refs); err != nil {
		return bleuCounts{}, err
	}
	st := bleuCounts{correct: make([]int, order), total: make([]int, order)}
	refMax := map[string]int{}
	grams := map[string]int{}
	refLens := make([]int, len(refs))
	for i, hyp := range hyps {
		clear(refMax)
		for k := range refs {
			refLens[k] = ngramCounts(grams, tok(rstrip(refs[k][i])), order)
			for g, c := range grams {
				refMax[g] = max(refMax[g], c)
			}
		}
		hypLen := ngramCounts(grams, tok(rstrip(hyp)), order)
		st.hypLen += hypLen
		st.refLen += closestRefLen(hypLen, refLens)
		for g, c := range grams {
			n := strings.Count(g, " ")
			st.total[n] += c
			st.correct[n] += min(c, refMax[g])
		}
	}
	return st, nil
}

// ngramCounts clears c and counts into it the n-grams of the words of line for
// n = 1..order, each keyed by its words joined by single spaces (so the key tells the
// order); it returns the number of words. Keys are substrings of one joined string.
func ngramCounts(c map[string]int, line string, order int) int {
	clear(c)
	words := fields(line)
	line = strings.Join(words, " ")
	ends := make([]int, len(words)) // byte offset in line where each word ends
	off := 0
	for i, w := range words {
		ends[i] = off + len(w)
		off = ends[i] + 1
	}
	start := 0
	for i, w := range words {
		for n := 1; n <= order && i+n <= len(words); n++ {
			c[line[start:ends[i+n-1]]]++
		}
		start += len(w) + 1
	}
	return len(words)
}

// closestRefLen returns the reference length nearest hypLen, the shorter on a tie, as
// sacreBLEU's _get_closest_ref_len (and mteval-v13a's brevity penalty) choose it.
func closestRefLen(hypLen int, refLens []int) int {
	best, bestDiff := -1, -1
	for _, l := range refLens {
		d := hypLen - l
		if d < 0 {
			d = -d
		}
		if bestDiff == -1 || d < bestDiff || (d == bestDiff && l < best) {
			best, bestDiff = l, d
		}
	}
	return best
}

// bleuOptions are sacreBLEU's BLEU settings beyond the defaults; the tests use them to
// replay sacreBLEU's own test cases, which vary them.
type bleuOptions struct {
	smooth         string  // "exp" (default), "floor", "add-k" or "none"
	smoothValue    float64 // for "floor" and "add-k"
	effectiveOrder bool    // average only the orders that have n-grams
}

var bleuDefaults = bleuOptions{smooth: "exp"}

// bleuResult is BLEU computed from its statistics, of any order.
type bleuResult struct {
	score, bp, ratio float64
	precisions       []float64
}

// computeBLEU turns corpus statistics into BLEU as sacreBLEU's BLEU.compute_bleu does:
// score = BP·exp(Σ log pₙ / N), BP = exp(1 − r/c) when c < r. With "exp" smoothing (NIST's,
// method 3 of Chen and Cherry, 2014) the k-th order without matches gets precision
// 100/(2ᵏ·total). log 0 is floored to −9999999999, so a zero precision makes BLEU 0, and no
// match at any order returns 0 with all precisions 0.
func computeBLEU(st bleuCounts, o bleuOptions) bleuResult {
	order := len(st.total)
	r := bleuResult{bp: 1, precisions: make([]float64, order)}
	if st.hypLen < st.refLen {
		if st.hypLen > 0 {
			r.bp = math.Exp(1 - float64(st.refLen)/float64(st.hypLen))
		} else {
			r.bp = 0
		}
	}
	if st.refLen > 0 {
		r.ratio = float64(st.hypLen) / float64(st.refLen)
	}
	anyMatch := false
	for _, c := range st.correct {
		anyMatch = anyMatch || c != 0
	}
	if !anyMatch {
		return r
	}
	smoothMteval := 1.0
	effOrder := order
	for n := 1; n <= order; n++ {
		correct, total := float64(st.correct[n-1]), float64(st.total[n-1])
		if o.smooth == "add-k" && n > 1 {
			correct += o.smoothValue
			total += o.smoothValue
		}
		if total == 0 {
			break
		}
		if o.effectiveOrder {
			effOrder = n
		}
		switch {
		case correct != 0:
			r.precisions[n-1] = 100 * correct / total
		case o.smooth == "exp":
			smoothMteval *= 2
			r.precisions[n-1] = 100 / (smoothMteval * total)
		case o.smooth == "floor":
			r.precisions[n-1] = 100 * o.smoothValue / total
		}
	}
	sum := 0.0
	for _, p := range r.precisions[:effOrder] {
		if p == 0 {
			sum += -9999999999
		} else {
			sum += math.Log(p)
		}
	}
	r.score = r.bp * math.Exp(sum/float64(effOrder))
	return r
}
