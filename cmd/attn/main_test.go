package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/attn-go/attn/model/t5"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// attn runs the command line in-process and returns its output.
func attn(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return out.String() + errOut.String(), code
}

// TestTrainResumeGenerateEval drives the main job end to end on a tiny GPT:
// train, resume to more steps, generate, and evaluate.
func TestTrainResumeGenerateEval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	small := []string{"--layers", "1", "--heads", "2", "--d-model", "16", "--positions", "16", "--context", "16", "--batch", "2", "--eval-batches", "1", "--eval-every", "2", "--sample", "20", "--workers", "1"}
	out, code := attn(t, append([]string{"train", "--steps", "3", "--out", dir}, small...)...)
	if code != 0 || !strings.Contains(out, "validation loss") || !strings.Contains(out, "sample") {
		t.Fatalf("attn train: exit %d\n%s", code, out)
	}
	for _, f := range []string{"metrics.jsonl", "loss.png", "loss.svg", "ckpt/config.json", "ckpt/model.safetensors", "ckpt/tokenizer.json", "ckpt/optimizer.safetensors", "ckpt/trainer_state.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	// A resumed run continues as it would have: settings that change its
	// arithmetic or its data are refused (they had been applied silently:
	// a switch of optimizer dropped Muon's momentum), and so are fewer
	// steps than it has run.
	for _, flags := range [][]string{{"--lr", "5"}, {"--optimizer", "adamw"}, {"--seed", "9"}, {"--batch", "3"}, {"--dropout", "0.5"}} {
		if out, code := attn(t, append([]string{"train", "--resume", dir, "--steps", "5"}, flags...)...); code == 0 || !strings.Contains(out, flags[0]+" cannot change a run being resumed") {
			t.Errorf("attn train --resume %v: exit %d\n%s", flags, code, out)
		}
	}
	if out, code := attn(t, "train", "--resume", dir, "--steps", "2", "--sample", "0"); code == 0 || !strings.Contains(out, "at step 3 already") {
		t.Errorf("attn train --resume --steps 2 of a run at step 3: exit %d\n%s", code, out)
	}
	out, code = attn(t, "train", "--resume", dir, "--steps", "5", "--sample", "0")
	if code != 0 || !strings.Contains(out, "resuming") || !strings.Contains(out, "step 5") {
		t.Fatalf("attn train --resume: exit %d\n%s", code, out)
	}
	out, code = attn(t, "generate", "--model", dir, "--prompt", "ROMEO:", "--max-new-tokens", "30", "--seed", "2")
	if code != 0 || !strings.HasPrefix(out, "ROMEO:") || len(out) < len("ROMEO:")+30 {
		t.Fatalf("attn generate: exit %d\n%q", code, out)
	}
	text := filepath.Join(t.TempDir(), "text.txt")
	const speech = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
	os.WriteFile(text, []byte(speech), 0o644)
	os.WriteFile(text, []byte("naïve #"), 0o644)
	if out, code := attn(t, "eval", "--model", dir, "--data", text); code == 0 || !strings.Contains(out, "cannot encode character 'ï'") {
		t.Errorf("attn eval of a character outside the vocabulary: exit %d\n%s", code, out)
	}
	os.WriteFile(text, []byte(speech), 0o644)
	out, code = attn(t, "eval", "--model", dir, "--data", text, "--json")
	var res struct {
		Loss, Perplexity float64
		Tokens           int
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Tokens != len(speech)-1 || res.Loss <= 0 || res.Perplexity <= 1 {
		t.Fatalf("attn eval --json: exit %d, %v\n%s", code, err, out)
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"train", "--preset", "gpt5"}, `unknown preset "gpt5"`},
		{[]string{"train", "--resume", t.TempDir()}, "no checkpoint"},
		{[]string{"generate", "--model", t.TempDir()}, "holds no model"},
		{[]string{"eval", "--model", "x"}, "--data is required"},
	} {
		out, code := attn(t, c.args...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("attn %v: exit %d, output %q; want an error containing %q", c.args, code, out, c.want)
		}
	}
}

func TestEvalBLEU(t *testing.T) {
	dir := t.TempDir()
	hyp, ref := filepath.Join(dir, "hyp.txt"), filepath.Join(dir, "ref.txt")
	os.WriteFile(hyp, []byte("The cat sat on the mat.\nA dog runs.\n"), 0o644)
	os.WriteFile(ref, []byte("The cat sat on a mat.\nThe dog runs.\n"), 0o644)
	out, code := attn(t, "eval", "--bleu", "--ref", ref, hyp)
	if code != 0 || !strings.HasPrefix(out, "BLEU = 46.50 81.8/66.7/42.9/20.0 (BP = 1.000 ratio = 1.000 hyp_len = 11 ref_len = 11)") {
		t.Errorf("attn eval --bleu: exit %d\n%s", code, out)
	}
	os.WriteFile(ref, []byte("one line\n"), 0o644)
	if out, code := attn(t, "eval", "--bleu", "--ref", ref, hyp); code == 0 || !strings.Contains(out, "lines") {
		t.Errorf("attn eval --bleu with misaligned files: exit %d\n%s", code, out)
	}
}

// TestEmbedAndFillMask runs the BERT commands on the tiny HuggingFace-layout
// checkpoint in testdata, with a 100-token WordPiece vocabulary made here.
// bertFolder copies the tiny BERT in testdata with a vocabulary made here.
func bertFolder(t *testing.T) string { return bertFolderOf(t, "bert-tiny") }

// bertFolderOf copies testdata/hf/<name> with the small vocab.txt above.
func bertFolderOf(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "hf", name)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "paris", "is", "the", "capital", "of", "france", "."}
	for len(vocab) < 100 {
		vocab = append(vocab, fmt.Sprintf("w%d", len(vocab)))
	}
	os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(vocab, "\n")+"\n"), 0o644)
	return dir
}

func TestEmbedAndFillMask(t *testing.T) {
	dir := bertFolder(t)
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("Paris is the capital of France.\nthe capital\n"), 0o644)
	out, code := attn(t, "embed", "--model", dir, "--pooling", "mean", "--normalize", in)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("attn embed: exit %d\n%s", code, out)
	}
	var e struct{ Embedding []float64 }
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil || len(e.Embedding) != 32 {
		t.Fatalf("attn embed line: %v, %d values", err, len(e.Embedding))
	}
	var norm float64
	for _, v := range e.Embedding {
		norm += v * v
	}
	if norm < 0.999 || norm > 1.001 {
		t.Errorf("--normalize: squared norm %v; want 1", norm)
	}
	out, code = attn(t, "fill-mask", "--model", dir, "--top-k", "3", "Paris is the [MASK] of France.")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Errorf("attn fill-mask: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "fill-mask", "--model", dir, "no mask here"); code == 0 || !strings.Contains(out, "no [MASK]") {
		t.Errorf("attn fill-mask without a mask: exit %d\n%s", code, out)
	}
}

// t5Folder copies the tiny T5 in testdata with a character vocabulary made
// here, one character per id.
func t5Folder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "hf", "t5-tiny")
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	var alphabet strings.Builder // 64 characters: one per id of the tiny model
	for r := rune('0'); alphabet.Len() < 64; r++ {
		alphabet.WriteRune(r)
	}
	b, _ := json.Marshal(tokenizer.NewChars(alphabet.String()))
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
	return dir
}

// TestGenerateT5 runs text-to-text generation on the tiny T5 checkpoint in
// testdata with a small character vocabulary made here (the output is
// arbitrary; the command's wiring and the end token are what is checked).
func TestGenerateT5(t *testing.T) {
	dir := t5Folder(t)
	for _, beam := range []string{"1", "3"} {
		out, code := attn(t, "generate", "--model", dir, "--beam", beam, "--max-new-tokens", "8", "HELLO")
		if code != 0 || strings.Count(out, "\n") != 1 {
			t.Errorf("attn generate (T5, beam %s): exit %d\n%q", beam, code, out)
		}
	}
}

// TestT5SentencePiece: a T5 folder with spiece.model and no tokenizer.json
// (t5-small's and mT5's first folders) is tokenized with the SentencePiece
// model, its prompt ending in </s> as T5Tokenizer ends it, and generates.
func TestT5SentencePiece(t *testing.T) {
	dir := t.TempDir()
	c := t5.DefaultConfig()
	c.VocabSize, c.DModel, c.DKV, c.DFF, c.NumLayers, c.NumDecoderLayers, c.NumHeads = 420, 16, 4, 32, 1, 1, 4
	c.EOSTokenID = 2 // the test model's </s> (T5's own is 1)
	m, err := t5.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := t5.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	spm, err := os.ReadFile(filepath.Join("..", "..", "model", "marian", "testdata", "tokenizer", "source.spm"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "spiece.model"), spm, 0o644)
	tm, err := loadT5(dir)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := tokenizer.ParseSentencePiece(spm)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sp.Encode("hello world")
	got, _ := tm.tok.Encode("hello world")
	if !slices.Equal(got.IDs, want.IDs) || len(want.IDs) < 2 {
		t.Errorf("ids %v; want SentencePiece's %v", got.IDs, want.IDs)
	}
	if out, code := attn(t, "generate", "--model", dir, "--max-new-tokens", "4", "hello world"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("attn generate: exit %d\n%s", code, out)
	}
}

// TestGenerateT5Quantized: attn generate --quantize q8 on a T5 answers as
// the model quantized to 8 bits (t5.Model.QuantizeQ8) does, which is the
// dequantized float32 model's answer.
func TestGenerateT5Quantized(t *testing.T) {
	dir := t5Folder(t)
	tm, err := loadT5(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := tm.m.QuantizeQ8(); n < 10 {
		t.Fatalf("%d matrices quantized", n)
	}
	want, _, err := tm.answer("HELLO", 3, 8, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, code := attn(t, "generate", "--model", dir, "--beam", "3", "--max-new-tokens", "8", "--quantize", "q8", "HELLO")
	if code != 0 || out != want+"\n" {
		t.Errorf("attn generate --quantize q8 (T5): exit %d, %q; want the 8-bit model's %q", code, out, want)
	}
}

// mtFolder saves a tiny random encoder-decoder with a character vocabulary.
func mtFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	chars := tokenizer.NewChars("abcdefghijklmnopqrstuvwxyz .")
	c := transformer.DefaultConfig()
	c.SrcVocab, c.TgtVocab, c.DModel, c.Heads, c.DFF, c.EncoderLayers, c.DecoderLayers, c.MaxLen = chars.VocabSize(), chars.VocabSize(), 16, 2, 32, 1, 1, 64
	m, err := transformer.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := transformer.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(chars)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
	return dir
}

// TestTranslateCommand wires attn translate to a tiny saved encoder-decoder
// and a character vocabulary: one output line per input line, beam or greedy.
func TestTranslateCommand(t *testing.T) {
	dir := mtFolder(t)
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("zwei hunde.\nein mann.\nkatze.\n"), 0o644)
	for _, beam := range []string{"1", "4"} {
		out, code := attn(t, "translate", "--model", dir, "--beam", beam, "--batch", "2", in)
		if code != 0 || strings.Count(out, "\n") != 3 {
			t.Errorf("attn translate --beam %s: exit %d\n%q", beam, code, out)
		}
	}
	if out, code := attn(t, "translate", "--model", t.TempDir(), in); code == 0 || !strings.Contains(out, "holds no model") {
		t.Errorf("attn translate without a model: exit %d\n%s", code, out)
	}
}

// TestWrongModelType requires each command handed a model it does not run to
// say what the model is and which commands run it.
func TestWrongModelType(t *testing.T) {
	hf := filepath.Join("..", "..", "testdata", "hf")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--model", filepath.Join(hf, "bert-tiny"), "hi"}, "is a bert model; attn generate runs gpt2, llama, qwen2, qwen3, mistral, gemma2, gemma3_text, gemma3, smollm3, phi3, granite, olmo2, mixtral, qwen3_moe, olmoe, granitemoe, granitemoeshared, qwen2_moe, gpt_oss, t5, mt5 models (use attn embed, attn fill-mask, attn classify, attn serve)"},
		{[]string{"eval", "--model", filepath.Join(hf, "t5-tiny"), "--data", "x.txt"}, "is a t5 model; attn eval runs gpt2, llama, qwen2, qwen3, mistral, gemma2, gemma3_text, gemma3, smollm3, phi3, granite, olmo2, mixtral, qwen3_moe, olmoe, granitemoe, granitemoeshared, qwen2_moe, gpt_oss, vit, deit, bert, roberta, xlm-roberta, distilbert, modernbert models (use attn generate, attn serve, attn train --model --src --tgt)"},
		{[]string{"embed", "--model", filepath.Join(hf, "gpt2-tiny")}, "is a gpt2 model; attn embed runs bert, roberta, xlm-roberta, distilbert, modernbert, llama, qwen2, qwen3, mistral, gemma2, gemma3_text, gemma3, smollm3, phi3, granite, olmo2, mixtral, qwen3_moe, olmoe, granitemoe, granitemoeshared, qwen2_moe, gpt_oss, vit, deit, clip, siglip models (use attn generate, attn eval, attn serve, attn train --model)"},
		{[]string{"fill-mask", "--model", filepath.Join(hf, "marian-tiny"), "a [MASK]"}, "is a marian model; attn fill-mask runs bert, roberta, xlm-roberta, distilbert, modernbert models (use attn translate, attn serve)"},
		{[]string{"generate", "--model", t.TempDir()}, "holds no model"},
	} {
		if out, code := attn(t, tc.args...); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("attn %s: exit %d\n%s\nwant %q", strings.Join(tc.args, " "), code, out, tc.want)
		}
	}
}

// TestEmbedIgnoresTokenizerPadding: a tokenizer.json that pads every text to
// a fixed length and truncates (as sentence-transformers ships them) gives
// the embeddings and mask predictions of one that does neither: the pads
// would otherwise be attended to and averaged as text.
func TestEmbedIgnoresTokenizerPadding(t *testing.T) {
	plain := bertFolder(t)
	padded := bertFolder(t)
	tok, err := tokenizer.Open(plain)
	if err != nil {
		t.Fatal(err)
	}
	tok.Padding = &tokenizer.Padding{Fixed: 16, Direction: "Right", PadToken: "[PAD]"}
	tok.Truncation = &tokenizer.Truncation{MaxLength: 5, Strategy: "LongestFirst", Direction: "Right"}
	if err := tok.Save(filepath.Join(padded, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(plain, "in.txt")
	os.WriteFile(in, []byte("Paris is the capital of France.\nthe capital\n"), 0o644)
	for _, args := range [][]string{{"embed", "--pooling", "mean", in}, {"fill-mask", "--top-k", "3", "Paris is the [MASK] of France."}} {
		want, code := attn(t, append([]string{args[0], "--model", plain}, args[1:]...)...)
		got, code2 := attn(t, append([]string{args[0], "--model", padded}, args[1:]...)...)
		if code != 0 || code2 != 0 || got != want {
			t.Errorf("%s with the tokenizer's padding and truncation:\n%s\nwithout:\n%s", args[0], got, want)
		}
	}
}

// TestCPUSetting: ATTN_CPU caps the kernels every command runs, and a value
// that names none stops every command with an error that names it. The
// variable is read once at start, so a child process (this test binary,
// told so by ATTN_TEST_ARGS) runs each command.
func TestCPUSetting(t *testing.T) {
	if args := os.Getenv("ATTN_TEST_ARGS"); args != "" {
		var out bytes.Buffer
		code := run(strings.Fields(args), &out, &out)
		fmt.Print(out.String())
		os.Exit(code)
	}
	attnWith := func(cpu, args string) (string, int) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCPUSetting$")
		cmd.Env = append(os.Environ(), "ATTN_TEST_ARGS="+args, "ATTN_CPU="+cpu)
		out, err := cmd.CombinedOutput()
		code := 0
		if e, ok := err.(*exec.ExitError); ok {
			code = e.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := attnWith("avx3", "bench gemm --m 8 --n 8 --k 8 --reps 1")
	if want := `attn: ATTN_CPU="avx3": want avx512, avx2 or generic`; code != 2 || !strings.Contains(out, want) {
		t.Errorf("ATTN_CPU=avx3: exit %d, output %q; want exit 2 and %q", code, out, want)
	}
	out, code = attnWith("generic", "bench gemm --m 8 --n 8 --k 8 --reps 1 --json")
	if code != 0 || !strings.Contains(out, `"kernels":"generic"`) {
		t.Errorf("ATTN_CPU=generic: exit %d, output %q; want the generic kernels reported", code, out)
	}
}

// TestMatmulSetting: ATTN_MATMUL=bf16 switches every command's products to
// bfloat16 where the CPU has them (the bench's JSON names the kernels), says
// why not elsewhere, and a value that names no precision stops the command.
func TestMatmulSetting(t *testing.T) {
	attn := func(matmul string) (string, int) {
		t.Setenv(envMatmul, matmul)
		var out bytes.Buffer
		code := run(strings.Fields("bench gemm --m 64 --n 64 --k 64 --reps 1 --json"), &out, &out)
		return out.String(), code
	}
	out, code := attn("bf17")
	if want := `attn: ATTN_MATMUL="bf17": want fp32 or bf16`; code != 2 || !strings.Contains(out, want) {
		t.Errorf("ATTN_MATMUL=bf17: exit %d, output %q; want exit 2 and %q", code, out, want)
	}
	canBF16 := tensor.SetMatmulBF16(true) == nil
	tensor.SetMatmulBF16(false)
	out, code = attn("bf16")
	switch {
	case canBF16 && (code != 0 || !strings.Contains(out, `"kernels":"avx512-bf16"`)):
		t.Errorf("ATTN_MATMUL=bf16: exit %d, output %q; want the bfloat16 kernels reported", code, out)
	case !canBF16 && (code != 2 || !strings.Contains(out, "ATTN_MATMUL=bf16: bfloat16 products need")):
		t.Errorf("ATTN_MATMUL=bf16 without AVX512_BF16: exit %d, output %q; want exit 2 and why", code, out)
	}
	out, code = attn("fp32")
	if name, _ := tensor.Kernels(); code != 0 || strings.Contains(out, "bf16") || strings.Contains(name, "bf16") {
		t.Errorf("ATTN_MATMUL=fp32 after bf16: exit %d, kernels %s, output %q", code, name, out)
	}
}
