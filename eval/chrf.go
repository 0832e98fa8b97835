package eval

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ChrFScore is corpus chrF (Popović, 2015) as sacreBLEU reports it: an F-score, as a
// percentage, of character n-grams with recall weighted Beta times as much as precision.
type ChrFScore struct {
	ChrF      float64 `json:"chrf"`
	Beta      int     `json:"beta"`
	CharOrder int     `json:"char_order"`
	WordOrder int     `json:"word_order"`
}

// String formats s as sacreBLEU prints it, e.g. "chrF2 = 52.34" ("chrF2++" when word
// n-grams of order 2 are included).
func (s ChrFScore) String() string {
	return fmt.Sprintf("chrF%d%s = %.2f", s.Beta, strings.Repeat("+", s.WordOrder), s.ChrF)
}

// ChrF computes corpus chrF with sacreBLEU's defaults (corpus_chrf(hyps, refs)): character
// n-grams of orders 1 to 6 with whitespace removed, no word n-grams, beta 2, case-sensitive,
// no tokenization, and the average over the orders that occur (sacreBLEU's default, not
// chrF++.py's epsilon smoothing). Each segment is scored against the reference that gives it
// the best F-score; the statistics of those pairs are summed over the corpus.
//
// refs holds reference streams parallel to hyps, as for BLEU.
func ChrF(hyps []string, refs [][]string) (ChrFScore, error) {
	return chrF(hyps, refs, chrFDefaults)
}

// chrFOptions are sacreBLEU's CHRF settings; the tests vary them to replay its test cases.
type chrFOptions struct {
	charOrder, wordOrder, beta int
	whitespace                 bool // keep whitespace inside character n-grams
	epsSmoothing               bool // chrF++.py's smoothing instead of the effective order
}

var chrFDefaults = chrFOptions{charOrder: 6, wordOrder: 0, beta: 2}

func chrF(hyps []string, refs [][]string, o chrFOptions) (ChrFScore, error) {
	if err := checkStreams(hyps, refs); err != nil {
		return ChrFScore{}, err
	}
	sum := make([]int, 3*(o.charOrder+o.wordOrder))
	refGrams := make([][]ngrams, len(refs))
	var hypGrams []ngrams
	for i, hyp := range hyps {
		for k := range refs {
			refGrams[k] = chrFNgrams(refGrams[k], refs[k][i], o)
		}
		hypGrams = chrFNgrams(hypGrams, hyp, o)
		var best []int
		bestF := -1.0
		for _, rg := range refGrams {
			st := make([]int, 0, len(sum))
			for n := range hypGrams {
				st = append(st, matchStats(hypGrams[n], rg[n])...)
			}
			if f := chrFScore(st, o); f > bestF {
				best, bestF = st, f
			}
		}
		for j, v := range best {
			sum[j] += v
		}
	}
	return ChrFScore{ChrF: chrFScore(sum, o), Beta: o.beta, CharOrder: o.charOrder, WordOrder: o.wordOrder}, nil
}

// ngrams counts the n-grams of one order in one segment; total is the sum of counts.
type ngrams struct {
	count map[string]int
	total int
}

// chrFNgrams counts the character n-grams of s for n = 1..charOrder (over runes, whitespace
// removed unless o.whitespace), then its word n-grams for n = 1..wordOrder. N-grams are
// substrings of one string, so counting them allocates no keys, and the maps of dst, the
// result of an earlier call, are cleared and reused.
func chrFNgrams(dst []ngrams, s string, o chrFOptions) []ngrams {
	if len(dst) != o.charOrder+o.wordOrder {
		dst = make([]ngrams, o.charOrder+o.wordOrder)
		for i := range dst {
			dst[i].count = map[string]int{}
		}
	}
	for i := range dst {
		clear(dst[i].count)
	}
	line := s
	if !o.whitespace {
		line = strings.Join(fields(s), "")
	}
	if !utf8.ValidString(line) {
		line = string([]rune(line)) // one U+FFFD per bad byte, as []rune counts them
	}
	starts := make([]int, 0, len(line)+1) // byte offset of each rune, then len(line)
	for i := range line {
		starts = append(starts, i)
	}
	starts = append(starts, len(line))
	nRunes := len(starts) - 1
	for n := 1; n <= o.charOrder; n++ {
		g := &dst[n-1]
		g.total = max(nRunes-n+1, 0)
		for i := 0; i+n <= nRunes; i++ {
			g.count[line[starts[i]:starts[i+n]]]++
		}
	}
	if o.wordOrder > 0 {
		words := splitPunctuation(s)
		for n := 1; n <= o.wordOrder; n++ {
			g := &dst[o.charOrder+n-1]
			g.total = max(len(words)-n+1, 0)
			for i := 0; i+n <= len(words); i++ {
				g.count[strings.Join(words[i:i+n], " ")]++
			}
		}
	}
	return dst
}

// splitPunctuation splits whitespace-separated words for chrF++'s word n-grams as
// sacreBLEU's _remove_punctuation does (after github.com/m-popovic/chrF): a word longer than
// one rune loses one ASCII punctuation mark from its end or, failing that, its start, and
// the mark becomes a word of its own. "(hi)" gives "(hi" and ")", as in sacreBLEU (#124).
func splitPunctuation(s string) []string {
	const puncts = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	var words []string
	for _, w := range fields(s) {
		rs := []rune(w)
		switch {
		case len(rs) == 1:
			words = append(words, w)
		case strings.ContainsRune(puncts, rs[len(rs)-1]):
			words = append(words, string(rs[:len(rs)-1]), string(rs[len(rs)-1]))
		case strings.ContainsRune(puncts, rs[0]):
			words = append(words, string(rs[0]), string(rs[1:]))
		default:
			words = append(words, w)
		}
	}
	return words
}

// matchStats returns [hypothesis n-grams, reference n-grams, clipped matches] for one order.
// Hypothesis n-grams count as 0 when the reference has none of this order, as in sacreBLEU.
func matchStats(hyp, ref ngrams) []int {
	match := 0
	for g, c := range hyp.count {
		match += min(c, ref.count[g])
	}
	if ref.total == 0 {
		return []int{0, 0, match}
	}
	return []int{hyp.total, ref.total, match}
}

// chrFScore is sacreBLEU's CHRF._compute_f_score: from [hyp, ref, match] triples per order,
// the F-beta of precision and recall averaged over the orders where both hypothesis and
// reference have n-grams, or with epsSmoothing the mean of per-order F-betas where an empty
// order counts as 1e-16.
func chrFScore(st []int, o chrFOptions) float64 {
	const eps = 1e-16
	factor := float64(o.beta * o.beta)
	order := len(st) / 3
	score, avgPrec, avgRec, effOrder := 0.0, 0.0, 0.0, 0
	for i := range order {
		nHyp, nRef, nMatch := st[3*i], st[3*i+1], st[3*i+2]
		prec, rec := eps, eps
		if nHyp > 0 {
			prec = float64(nMatch) / float64(nHyp)
		}
		if nRef > 0 {
			rec = float64(nMatch) / float64(nRef)
		}
		if denom := factor*prec + rec; denom > 0 {
			score += (1 + factor) * prec * rec / denom
		} else {
			score += eps
		}
		if nHyp > 0 && nRef > 0 {
			avgPrec += prec
			avgRec += rec
			effOrder++
		}
	}
	if o.epsSmoothing {
		return 100 * score / float64(order)
	}
	if effOrder == 0 {
		return 0
	}
	avgPrec /= float64(effOrder)
	avgRec /= float64(effOrder)
	if avgPrec+avgRec == 0 {
		return 0
	}
	return 100 * ((1 + factor) * avgPrec * avgRec / (factor*avgPrec + avgRec))
}
