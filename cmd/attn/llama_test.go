package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

// llamaFolder copies testdata/hf/<name> (a tiny Llama) with a Llama 2
// style tokenizer.json made here: SentencePiece pieces ("▁" for a space,
// prepended to the text), one token per character plus 70 made-up
// words, <s> added before every text, and the decoder that turns "▁" back
// into spaces and strips the first one.
func llamaFolder(t testing.TB, name string) (dir string, pieces []string) {
	t.Helper()
	dir = t.TempDir()
	src := filepath.Join("..", "..", "testdata", "hf", name)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	pieces = []string{"<unk>", "<s>", "</s>", "▁"}
	for r := 'a'; r <= 'z'; r++ {
		pieces = append(pieces, string(r))
	}
	for len(pieces) < 100 {
		pieces = append(pieces, fmt.Sprintf("▁%c%c", 'a'+len(pieces)%26, 'a'+len(pieces)/26))
	}
	vocab := map[string]int{}
	var added []map[string]any
	for i, p := range pieces {
		vocab[p] = i
		if i < 3 {
			added = append(added, map[string]any{"id": i, "content": p, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
		}
	}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"pre_tokenizer": nil,
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}},
		},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": "<unk>", "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
			"fuse_unk": true, "byte_fallback": true, "vocab": vocab, "merges": []string{}},
	}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
	return dir, pieces
}

// greedyText returns "the cat" followed by m's greedy continuation of
// prompt (its ids), at most n tokens up to the model's end of text,
// spelled with llamaFolder's pieces as attn generate prints it.
func greedyText(t *testing.T, m *llama.Model, prompt []int, n int, pieces []string) string {
	t.Helper()
	ids, err := generate.Text(m, prompt, n, &generate.Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := "the cat"
	for _, id := range ids {
		if m.EndsText(id) {
			break
		}
		s += strings.ReplaceAll(pieces[id], "▁", " ")
	}
	return s
}

// TestGenerateLlama runs attn generate on a tiny Llama with greedy
// decoding: the prompt gets <s> in front, the text is the model's own
// greedy tokens (generate.Text, stopping at </s>), spelled as HF's
// pipeline spells them, the first word after the prompt keeping its space.
func TestGenerateLlama(t *testing.T) {
	dir, pieces := llamaFolder(t, "llama-tiny")
	out, code := attn(t, "generate", "--model", dir, "--prompt", "the cat", "--greedy", "--max-new-tokens", "12")
	if code != 0 {
		t.Fatalf("attn generate: exit %d\n%s", code, out)
	}
	m, err := llama.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int{1, 3, 23, 11, 8, 3, 6, 4, 23} // <s> ▁ t h e ▁ c a t
	ids, err := generate.Text(m, prompt, 12, &generate.Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "the cat"
	for _, id := range ids {
		if id == 2 { // </s> ends the text
			break
		}
		want += strings.ReplaceAll(pieces[id], "▁", " ")
	}
	t.Logf("attn generate: %q", out)
	if !strings.HasPrefix(want, "the cat ") {
		t.Fatalf("the greedy text %q does not start with a word after a space: the test no longer checks that space", want)
	}
	if strings.TrimRight(out, "\n") != want {
		t.Errorf("attn generate: %q; want %q (ids %v)", out, want, ids)
	}
	// A character the vocabulary lacks is named where it is in the prompt
	// (counted without the <s> the tokenizer adds).
	if out, code := attn(t, "generate", "--model", dir, "--prompt", "the cat!"); code == 0 || !strings.Contains(out, `cannot encode character '!' at byte 7`) {
		t.Errorf("a prompt with '!': exit %d\n%s", code, out)
	}
	// --prompts answers each line as the model alone would: here the
	// same greedy text, decoded together with another prompt.
	prompts := filepath.Join(t.TempDir(), "prompts.txt")
	os.WriteFile(prompts, []byte("the cat\na dog\n"), 0o644)
	out, code = attn(t, "generate", "--model", dir, "--prompts", prompts, "--greedy", "--max-new-tokens", "12")
	var first struct{ Prompt, Text string }
	if code != 0 || json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &first) != nil || first.Prompt+first.Text != want {
		t.Errorf("attn generate --prompts: exit %d\n%s\nwant the first line's text %q", code, out, want)
	}
}

// TestServeLlama: attn serve answers /v1/generate (whole and streamed) and
// OpenAI's /v1/completions with a Llama, decoded by the batcher, with the
// text attn generate gives.
func TestServeLlama(t *testing.T) {
	dir, _ := llamaFolder(t, "qwen2-tiny")
	want, code := attn(t, "generate", "--model", dir, "--prompt", "the cat", "--greedy", "--max-new-tokens", "10")
	if code != 0 {
		t.Fatalf("attn generate: exit %d\n%s", code, want)
	}
	want = strings.TrimPrefix(strings.TrimRight(want, "\n"), "the cat")
	if strings.TrimSpace(want) == "" {
		t.Fatalf("the greedy text is empty: the test would check nothing")
	}
	ts := serveDir(t, dir)
	code, v := post(t, ts.URL+"/v1/generate", `{"prompt": "the cat", "max_new_tokens": 10, "temperature": 0}`)
	if code != 200 || v["text"] != want {
		t.Errorf("/v1/generate: status %d, %v; want text %q", code, v, want)
	}
	resp, err := http.Post(ts.URL+"/v1/generate", "application/json", strings.NewReader(`{"prompt": "the cat", "max_new_tokens": 10, "temperature": 0, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var streamed strings.Builder
	for _, line := range strings.Split(string(body), "\n") {
		var ev struct{ Text string }
		if rest, ok := strings.CutPrefix(line, "data: "); ok && json.Unmarshal([]byte(rest), &ev) == nil {
			streamed.WriteString(ev.Text)
		}
	}
	if streamed.String() != want || !strings.Contains(string(body), `"done":true`) {
		t.Errorf("streamed: %q; want %q", body, want)
	}
	code, v = post(t, ts.URL+"/v1/completions", `{"prompt": "the cat", "max_tokens": 10, "temperature": 0}`)
	choices, _ := v["choices"].([]any)
	if code != 200 || len(choices) != 1 || choices[0].(map[string]any)["text"] != want {
		t.Errorf("/v1/completions: status %d, %v; want text %q", code, v, want)
	}
}

// TestLlamaLoss: the mean cross-entropy over a text, whole or in chunks of
// 5 through the cache, equals the one computed from PyTorch's logits of the
// same tokens (tools/golden/torch_llama.py); attn eval prints it.
func TestLlamaLoss(t *testing.T) {
	m, err := llama.Load(filepath.Join("..", "..", "testdata", "hf", "llama-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	f := golden.Open(t, "hf/llama-tiny/reference.safetensors")
	ref := f.Tensor("logits")
	tt, v := ref.Shape[1], ref.Shape[2]
	ids := f.Ints("input.ids")[:tt] // the first sequence
	var want float64
	for r := range tt - 1 {
		row := ref.Data[r*v : (r+1)*v]
		want += logSumExp(row) - float64(row[ids[r+1]])
	}
	want /= float64(tt - 1)
	defer func(was int) { llamaEvalChunk = was }(llamaEvalChunk)
	for _, chunk := range []int{256, 5} {
		llamaEvalChunk = chunk
		got, n, err := llamaLoss(m, ids)
		if err != nil || n != tt-1 || math.Abs(got-want) > 1e-5 {
			t.Errorf("chunks of %d: loss %v over %d tokens, %v; PyTorch's logits give %v over %d", chunk, got, n, err, want, tt-1)
		}
	}
	dir, _ := llamaFolder(t, "llama-tiny")
	text := filepath.Join(t.TempDir(), "text.txt")
	os.WriteFile(text, []byte("the cat sat on the mat"), 0o644) // <s>, ▁ and 22 characters: 23 tokens predicted
	out, code := attn(t, "eval", "--model", dir, "--data", text, "--json")
	var r struct {
		Loss, Perplexity float64
		Tokens           int
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Tokens != 23 || r.Loss <= 0 || math.Abs(math.Exp(r.Loss)-r.Perplexity) > 1e-6*r.Perplexity {
		t.Errorf("attn eval: exit %d\n%s", code, out)
	}
}

// TestTrainLlama fine-tunes the tiny Llama on a text, resumes the run to
// more steps, and generates with the result.
func TestTrainLlama(t *testing.T) {
	dir, _ := llamaFolder(t, "llama-tiny")
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"chat_template": "{{ messages }}"}`), 0o644)
	tmp := t.TempDir()
	text := filepath.Join(tmp, "cats.txt")
	os.WriteFile(text, []byte(strings.Repeat("the cat sat on the mat and the dog sat on the log ", 30)), 0o644)
	run := filepath.Join(tmp, "run")
	out, code := attn(t, "train", "--model", dir, "--data", text, "--steps", "30", "--batch", "2", "--lr", "3e-3", "--eval-every", "15",
		"--eval-batches", "2", "--out", run, "--workers", "1", "--sample", "20")
	if code != 0 || !strings.Contains(out, "fine-tuning") || !strings.Contains(out, "llama: 2 layers, 4 heads over 2 key/value heads") || !strings.Contains(out, "validation loss") {
		t.Fatalf("attn train --model LLAMA: exit %d\n%s", code, out)
	}
	first := metricsLoss(t, run)
	if len(first) < 2 || first[len(first)-1] >= first[0] {
		t.Errorf("validation losses %v: want them to fall", first)
	}
	// --lr without --min-lr decays to a tenth of it; the checkpoint keeps
	// the model folder's tokenizer_config.json (its chat template).
	if lr := lastLR(t, run); lr < 2.9e-4 || lr > 4e-4 {
		t.Errorf("the last step's learning rate %g; want about 3e-4, a tenth of --lr 3e-3", lr)
	}
	ckpt, err := train.CheckpointDir(run)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(ckpt, "tokenizer_config.json")); err != nil || !strings.Contains(string(b), "chat_template") {
		t.Errorf("the checkpoint's tokenizer_config.json: %q, %v", b, err)
	}
	if out, code := attn(t, "train", "--resume", run, "--lr", "1"); code == 0 || !strings.Contains(out, "--lr cannot change a run being resumed") {
		t.Errorf("resuming with --lr: exit %d\n%s", code, out)
	}
	out, code = attn(t, "train", "--resume", run, "--steps", "40", "--sample", "0")
	if code != 0 || !strings.Contains(out, "resuming") || !strings.Contains(out, "step 40") {
		t.Fatalf("attn train --resume: exit %d\n%s", code, out)
	}
	out, code = attn(t, "generate", "--model", run, "--prompt", "the cat", "--greedy", "--max-new-tokens", "8")
	if code != 0 || !strings.HasPrefix(out, "the cat") {
		t.Errorf("attn generate with the fine-tuned model: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "train", "--model", dir, "--data", text, "--layers", "3"); code == 0 || !strings.Contains(out, "--layers: a Llama fine-tunes with its own shape") {
		t.Errorf("--layers: exit %d\n%s", code, out)
	}
	// The window is max_position_embeddings alone (a Mistral's layers
	// attend within their sliding_window at any length).
	if out, code := attn(t, "train", "--model", dir, "--data", text, "--context", "65"); code == 0 || !strings.Contains(out, "--context 65 exceeds the model's window of 64 positions (max_position_embeddings)") || strings.Contains(out, "sliding_window") {
		t.Errorf("--context past the window: exit %d\n%s", code, out)
	}
}

// lastLR returns the learning rate of the last training step a run's
// metrics.jsonl records.
func lastLR(t *testing.T, run string) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lr := 0.0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ LR float64 }
		if json.Unmarshal([]byte(line), &r) == nil && r.LR > 0 {
			lr = r.LR
		}
	}
	return lr
}

// metricsLoss returns the validation losses a run's metrics.jsonl records.
func metricsLoss(t *testing.T, run string) []float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ Eval map[string]float64 }
		if json.Unmarshal([]byte(line), &r) == nil {
			if v, ok := r.Eval["val_loss"]; ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// byteTokenizer is a stand-in for a tokenizer with byte fallback: ids below
// 256 are the bytes <0x00>…<0xFF>, 256 is <s>; a run of byte tokens
// decodes as UTF-8 when it is valid, and to one U+FFFD per byte when it is
// not, as HF's ByteFallback decoder does.
type byteTokenizer struct{ tokenizer.Tokenizer }

func (byteTokenizer) Decode(ids []int) (string, error) {
	var out strings.Builder
	var run []byte
	flush := func() {
		if utf8.Valid(run) {
			out.Write(run)
		} else {
			out.WriteString(strings.Repeat("\uFFFD", len(run)))
		}
		run = run[:0]
	}
	for _, id := range ids {
		if id < 256 {
			run = append(run, byte(id))
			continue
		}
		flush()
	}
	flush()
	return out.String(), nil
}

// TestContinuationBytes: a generation that continues a prompt ending in a
// character made of byte tokens decodes as the whole text less the
// prompt's, not as bytes glued to the prompt's last one.
func TestContinuationBytes(t *testing.T) {
	m, err := llama.Load(filepath.Join("..", "..", "testdata", "hf", "llama-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int{256, 'c', 'a', 'f', 0xC3, 0xA9} // <s> "café"
	gen := []int{0xC3, 0xA9, 'a'}                   // "éa"
	got, err := continuing(m, byteTokenizer{}, prompt).Decode(gen)
	if err != nil || got != "éa" {
		t.Errorf("the continuation of %q: %q, %v; want %q", "café", got, err, "éa")
	}
}

// TestGenerateBF16Checkpoint: a checkpoint stored in BF16 runs with its
// matrices kept in bfloat16 and generates exactly the float32 model's
// greedy text (llama.Model.KeepBF16 gives the same numbers).
func TestGenerateBF16Checkpoint(t *testing.T) {
	dir, pieces := llamaFolder(t, "llama-tiny-llama3")
	m, tok, err := loadLlamaToRun(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Halved() {
		t.Fatal("the BF16 checkpoint was not kept in bfloat16")
	}
	full, err := llama.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.Encode("the cat")
	if err != nil {
		t.Fatal(err)
	}
	want := greedyText(t, full, enc.IDs, 12, pieces)
	out, code := attn(t, "generate", "--model", dir, "--prompt", "the cat", "--greedy", "--max-new-tokens", "12")
	if code != 0 || strings.TrimRight(out, "\n") != want {
		t.Errorf("attn generate: exit %d, %q; want the float32 model's %q", code, out, want)
	}
}

// TestQuantizeFlag: attn generate --quantize q8 gives the greedy text of
// the model quantized to 8 bits (llama.Model.QuantizeQ8); a format other
// than q8, or a model outside the Llama family, is refused by name, as in
// attn serve.
func TestQuantizeFlag(t *testing.T) {
	dir, pieces := llamaFolder(t, "llama-tiny")
	q, err := llama.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	q.QuantizeQ8()
	m, tok, err := loadLlamaToRun(dir, "q8")
	if err != nil || m.Format() != "q8" {
		t.Fatalf("loaded as %q (%v); want q8", m.Format(), err)
	}
	enc, err := tok.Encode("the cat")
	if err != nil {
		t.Fatal(err)
	}
	want := greedyText(t, q, enc.IDs, 12, pieces)
	out, code := attn(t, "generate", "--model", dir, "--prompt", "the cat", "--greedy", "--max-new-tokens", "12", "--quantize", "q8")
	if code != 0 || strings.TrimRight(out, "\n") != want {
		t.Errorf("attn generate --quantize q8: exit %d, %q; want the 8-bit model's %q", code, out, want)
	}
	if out, code := attn(t, "generate", "--model", dir, "--prompt", "the cat", "--quantize", "q4"); code == 0 || !strings.Contains(out, `--quantize "q4"; want q8`) {
		t.Errorf("--quantize q4: exit %d, %q", code, out)
	}
	gpt2 := filepath.Join("..", "..", "testdata", "hf", "gpt2-tiny")
	if out, code := attn(t, "generate", "--model", gpt2, "--prompt", "a", "--quantize", "q8"); code == 0 || !strings.Contains(out, "--quantize is for Llama-family models") {
		t.Errorf("--quantize on GPT-2: exit %d, %q", code, out)
	}
	if _, err := newServerQuantized(gpt2, "q8", 8, 0); err == nil || !strings.Contains(err.Error(), "Llama-family") {
		t.Errorf("attn serve --quantize on GPT-2: %v", err)
	}
	s, err := newServerQuantized(dir, "q8", 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.handler())
	defer func() { ts.Close(); s.close() }()
	resp, err := http.Get(ts.URL + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info["weights"] != "q8" {
		t.Errorf("GET /v1/model of attn serve --quantize q8: %v (%v); want weights q8", info, err)
	}
}

// TestEmbedDecoder: attn embed with a decoder-only model (a Qwen3 folder
// set up as Qwen3-Embedding's sentence-transformers folder is) writes each
// line's last hidden state, after the final norm, from its last token,
// normalised; --pooling and --normalize override the folder's choice, and
// without modules.json the last token unnormalised is the default.
func TestEmbedDecoder(t *testing.T) {
	dir, _ := llamaFolder(t, "qwen3-tiny")
	lines := []string{"hello world", "  a b c d e  ", "x"}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	m, tok, err := loadLlama(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := func(pool bert.Pooling, normalize, strip bool) [][]float32 {
		var out [][]float32
		for _, l := range lines {
			if strip { // as sentence-transformers does
				l = strings.TrimSpace(l)
			}
			enc, err := tok.Encode(l)
			if err != nil {
				t.Fatal(err)
			}
			h, err := m.Hidden(enc.IDs)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := bert.Embed(tensor.FromSlice(h.Data, 1, h.Shape[0], h.Shape[1]), nil, pool, normalize)
			out = append(out, v[0])
		}
		return out
	}
	read := func(out string) [][]float32 {
		var vs [][]float32
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var v struct{ Embedding []float32 }
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			vs = append(vs, v.Embedding)
		}
		return vs
	}
	same := func(what, out string, code int, want [][]float32) {
		t.Helper()
		got := read(out)
		if code != 0 || len(got) != len(want) {
			t.Fatalf("%s: exit %d\n%s", what, code, out)
		}
		for i := range want {
			if d, _ := golden.MaxAbs(got[i], want[i]); d > 1e-6 || len(got[i]) != m.Cfg.Hidden {
				t.Errorf("%s: line %d off by %g", what, i+1, d)
			}
		}
	}
	out, code := attn(t, "embed", "--model", dir, in)
	same("no sentence-transformers folder", out, code, want(bert.PoolLastToken, false, false))
	os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
		{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
		{"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`), 0o644)
	os.MkdirAll(filepath.Join(dir, "1_Pooling"), 0o755)
	os.WriteFile(filepath.Join(dir, "1_Pooling", "config.json"), []byte(`{"word_embedding_dimension": 32, "pooling_mode_lasttoken": true}`), 0o644)
	out, code = attn(t, "embed", "--model", dir, in)
	lastNorm := want(bert.PoolLastToken, true, true)
	same("Qwen3-Embedding's recipe", out, code, lastNorm)
	for _, v := range lastNorm {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if math.Abs(ss-1) > 1e-5 {
			t.Errorf("a normalised embedding's squared norm %v", ss)
		}
	}
	out, code = attn(t, "embed", "--model", dir, "--pooling", "mean", "--normalize=false", in)
	same("--pooling mean --normalize=false", out, code, want(bert.PoolMean, false, true))

	// attn serve embeds with such a folder: /v1/embed and OpenAI's /v1/embeddings.
	ts := serveDir(t, dir)
	embedsLike(t, ts.URL, map[string]any{"input": lines}, lastNorm)
	tokens := 0
	for _, l := range lines {
		enc, _ := tok.Encode(strings.TrimSpace(l))
		tokens += len(enc.IDs)
	}
	openAIEmbeddings(t, ts.URL, lines, lastNorm, tokens)
}

// embedsLike posts body to the server's /v1/embed and requires one
// embedding per wanted vector, each within 1e-6 of it.
func embedsLike(t *testing.T, url string, body map[string]any, want [][]float32) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url+"/v1/embed", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Embeddings [][]float32 }
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(v.Embeddings) != len(want) {
		t.Fatalf("/v1/embed %v: status %d, %v", body, resp.StatusCode, v)
	}
	for i := range want {
		if d, _ := golden.MaxAbs(v.Embeddings[i], want[i]); d > 1e-6 || len(v.Embeddings[i]) != len(want[i]) {
			t.Errorf("/v1/embed %v, text %d: off by %g", body, i+1, d)
		}
	}
}

// TestServeDecoderEmbedderChecks: attn serve on a Llama-family folder whose
// modules.json attn cannot run fails to start, naming it, rather than
// serving generation with an embedding model; the embedding server reports
// its weights' format as a generating one does; a text without tokens (a
// blank one, with a tokenizer that adds none) is a 400 that says so.
func TestServeDecoderEmbedderChecks(t *testing.T) {
	dir, _ := llamaFolder(t, "qwen3-tiny")
	pooling := filepath.Join(dir, "1_Pooling")
	os.MkdirAll(pooling, 0o755)
	os.WriteFile(filepath.Join(pooling, "config.json"), []byte(`{"word_embedding_dimension": 32, "pooling_mode_lasttoken": true}`), 0o644)
	modules := filepath.Join(dir, "modules.json")
	for _, c := range []struct{ modules, want string }{
		{`[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
			{"path": "2_CNN", "type": "sentence_transformers.models.CNN"}]`, "sentence_transformers.models.CNN, which attn does not run"},
		{`[{"path": "", "type": "sentence_transformers.models.Transformer"}`, "modules.json"},
	} {
		os.WriteFile(modules, []byte(c.modules), 0o644)
		s, err := newServer(dir, 8, 0)
		if err == nil {
			s.close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "attn serve embeds with a Llama-family folder that has a modules.json") {
			t.Errorf("modules.json %s: %v; want an error naming %q", c.modules, err, c.want)
		}
	}
	os.WriteFile(modules, []byte(`[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]`), 0o644)
	s, err := newServerQuantized(dir, "q8", 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.decoder == nil || s.weights() != "q8" {
		t.Errorf("attn serve --quantize q8 of an embedding model: decoder %v, weights %q; want q8", s.decoder != nil, s.weights())
	}
	ts := httptest.NewServer(s.handler())
	defer func() { ts.Close(); s.close() }()
	resp, err := http.Get(ts.URL + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info["weights"] != "q8" || info["endpoint"] != "/v1/embed" {
		t.Errorf("GET /v1/model: %v; want weights q8, endpoint /v1/embed", info)
	}

	// A tokenizer without a post-processor: a blank text has no tokens.
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj map[string]any
	json.Unmarshal(raw, &tj)
	tj["post_processor"] = nil
	raw, _ = json.Marshal(tj)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), raw, 0o644)
	ts2 := serveDir(t, dir)
	for _, c := range []struct{ path, body string }{
		{"/v1/embed", `{"input": ["a", "  "]}`},
		{"/v1/embeddings", `{"input": ["a", "  "]}`},
	} {
		code, v := post(t, ts2.URL+c.path, c.body)
		msg := fmt.Sprint(v["error"])
		if code != http.StatusBadRequest || !strings.Contains(msg, `"input" text 1: no tokens to embed`) {
			t.Errorf("%s %s: %d %v; want a 400 saying the text has no tokens", c.path, c.body, code, v)
		}
	}
}

// embeddingGemmaFolder copies testdata/hf/embeddinggemma-tiny, its
// sentence-transformers modules included, with llamaFolder's tokenizer.
func embeddingGemmaFolder(t *testing.T) string {
	dir, _ := llamaFolder(t, "embeddinggemma-tiny")
	src := filepath.Join("..", "..", "testdata", "hf", "embeddinggemma-tiny")
	for _, f := range []string{"modules.json", "sentence_bert_config.json", "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "3_Dense/config.json", "3_Dense/model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	return dir
}

// TestEmbedEmbeddingGemma: attn embed and attn serve with an
// EmbeddingGemma-shaped sentence-transformers folder (a Gemma 3 encoder,
// mean pooling, two Dense modules, Normalize) give the model's hidden
// states pooled, projected and normalised.
func TestEmbedEmbeddingGemma(t *testing.T) {
	dir := embeddingGemmaFolder(t)
	lines := []string{"hello world", "a b c d e f g h i j k l m n o"}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	m, tok, err := loadLlamaWith(dir, llama.LoadEncoder)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bert.LoadSentence(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	for _, l := range lines {
		enc, err := tok.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		h, err := m.Hidden(enc.IDs)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := bert.Embed(tensor.FromSlice(h.Data, 1, h.Shape[0], h.Shape[1]), nil, bert.PoolMean, false)
		want = append(want, bert.Finish(v[0], st.Dense, true))
	}
	out, code := attn(t, "embed", "--model", dir, in)
	got := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(got) != len(lines) {
		t.Fatalf("attn embed: exit %d\n%s", code, out)
	}
	for i, l := range got {
		var v struct{ Embedding []float32 }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if d, _ := golden.MaxAbs(v.Embedding, want[i]); d > 1e-6 || len(v.Embedding) != 32 {
			t.Errorf("attn embed, line %d: off by %g", i+1, d)
		}
	}
	// --dims: the first values, back to unit length; no more than there are.
	out, code = attn(t, "embed", "--model", dir, "--dims", "16", in)
	got = strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range got {
		var v struct{ Embedding []float32 }
		json.Unmarshal([]byte(l), &v)
		if d, _ := golden.MaxAbs(v.Embedding, shorten(want[i], 16, true)); code != 0 || d > 1e-6 || len(v.Embedding) != 16 {
			t.Errorf("--dims 16, line %d: exit %d, %d values, off by %g", i+1, code, len(v.Embedding), d)
		}
	}
	if out, code := attn(t, "embed", "--model", dir, "--dims", "40", in); code == 0 || !strings.Contains(out, "--dims 40: the embeddings have 32 values") {
		t.Errorf("--dims 40: exit %d, %s", code, out)
	}
	// The Dense modules take the folder's own pooling: another is refused.
	if out, code := attn(t, "embed", "--model", dir, "--pooling", "cls", in); code == 0 || !strings.Contains(out, "pooling cls: the folder's Dense modules take its own pooling's vectors ([mean])") {
		t.Errorf("--pooling cls: exit %d, %s", code, out)
	}
	if out, code := attn(t, "embed", "--model", dir, "--pooling", "mean", in); code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != len(lines) {
		t.Errorf("--pooling mean (its own): exit %d, %s", code, out)
	}
	ts := serveDir(t, dir)
	embedsLike(t, ts.URL, map[string]any{"input": lines}, want)

	// A last Dense module narrower than the model: /v1/embeddings's
	// "dimensions" goes up to its width.
	narrow := bert.DenseModule{In: 48, Out: 24, Weight: make([]float32, 24*48)}
	for i := range narrow.Weight {
		narrow.Weight[i] = float32(i%7) - 3
	}
	os.WriteFile(filepath.Join(dir, "3_Dense", "config.json"), []byte(`{"in_features": 48, "out_features": 24, "bias": false, "activation_function": "torch.nn.modules.linear.Identity"}`), 0o644)
	if err := safetensors.WriteFile(filepath.Join(dir, "3_Dense", "model.safetensors"), []safetensors.Tensor{safetensors.F32("linear.weight", []int{24, 48}, narrow.Weight)}, nil); err != nil {
		t.Fatal(err)
	}
	ts = serveDir(t, dir)
	for _, tc := range []struct{ dims, status int }{{20, 200}, {24, 200}, {30, 400}} {
		body, _ := json.Marshal(map[string]any{"input": lines[0], "model": "x", "dimensions": tc.dims})
		resp, err := http.Post(ts.URL+"/v1/embeddings", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Data []struct{ Embedding []float32 }
		}
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode != tc.status || tc.status == 200 && (len(r.Data) != 1 || len(r.Data[0].Embedding) != tc.dims) {
			t.Errorf("dimensions %d: status %d, %v", tc.dims, resp.StatusCode, r)
		}
	}

	// Without its modules.json the folder is an encoder that does not generate.
	os.Remove(filepath.Join(dir, "modules.json"))
	if out, code := attn(t, "generate", "--model", dir, "--prompt", "a b"); code == 0 || !strings.Contains(out, "attends both ways") {
		t.Errorf("attn generate with an encoder: exit %d\n%s", code, out)
	}
}

// TestEmbedPrompts: a sentence-transformers folder's prompts
// (config_sentence_transformers.json) go before each text when named
// (attn embed --prompt-name, /v1/embed's prompt_name), the default one when
// none is; --prompt and "prompt" give the text itself; an unknown name is
// refused, naming the model's.
func TestEmbedPrompts(t *testing.T) {
	dir := embeddingGemmaFolder(t)
	os.WriteFile(filepath.Join(dir, "config_sentence_transformers.json"), []byte(`{"prompts": {"query": "task: search result | query: ", "document": "title: none | text: "}, "default_prompt_name": null}`), 0o644)
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("hello world\n"), 0o644)
	withPrompt := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(withPrompt, []byte("task: search result | query: hello world\n"), 0o644)
	embed := func(args ...string) string {
		t.Helper()
		out, code := attn(t, append([]string{"embed", "--model", dir}, args...)...)
		if code != 0 {
			t.Fatalf("attn embed %v: exit %d\n%s", args, code, out)
		}
		return out
	}
	plain, byName, byText := embed(in), embed("--prompt-name", "query", in), embed(withPrompt)
	if byName != byText || byName == plain {
		t.Errorf("--prompt-name query: %s; want the prompt's text before the line: %s (without: %s)", byName, byText, plain)
	}
	if got := embed("--prompt", "task: search result | query: ", in); got != byText {
		t.Errorf("--prompt: %s; want %s", got, byText)
	}
	if out, code := attn(t, "embed", "--model", dir, "--prompt-name", "passage", in); code == 0 || !strings.Contains(out, `prompt "passage" is not one of the model's (document, query)`) {
		t.Errorf("an unknown prompt: exit %d, %s", code, out)
	}
	// The default prompt, when the folder names one.
	os.WriteFile(filepath.Join(dir, "config_sentence_transformers.json"), []byte(`{"prompts": {"query": "task: search result | query: "}, "default_prompt_name": "query"}`), 0o644)
	if got := embed(in); got != byText {
		t.Errorf("the default prompt: %s; want %s", got, byText)
	}
	ts := serveDir(t, dir)
	for _, body := range []map[string]any{{"input": []string{"hello world"}}, {"input": []string{"hello world"}, "prompt_name": "query"}, {"input": []string{"hello world"}, "prompt": "task: search result | query: "}} {
		var want struct{ Embedding []float32 }
		json.Unmarshal([]byte(byText), &want)
		embedsLike(t, ts.URL, body, [][]float32{want.Embedding})
	}
}

// TestMixtureOfExperts: the commands run the mixtures of experts as any
// Llama: attn generate gives the model's greedy text, with --quantize q8
// (a BF16 folder quantized as it loads) the 8-bit model's; attn train
// --model fine-tunes one (router and experts), its validation loss
// falling, and the checkpoint generates; so does a GPT-OSS whose experts
// are stored in MXFP4.
func TestMixtureOfExperts(t *testing.T) {
	for _, c := range []struct{ name, quantize string }{{"mixtral-tiny", ""}, {"granitemoeshared-tiny", "q8"}, {"qwen2moe-tiny", ""},
		{"gptoss-tiny", ""}, {"gptoss-tiny-mxfp4", "q8"}} {
		dir, pieces := llamaFolder(t, c.name)
		m, err := llama.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.quantize == "q8" {
			m.QuantizeQ8()
		}
		args := []string{"generate", "--model", dir, "--prompt", "the cat", "--greedy", "--max-new-tokens", "10"}
		if c.quantize != "" {
			args = append(args, "--quantize", c.quantize)
		}
		out, code := attn(t, args...)
		want := greedyText(t, m, []int{1, 3, 23, 11, 8, 3, 6, 4, 23}, 10, pieces) // <s> the cat
		if len(want) < len("the cat")+3 {
			t.Fatalf("%s: the greedy text %q ends at once: the test would check nothing", c.name, want)
		}
		if code != 0 || strings.TrimRight(out, "\n") != want {
			t.Errorf("%s: attn generate --quantize %q: exit %d, %q; want %q", c.name, c.quantize, code, out, want)
		}
	}
	tmp := t.TempDir()
	text := filepath.Join(tmp, "cats.txt")
	os.WriteFile(text, []byte(strings.Repeat("the cat sat on the mat and the dog sat on the log ", 30)), 0o644)
	for _, name := range []string{"olmoe-tiny", "gptoss-tiny-mxfp4"} {
		dir, _ := llamaFolder(t, name)
		run := filepath.Join(tmp, name)
		out, code := attn(t, "train", "--model", dir, "--data", text, "--steps", "30", "--batch", "2", "--lr", "3e-3", "--eval-every", "15",
			"--eval-batches", "2", "--out", run, "--workers", "1", "--sample", "0", "--context", "32")
		if code != 0 || !strings.Contains(out, "fine-tuning") {
			t.Fatalf("attn train --model %s: exit %d\n%s", name, code, out)
		}
		if loss := metricsLoss(t, run); len(loss) < 2 || loss[len(loss)-1] >= loss[0] {
			t.Errorf("%s: validation losses %v: want them to fall", name, loss)
		}
		if out, code := attn(t, "generate", "--model", run, "--prompt", "the cat", "--greedy", "--max-new-tokens", "8"); code != 0 || !strings.HasPrefix(out, "the cat") {
			t.Errorf("attn generate with the fine-tuned %s: exit %d\n%s", name, code, out)
		}
	}
}
