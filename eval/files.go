package eval

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// ReadSegments reads one segment per line from the file at path ("-" for standard input;
// gzip-decompressed when the name ends in ".gz") as sacreBLEU's command line does: lines
// end at "\n" only, each is right-trimmed of whitespace ("\r" included), and a final newline
// does not add an empty segment. A byte-order mark is kept, as sacreBLEU keeps it.
// Text that is not UTF-8 is an error, as it is for sacreBLEU.
func ReadSegments(path string) ([]string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		defer f.Close()
		r = f
	}
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", path, err)
		}
		defer z.Close()
		r = z
	}
	return readSegments(r, path)
}

func readSegments(r io.Reader, name string) ([]string, error) {
	br := bufio.NewReader(r)
	var segs []string
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			if !utf8.ValidString(line) {
				return nil, fmt.Errorf("eval: %s:%d: not valid UTF-8", name, lineNo)
			}
			segs = append(segs, rstrip(line))
		}
		if err == io.EOF {
			return segs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", name, err)
		}
	}
}

// readStreams reads the hypothesis file and the reference files, checking that all have
// the same number of segments so that a misaligned file is named, not scored.
func readStreams(refPaths []string, hypPath string) ([]string, [][]string, error) {
	if len(refPaths) == 0 {
		return nil, nil, fmt.Errorf("eval: no reference files")
	}
	hyps, err := ReadSegments(hypPath)
	if err != nil {
		return nil, nil, err
	}
	refs := make([][]string, len(refPaths))
	for k, p := range refPaths {
		if refs[k], err = ReadSegments(p); err != nil {
			return nil, nil, err
		}
		if len(refs[k]) != len(hyps) {
			return nil, nil, fmt.Errorf("eval: reference %s has %d lines but hypothesis %s has %d",
				p, len(refs[k]), hypPath, len(hyps))
		}
	}
	if len(hyps) == 0 {
		return nil, nil, fmt.Errorf("eval: hypothesis %s is empty", hypPath)
	}
	return hyps, refs, nil
}

// RunBLEU is `attn eval --bleu --ref REF [--ref REF2 ...] HYP`: it scores the hypothesis
// file against the reference files and writes sacreBLEU's line (Score.String) to stdout, or
// with asJSON one JSON object with the fields bleu, precisions, bp, ratio, hyp_len,
// ref_len, counts and totals (unrounded).
func RunBLEU(refPaths []string, hypPath string, asJSON bool, stdout io.Writer) error {
	hyps, refs, err := readStreams(refPaths, hypPath)
	if err != nil {
		return err
	}
	s, err := BLEU(hyps, refs)
	if err != nil {
		return err
	}
	return report(stdout, s, asJSON)
}

// RunChrF is RunBLEU for chrF: it writes ChrFScore.String ("chrF2 = 52.34") or, with
// asJSON, an object with chrf, beta, char_order and word_order.
func RunChrF(refPaths []string, hypPath string, asJSON bool, stdout io.Writer) error {
	hyps, refs, err := readStreams(refPaths, hypPath)
	if err != nil {
		return err
	}
	s, err := ChrF(hyps, refs)
	if err != nil {
		return err
	}
	return report(stdout, s, asJSON)
}

// report writes v as one line of text or of JSON.
func report(w io.Writer, v fmt.Stringer, asJSON bool) error {
	var out []byte
	if asJSON {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		out = append(b, '\n')
	} else {
		out = []byte(v.String() + "\n")
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("eval: writing the score: %w", err)
	}
	return nil
}
