package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestMulti30kEmbedded(t *testing.T) {
	for _, c := range []struct {
		split string
		n     int
	}{{"train", 29000}, {"val", 1014}, {"test_2016_flickr", 1000}} {
		de, en, err := Multi30kSplit(c.split)
		if err != nil {
			t.Fatal(err)
		}
		if len(de) != c.n || len(en) != c.n {
			t.Errorf("multi30k %s: %d/%d lines; want %d", c.split, len(de), len(en), c.n)
		}
	}
	de, en, _ := Multi30kSplit("test_2016_flickr")
	if !strings.HasPrefix(de[0], "Ein Mann mit einem orangefarbenen Hut") || !strings.HasPrefix(en[0], "A man in an orange hat") {
		t.Errorf("test line 1: %q / %q", de[0], en[0])
	}
	if _, _, err := Multi30kSplit("dev"); err == nil {
		t.Error(`Multi30kSplit("dev"): want an error`)
	}
}

func TestReadParallelPlainAndGzip(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("eins\nzwei\r\n"))
	zw.Close()
	os.WriteFile(filepath.Join(dir, "a.de.gz"), gz.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "a.en"), []byte("one\ntwo"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.en"), []byte("one\n"), 0o644)
	src, tgt, err := ReadParallel(filepath.Join(dir, "a.de.gz"), filepath.Join(dir, "a.en"))
	if err != nil || !slices.Equal(src, []string{"eins", "zwei"}) || !slices.Equal(tgt, []string{"one", "two"}) {
		t.Fatalf("ReadParallel = %q, %q, %v", src, tgt, err)
	}
	if _, _, err := ReadParallel(filepath.Join(dir, "a.de.gz"), filepath.Join(dir, "b.en")); err == nil || !strings.Contains(err.Error(), "has 2 lines but") {
		t.Errorf("misaligned files: err = %v", err)
	}
}

func TestBatchesBudgetOrderAndResume(t *testing.T) {
	rng := tensor.NewRNG(1)
	var pairs []Pair
	for range 300 {
		pairs = append(pairs, Pair{Src: make([]int, 1+rng.Intn(30)), Tgt: make([]int, 1+rng.Intn(30))})
	}
	b := NewBatches(pairs, 200, 7)
	seen := 0
	for range b.Len() {
		batch := b.Next()
		ms, mt := 0, 0
		for _, p := range batch {
			ms, mt = max(ms, len(p.Src)), max(mt, len(p.Tgt)+1)
		}
		if len(batch) > 1 && (len(batch)*ms > 200 || len(batch)*mt > 200) {
			t.Fatalf("batch of %d pairs up to %d/%d tokens exceeds the budget of 200", len(batch), ms, mt)
		}
		seen += len(batch)
	}
	if seen != 300 {
		t.Errorf("one epoch visited %d pairs; want 300", seen)
	}
	// Save in the middle of epoch 2 and continue on fresh batches.
	for range 5 {
		b.Next()
	}
	st := b.State()
	want := [][]Pair{b.Next(), b.Next(), b.Next()}
	c := NewBatches(pairs, 200, 7)
	if err := c.SetState(st); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		got := c.Next()
		if len(got) != len(w) || &got[0].Src[0] != &w[0].Src[0] {
			t.Fatalf("after restoring, batch %d differs", i)
		}
	}
	if st.Epoch != 1 {
		t.Errorf("epoch = %d; want 1", st.Epoch)
	}
}
