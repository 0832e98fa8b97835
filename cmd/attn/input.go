package main

import (
	"bufio"
	"io"
	"os"
)

// eachBatch reads the lines of path (or standard input for "" and "-") and
// calls fn with them batch lines at a time, so output can stream while the
// input is still being read.
func eachBatch(path string, batch int, fn func(lines []string) error) error {
	in := io.Reader(os.Stdin)
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == max(batch, 1) {
			if err := fn(lines); err != nil {
				return err
			}
			lines = lines[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	return fn(lines)
}
