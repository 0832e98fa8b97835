package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

// sentences returns n lines of a small made-up language: lower-case words,
// spaces, full stops and newlines.
func sentences(n int) string {
	subjects := []string{"the cat", "a dog", "my friend", "the old man", "a small bird"}
	verbs := []string{"sees", "likes", "follows", "waits for", "sings to"}
	objects := []string{"the river", "a red kite", "the moon", "her brother", "the quiet town"}
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s %s %s.\n", subjects[i%5], verbs[(i/5)%5], objects[(i*7/3)%5])
	}
	return b.String()
}

// evalLoss runs attn eval --json on a model and a text file.
func evalLoss(t *testing.T, model, text string) float64 {
	t.Helper()
	out, code := attn(t, "eval", "--model", model, "--data", text, "--json")
	var res struct{ Loss float64 }
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
		t.Fatalf("attn eval --model %s: exit %d, %v\n%s", model, code, err, out)
	}
	return res.Loss
}

// TestTrainOnTextFile trains a GPT from scratch on a text file (characters,
// then a byte-level BPE learnt from it), resumes it from the recorded file
// and refuses a changed one.
func TestTrainOnTextFile(t *testing.T) {
	tmp := t.TempDir()
	text := filepath.Join(tmp, "story.txt")
	if err := os.WriteFile(text, []byte(sentences(200)), 0o644); err != nil {
		t.Fatal(err)
	}
	small := []string{"--layers", "1", "--heads", "2", "--d-model", "16", "--positions", "16", "--context", "16", "--batch", "2", "--eval-batches", "1", "--eval-every", "2", "--workers", "1"}
	dir := filepath.Join(tmp, "run")
	out, code := attn(t, append([]string{"train", "--data", text, "--steps", "3", "--out", dir, "--sample", "20"}, small...)...)
	if code != 0 || !strings.Contains(out, "on story.txt (") || !strings.Contains(out, "validation characters") || !strings.Contains(out, "sample") {
		t.Fatalf("attn train --data: exit %d\n%s", code, out)
	}
	d, _, err := train.ReadLMData(filepath.Join(dir, "ckpt"))
	if err != nil || d.Text != text || len(d.TextSHA256) != 64 {
		t.Fatalf("trainer_state.json records text %q, SHA-256 %q (%v); want %q", d.Text, d.TextSHA256, err, text)
	}
	tok, err := tokenizer.Open(filepath.Join(dir, "ckpt"))
	if want := tokenizer.NewChars(sentences(200)).VocabSize(); err != nil || tok.VocabSize() != want {
		t.Fatalf("the run's tokenizer: %v; want the text's %d characters", err, want)
	}
	// Resuming rereads the recorded file, from anywhere.
	out, code = attn(t, "train", "--resume", dir, "--steps", "5", "--sample", "0")
	if code != 0 || !strings.Contains(out, "resuming") || !strings.Contains(out, "step 5") {
		t.Fatalf("attn train --resume: exit %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", dir}, "--model cannot change a run being resumed"},
		{[]string{"--bpe", "300"}, "--bpe cannot change a run being resumed"},
	} {
		if out, code := attn(t, append([]string{"train", "--resume", dir, "--steps", "6"}, c.args...)...); code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("attn train --resume %v: exit %d\n%s; want %q", c.args, code, out, c.want)
		}
	}
	if err := os.WriteFile(text, []byte(sentences(201)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := attn(t, "train", "--resume", dir, "--steps", "6"); code == 0 || !strings.Contains(out, "differs from the text the run started on") {
		t.Errorf("resuming on a changed text: exit %d\n%s", code, out)
	}
	shakespeare := filepath.Join(tmp, "shakespeare")
	if out, code := attn(t, append([]string{"train", "--steps", "1", "--out", shakespeare, "--sample", "0"}, small...)...); code != 0 {
		t.Fatalf("attn train: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--resume", shakespeare, "--data", text, "--steps", "2"); code == 0 || !strings.Contains(out, "it trained on Tiny Shakespeare") {
		t.Errorf("resuming a Tiny Shakespeare run on a file: exit %d\n%s", code, out)
	}

	bpeDir := filepath.Join(tmp, "bpe")
	out, code = attn(t, append([]string{"train", "--data", text, "--bpe", "300", "--steps", "2", "--out", bpeDir, "--sample", "5"}, small...)...)
	if code != 0 || !strings.Contains(out, "learnt a byte-level BPE tokenizer of 300 tokens from story.txt") || !strings.Contains(out, "validation tokens") {
		t.Fatalf("attn train --bpe 300: exit %d\n%s", code, out)
	}
	tok, err = tokenizer.Open(filepath.Join(bpeDir, "ckpt"))
	if err != nil || tok.VocabSize() != 300 {
		t.Fatalf("the BPE run's tokenizer: %v; want 300 tokens", err)
	}
	if _, ok := tok.TokenToID("<|endoftext|>"); !ok {
		t.Error("the BPE tokenizer lacks <|endoftext|>")
	}
	enc, err := tok.Encode("the cat sees the moon.")
	if err != nil || len(enc.IDs) >= len("the cat sees the moon.")/2 {
		t.Errorf("the BPE tokenizer learnt from the text takes %d tokens (%v) for a 22-character sentence of it", len(enc.IDs), err)
	}
	if m, err := gpt.Load(filepath.Join(bpeDir, "ckpt")); err != nil || m.Cfg.VocabSize != 300 {
		t.Errorf("the BPE run's model: %v; want 300 tokens", err)
	}
	out, code = attn(t, "generate", "--model", bpeDir, "--prompt", "the cat", "--max-new-tokens", "5")
	if code != 0 || !strings.HasPrefix(out, "the cat") {
		t.Errorf("attn generate on the BPE run: exit %d\n%s", code, out)
	}
	bpeBig := filepath.Join(tmp, "bpe-big")
	if out, code := attn(t, append([]string{"train", "--data", text, "--bpe", "100000", "--steps", "1", "--out", bpeBig, "--sample", "0"}, small...)...); code != 0 || !strings.Contains(out, "(of the 100000 asked for: no pair left to merge)") {
		t.Errorf("--bpe 100000 on a small text: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--data", text, "--bpe", "100"); code == 0 || !strings.Contains(out, "at least 257 tokens") {
		t.Errorf("--bpe 100: exit %d\n%s", code, out)
	}
	// A --config made from a run's trainer_state.json names that run's
	// text; a new run without --data trains on Tiny Shakespeare regardless.
	st, _ := os.ReadFile(filepath.Join(dir, "ckpt", "trainer_state.json"))
	var state struct{ Job json.RawMessage }
	json.Unmarshal(st, &state)
	config := filepath.Join(tmp, "config.json")
	os.WriteFile(config, []byte(`{"data": `+string(state.Job)+`}`), 0o644)
	out, code = attn(t, append([]string{"train", "--config", config, "--steps", "1", "--out", filepath.Join(tmp, "fresh"), "--sample", "0"}, small...)...)
	if code != 0 || !strings.Contains(out, "on Tiny Shakespeare (") {
		t.Errorf("a fresh run with a --config naming another run's text: exit %d\n%s", code, out)
	}
	for _, flag := range []string{"--layers=2", "--time-limit=1m", "--out=x"} {
		if out, code := attn(t, "train", "--resume", bpeDir, flag); code == 0 || !strings.Contains(out, "a resumed run") && !strings.Contains(out, "cannot change a run being resumed") {
			t.Errorf("resuming with %s: exit %d\n%s", flag, code, out)
		}
	}
	gz := filepath.Join(tmp, "story.txt.gz")
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(sentences(200)))
	zw.Close()
	os.WriteFile(gz, zb.Bytes(), 0o644)
	out, code = attn(t, append([]string{"train", "--data", gz, "--steps", "1", "--out", filepath.Join(tmp, "gz"), "--sample", "0"}, small...)...)
	if code != 0 || !strings.Contains(out, "on story.txt.gz (") {
		t.Errorf("attn train --data FILE.gz: exit %d\n%s", code, out)
	}
	emptyFile := filepath.Join(tmp, "empty.txt")
	os.WriteFile(emptyFile, nil, 0o644)
	if out, code := attn(t, "train", "--data", emptyFile); code == 0 || !strings.Contains(out, "empty.txt is empty") {
		t.Errorf("an empty file: exit %d\n%s", code, out)
	}
	latin1 := filepath.Join(tmp, "latin1.txt")
	os.WriteFile(latin1, []byte("caf\xe9 au lait\n"), 0o644)
	if out, code := attn(t, "train", "--data", latin1); code == 0 || !strings.Contains(out, "is not UTF-8 text") {
		t.Errorf("a Latin-1 file: exit %d\n%s", code, out)
	}
}

// TestFineTune fine-tunes a HuggingFace GPT-2 folder on a text file: the
// loss on the text falls, the saved folder keeps the model's shape and
// tokenizer, and flags that would change the model are refused.
func TestFineTune(t *testing.T) {
	tmp := t.TempDir()
	text := sentences(300)
	textFile := filepath.Join(tmp, "story.txt")
	if err := os.WriteFile(textFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// The tiny GPT-2 test folder (vocabulary of 50) with a character
	// tokenizer of the text's characters.
	base := filepath.Join(tmp, "gpt2")
	os.Mkdir(base, 0o755)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hf", "gpt2-tiny", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(base, f), b, 0o644)
	}
	tokJSON, err := json.Marshal(tokenizer.NewChars(text))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "tokenizer.json"), tokJSON, 0o644)

	configWithModel := filepath.Join(tmp, "config.json")
	os.WriteFile(configWithModel, []byte(`{"model": {"n_positions": 64}}`), 0o644)

	before := evalLoss(t, base, textFile)
	dir := filepath.Join(tmp, "run")
	out, code := attn(t, "train", "--model", base, "--data", textFile, "--steps", "30", "--batch", "4", "--lr", "3e-3", "--warmup", "3",
		"--eval-batches", "2", "--eval-every", "30", "--sample", "10", "--out", dir, "--workers", "1")
	if code != 0 || !strings.Contains(out, "fine-tuning "+base) || !strings.Contains(out, "with adamw at lr 0.003, dropout 0.1, context 24,") {
		t.Fatalf("attn train --model: exit %d\n%s", code, out)
	}
	after := evalLoss(t, dir, textFile)
	if !(after < before-0.3) {
		t.Errorf("loss on the text %.4f before fine-tuning, %.4f after: want it at least 0.3 lower", before, after)
	}
	m, err := gpt.Load(filepath.Join(dir, "ckpt"))
	if err != nil || m.Cfg.NLayer != 2 || m.Cfg.NEmbd != 24 || m.Cfg.VocabSize != 50 || m.Cfg.NPositions != 24 {
		t.Fatalf("the fine-tuned folder: %v, config %+v; want the base model's shape", err, m.Cfg)
	}
	saved, err := os.ReadFile(filepath.Join(dir, "ckpt", "tokenizer.json"))
	if err != nil || string(saved) != string(tokJSON) {
		t.Errorf("the fine-tuned folder's tokenizer.json differs from the base model's (%v)", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--layers", "3"}, "--layers sets the shape of a new model"},
		{[]string{"--bpe", "300"}, "a model given with --model keeps its own"},
		{[]string{"--context", "32"}, "--context 32 exceeds the model's 24 positions"},
		{[]string{"--config", configWithModel}, `a "model" section cannot reshape the model from --model`},
		{[]string{"--out", base}, "would overwrite the model being fine-tuned"},
	} {
		args := append([]string{"train", "--model", base, "--data", textFile, "--steps", "1"}, c.args...)
		if out, code := attn(t, args...); code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("attn %v: exit %d\n%s; want %q", args, code, out, c.want)
		}
	}
	other := filepath.Join(tmp, "other.txt")
	os.WriteFile(other, []byte(strings.ToUpper(text)), 0o644)
	if out, code := attn(t, "train", "--model", base, "--data", other, "--steps", "1"); code == 0 || !strings.Contains(out, "cannot encode character 'T'") {
		t.Errorf("fine-tuning on characters the tokenizer lacks: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--model", filepath.Join("..", "..", "testdata", "hf", "t5-tiny"), "--data", textFile); code == 0 || !strings.Contains(out, "a translation model or a T5 trains on pairs: --src and --tgt") {
		t.Errorf("fine-tuning a T5: exit %d\n%s", code, out)
	}

	// --dropout 0 turns off every dropout layer of the loaded model, and
	// the saved config says so.
	noDrop := filepath.Join(tmp, "nodrop")
	out, code = attn(t, "train", "--model", base, "--data", textFile, "--steps", "2", "--batch", "2", "--dropout", "0", "--eval-batches", "1", "--sample", "0", "--out", noDrop, "--workers", "1")
	if code != 0 || !strings.Contains(out, "dropout 0, context 24") {
		t.Fatalf("attn train --model --dropout 0: exit %d\n%s", code, out)
	}
	cfg, _ := os.ReadFile(filepath.Join(noDrop, "ckpt", "config.json"))
	if !strings.Contains(string(cfg), `"resid_pdrop": 0,`) {
		t.Errorf("config.json after fine-tuning with --dropout 0:\n%s", cfg)
	}

	// From a relative path, the default run folder is runs/<text>-ft (not
	// the run it starts from), and resuming from elsewhere finds the text.
	t.Chdir(tmp)
	out, code = attn(t, "train", "--model", "run", "--data", "story.txt", "--steps", "2", "--batch", "2", "--eval-batches", "1", "--sample", "0", "--workers", "1")
	if code != 0 || !strings.Contains(out, "runs/story-ft") {
		t.Fatalf("fine-tuning with the default folder: exit %d\n%s", code, out)
	}
	os.Mkdir("elsewhere", 0o755)
	t.Chdir("elsewhere")
	if out, code := attn(t, "train", "--resume", filepath.Join("..", "runs", "story-ft"), "--steps", "3"); code != 0 || !strings.Contains(out, "step 3") {
		t.Errorf("resuming from another folder: exit %d\n%s", code, out)
	}
}

// TestTrainPicksImagesFromArguments: without --preset, a folder as --data or
// a ViT as --model means an image classifier.
func TestTrainPicksImagesFromArguments(t *testing.T) {
	empty := t.TempDir()
	if out, code := attn(t, "train", "--data", empty, "--steps", "1"); code == 0 || !strings.Contains(out, "has no label subfolders") {
		t.Errorf("attn train --data DIR: exit %d\n%s", code, out)
	}
	vit := filepath.Join("..", "..", "testdata", "hf", "vit-tiny")
	if out, code := attn(t, "train", "--model", vit, "--steps", "1"); code == 0 || !strings.Contains(out, "--preset images needs --data DIR") {
		t.Errorf("attn train --model VIT: exit %d\n%s", code, out)
	}
}
