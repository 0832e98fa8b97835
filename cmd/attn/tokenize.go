package main

import (
	"io"
	"os"

	"github.com/attn-go/attn/tokenizer"
)

// runTokenize encodes (or decodes) lines with a HuggingFace tokenizer, one
// JSON line each, for diffing against other tools.
func runTokenize(args []string, stdout, stderr io.Writer) error {
	return tokenizer.RunCLI(args, os.Stdin, stdout, stderr)
}
