package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEachBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("a\nb\nc\nd\ne\n"), 0o644)
	var got [][]string
	err := eachBatch(path, 2, func(lines []string) error {
		got = append(got, slices.Clone(lines))
		return nil
	})
	if err != nil || len(got) != 3 || !slices.Equal(got[2], []string{"e"}) || !slices.Equal(got[0], []string{"a", "b"}) {
		t.Errorf("eachBatch = %q, %v; want [[a b] [c d] [e]]", got, err)
	}
	if err := eachBatch(filepath.Join(t.TempDir(), "missing"), 2, nil); err == nil {
		t.Error("eachBatch of a missing file: want an error")
	}
}
