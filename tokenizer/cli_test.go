package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCLI(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, readTestdata(t, "bert-base-uncased.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		in   string
		want string
	}{
		{[]string{"--tokenizer", path}, "Hello, world!\n\nI'm here", "{\"ids\":[101,7592,1010,2088,999,102]}\n{\"ids\":[101,102]}\n{\"ids\":[101,1045,1005,1049,2182,102]}\n"},
		{[]string{"--tokenizer", dir, "--no-special", "-"}, "Hello\r\n", "{\"ids\":[7592]}\n"},
		{[]string{"--tokenizer", path, "--decode"}, "[101,7592,1010,2088,999,102]\n{\"ids\":[7592]}\n", "{\"text\":\"[CLS] hello, world! [SEP]\"}\n{\"text\":\"hello\"}\n"},
		{[]string{"--tokenizer", path, "--decode", "--no-special"}, "[101,7592,102]\n", "{\"text\":\"hello\"}\n"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if err := RunCLI(tt.args, strings.NewReader(tt.in), &out, &errb); err != nil {
			t.Errorf("RunCLI(%q) error: %v", tt.args, err)
			continue
		}
		if out.String() != tt.want {
			t.Errorf("RunCLI(%q) on %q = %q; want %q", tt.args, tt.in, out.String(), tt.want)
		}
	}
	for _, bad := range []struct {
		args []string
		in   string
		want string
	}{
		{[]string{}, "", "--tokenizer is required"},
		{[]string{"--tokenizer", filepath.Join(dir, "missing.json")}, "", "no such file"},
		{[]string{"--tokenizer", path, "--decode"}, "[1, \"x\"]\n", "stdin:1"},
		{[]string{"--tokenizer", path, "--decode"}, "[999999]\n", "not in the vocabulary"},
	} {
		var out, errb bytes.Buffer
		err := RunCLI(bad.args, strings.NewReader(bad.in), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("RunCLI(%q) error = %v; want one containing %q", bad.args, err, bad.want)
		}
	}
}
