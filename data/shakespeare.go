package data

import _ "embed"

// Shakespeare is Tiny Shakespeare (about 1.1 MB of plays, public domain; see
// SOURCES.md), embedded so `attn train` works with no download.
//
//go:embed tinyshakespeare.txt
var Shakespeare string

// Split returns the first frac of xs for training and the rest for
// validation (nanoGPT splits Tiny Shakespeare 0.9 / 0.1).
func Split[T any](xs []T, frac float64) (train, val []T) {
	n := int(float64(len(xs)) * frac)
	return xs[:n], xs[n:]
}
