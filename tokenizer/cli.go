package tokenizer

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// RunCLI implements "attn tokenize --tokenizer PATH [--decode] [--no-special]
// [FILE|-]". Each input line is encoded to one JSON line {"ids":[...]}, or
// with --decode each line holding a JSON array of ids (or {"ids":[...]}) is
// decoded to {"text":"..."}; --no-special leaves special tokens out. PATH is
// anything Open accepts. Input is FILE, or stdin when FILE is "-" or absent.
func RunCLI(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("tokenizer", "", "tokenizer.json, vocab.txt, vocab.json (with merges.txt beside it), a SentencePiece .model or a folder holding one")
	decode := fs.Bool("decode", false, "decode lines of ids instead of encoding text")
	noSpecial := fs.Bool("no-special", false, "leave special tokens out (encode: do not add them; decode: skip them)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: attn tokenize --tokenizer PATH [--decode] [--no-special] [FILE|-]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *path == "" {
		fs.Usage()
		return errors.New("tokenize: --tokenizer is required")
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("tokenize: want at most one input file, got %d", fs.NArg())
	}
	tok, err := Open(*path)
	if err != nil {
		return err
	}
	in := stdin
	name := "stdin"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("tokenize: %w", err)
		}
		defer f.Close()
		in, name = f, fs.Arg(0)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	r := bufio.NewReader(in)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for line := 1; ; line++ {
		s, err := r.ReadString('\n')
		if s == "" && err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("tokenize: %s: %w", name, err)
		}
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
		if *decode {
			ids, perr := parseIDLine(s)
			if perr != nil {
				return fmt.Errorf("tokenize: %s:%d: %w", name, line, perr)
			}
			text, derr := tok.DecodeWith(ids, *noSpecial)
			if derr != nil {
				return fmt.Errorf("tokenize: %s:%d: %w", name, line, derr)
			}
			if err := enc.Encode(struct {
				Text string `json:"text"`
			}{text}); err != nil {
				return err
			}
			continue
		}
		e, eerr := tok.EncodeWith(s, nil, !*noSpecial)
		if eerr != nil {
			return fmt.Errorf("tokenize: %s:%d: %w", name, line, eerr)
		}
		ids := e.IDs
		if ids == nil {
			ids = []int{}
		}
		if err := enc.Encode(struct {
			IDs []int `json:"ids"`
		}{ids}); err != nil {
			return err
		}
	}
}

// parseIDLine reads [1,2,3] or {"ids":[1,2,3]}.
func parseIDLine(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	var ids []int
	if strings.HasPrefix(s, "{") {
		var o struct {
			IDs *[]int `json:"ids"`
		}
		if err := json.Unmarshal([]byte(s), &o); err != nil || o.IDs == nil {
			return nil, fmt.Errorf("want a JSON array of ids or {\"ids\":[...]}, got %.40q", s)
		}
		return *o.IDs, nil
	}
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, fmt.Errorf("want a JSON array of ids or {\"ids\":[...]}, got %.40q", s)
	}
	return ids, nil
}
