package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/data"
)

// TestTrainDigits trains the digits preset for a few steps on few images,
// resumes it, then classifies and evaluates with the run's checkpoint.
func TestTrainDigits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "digits")
	small := []string{"--preset", "digits", "--digits", "200", "--batch", "8", "--d-model", "16", "--layers", "1", "--heads", "2", "--workers", "1"}
	out, code := attn(t, append([]string{"train", "--steps", "6", "--out", dir}, small...)...)
	if code != 0 || !strings.Contains(out, "val_accuracy") || !strings.Contains(out, "img/s") || !strings.Contains(out, "wrote 10 validation digits") {
		t.Fatalf("attn train --preset digits: exit %d\n%s", code, out)
	}
	for _, f := range []string{"metrics.jsonl", "loss.png", "ckpt/config.json", "ckpt/model.safetensors", "ckpt/preprocessor_config.json", "ckpt/trainer_state.json", "examples/3-3.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	// A new run into the folder is refused before it draws a digit.
	if out, code := attn(t, append([]string{"train", "--steps", "6", "--out", dir}, small...)...); code == 0 || !strings.Contains(out, dir+" holds a run already (ckpt/)") || strings.Contains(out, "training") {
		t.Errorf("a second run into %s: exit %d\n%s", dir, code, out)
	}
	out, code = attn(t, "train", "--preset", "digits", "--resume", dir)
	if code != 0 || !strings.Contains(out, "resuming "+dir+" at step 6 of 6") {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "nothing left to train in "+dir+": step 6 of 6") {
		t.Errorf("resume of a finished run:\n%s", out)
	}
	for _, flag := range []string{"--augment", "--steps=9"} {
		if out, code = attn(t, "train", "--preset", "digits", "--resume", dir, flag); code != 1 || !strings.Contains(out, strings.TrimSuffix(flag, "=9")+" cannot change a run being resumed") {
			t.Errorf("resume with %s: exit %d\n%s", flag, code, out)
		}
	}
	out, code = attn(t, "classify", "--json", "--top-k", "10", "--model", dir, filepath.Join(dir, "examples", "3-3.png"))
	var c classified
	if err := json.Unmarshal([]byte(out), &c); code != 0 || err != nil || len(c.Labels) != 10 {
		t.Fatalf("classify with the run: exit %d, %v\n%s", code, err, out)
	}
	// The examples, filed under their labels, make an image folder to
	// evaluate on.
	evalDir := t.TempDir()
	for i := range 10 {
		os.MkdirAll(filepath.Join(evalDir, fmt.Sprint(i)), 0o755)
		src := filepath.Join(dir, "examples", fmt.Sprintf("%d-%d.png", i, i))
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(evalDir, fmt.Sprint(i), "a.png"), b, 0o644)
	}
	out, code = attn(t, "eval", "--json", "--model", dir, "--data", evalDir)
	var ev struct {
		Accuracy, Loss float64
		Images         int
	}
	if err := json.Unmarshal([]byte(out), &ev); code != 0 || err != nil || ev.Images != 10 || ev.Loss <= 0 {
		t.Fatalf("eval: exit %d, %v\n%s", code, err, out)
	}
}

// TestTrainImagesFineTunes fine-tunes the tiny ViT checkpoint on a folder
// of generated digits of three labels: its five-way classifier is replaced
// by a three-way one named after the folders.
func TestTrainImagesFineTunes(t *testing.T) {
	folder := t.TempDir()
	for i, im := range data.Digits(100, 20, 7) {
		if im.Label > 2 {
			continue
		}
		sub := filepath.Join(folder, []string{"zero", "one", "two"}[im.Label])
		os.MkdirAll(sub, 0o755)
		f, err := os.Create(filepath.Join(sub, fmt.Sprintf("%02d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, im.Img)
		f.Close()
	}
	dir := filepath.Join(t.TempDir(), "run")
	out, code := attn(t, "train", "--preset", "images", "--data", folder, "--model", vitDir, "--augment", "--steps", "4", "--batch", "4", "--out", dir)
	if code != 0 || !strings.Contains(out, "replacing the classifier of 5 labels with a new one for the data's 3") || !strings.Contains(out, "on 27 images of 3 labels (3 for validation)") {
		t.Fatalf("fine-tune: exit %d\n%s", code, out)
	}
	out, code = attn(t, "classify", "--model", dir, vitImage("rgb"))
	if code != 0 || !strings.Contains(out, "zero") || !strings.Contains(out, "two") || strings.Contains(out, "espresso") {
		t.Errorf("classify with the fine-tuned model: exit %d\n%s", code, out)
	}

	// From scratch, --patch is kept without --image-size (the preset's 64).
	out, code = attn(t, "train", "--preset", "images", "--data", folder, "--patch", "16", "--d-model", "16", "--heads", "2", "--layers", "1", "--steps", "1", "--batch", "2", "--out", filepath.Join(t.TempDir(), "scratch"))
	if code != 0 || !strings.Contains(out, "64×64 images in 16×16 patches") {
		t.Errorf("--patch 16 from scratch: exit %d\n%s", code, out)
	}

	// A linear probe trains the new classifier only.
	probeDir := filepath.Join(t.TempDir(), "probe")
	out, code = attn(t, "train", "--preset", "images", "--data", folder, "--model", vitDir, "--linear-probe", "--steps", "6", "--batch", "4", "--out", probeDir)
	if code != 0 || !strings.Contains(out, "training a classifier (99 parameters;") || !strings.Contains(out, "val_accuracy") {
		t.Fatalf("linear probe: exit %d\n%s", code, out)
	}

	one := t.TempDir()
	os.MkdirAll(filepath.Join(one, "cats"), 0o755)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--preset", "images"}, "needs --data DIR"},
		{[]string{"--preset", "images", "--data", one}, "one label subfolder (cats)"},
		{[]string{"--preset", "images", "--data", filepath.Join(one, "none")}, "no such file"},
		{[]string{"--preset", "digits", "--model", vitDir}, "--data and --model belong to --preset images"},
		{[]string{"--preset", "images", "--data", folder, "--linear-probe"}, "--linear-probe needs --model"},
		{[]string{"--preset", "images", "--data", folder, "--model", vitDir, "--linear-probe", "--augment"}, "cannot augment"},
		{[]string{"--preset", "images", "--data", folder, "--model", filepath.Join("..", "..", "testdata", "hf", "bert-tiny")}, "is a bert model"},
	} {
		out, code := attn(t, append([]string{"train", "--out", t.TempDir()}, tc.args...)...)
		if code != 1 || !strings.Contains(out, tc.says) {
			t.Errorf("%v: exit %d, %q; want 1 and %q", tc.args, code, out, tc.says)
		}
	}
	// Default run folders: runs/<folder>-ft and runs/<folder>-probe, so
	// the README's two fine-tunes of one folder do not collide.
	absVit, _ := filepath.Abs(vitDir)
	t.Chdir(t.TempDir())
	for _, extra := range [][]string{{"--augment"}, {"--linear-probe"}} {
		args := append([]string{"train", "--preset", "images", "--data", folder, "--model", absVit, "--steps", "1", "--batch", "4"}, extra...)
		if out, code := attn(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", extra, code, out)
		}
	}
	for _, d := range []string{"-ft", "-probe"} {
		if _, err := os.Stat(filepath.Join("runs", filepath.Base(folder)+d, "ckpt")); err != nil {
			t.Error(err)
		}
	}
}
