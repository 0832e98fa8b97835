package data

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestShakespeareEmbedded(t *testing.T) {
	seen := map[rune]bool{}
	for _, r := range Shakespeare {
		seen[r] = true
	}
	if len(Shakespeare) != 1115394 || len(seen) != 65 {
		t.Fatalf("Tiny Shakespeare: %d bytes, %d characters; want 1115394 and 65", len(Shakespeare), len(seen))
	}
	train, val := Split([]byte(Shakespeare), 0.9)
	if len(train) != 1003854 || len(val) != 111540 {
		t.Errorf("Split = %d / %d characters; want nanoGPT's 1003854 / 111540", len(train), len(val))
	}
}

func TestCopyTask(t *testing.T) {
	task := CopyTask{Symbols: 5, Len: 6, Reverse: true}
	src, tgt := task.Sample(tensor.NewRNG(3))
	for i := range src {
		if src[i] < First || src[i] >= task.Vocab() || tgt[len(tgt)-1-i] != src[i] {
			t.Fatalf("reverse task: src %v, tgt %v", src, tgt)
		}
	}
}

// TestImageFolder reads both layouts (train/ and val/ splits; one folder
// with every tenth image held out) and rejects broken ones by name.
func TestImageFolder(t *testing.T) {
	write := func(path string) {
		os.MkdirAll(filepath.Dir(path), 0o755)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, image.NewGray(image.Rect(0, 0, 2, 2)))
		f.Close()
	}
	split := t.TempDir()
	for _, p := range []string{"train/cat/a.png", "train/cat/b.PNG", "train/dog/c.jpg", "val/dog/d.gif", "train/dog/notes.txt",
		"train/.ipynb_checkpoints/e.png", "train/dog/._c.jpg"} {
		write(filepath.Join(split, p))
	}
	tr, val, labels, err := ImageFolder(split)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labels, []string{"cat", "dog"}) || len(tr) != 3 || len(val) != 1 || val[0].Label != 1 || tr[2].Label != 1 {
		t.Errorf("train/val layout: labels %v, train %v, val %v", labels, tr, val)
	}

	flat := t.TempDir()
	for i := range 25 {
		write(filepath.Join(flat, []string{"a", "b"}[i%2], fmt.Sprintf("%02d.png", i)))
	}
	tr, val, _, err = ImageFolder(flat)
	if err != nil || len(tr) != 23 || len(val) != 2 || val[0].Label != 0 || val[1].Label != 1 {
		t.Errorf("flat layout: train %d, val %v, %v; want 23 and one of each label", len(tr), val, err)
	}

	for _, tc := range []struct {
		paths []string
		says  string
	}{
		{[]string{"a.png"}, "no label subfolders"},
		{[]string{"only/a.png"}, "one label subfolder (only)"},
		{[]string{"a/x.png", "b/notes.txt"}, "has no PNG, JPEG or GIF files"},
		{[]string{"a/x.png", "b/y.png"}, "too few images"},
		{[]string{"train/a/x.png", "train/b/y.png", "val/c/z.png"}, `label "c" is not among the training labels [a b]`},
	} {
		dir := t.TempDir()
		for _, p := range tc.paths {
			write(filepath.Join(dir, p))
		}
		if _, _, _, err := ImageFolder(dir); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: err = %v; want %q", tc.paths, err, tc.says)
		}
	}
}

// TestDigits draws the same images from the same seed, balanced over the
// ten labels, with ink on every one.
func TestDigits(t *testing.T) {
	a, b := Digits(30, 16, 9), Digits(30, 16, 9)
	for i := range a {
		ga, gb := a[i].Img.(*image.Gray), b[i].Img.(*image.Gray)
		if a[i].Label != i%10 || !slices.Equal(ga.Pix, gb.Pix) {
			t.Fatalf("image %d: label %d, same pixels %v", i, a[i].Label, slices.Equal(ga.Pix, gb.Pix))
		}
		if slices.Max(ga.Pix) < 200 {
			t.Errorf("image %d: brightest pixel %d; the pen should reach 200", i, slices.Max(ga.Pix))
		}
	}
	if slices.Equal(a[0].Img.(*image.Gray).Pix, Digits(1, 16, 10)[0].Img.(*image.Gray).Pix) {
		t.Error("another seed drew the same first digit")
	}
}
